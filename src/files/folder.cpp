#include "files/folder.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
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

Result<Upload> ServedFolder::begin_upload(std::string_view name, bool replace) const {
  auto parts = split_name(name);
  if (!parts) return parts.error();
  auto dir = walk_creating(root_fd_.get(), *parts, parts->size() - 1);
  if (!dir) return dir.error();
  const std::string& leaf = parts->back();
  const std::string shown_name = shown(*parts, parts->size());

  struct stat st {};
  if (::fstatat(dir->get(), leaf.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    if (S_ISLNK(st.st_mode)) return symlink_error(shown_name);
    if (!S_ISREG(st.st_mode)) return not_regular_error(shown_name);
    if (!replace) return Error(Errc::exists, shown_name + " exists; replacing it needs --force");
  } else if (errno != ENOENT) {
    return io_error("cannot stat", shown_name, errno);
  }

  for (int attempt = 0;; ++attempt) {
    auto hex = random_hex();
    if (!hex) return hex.error();
    std::string temp = std::string(kPartPrefix) + *hex;
    UniqueFd fd(::openat(dir->get(), temp.c_str(),
                         O_CREAT | O_EXCL | O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600));
    if (fd) {
      return Upload(std::move(*dir), std::move(fd), std::move(temp), leaf, std::string(name),
                    replace);
    }
    const int err = errno;
    if (err == EEXIST && attempt < 8) continue;
    if (is_no_space(err)) {
      return Error(Errc::no_space, "no room for " + shown_name + ": " + reason(err));
    }
    return io_error("cannot create a temporary file for", shown_name, err);
  }
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

Result<std::size_t> ServedFolder::remove_stale_uploads(std::chrono::seconds max_age) const {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const std::int64_t cutoff = now - max_age.count();
  std::size_t removed = 0;
  // Directories still to visit, by their components. Each is opened afresh
  // from the root, one component at a time: only two descriptors are open
  // at once however deep the tree, and a directory replaced by a symbolic
  // link meanwhile is refused by the walk, not followed.
  std::vector<Parts> pending{Parts{}};
  while (!pending.empty()) {
    const Parts parts = std::move(pending.back());
    pending.pop_back();
    auto dir = walk(root_fd_.get(), parts, parts.size(), NotDirectory::config);
    if (!dir) {
      if (parts.empty() || dir.error().is(Errc::io)) return dir.error();
      continue;  // vanished or replaced since it was seen
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
        pending.push_back(std::move(full));
      } else if (S_ISREG(st.st_mode) && n.compare(0, kPartPrefix.size(), kPartPrefix) == 0 &&
                 static_cast<std::int64_t>(st.st_mtim.tv_sec) < cutoff) {
        if (::unlinkat(dir->get(), n.c_str(), 0) == 0) {
          ++removed;
        } else if (errno != ENOENT) {
          return io_error("cannot remove", shown(full, full.size()), errno);
        }
      }
    }
  }
  return removed;
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
      written_(o.written_) {}

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
    written_ = o.written_;
  }
  return *this;
}

Upload::~Upload() {
  discard();
}

void Upload::discard() noexcept {
  if (dir_ && !published_ && !temp_name_.empty()) ::unlinkat(dir_.get(), temp_name_.c_str(), 0);
  file_.reset();
  dir_.reset();
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
