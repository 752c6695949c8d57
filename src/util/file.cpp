#include "util/file.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <string_view>
#include <system_error>

#include "util/encoding.hpp"

namespace signet::util {
namespace {

namespace fs = std::filesystem;

std::string shown(const fs::path& path) {
  return escape_for_display(path.string());
}

Error errno_error(Errc code, const std::string& what, const fs::path& path, int err) {
  return Error(code, what + " " + shown(path) + ": " + std::generic_category().message(err));
}

Error errno_error(const std::string& what, const fs::path& path, int err) {
  return errno_error(Errc::io, what, path, err);
}

Error too_large(const fs::path& path, std::size_t max_size) {
  return Error(Errc::too_large,
               shown(path) + " is larger than " + std::to_string(max_size) + " bytes");
}

std::int64_t to_ns(const timespec& ts) {
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

FileStamp stamp_of(const struct stat& st) {
  FileStamp s;
  s.exists = true;
  s.device = st.st_dev;
  s.inode = st.st_ino;
  s.size = st.st_size;
  s.mtime_ns = to_ns(st.st_mtim);
  s.ctime_ns = to_ns(st.st_ctim);
  s.mode = st.st_mode;
  s.owner = st.st_uid;
  return s;
}

// O_NONBLOCK: a FIFO in place of the file must not hang us; it is refused
// as not a regular file. Reads of regular files ignore the flag.
constexpr int kReadFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

// The checks of open_for_reading on a descriptor that open() or openat()
// returned (fd < 0: the error is in errno).
Result<std::optional<ReadableFile>> checked_for_reading(int raw_fd, const fs::path& path,
                                                        std::size_t max_size) {
  if (raw_fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return std::optional<ReadableFile>();
    return errno_error("cannot open", path, err);
  }
  UniqueFd fd(raw_fd);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return Error(Errc::config, shown(path) + " is not a regular file");
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > max_size) {
    return too_large(path, max_size);
  }
  return std::optional<ReadableFile>(ReadableFile{std::move(fd), stamp_of(st)});
}

Result<std::optional<std::string>> read_checked(Result<std::optional<ReadableFile>> file,
                                                const fs::path& path, std::size_t max_size,
                                                FileStamp* stamp) {
  if (!file) return file.error();
  if (!*file) return std::optional<std::string>();
  auto text = read_rest((*file)->fd.get(), max_size, path);
  if (!text) return text.error();
  if (stamp != nullptr) *stamp = (*file)->stamp;
  return std::optional<std::string>(std::move(*text));
}

bool write_all(int fd, ByteSpan data) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data = data.subspan(static_cast<std::size_t>(n));
  }
  return true;
}

// A name no other writer picks: the temporary files of two processes
// writing the same target must not collide (O_EXCL would refuse the second).
Result<std::string> random_suffix() {
  std::array<std::uint8_t, 8> nonce{};
  if (::getentropy(nonce.data(), nonce.size()) != 0) {
    return Error(Errc::io, "no randomness for a temporary file name: " +
                               std::generic_category().message(errno));
  }
  return to_hex(nonce);
}

bool is_one_component(std::string_view name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string_view::npos;
}

}  // namespace

void UniqueFd::reset(int fd) noexcept {
  if (fd_ >= 0) ::close(fd_);
  fd_ = fd;
}

Result<FileStamp> stat_file(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return FileStamp{};
    return errno_error("cannot stat", path, err);
  }
  return stamp_of(st);
}

fs::path parent_dir(const fs::path& path) {
  fs::path dir = path.parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

// --- Bounded reads ---

Result<std::optional<ReadableFile>> open_for_reading(const fs::path& path, std::size_t max_size) {
  return checked_for_reading(::open(path.c_str(), kReadFlags), path, max_size);
}

Result<std::optional<std::string>> read_file(const fs::path& path, std::size_t max_size,
                                             FileStamp* stamp) {
  return read_checked(open_for_reading(path, max_size), path, max_size, stamp);
}

Result<std::string> read_rest(int fd, std::size_t max_size, const fs::path& name) {
  // Bounded while reading, not only by the caller's fstat: the file may grow.
  std::string text;
  std::array<char, 16384> buf;
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read", name, errno);
    if (n == 0) return text;
    if (text.size() + static_cast<std::size_t>(n) > max_size) return too_large(name, max_size);
    text.append(buf.data(), static_cast<std::size_t>(n));
  }
}

Result<std::size_t> read_into(int fd, std::span<std::uint8_t> buf, const fs::path& name) {
  std::size_t got = 0;
  for (;;) {
    // Once the buffer is full, one more byte tells a file that grew after
    // fstat. buf may be a secret, so that byte is wiped (a volatile store
    // the compiler cannot drop).
    std::uint8_t extra = 0;
    const bool full = got == buf.size();
    const ssize_t n = full ? ::read(fd, &extra, 1) : ::read(fd, buf.data() + got, buf.size() - got);
    *static_cast<volatile std::uint8_t*>(&extra) = 0;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read", name, errno);
    if (n == 0) return got;
    if (full) return Error(Errc::too_large, shown(name) + " grew while it was read");
    got += static_cast<std::size_t>(n);
  }
}

// --- Atomic writes ---

Result<void> write_file_atomic(const fs::path& path, ByteSpan contents, unsigned mode,
                               Overwrite overwrite) {
  const std::string name = shown(path);
  const fs::path dir = parent_dir(path);
  auto suffix = random_suffix();
  if (!suffix) return suffix.error();
  const fs::path tmp = dir / ("." + path.filename().string() + ".tmp-" + *suffix);

  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
                     static_cast<mode_t>(mode & 0777)));
  if (!fd) return errno_error("cannot create a file in", dir, errno);
  // From here on, any failure removes the temporary file.
  struct Unlinker {
    const fs::path& p;
    bool armed = true;
    ~Unlinker() {
      if (armed) ::unlink(p.c_str());
    }
  } unlinker{tmp};

  // The umask may have cleared bits of `mode`; the caller asked for exactly it.
  if (::fchmod(fd.get(), static_cast<mode_t>(mode & 07777)) != 0 ||
      !write_all(fd.get(), contents) || ::fsync(fd.get()) != 0) {
    return Error(Errc::io, "cannot write " + name + ": " + std::generic_category().message(errno));
  }
  if (::close(fd.release()) != 0) {
    return Error(Errc::io, "cannot write " + name + ": " + std::generic_category().message(errno));
  }

  if (overwrite == Overwrite::yes) {
    if (::rename(tmp.c_str(), path.c_str()) != 0) {
      return Error(Errc::io,
                   "cannot replace " + name + ": " + std::generic_category().message(errno));
    }
    unlinker.armed = false;
  } else {
    // link() fails if the target exists, so a concurrent writer is never
    // overwritten; the temporary name is then removed by the unlinker.
    if (::link(tmp.c_str(), path.c_str()) != 0) {
      const int err = errno;
      if (err == EEXIST) return Error(Errc::config, name + " already exists; not overwriting it");
      return Error(Errc::io, "cannot create " + name + ": " + std::generic_category().message(err));
    }
  }
  const UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir_fd) ::fsync(dir_fd.get());  // best effort: the data is in place
  return {};
}

// --- Directories ---

Result<OpenDirectory> OpenDirectory::open(const fs::path& dir) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) {
    const int err = errno;
    if (err == ENOTDIR) return Error(Errc::config, shown(dir) + " is not a directory");
    return errno_error("cannot open directory", dir, err);
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat", dir, errno);
  return OpenDirectory(std::move(fd), dir, stamp_of(st));
}

int list_directory(int fd, std::vector<std::string>& names) {
  // fdopendir takes ownership of its descriptor: give it a copy.
  UniqueFd copy(::fcntl(fd, F_DUPFD_CLOEXEC, 0));
  if (!copy) return errno;
  DIR* d = ::fdopendir(copy.get());
  if (d == nullptr) return errno;
  copy.release();  // now d's
  struct DirCloser {
    DIR* d;
    ~DirCloser() { ::closedir(d); }
  } closer{d};
  // The copy shares the original's position: start from the beginning.
  ::rewinddir(d);
  for (;;) {
    errno = 0;
    const dirent* e = ::readdir(d);
    if (e == nullptr) return errno;
    const std::string_view n = e->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
}

Result<std::vector<std::string>> OpenDirectory::names() const {
  std::vector<std::string> names;
  if (const int err = list_directory(fd_.get(), names); err != 0) {
    return errno_error("cannot read directory", path_, err);
  }
  return names;
}

Result<std::optional<std::string>> OpenDirectory::read_file(const std::string& name,
                                                            std::size_t max_size,
                                                            FileStamp* stamp) const {
  const fs::path full = path_ / name;
  return read_checked(
      checked_for_reading(::openat(fd_.get(), name.c_str(), kReadFlags), full, max_size), full,
      max_size, stamp);
}

Result<UniqueFd> OpenDirectory::open_at(const std::string& name, int flags, unsigned mode) const {
  const fs::path full = path_ / name;
  if (!is_one_component(name)) {
    return Error(Errc::config,
                 "\"" + escape_for_display(name) + "\" is not a file name in " + shown(path_));
  }
  UniqueFd fd(
      ::openat(fd_.get(), name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC, static_cast<mode_t>(mode)));
  if (!fd) {
    const int err = errno;
    // With O_NOFOLLOW, ELOOP means the entry itself is a symlink (the name
    // has one component, so no other symlink is on the way).
    if (err == ELOOP)
      return Error(Errc::config, shown(full) + " is a symbolic link (not followed)");
    return errno_error("cannot open", full, err);
  }
  return fd;
}

Result<DirectoryLock> DirectoryLock::lock(const fs::path& dir, bool wait) {
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return errno_error("cannot open directory", dir, errno);
  while (::flock(fd.get(), LOCK_EX | (wait ? 0 : LOCK_NB)) != 0) {
    const int err = errno;
    if (err == EINTR) continue;
    if (err == EWOULDBLOCK) return Error(Errc::io, shown(dir) + " is locked by another process");
    return errno_error("cannot lock directory", dir, err);
  }
  return DirectoryLock(std::move(fd));
}

Result<DirectoryLock> DirectoryLock::acquire(const fs::path& dir) {
  return lock(dir, true);
}

Result<DirectoryLock> DirectoryLock::try_acquire(const fs::path& dir) {
  return lock(dir, false);
}

}  // namespace signet::util
