// Small file helpers shared by the keys layer: bounded reads with the file's
// identity, line splitting, and a lock that serialises edits of one directory.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace signet::keys {

// What stat(2) says about a file, enough to notice that it was replaced or
// edited: atomic rewrites change the inode, in-place edits change the size,
// mtime or ctime (ctime also moves on chmod and chown).
struct FileStamp {
  bool exists = false;
  dev_t device = 0;
  ino_t inode = 0;
  off_t size = 0;
  std::int64_t mtime_ns = 0;
  std::int64_t ctime_ns = 0;
  mode_t mode = 0;
  uid_t owner = 0;

  friend bool operator==(const FileStamp&, const FileStamp&) = default;
};

// stat(2) of path; exists == false when there is no such file. io on other errors.
Result<FileStamp> stat_file(const std::filesystem::path& path);

// The contents of a regular file of at most max_size bytes, or nullopt if it
// does not exist. `stamp`, if given, receives the identity of the file that
// was actually read (fstat of the open descriptor). io or too_large otherwise.
Result<std::optional<std::string>> read_text_file(const std::filesystem::path& path,
                                                  std::size_t max_size, FileStamp* stamp = nullptr);

// Splits text at '\n' and drops one trailing '\r' per line; a final newline
// does not start an extra empty line.
std::vector<std::string_view> split_lines(std::string_view text);

// Trims ASCII spaces and tabs at both ends.
std::string_view trim(std::string_view s);

// Holds flock(LOCK_EX) on a directory so that two signet processes editing
// files in it (read, modify, atomic rename) do not lose each other's changes.
// Advisory: it only orders signet's own edits.
class DirectoryLock {
 public:
  static Result<DirectoryLock> acquire(const std::filesystem::path& dir);
  DirectoryLock(DirectoryLock&& o) noexcept : fd_(o.fd_) { o.fd_ = -1; }
  DirectoryLock& operator=(DirectoryLock&&) = delete;
  DirectoryLock(const DirectoryLock&) = delete;
  ~DirectoryLock();

 private:
  explicit DirectoryLock(int fd) noexcept : fd_(fd) {}
  int fd_ = -1;
};

// The directory holding path ("." for a bare file name).
std::filesystem::path parent_dir(const std::filesystem::path& path);

}  // namespace signet::keys
