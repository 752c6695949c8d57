// Local files, POSIX only: an owned descriptor, bounded reads, atomic
// writes, a directory lock, and opening files relative to a held directory.
//
// One copy of what the key files (crypto), authorized_keys and known_hosts
// (keys) and file transfer need. Every error names the path, escaped for
// display (util::escape_for_display), and never holds file contents.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "util/bytes.hpp"
#include "util/error.hpp"

namespace signet::util {

// An open file descriptor, closed on destruction. Move-only; -1 is "none".
class UniqueFd {
 public:
  UniqueFd() noexcept = default;
  explicit UniqueFd(int fd) noexcept : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(o.release()) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    if (this != &o) reset(o.release());
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const noexcept { return fd_; }
  bool valid() const noexcept { return fd_ >= 0; }
  explicit operator bool() const noexcept { return valid(); }
  // Gives up ownership: the caller closes the returned descriptor.
  int release() noexcept { return std::exchange(fd_, -1); }
  // Closes the descriptor held (ignoring close's result) and takes fd.
  void reset(int fd = -1) noexcept;

 private:
  int fd_ = -1;
};

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

// The directory holding path ("." for a bare file name).
std::filesystem::path parent_dir(const std::filesystem::path& path);

// --- Bounded reads ---

// A regular file open for reading, and what fstat said about it.
struct ReadableFile {
  UniqueFd fd;
  FileStamp stamp;
};

// open_for_reading opens path read-only for a bounded read and checks on the
// descriptor (so the file cannot be swapped in between) that it is a regular
// file of at most max_size bytes. O_NONBLOCK: a FIFO in its place cannot
// block the caller (it is refused as not a regular file). nullopt if there
// is no such file (ENOENT, or ENOTDIR for a path through a non-directory).
// Fails with config if it is not a regular file, with too_large ("<path> is
// larger than <max_size> bytes") if it is bigger, with io if it cannot be
// opened or stat'ed.
Result<std::optional<ReadableFile>> open_for_reading(const std::filesystem::path& path,
                                                     std::size_t max_size);

// read_file reads the whole regular file at path, refusing (too_large, naming
// the path and max_size) one of more than max_size bytes, also if it grows
// while it is read; nullopt if it does not exist. `stamp`, if given, receives
// the identity of the file actually read. Otherwise fails as open_for_reading.
Result<std::optional<std::string>> read_file(const std::filesystem::path& path,
                                             std::size_t max_size, FileStamp* stamp = nullptr);

// read_rest reads what is left of the open file fd, at most max_size bytes
// (too_large beyond); `name` only labels errors (io on a failed read).
Result<std::string> read_rest(int fd, std::size_t max_size, const std::filesystem::path& name);

// read_into fills buf from fd without allocating, for contents that must not
// be copied into a growing buffer (secrets): the caller sizes buf from the
// stamp. Returns the bytes read (fewer if the file shrank). Fails with
// too_large ("<name> grew while it was read") if there is more than buf
// holds, io on a failed read.
Result<std::size_t> read_into(int fd, std::span<std::uint8_t> buf,
                              const std::filesystem::path& name);

// --- Atomic writes ---

enum class Overwrite : bool { no, yes };

// write_file_atomic replaces (Overwrite::yes) or creates (Overwrite::no)
// `path` so that readers see either the old or the complete new file: it
// writes a temporary file in the same directory (O_CREAT | O_EXCL, created
// with `mode`, then set to exactly `mode` whatever the umask), fsyncs it,
// renames (or, for Overwrite::no, hard-links) it into place and fsyncs the
// directory. No temporary file is left behind on failure, and nothing
// half-written is ever under the real name. Fails with config if the file
// exists and Overwrite::no, io otherwise.
Result<void> write_file_atomic(const std::filesystem::path& path, ByteSpan contents, unsigned mode,
                               Overwrite overwrite);

// --- Directories ---

// list_directory reads the names in the open directory fd, from its start,
// without "." and ".." (fd itself is left open, its position untouched).
// Returns 0, or the errno of the failure.
int list_directory(int fd, std::vector<std::string>& names);

// A directory held open, whose entries are opened by name relative to it
// (openat): what is read comes from the directory that was opened, even if
// its path is renamed or replaced in the meantime.
class OpenDirectory {
 public:
  // Opens dir, following symlinks. config if it is not a directory, io if it
  // cannot be opened.
  static Result<OpenDirectory> open(const std::filesystem::path& dir);

  const std::filesystem::path& path() const noexcept { return path_; }
  int fd() const noexcept { return fd_.get(); }
  // fstat of the open directory.
  const FileStamp& stamp() const noexcept { return stamp_; }
  // The names of its entries, without "." and "..", in no particular order.
  // io on failure.
  Result<std::vector<std::string>> names() const;
  // read_file for the entry `name` (a symlink is followed); messages name
  // path() / name.
  Result<std::optional<std::string>> read_file(const std::string& name, std::size_t max_size,
                                               FileStamp* stamp = nullptr) const;
  // open_at opens the entry `name` with openat(flags | O_NOFOLLOW |
  // O_CLOEXEC, mode), so the file is this directory's own entry: `name` must
  // be one path component (not empty, ".", ".." or holding '/'; config
  // otherwise) and a symlink is refused (config, "... is a symbolic link").
  // io for any other failure, with the system's reason.
  Result<UniqueFd> open_at(const std::string& name, int flags, unsigned mode = 0) const;

 private:
  OpenDirectory(UniqueFd fd, std::filesystem::path path, const FileStamp& stamp)
      : fd_(std::move(fd)), path_(std::move(path)), stamp_(stamp) {}
  UniqueFd fd_;
  std::filesystem::path path_;
  FileStamp stamp_;
};

// Holds flock(LOCK_EX) on a directory's descriptor so that two signet
// processes editing files in it (read, modify, atomic rename) do not lose
// each other's changes. Advisory: it only orders signet's own edits. The lock
// is released on destruction. Move-only.
class DirectoryLock {
 public:
  // acquire waits for the lock. io if dir cannot be opened or locked.
  static Result<DirectoryLock> acquire(const std::filesystem::path& dir);
  // try_acquire does not wait: it fails with io, "<dir> is locked by another
  // process", if anyone holds the lock (another process, or another
  // DirectoryLock in this one).
  static Result<DirectoryLock> try_acquire(const std::filesystem::path& dir);

 private:
  explicit DirectoryLock(UniqueFd fd) noexcept : fd_(std::move(fd)) {}
  static Result<DirectoryLock> lock(const std::filesystem::path& dir, bool wait);
  UniqueFd fd_;  // closing it releases the flock
};

}  // namespace signet::util
