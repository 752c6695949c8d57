#include "files/folder.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <optional>
#include <system_error>
#include <utility>

#include "files/names.hpp"
#include "util/encoding.hpp"

namespace signet::files {
namespace {

using util::UniqueFd;
using Parts = std::vector<std::string>;

constexpr std::string_view kPartPrefix = ".signet-part-";

std::string reason(int err) {
  return std::generic_category().message(err);
}

// The first n components of a name, joined and escaped for messages.
std::string shown(const Parts& parts, std::size_t n) {
  if (n == 0) return "the served folder";
  std::string joined;
  for (std::size_t i = 0; i < n; ++i) {
    if (i != 0) joined += '/';
    joined += parts[i];
  }
  return util::escape_for_display(joined);
}

Error io_error(const std::string& what, const std::string& name, int err) {
  return Error(Errc::io, what + " " + name + ": " + reason(err));
}

Error symlink_error(const std::string& name) {
  return Error(Errc::config, name + " is a symbolic link (not followed)");
}

Error not_regular_error(const std::string& name) {
  return Error(Errc::config, name + " is not a regular file");
}

bool is_no_space(int err) {
  return err == ENOSPC || err == EDQUOT || err == EFBIG;
}

Result<UniqueFd> dup_fd(int fd, const std::string& name) {
  UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!copy) return io_error("cannot open", name, errno);
  return copy;
}

// What a directory on the way being something else means: for reading,
// there is no such file (as ENOTDIR says); for an upload, the peer asks for
// a directory where the folder holds something else.
enum class NotDirectory { not_found, config };

// Opens parts[i], an entry of the directory at, as a directory, without
// following a symbolic link.
Result<UniqueFd> open_dir_at(int at, const Parts& parts, std::size_t i, NotDirectory not_dir) {
  const std::string& part = parts[i];
  UniqueFd fd(::openat(at, part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (fd) return fd;
  const int err = errno;
  const std::string name = shown(parts, i + 1);
  if (err == ELOOP) return symlink_error(name);
  if (err == ENOENT) return Error(Errc::not_found, name);
  if (err == ENOTDIR) {
    // Linux says ELOOP for a symbolic link with O_NOFOLLOW; look again
    // rather than rely on which of the two checks comes first.
    struct stat st {};
    if (::fstatat(at, part.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode)) {
      return symlink_error(name);
    }
    if (not_dir == NotDirectory::not_found) {
      return Error(Errc::not_found, name + " is not a directory");
    }
    return Error(Errc::config, name + " is not a directory");
  }
  return io_error("cannot open directory", name, err);
}

// Opens the directory made of the first n components, one at a time from root.
Result<UniqueFd> walk(int root, const Parts& parts, std::size_t n, NotDirectory not_dir) {
  if (n == 0) return dup_fd(root, shown(parts, 0));
  UniqueFd cur;
  for (std::size_t i = 0; i < n; ++i) {
    auto next = open_dir_at(cur ? cur.get() : root, parts, i, not_dir);
    if (!next) return next.error();
    cur = std::move(*next);
  }
  return cur;
}

// walk, creating the directories that are missing.
Result<UniqueFd> walk_creating(int root, const Parts& parts, std::size_t n) {
  if (n == 0) return dup_fd(root, shown(parts, 0));
  UniqueFd cur;
  for (std::size_t i = 0; i < n; ++i) {
    const int at = cur ? cur.get() : root;
    if (::mkdirat(at, parts[i].c_str(), 0755) != 0 && errno != EEXIST) {
      const int err = errno;
      if (is_no_space(err)) {
        return Error(Errc::no_space, "no room for " + shown(parts, i + 1) + ": " + reason(err));
      }
      return io_error("cannot create directory", shown(parts, i + 1), err);
    }
    // An existing entry may be anything: opening it as a directory without
    // following a link decides.
    auto next = open_dir_at(at, parts, i, NotDirectory::config);
    if (!next) return next.error();
    cur = std::move(*next);
  }
  return cur;
}

// The names in the directory dir, without "." and "..".
Result<std::vector<std::string>> read_names(int dir, const std::string& name) {
  std::vector<std::string> names;
  if (const int err = util::list_directory(dir, names); err != 0) {
    return io_error("cannot read directory", name, err);
  }
  return names;
}

EntryType type_of(mode_t mode) {
  if (S_ISREG(mode)) return EntryType::file;
  if (S_ISDIR(mode)) return EntryType::directory;
  if (S_ISLNK(mode)) return EntryType::symlink;
  return EntryType::other;
}

// A name for a temporary file that no other upload picks (O_EXCL refuses a
// collision anyway; then another name is drawn).
Result<std::string> random_hex() {
  std::array<std::uint8_t, 8> nonce{};
  std::size_t got = 0;
  while (got < nonce.size()) {
    const ssize_t n = ::getrandom(nonce.data() + got, nonce.size() - got, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Error(Errc::io, "no randomness for a temporary file name: " + reason(errno));
    }
    got += static_cast<std::size_t>(n);
  }
  return util::to_hex(nonce);
}

// A part's record (".signet-part-<hex>.resume"): how much of the part is
// durable and verified, and the hash state there, for which file.
//   magic "SGNTRSM1" || size u64 || mtime i64 || offset u64 ||
//   h[0..7] u32 each || SHA-256 of the 64 bytes before it
// big-endian. The trailing digest catches a torn or foreign record, which
// is then ignored (the upload starts from empty).
constexpr std::string_view kRecordMagic = "SGNTRSM1";
constexpr std::size_t kRecordBody = 64;
constexpr std::size_t kRecordSize = kRecordBody + 32;

struct Record {
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  crypto::Sha256Midstate state;
};

void put_be(std::uint8_t* p, std::uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    p[i] = static_cast<std::uint8_t>(v & 0xff);
    v >>= 8;
  }
}

std::uint64_t get_be(const std::uint8_t* p, int bytes) {
  std::uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | p[i];
  return v;
}

std::array<std::uint8_t, kRecordSize> encode_record(const Record& r) {
  std::array<std::uint8_t, kRecordSize> b{};
  std::copy(kRecordMagic.begin(), kRecordMagic.end(), b.begin());
  put_be(b.data() + 8, r.size, 8);
  put_be(b.data() + 16, static_cast<std::uint64_t>(r.mtime), 8);
  put_be(b.data() + 24, r.state.length, 8);
  for (std::size_t i = 0; i < r.state.h.size(); ++i) put_be(b.data() + 32 + 4 * i, r.state.h[i], 4);
  const auto check = crypto::sha256({std::span<const std::uint8_t>(b.data(), kRecordBody)});
  std::copy(check.begin(), check.end(), b.begin() + kRecordBody);
  return b;
}

std::optional<Record> decode_record(std::span<const std::uint8_t> b) {
  if (b.size() != kRecordSize || !std::equal(kRecordMagic.begin(), kRecordMagic.end(), b.begin())) {
    return std::nullopt;
  }
  const auto check = crypto::sha256({b.first(kRecordBody)});
  if (!crypto::constant_time_equal(check, b.subspan(kRecordBody))) return std::nullopt;
  Record r;
  r.size = get_be(b.data() + 8, 8);
  r.mtime = static_cast<std::int64_t>(get_be(b.data() + 16, 8));
  r.state.length = get_be(b.data() + 24, 8);
  for (std::size_t i = 0; i < r.state.h.size(); ++i) {
    r.state.h[i] = static_cast<std::uint32_t>(get_be(b.data() + 32 + 4 * i, 4));
  }
  if (r.state.length % 64 != 0 || r.state.length > r.size) return std::nullopt;
  return r;
}

// The record of the part `part` in dir, if there is a well-formed one.
std::optional<Record> read_record(int dir, const std::string& part) {
  const std::string name = part + ".resume";
  UniqueFd fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY));
  if (!fd) return std::nullopt;
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) return std::nullopt;
  std::array<std::uint8_t, kRecordSize + 1> b{};
  ssize_t n = 0;
  do {
    n = ::pread(fd.get(), b.data(), b.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(kRecordSize)) return std::nullopt;
  return decode_record(std::span<const std::uint8_t>(b.data(), kRecordSize));
}

// The part's name for a key and a name: the same pair always finds the same
// part, and different ones (practically) never share one.
std::string part_name(std::span<const std::uint8_t> key, std::string_view name) {
  const std::uint8_t zero = 0;
  const auto d = crypto::sha256({util::as_bytes("signet part v1"), std::span(&zero, 1), key,
                                 std::span(&zero, 1), util::as_bytes(name)});
  return std::string(kPartPrefix) + util::to_hex(std::span<const std::uint8_t>(d.data(), 16));
}

}  // namespace

// --- ServedFolder ---

Result<ServedFolder> ServedFolder::open(const std::filesystem::path& root) {
  const std::string name = util::escape_for_display(root.string());
  UniqueFd fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    if (err == ENOENT) return Error(Errc::config, "served folder " + name + " does not exist");
    if (err == ENOTDIR) return Error(Errc::config, "served folder " + name + " is not a directory");
    return Error(Errc::config, "cannot open served folder " + name + ": " + reason(err));
  }
  return ServedFolder(root, std::move(fd));
}

Result<FileForReading> ServedFolder::open_for_reading(std::string_view name) const {
  auto parts = split_name(name);
  if (!parts) return parts.error();
  auto dir = walk(root_fd_.get(), *parts, parts->size() - 1, NotDirectory::not_found);
  if (!dir) return dir.error();
  const std::string& leaf = parts->back();
  const std::string shown_name = shown(*parts, parts->size());

  // Look before opening: opening a device can have effects of its own.
  struct stat st {};
  if (::fstatat(dir->get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return Error(Errc::not_found, shown_name);
    return io_error("cannot stat", shown_name, err);
  }
  if (S_ISLNK(st.st_mode)) return symlink_error(shown_name);
  if (!S_ISREG(st.st_mode)) return not_regular_error(shown_name);

  // O_NONBLOCK: should a FIFO take the file's place in between, opening it
  // does not wait for a writer; it is then refused by the fstat below.
  UniqueFd fd(::openat(dir->get(), leaf.c_str(),
                       O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return Error(Errc::not_found, shown_name);
    if (err == ELOOP) return symlink_error(shown_name);
    if (err == ENXIO) return not_regular_error(shown_name);  // a socket
    return io_error("cannot open", shown_name, err);
  }
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat", shown_name, errno);
  if (!S_ISREG(st.st_mode)) return not_regular_error(shown_name);
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return io_error("cannot open", shown_name, errno);
  }
  return FileForReading{std::move(fd), static_cast<std::uint64_t>(st.st_size),
                        static_cast<std::uint32_t>(st.st_mode & 07777),
                        static_cast<std::int64_t>(st.st_mtim.tv_sec)};
}

Result<ServedFolder::Destination> ServedFolder::destination(std::string_view name,
                                                            bool replace) const {
  auto parts = split_name(name);
  if (!parts) return parts.error();
  auto dir = walk_creating(root_fd_.get(), *parts, parts->size() - 1);
  if (!dir) return dir.error();
  Destination d{std::move(*dir), parts->back(), shown(*parts, parts->size())};

  struct stat st {};
  if (::fstatat(d.dir.get(), d.leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode)) return symlink_error(d.shown_name);
    if (!S_ISREG(st.st_mode)) return not_regular_error(d.shown_name);
    if (!replace) return Error(Errc::exists, d.shown_name + " exists; replacing it needs --force");
  } else if (errno != ENOENT) {
    return io_error("cannot stat", d.shown_name, errno);
  }
  return d;
}

Result<Upload> ServedFolder::begin_upload(std::string_view name, bool replace) const {
  auto d = destination(name, replace);
  if (!d) return d.error();
  for (int attempt = 0;; ++attempt) {
    auto hex = random_hex();
    if (!hex) return hex.error();
    std::string temp = std::string(kPartPrefix) + *hex;
    UniqueFd fd(::openat(d->dir.get(), temp.c_str(),
                         O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600));
    if (fd) {
      return Upload(std::move(d->dir), std::move(fd), std::move(temp), d->leaf, std::string(name),
                    replace);
    }
    const int err = errno;
    if (err == EEXIST && attempt < 8) continue;
    if (is_no_space(err)) {
      return Error(Errc::no_space, "no room for " + d->shown_name + ": " + reason(err));
    }
    return io_error("cannot create a temporary file for", d->shown_name, err);
  }
}

Result<Upload> ServedFolder::begin_resumable(std::string_view name, bool replace,
                                             util::ByteSpan key, std::uint64_t size,
                                             std::int64_t mtime, bool resume,
                                             bool any_source) const {
  auto d = destination(name, replace);
  if (!d) return d.error();
  std::string part = part_name(key, name);
  UniqueFd fd(::openat(d->dir.get(), part.c_str(),
                       O_CREAT | O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK, 0600));
  if (!fd) {
    const int err = errno;
    if (is_no_space(err)) {
      return Error(Errc::no_space, "no room for " + d->shown_name + ": " + reason(err));
    }
    if (err == ELOOP || err == ENXIO || err == EISDIR) {
      // Something else took the part's name: no resuming, a plain upload.
      return begin_upload(name, replace);
    }
    return io_error("cannot create a temporary file for", d->shown_name, err);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("cannot stat the part of", d->shown_name, errno);
  if (!S_ISREG(st.st_mode)) return begin_upload(name, replace);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
    // Another upload of the same file from the same sender is in progress
    // (or a stale descriptor holds it): this one gets a file of its own.
    if (errno == EWOULDBLOCK) return begin_upload(name, replace);
    return io_error("cannot lock the part of", d->shown_name, errno);
  }
  const int flags = ::fcntl(fd.get(), F_GETFL);
  if (flags < 0 || ::fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return io_error("cannot open the part of", d->shown_name, errno);
  }

  ResumePoint point;
  point.size = size;
  point.mtime = mtime;
  const auto record = read_record(d->dir.get(), part);
  if (record && static_cast<std::uint64_t>(st.st_size) >= record->state.length) {
    const bool same = any_source || (record->size == size && record->mtime == mtime);
    if (!same) {
      point.outcome = ResumePoint::Outcome::changed;
    } else if (resume && record->state.length > 0) {
      point.outcome = ResumePoint::Outcome::resumed;
      point.offset = record->state.length;
      point.state = record->state;
      point.size = record->size;
      point.mtime = record->mtime;
    }
  }
  // Bytes past the checkpoint were never recorded as verified: cut back.
  if (::ftruncate(fd.get(), static_cast<off_t>(point.offset)) != 0 ||
      ::lseek(fd.get(), static_cast<off_t>(point.offset), SEEK_SET) < 0) {
    return io_error("cannot prepare the part of", d->shown_name, errno);
  }
  if (point.offset == 0) ::unlinkat(d->dir.get(), (part + ".resume").c_str(), 0);
  Upload u(std::move(d->dir), std::move(fd), std::move(part), d->leaf, std::string(name), replace);
  u.resumable_ = true;
  u.written_ = point.offset;
  u.checkpointed_ = point.offset;
  u.point_ = point;
  return u;
}

Result<std::vector<Entry>> ServedFolder::list(std::string_view name) const {
  auto parts = split_name(name, /*allow_root=*/true);
  if (!parts) return parts.error();
  const std::string shown_name = shown(*parts, parts->size());
  UniqueFd dir;
  if (parts->empty()) {
    auto fd = dup_fd(root_fd_.get(), shown_name);
    if (!fd) return fd.error();
    dir = std::move(*fd);
  } else {
    auto parent = walk(root_fd_.get(), *parts, parts->size() - 1, NotDirectory::not_found);
    if (!parent) return parent.error();
    // The directory asked for being something else is the peer's mistake
    // about what it is, not a missing file.
    auto fd = open_dir_at(parent->get(), *parts, parts->size() - 1, NotDirectory::config);
    if (!fd) return fd.error();
    dir = std::move(*fd);
  }

  auto names = read_names(dir.get(), shown_name);
  if (!names) return names.error();
  std::vector<Entry> entries;
  entries.reserve(names->size());
  for (auto& n : *names) {
    if (n.compare(0, kReservedPrefix.size(), kReservedPrefix) == 0) continue;
    struct stat st {};
    if (::fstatat(dir.get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT) continue;  // removed since readdir
      const int err = errno;
      Parts full = *parts;
      full.push_back(n);
      return io_error("cannot stat", shown(full, full.size()), err);
    }
    entries.push_back(Entry{std::move(n), type_of(st.st_mode),
                            static_cast<std::uint64_t>(st.st_size),
                            static_cast<std::uint32_t>(st.st_mode & 07777),
                            static_cast<std::int64_t>(st.st_mtim.tv_sec)});
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.name < b.name; });
  return entries;
}

namespace {

// Calls visit(dir, full name, leaf, stat) for every entry that is not a
// directory anywhere below the folder root_fd, without following symbolic
// links. Directories still to visit are kept by their components, each
// opened afresh from the root one component at a time: only two
// descriptors are open at once however deep the tree, and a directory
// replaced by a symbolic link meanwhile is refused by the walk, not
// followed (and skipped, as one that vanished).
template <typename Visit>
Result<void> walk_tree(int root_fd, Visit visit, bool recursive = true) {
  std::vector<Parts> pending{Parts{}};
  while (!pending.empty()) {
    const Parts parts = std::move(pending.back());
    pending.pop_back();
    auto dir = walk(root_fd, parts, parts.size(), NotDirectory::config);
    if (!dir) {
      if (parts.empty() || dir.error().is(Errc::io)) return dir.error();
      continue;
    }
    auto names = read_names(dir->get(), shown(parts, parts.size()));
    if (!names) return names.error();
    for (const auto& n : *names) {
      Parts full = parts;
      full.push_back(n);
      struct stat st {};
      if (::fstatat(dir->get(), n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        return io_error("cannot stat", shown(full, full.size()), errno);
      }
      if (S_ISDIR(st.st_mode)) {
        if (recursive) pending.push_back(std::move(full));
      } else if (auto v = visit(dir->get(), full, n, st); !v) {
        return v;
      }
    }
  }
  return {};
}

}  // namespace

Result<std::size_t> ServedFolder::remove_stale_uploads(std::chrono::seconds max_age,
                                                       bool recursive) const {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const std::int64_t cutoff = now - max_age.count();
  std::size_t removed = 0;
  auto w = walk_tree(
      root_fd_.get(),
      [&](int dir, const Parts& full, const std::string& n, const struct stat& st) -> Result<void> {
        if (!S_ISREG(st.st_mode) || n.compare(0, kPartPrefix.size(), kPartPrefix) != 0 ||
            static_cast<std::int64_t>(st.st_mtim.tv_sec) >= cutoff) {
          return {};
        }
        if (::unlinkat(dir, n.c_str(), 0) == 0) {
          ++removed;
        } else if (errno != ENOENT) {
          return io_error("cannot remove", shown(full, full.size()), errno);
        }
        return {};
      },
      recursive);
  if (!w) return w.error();
  return removed;
}

Result<std::uint64_t> ServedFolder::total_size() const {
  std::uint64_t total = 0;
  auto w =
      walk_tree(root_fd_.get(), [&](int, const Parts&, const std::string&, const struct stat& st) {
        if (S_ISREG(st.st_mode)) total += static_cast<std::uint64_t>(st.st_size);
        return Result<void>{};
      });
  if (!w) return w.error();
  return total;
}

// --- Upload ---

Upload::Upload(Upload&& o) noexcept
    : dir_(std::move(o.dir_)),
      file_(std::move(o.file_)),
      temp_name_(std::move(o.temp_name_)),
      leaf_(std::move(o.leaf_)),
      name_(std::move(o.name_)),
      replace_(o.replace_),
      published_(o.published_),
      resumable_(o.resumable_),
      written_(o.written_),
      point_(o.point_),
      checkpointed_(o.checkpointed_),
      checkpoint_time_(o.checkpoint_time_),
      record_(std::move(o.record_)) {
  o.temp_name_.clear();
}

Upload& Upload::operator=(Upload&& o) noexcept {
  if (this != &o) {
    discard();
    dir_ = std::move(o.dir_);
    file_ = std::move(o.file_);
    temp_name_ = std::move(o.temp_name_);
    leaf_ = std::move(o.leaf_);
    name_ = std::move(o.name_);
    replace_ = o.replace_;
    published_ = o.published_;
    resumable_ = o.resumable_;
    written_ = o.written_;
    point_ = o.point_;
    checkpointed_ = o.checkpointed_;
    checkpoint_time_ = o.checkpoint_time_;
    record_ = std::move(o.record_);
    o.temp_name_.clear();
  }
  return *this;
}

Upload::~Upload() {
  discard();
}

void Upload::discard() noexcept {
  // A part is kept only with a checkpoint: one with nothing recorded would
  // be resumed from its start anyway.
  if (dir_ && !published_ && (!resumable_ || checkpointed_ == 0) && !temp_name_.empty()) {
    ::unlinkat(dir_.get(), temp_name_.c_str(), 0);
  }
  record_.reset();
  file_.reset();  // a kept part's lock goes with its descriptor
  dir_.reset();
}

void Upload::abandon() noexcept {
  if (dir_ && !published_ && !temp_name_.empty()) {
    ::unlinkat(dir_.get(), temp_name_.c_str(), 0);
    if (resumable_) ::unlinkat(dir_.get(), record_name().c_str(), 0);
  }
  resumable_ = false;
  temp_name_.clear();
  discard();
}

Result<void> Upload::checkpoint(const crypto::Sha256Midstate& state) {
  // Never backwards: a transfer that ends before it got going keeps the
  // checkpoint it started from.
  if (!resumable_ || published_ || !file_ || state.length <= checkpointed_) return {};
  const std::string shown_name = util::escape_for_display(name_);
  if (state.length > written_ || state.length > point_.size) {
    return Error(Errc::io, "a checkpoint of " + shown_name + " past what was written");
  }
  // The bytes first, then the record that vouches for them: after a crash
  // the record never names bytes that are not on disk.
  if (::fdatasync(file_.get()) != 0) return io_error("cannot write", shown_name, errno);
  if (!record_) {
    record_ = UniqueFd(::openat(dir_.get(), record_name().c_str(),
                                O_CREAT | O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600));
    if (!record_) {
      const int err = errno;
      if (is_no_space(err)) {
        return Error(Errc::no_space,
                     "no room for the record of " + shown_name + ": " + reason(err));
      }
      return io_error("cannot record the progress of", shown_name, err);
    }
  }
  const auto b = encode_record(Record{point_.size, point_.mtime, state});
  ssize_t n = 0;
  do {
    n = ::pwrite(record_.get(), b.data(), b.size(), 0);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(b.size())) {
    const int err = n < 0 ? errno : EIO;
    if (is_no_space(err)) {
      return Error(Errc::no_space, "no room for the record of " + shown_name + ": " + reason(err));
    }
    return io_error("cannot record the progress of", shown_name, err);
  }
  checkpointed_ = state.length;
  return {};
}

Result<void> Upload::checkpoint_if_due(const crypto::Sha256Midstate& state) {
  constexpr std::uint64_t kEvery = 64u << 20;
  constexpr std::uint64_t kAtLeast = 1u << 20;
  constexpr auto kAfter = std::chrono::seconds(2);
  if (!resumable_ || state.length < checkpointed_ + kAtLeast) return {};
  const auto now = std::chrono::steady_clock::now();
  if (state.length < checkpointed_ + kEvery && now - checkpoint_time_ < kAfter) return {};
  checkpoint_time_ = now;
  return checkpoint(state);
}

Result<void> Upload::start_over(std::uint64_t size, std::int64_t mtime) {
  const std::string shown_name = util::escape_for_display(name_);
  if (published_ || !file_) {
    return Error(Errc::io, "the upload of " + shown_name + " is already finished");
  }
  if (::ftruncate(file_.get(), 0) != 0 || ::lseek(file_.get(), 0, SEEK_SET) < 0) {
    return io_error("cannot write", shown_name, errno);
  }
  if (resumable_) ::unlinkat(dir_.get(), record_name().c_str(), 0);
  record_.reset();
  written_ = 0;
  checkpointed_ = 0;
  point_ = ResumePoint{ResumePoint::Outcome::changed, 0, {}, size, mtime};
  return {};
}

Result<void> Upload::write(std::span<const std::uint8_t> bytes) {
  const std::string shown_name = util::escape_for_display(name_);
  if (published_ || !file_) {
    return Error(Errc::io, "the upload of " + shown_name + " is already finished");
  }
  while (!bytes.empty()) {
    const ssize_t n = ::write(file_.get(), bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      if (is_no_space(err)) {
        return Error(Errc::no_space, "no room for " + shown_name + ": " + reason(err));
      }
      return io_error("cannot write", shown_name, err);
    }
    if (n == 0) return Error(Errc::io, "cannot write " + shown_name + ": nothing was written");
    written_ += static_cast<std::uint64_t>(n);
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
  return {};
}

Result<void> Upload::prepare(std::uint32_t mode, std::int64_t mtime) {
  const std::string shown_name = util::escape_for_display(name_);
  if (published_ || !file_) {
    return Error(Errc::io, "the upload of " + shown_name + " is already finished");
  }
  // Only permission bits: a peer never makes a setuid, setgid or sticky file.
  if (::fchmod(file_.get(), static_cast<mode_t>(mode & 0777)) != 0) {
    return io_error("cannot set the permissions of", shown_name, errno);
  }
  const std::array<timespec, 2> times{timespec{0, UTIME_NOW},
                                      timespec{static_cast<time_t>(mtime), 0}};
  if (::futimens(file_.get(), times.data()) != 0) {
    return io_error("cannot set the modification time of", shown_name, errno);
  }
  return {};
}

Result<void> Upload::rename_into_place() {
  const std::string shown_name = util::escape_for_display(name_);
  const char* from = temp_name_.c_str();
  const char* to = leaf_.c_str();
  if (replace_) {
    if (::renameat(dir_.get(), from, dir_.get(), to) != 0) {
      const int err = errno;
      if (err == EISDIR || err == ENOTEMPTY || err == EEXIST) return not_regular_error(shown_name);
      return io_error("cannot create", shown_name, err);
    }
  } else if (::renameat2(dir_.get(), from, dir_.get(), to, RENAME_NOREPLACE) != 0) {
    int err = errno;
    if (err == EINVAL || err == ENOSYS) {
      // A file system without RENAME_NOREPLACE: link(2) never overwrites
      // either; the temporary name is removed afterwards.
      if (::linkat(dir_.get(), from, dir_.get(), to, 0) == 0) {
        ::unlinkat(dir_.get(), from, 0);
        err = 0;
      } else {
        err = errno;
      }
    }
    if (err == EEXIST) {
      return Error(Errc::exists, shown_name + " exists; replacing it needs --force");
    }
    if (err != 0) return io_error("cannot create", shown_name, err);
  }
  published_ = true;
  if (resumable_) ::unlinkat(dir_.get(), record_name().c_str(), 0);
  record_.reset();
  file_.reset();
  return {};
}

Result<void> Upload::publish(std::uint32_t mode, std::int64_t mtime) {
  if (auto p = prepare(mode, mtime); !p) return p;
  // On disk before it has its name: after a crash the name holds the whole
  // file or the old one, never a torn one.
  if (::fsync(file_.get()) != 0) {
    const int err = errno;
    const std::string shown_name = util::escape_for_display(name_);
    if (is_no_space(err)) {
      return Error(Errc::no_space, "no room for " + shown_name + ": " + reason(err));
    }
    return io_error("cannot write", shown_name, err);
  }
  if (auto r = rename_into_place(); !r) return r;
  // The rename on disk too. Best effort: the file is in place already, and
  // reporting a failure now would tell the peer it is not.
  ::fsync(dir_.get());
  return {};
}

namespace {

// syncfs(2) once for each file system the descriptors are on; the first
// failure's errno, or 0.
int sync_file_systems(const std::vector<int>& fds) {
  std::vector<dev_t> done;
  for (int fd : fds) {
    struct stat st {};
    if (::fstat(fd, &st) != 0) return errno;
    if (std::find(done.begin(), done.end(), st.st_dev) != done.end()) continue;
    done.push_back(st.st_dev);
    if (::syncfs(fd) != 0) return errno;
  }
  return 0;
}

}  // namespace

std::vector<Result<void>> publish_together(std::span<Finished> batch) {
  std::vector<Result<void>> results(batch.size());
  if (batch.size() == 1) {
    results[0] = batch[0].upload->publish(batch[0].mode, batch[0].mtime);
    return results;
  }
  std::vector<int> files;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    results[i] = batch[i].upload->prepare(batch[i].mode, batch[i].mtime);
    if (results[i]) files.push_back(batch[i].upload->file_.get());
  }
  // Every file's data on disk before any of them has its name.
  if (const int err = sync_file_systems(files); err != 0) {
    for (std::size_t i = 0; i < batch.size(); ++i) {
      if (!results[i]) continue;
      const std::string shown_name = util::escape_for_display(batch[i].upload->name_);
      results[i] = is_no_space(err)
                       ? Error(Errc::no_space, "no room for " + shown_name + ": " + reason(err))
                       : io_error("cannot write", shown_name, err);
    }
    return results;
  }
  std::vector<int> dirs;
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (!results[i]) continue;
    results[i] = batch[i].upload->rename_into_place();
    if (results[i]) dirs.push_back(batch[i].upload->dir_.get());
  }
  // The renames on disk too; best effort, as in publish().
  (void)sync_file_systems(dirs);
  return results;
}

Result<ServedFolder> ServedFolder::subfolder(std::string_view name) const {
  auto parts = split_name(name);
  if (!parts) return parts.error();
  auto fd = walk_creating(root_fd_.get(), *parts, parts->size());
  if (!fd) return fd.error();
  return ServedFolder(root_ / std::string(name), std::move(*fd));
}

Result<std::vector<Entry>> ServedFolder::list_tree(std::string_view name,
                                                   std::size_t max_entries) const {
  std::vector<Entry> out;
  // Folders still to list, by name relative to `name`: a folder's entries
  // are listed after the folder itself.
  std::vector<std::string> pending = {std::string()};
  while (!pending.empty()) {
    const std::string rel = std::move(pending.back());
    pending.pop_back();
    std::string full(name);
    if (!rel.empty()) full = full.empty() ? rel : full + "/" + rel;
    auto entries = list(full);
    if (!entries) return entries.error();
    std::vector<std::string> folders;
    for (auto& e : *entries) {
      if (out.size() >= max_entries) {
        return Error(
            Errc::too_large,
            "more than " + std::to_string(max_entries) + " entries below " +
                (name.empty() ? std::string("the folder") : util::escape_for_display(name)));
      }
      e.name = rel.empty() ? e.name : rel + "/" + e.name;
      if (e.type == EntryType::directory && split_name(e.name).ok() &&
          e.name.size() + full.size() < kMaxName) {
        folders.push_back(e.name);
      }
      out.push_back(std::move(e));
    }
    // Reversed, so that the stack lists them in name order.
    pending.insert(pending.end(), folders.rbegin(), folders.rend());
  }
  return out;
}

}  // namespace signet::files
