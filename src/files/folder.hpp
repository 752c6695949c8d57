// The server side of file transfer's file-system work, confined to one
// served folder.
//
// Every file-system call is made relative to a held directory descriptor
// (openat, mkdirat, fstatat, renameat, unlinkat), one name component at a
// time and without following symbolic links, as rsync's
// secure_relative_open() and Go's os.Root do: what a name reaches is decided
// by the file system itself, never by checking the text of a path, and a
// symbolic link planted anywhere inside the folder cannot lead out of it.
// Only the root is opened by its path, once.
//
// Uploads are written to a hidden temporary file (".signet-part-<hex>") in
// the destination directory and renamed into place when complete, so a
// reader never sees half a file under the real name. A plain upload that is
// abandoned leaves nothing behind; a resumable one (begin_resumable) leaves
// its part and a small record of how far it is verified
// (".signet-part-<hex>.resume"), which the next attempt goes on from.
//
// Errors name the file by its name relative to the served folder, escaped
// for display (util::escape_for_display), and never hold file contents.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crypto/primitives.hpp"
#include "util/error.hpp"
#include "util/file.hpp"

namespace signet::files {

enum class EntryType : std::uint8_t { other = 0, file = 1, directory = 2, symlink = 3 };

// One entry of a listing, as fstatat(AT_SYMLINK_NOFOLLOW) describes it.
struct Entry {
  std::string name;  // the entry's own name, not escaped
  EntryType type = EntryType::other;
  std::uint64_t size = 0;
  std::uint32_t mode = 0;  // st_mode & 07777
  std::int64_t mtime = 0;  // seconds since the epoch
};

// A regular file open for reading (blocking mode), and what fstat said of it.
struct FileForReading {
  util::UniqueFd fd;
  std::uint64_t size = 0;
  std::uint32_t mode = 0;  // st_mode & 07777
  std::int64_t mtime = 0;  // seconds since the epoch
};

class Upload;

// Where a resumable upload starts (ServedFolder::begin_resumable).
struct ResumePoint {
  enum class Outcome : std::uint8_t {
    fresh = 0,    // no part was held: from the start
    resumed = 1,  // a part was held: from its last checkpoint
    changed = 2,  // the part held was of a file of another size or time: from the start
  };
  Outcome outcome = Outcome::fresh;
  std::uint64_t offset = 0;      // bytes of the file already held
  crypto::Sha256Midstate state;  // their hash (state.length == offset)
  // The size and modification time of the file the part held belongs to
  // (as recorded by the last attempt, when resumed).
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
};

// A folder served to peers. Move-only (it holds the root's descriptor).
class ServedFolder {
 public:
  // open opens root, which must be an existing directory (a symbolic link to
  // one is followed: the root is the operator's choice). Fails with
  // Errc::config, naming root, otherwise.
  static Result<ServedFolder> open(const std::filesystem::path& root);

  const std::filesystem::path& root() const noexcept { return root_; }

  // open_for_reading opens the regular file `name` for reading. Fails with
  // malformed for a bad name (split_name), not_found if there is no such
  // file (or a component on the way is not a directory), config ("... is a
  // symbolic link") if the file or a directory on the way is a symbolic
  // link, config ("... is not a regular file") for a directory, FIFO,
  // device or socket (none is ever opened in a way that could block), and
  // io for any other failure.
  Result<FileForReading> open_for_reading(std::string_view name) const;

  // begin_upload starts an upload to `name`, creating its missing parent
  // directories (mode 0755, before the umask). Fails with malformed for a bad
  // name, config if a symbolic link or a non-directory is on the way, exists
  // ("<name> exists; replacing it needs --force") if `name` exists and
  // !replace, config if `name` exists and is not a regular file (even with
  // replace), io otherwise. Nothing is visible under `name` until
  // Upload::publish.
  Result<Upload> begin_upload(std::string_view name, bool replace) const;

  // begin_resumable starts an upload of a file of `size` bytes and
  // modification time `mtime`, as begin_upload does, into a part whose name
  // is derived from `key` and `name` (the caller's words for who sends what:
  // the same key and name find the same part again), and which is kept,
  // with its last checkpoint, when the upload ends unpublished
  // (Upload::checkpoint). With resume and a part held for a file of this
  // size and mtime, the upload goes on after the part's last checkpoint: the
  // part is cut back to it and Upload::resume_point() says where, with the
  // hash state there. Without resume, or when the part held is of a file of
  // another size or time (changed), or there is none (fresh), it starts
  // from empty. When any_source is true (a download, whose size the client
  // learns later) a part held is resumed whatever size and time it was
  // recorded with, and resume_point() names them. Another upload holding
  // the same part now (flock) gets a plain temporary file instead, not kept.
  // Fails as begin_upload does.
  Result<Upload> begin_resumable(std::string_view name, bool replace, util::ByteSpan key,
                                 std::uint64_t size, std::int64_t mtime, bool resume,
                                 bool any_source = false) const;

  // list lists the directory `name` ("" is the folder itself): its entries
  // sorted by name (byte order), without "." and ".." and without the
  // server's temporary files (names starting with ".signet-"). Fails with
  // malformed, not_found, config (not a directory, or a symbolic link), io.
  Result<std::vector<Entry>> list(std::string_view name) const;
  // list_tree lists the folder `name` and everything below it, each entry
  // named relative to `name` ("a/b.txt"), a folder before its contents,
  // each folder's entries in name order; symbolic links are listed, never followed, and a folder
  // whose name split_name refuses is listed but not entered. Fails as list()
  // does, and with too_large when there are more than max_entries entries.
  Result<std::vector<Entry>> list_tree(std::string_view name, std::size_t max_entries) const;

  // remove_stale_uploads removes the temporary files of uploads and the
  // parts of interrupted ones with their records (".signet-part-*",
  // regular files) last modified more than max_age ago, anywhere under the
  // folder (recursive) or in it only, without following symbolic links; for
  // server start-up, after a crash left some behind, and for a client's
  // downloads. Returns how many it removed. Directories that vanish or
  // change while it walks are skipped; io for any other failure.
  Result<std::size_t> remove_stale_uploads(std::chrono::seconds max_age,
                                           bool recursive = true) const;

  // total_size is the sum of the sizes of the regular files anywhere below
  // the folder (hidden parts included), without following symbolic links;
  // what a limit on the folder's total (signet server --max-total) counts.
  // Fails as remove_stale_uploads() does.
  Result<std::uint64_t> total_size() const;

  // subfolder opens the folder `name` inside this one as a folder of its
  // own (what a key confined by dir= is served), walking to it without
  // following symbolic links and creating what is missing (mode 0755).
  // Nothing outside it is reachable through the result. Fails as
  // begin_upload() does for the folders on the way.
  Result<ServedFolder> subfolder(std::string_view name) const;

 private:
  ServedFolder(std::filesystem::path root, util::UniqueFd fd)
      : root_(std::move(root)), root_fd_(std::move(fd)) {}
  // What both begin_ calls do first: the destination directory (created as
  // needed) and the name's last component, after checking what is there.
  struct Destination {
    util::UniqueFd dir;
    std::string leaf;
    std::string shown_name;
  };
  Result<Destination> destination(std::string_view name, bool replace) const;

  std::filesystem::path root_;
  util::UniqueFd root_fd_;
};

// An upload in progress: a hidden temporary file in the destination
// directory, published under its final name once complete. Move-only.
// Unless published, the destructor removes the temporary file, except a
// resumable upload's part, which it keeps (with its last checkpoint) unless
// abandon() was called.
class Upload {
 public:
  Upload(Upload&& o) noexcept;
  Upload& operator=(Upload&& o) noexcept;
  Upload(const Upload&) = delete;
  Upload& operator=(const Upload&) = delete;
  ~Upload();

  // The temporary file's descriptor (-1 once published).
  int fd() const noexcept { return file_.get(); }
  // The final name, as given to begin_upload.
  const std::string& name() const noexcept { return name_; }
  // The bytes the temporary file holds (a resumed upload starts at its
  // resume point's offset).
  std::uint64_t written() const noexcept { return written_; }
  // Whether the part is kept for a later attempt when not published.
  bool resumable() const noexcept { return resumable_; }
  // Where this upload started (begin_resumable); fresh at offset 0 otherwise.
  const ResumePoint& resume_point() const noexcept { return point_; }

  // checkpoint makes the first state.length bytes of the part durable
  // (fdatasync) and records them with their hash state, for the size and
  // modification time this upload is of, so that an attempt after a crash,
  // a kill or a cut goes on from there. state must describe bytes written
  // (state.length <= written()). Does nothing for an upload that is not
  // resumable, or for a state not past the last checkpoint. io or no_space on failure (the upload
  // itself may go on).
  Result<void> checkpoint(const crypto::Sha256Midstate& state);
  // checkpoint_if_due checkpoints when enough has been written since the
  // last one: 64 MiB, or 1 MiB and 2 seconds (so neither a fast transfer
  // syncs too often nor a slow one loses minutes to a cut). Fails as
  // checkpoint().
  Result<void> checkpoint_if_due(const crypto::Sha256Midstate& state);
  // start_over empties the part for a file of another size or time (a
  // download told the source changed) and forgets its checkpoint.
  Result<void> start_over(std::uint64_t size, std::int64_t mtime);
  // abandon removes the part and its record at once (its bytes are known to
  // be wrong, or the upload is refused); the upload is over.
  void abandon() noexcept;

  // write appends all of bytes. Fails with no_space ("no room for <name>:
  // ...") when the disk, a quota or a file size limit (ENOSPC, EDQUOT,
  // EFBIG) has no room; io otherwise (also after publish).
  Result<void> write(std::span<const std::uint8_t> bytes);

  // publish makes the upload the file `name`: sets its permissions to
  // mode & 0777 (never setuid, setgid or sticky), its modification time to
  // mtime (seconds; access time now), syncs it to disk, renames it into
  // place and syncs the directory. Without replace the rename never
  // overwrites (RENAME_NOREPLACE): if `name` appeared meanwhile (another
  // upload of the same name published first) it fails with exists and the
  // other file stays. With replace, a file that appeared meanwhile is
  // replaced. config if a directory took the name, io otherwise. After a
  // successful publish the destructor removes nothing; after a failed one
  // the temporary file is still removed.
  Result<void> publish(std::uint32_t mode, std::int64_t mtime);

 private:
  friend class ServedFolder;
  friend std::vector<Result<void>> publish_together(std::span<struct Finished> batch);
  // publish's steps: permissions and time; the rename (no sync).
  Result<void> prepare(std::uint32_t mode, std::int64_t mtime);
  Result<void> rename_into_place();
  Upload(util::UniqueFd dir, util::UniqueFd file, std::string temp_name, std::string leaf,
         std::string name, bool replace) noexcept
      : dir_(std::move(dir)),
        file_(std::move(file)),
        temp_name_(std::move(temp_name)),
        leaf_(std::move(leaf)),
        name_(std::move(name)),
        replace_(replace) {}
  // Removes the temporary file unless published or kept; closes the
  // descriptors.
  void discard() noexcept;
  std::string record_name() const { return temp_name_ + ".resume"; }

  util::UniqueFd dir_;     // the destination directory
  util::UniqueFd file_;    // the temporary file
  std::string temp_name_;  // its name in dir_
  std::string leaf_;       // the final name's last component
  std::string name_;       // the final name, as given
  bool replace_ = false;
  bool published_ = false;
  bool resumable_ = false;
  std::uint64_t written_ = 0;
  ResumePoint point_;               // where it started; size and mtime of the source
  std::uint64_t checkpointed_ = 0;  // the offset of the last record written
  std::chrono::steady_clock::time_point checkpoint_time_ = std::chrono::steady_clock::now();
  util::UniqueFd record_;  // the record, once written
};

// A finished upload and what to publish it with.
struct Finished {
  Upload* upload = nullptr;
  std::uint32_t mode = 0;
  std::int64_t mtime = 0;
};

// publish_together publishes a batch of finished uploads as publish() does
// each, with the same guarantees (no name holds a torn file after a crash),
// but with one durable commit for all instead of two fsyncs per file: the
// files' data is synced with syncfs(2) (once per file system), then each is
// renamed into place, then the new names are synced the same way. Many
// small files are what it is for; a batch of one is published with
// publish(). Returns each upload's result, in order.
std::vector<Result<void>> publish_together(std::span<Finished> batch);

}  // namespace signet::files
