// The server side of file transfer: one connection's PUT, GET and LIST
// operations on a served folder (docs/PROTOCOL.md, "Files").
//
// It runs inside the connection's application (api/message_service.cpp),
// which hands it the operations of those kinds and their frames. Nothing
// here waits: an upload's DATA is written to its hidden temporary file as it
// arrives (and credit granted back once written, so a slow disk slows the
// sender); downloads and listings are sent by pump(), as far as the peer's
// credit and the connection's output allow. Memory per operation is one
// chunk, whatever the file's size.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>
#include <vector>

#include "api/audit_log.hpp"
#include "api/receipt.hpp"
#include "crypto/private_key.hpp"
#include "files/folder.hpp"
#include "net/link.hpp"
#include "proto/file_frames.hpp"
#include "proto/session.hpp"

namespace signet {

struct FileServiceOptions {
  std::filesystem::path root;       // the served folder (signet server --files)
  std::uint64_t max_file_size = 0;  // 0: no limit beyond the disk's free space
  // The most the served folder may hold in all (signet server --max-total);
  // 0: no limit beyond the disk's free space.
  std::uint64_t max_total = 0;
};

// What a limit on the folder's total counts: the bytes its regular files
// held at the last scan (hidden parts included) plus what was published
// since, and the full size of every upload in progress, reserved when it
// starts. Thread-safe.
class FolderUsage {
 public:
  explicit FolderUsage(std::uint64_t used) : used_(used) {}
  // Reserves n bytes if used + reserved + n stays within limit; otherwise
  // false, with what is used and reserved now in `now`.
  bool reserve(std::uint64_t n, std::uint64_t limit, std::uint64_t& now);
  void release(std::uint64_t n);
  // A reserved upload of n bytes was published in place of a file of
  // `replaced` bytes (0: none).
  void published(std::uint64_t n, std::uint64_t replaced);
  // A new scan's count (the hourly one: it catches files the operator
  // added or removed).
  void rescanned(std::uint64_t used);
  std::uint64_t used() const;

 private:
  mutable std::mutex mu_;
  std::uint64_t used_;
  std::uint64_t reserved_ = 0;
};

// What one server shares among its connections: the open folder.
struct FileServiceShared {
  files::ServedFolder folder;
  FileServiceOptions options;
  std::shared_ptr<FolderUsage> usage;  // with max_total only
};

class FileOperations {
 public:
  // receipts: what vouches for the receipts a PUT or GET asks for (none for
  // this connection's mode: such an operation is cancelled before any data
  // moves). audit: where each
  // operation's name and size are noted for the audit log (none: no log).
  FileOperations(std::shared_ptr<const FileServiceShared> shared, proto::Session& session,
                 net::Link& link, proto::FrameSink& sink, ReceiptKeys receipts = {},
                 AuditTrail* audit = nullptr);
  ~FileOperations();

  // The peer opened a file operation (already authorized): refused at once
  // with a REPLY status, or started.
  Result<void> opened(const proto::Opened& o);
  // Frames on the operations this object holds; false if op is not one of them.
  Result<bool> received(const proto::Received& r);
  bool forget(std::uint32_t op);  // the peer cancelled op
  // Publishes the uploads that were completed and verified since the last
  // call, with one durable commit for all of them (files::publish_together),
  // and answers each. The connection calls it after each batch of frames:
  // many small files cost two syncs per batch, not two per file.
  Result<void> commit();
  // Sends what the peer's credit and the output allow on the downloads and
  // listings in progress. Returns true when one of them still has credit
  // but stopped because the output is full: the caller waits for it to
  // drain (net::Link::drained) and pumps again.
  Result<bool> pump();
  bool active() const noexcept { return !ops_.empty(); }

 private:
  struct Op;
  struct Upload;
  struct Outgoing;
  Result<void> refuse(std::uint32_t op, proto::FileStatus status, const std::string& why);
  Result<void> start_put(const proto::Opened& o);
  Result<void> start_get(const proto::Opened& o);
  Result<void> start_list(const proto::Opened& o);
  Result<void> finish_put(std::uint32_t op, Upload& u);
  // The signed receipt of a published upload, in its last DATA.
  Result<void> send_receipt(std::uint32_t op, const Upload& u, const std::string& reply_text);
  // A download's signed receipt, after its digest (the file is sent whole).
  void append_receipt(Outgoing& o);
  // Sends on one outgoing stream; false when it stopped for want of output room.
  Result<bool> pump_one(std::uint32_t op, Outgoing& o);

  // The folder this peer's operations reach: the served folder, or (dir=)
  // the folder below it its key is confined to; an Error when that cannot
  // be opened (each operation is then refused with it).
  const files::ServedFolder* folder();

  std::shared_ptr<const FileServiceShared> shared_;
  ReceiptKeys receipts_;
  AuditTrail* audit_;
  std::optional<Result<files::ServedFolder>> own_folder_;  // dir=, opened on first use
  proto::Session& session_;
  net::Link& link_;
  proto::FrameSink& sink_;
  std::unordered_map<std::uint32_t, std::unique_ptr<Op>> ops_;
  // Uploads verified and waiting for commit(), with their operation ids.
  std::vector<std::pair<std::uint32_t, std::unique_ptr<Op>>> verified_;
  util::Bytes chunk_;  // the read buffer, shared by this connection's downloads
};

}  // namespace signet
