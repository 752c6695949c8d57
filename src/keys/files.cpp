#include "keys/files.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <system_error>

#include "util/encoding.hpp"

namespace signet::keys {
namespace {

namespace fs = std::filesystem;

Error errno_error(const std::string& what, const fs::path& path, int err) {
  return Error(Errc::io, what + " " + util::escape_for_display(path.string()) + ": " +
                             std::generic_category().message(err));
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

}  // namespace

Result<FileStamp> stat_file(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return FileStamp{};
    return errno_error("cannot stat", path, err);
  }
  return stamp_of(st);
}

namespace {

// The contents of the regular file open as fd (closed here), at most
// max_size bytes; `path` only names it in messages.
Result<std::optional<std::string>> read_open_file(int fd, const fs::path& path,
                                                  std::size_t max_size, FileStamp* stamp) {
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st {};
  if (::fstat(fd, &st) != 0) return errno_error("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) {
    return Error(Errc::config, util::escape_for_display(path.string()) + " is not a regular file");
  }
  if (st.st_size < 0 || static_cast<std::uint64_t>(st.st_size) > max_size) {
    return Error(Errc::too_large, util::escape_for_display(path.string()) + " is larger than " +
                                      std::to_string(max_size) + " bytes");
  }
  // Bounded again while reading, in case the file grows after fstat.
  std::string text;
  text.reserve(static_cast<std::size_t>(st.st_size));
  char buf[16384];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_error("cannot read", path, errno);
    if (n == 0) break;
    if (text.size() + static_cast<std::size_t>(n) > max_size) {
      return Error(Errc::too_large, util::escape_for_display(path.string()) + " is larger than " +
                                        std::to_string(max_size) + " bytes");
    }
    text.append(buf, static_cast<std::size_t>(n));
  }
  if (stamp != nullptr) *stamp = stamp_of(st);
  return std::optional<std::string>(std::move(text));
}

// O_NONBLOCK: a FIFO in place of the file must not hang us; it is refused
// as not a regular file. Reads of regular files ignore the flag.
constexpr int kReadFlags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

}  // namespace

Result<std::optional<std::string>> read_text_file(const fs::path& path, std::size_t max_size,
                                                  FileStamp* stamp) {
  const int fd = ::open(path.c_str(), kReadFlags);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return std::optional<std::string>();
    return errno_error("cannot open", path, err);
  }
  return read_open_file(fd, path, max_size, stamp);
}

Result<void> check_private_ownership(const FileStamp& stamp, const fs::path& name) {
  const std::string shown = util::escape_for_display(name.string());
  if ((stamp.mode & 022) != 0) {
    return Error(Errc::config,
                 shown + " is writable by group or others (run: chmod go-w " + shown + ")");
  }
  const uid_t me = ::geteuid();
  if (stamp.owner != me && stamp.owner != 0) {
    return Error(Errc::config, shown + " belongs to uid " + std::to_string(stamp.owner) +
                                   ", neither this user (uid " + std::to_string(me) + ") nor root");
  }
  return {};
}

Result<OpenDirectory> OpenDirectory::open(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOTDIR) {
      return Error(Errc::config, util::escape_for_display(dir.string()) + " is not a directory");
    }
    return errno_error("cannot open directory", dir, err);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int err = errno;
    ::close(fd);
    return errno_error("cannot stat", dir, err);
  }
  return OpenDirectory(fd, dir, stamp_of(st));
}

OpenDirectory::~OpenDirectory() {
  if (fd_ >= 0) ::close(fd_);
}

Result<std::vector<std::string>> OpenDirectory::names() const {
  // fdopendir takes ownership of its descriptor: give it a copy.
  const int copy = ::fcntl(fd_, F_DUPFD_CLOEXEC, 0);
  if (copy < 0) return errno_error("cannot read directory", path_, errno);
  DIR* d = ::fdopendir(copy);
  if (d == nullptr) {
    const int err = errno;
    ::close(copy);
    return errno_error("cannot read directory", path_, err);
  }
  struct DirCloser {
    DIR* d;
    ~DirCloser() { ::closedir(d); }
  } closer{d};
  // The copy shares the original's position: start from the beginning.
  ::rewinddir(d);
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    const dirent* e = ::readdir(d);
    if (e == nullptr) {
      if (errno != 0) return errno_error("cannot read directory", path_, errno);
      return names;
    }
    const std::string_view name = e->d_name;
    if (name != "." && name != "..") names.emplace_back(name);
  }
}

Result<std::optional<std::string>> OpenDirectory::read_text_file(const std::string& name,
                                                                 std::size_t max_size,
                                                                 FileStamp* stamp) const {
  const fs::path shown = path_ / name;
  const int fd = ::openat(fd_, name.c_str(), kReadFlags);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT || err == ENOTDIR) return std::optional<std::string>();
    return errno_error("cannot open", shown, err);
  }
  return read_open_file(fd, shown, max_size, stamp);
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Result<DirectoryLock> DirectoryLock::acquire(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return errno_error("cannot open directory", dir, errno);
  while (::flock(fd, LOCK_EX) != 0) {
    if (errno == EINTR) continue;
    const int err = errno;
    ::close(fd);
    return errno_error("cannot lock directory", dir, err);
  }
  return DirectoryLock(fd);
}

DirectoryLock::~DirectoryLock() {
  if (fd_ >= 0) ::close(fd_);  // closing releases the flock
}

fs::path parent_dir(const fs::path& path) {
  fs::path dir = path.parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

}  // namespace signet::keys
