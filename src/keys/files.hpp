// Small file helpers shared by the keys layer: bounded reads with the file's
// identity, the ownership rule for files that decide whom to trust, line
// splitting, and a lock that serialises edits of one directory.
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

// check_private_ownership applies sshd's StrictModes rule to a file or
// directory that decides whom signet trusts (authorized_keys, known_hosts, a
// key to import, the folders holding them): whoever else can write it can
// admit themselves or pin their own key. Fails with config, naming `name` and
// the fix, if group or others may write it or if it belongs to neither this
// user (the effective uid) nor root. Give it the stamp of what was actually
// opened (fstat of the descriptor), so a symlink is judged by its target.
Result<void> check_private_ownership(const FileStamp& stamp, const std::filesystem::path& name);

// A directory held open, whose files are read by name relative to it
// (openat): what is read comes from the directory that was checked, even if
// its path is renamed or replaced in the meantime.
class OpenDirectory {
 public:
  // Opens dir, following symlinks. config if it is not a directory, io if it
  // cannot be opened.
  static Result<OpenDirectory> open(const std::filesystem::path& dir);
  OpenDirectory(OpenDirectory&& o) noexcept
      : fd_(o.fd_), path_(std::move(o.path_)), stamp_(o.stamp_) {
    o.fd_ = -1;
  }
  OpenDirectory& operator=(OpenDirectory&&) = delete;
  OpenDirectory(const OpenDirectory&) = delete;
  ~OpenDirectory();

  const std::filesystem::path& path() const noexcept { return path_; }
  // fstat of the open directory.
  const FileStamp& stamp() const noexcept { return stamp_; }
  // The names of its entries, without "." and "..", in no particular order.
  // io on failure.
  Result<std::vector<std::string>> names() const;
  // read_text_file for the entry `name` (a symlink is followed); messages
  // name path() / name.
  Result<std::optional<std::string>> read_text_file(const std::string& name, std::size_t max_size,
                                                    FileStamp* stamp = nullptr) const;

 private:
  OpenDirectory(int fd, std::filesystem::path path, const FileStamp& stamp)
      : fd_(fd), path_(std::move(path)), stamp_(stamp) {}
  int fd_ = -1;
  std::filesystem::path path_;
  FileStamp stamp_;
};

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
