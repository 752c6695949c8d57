// signet::FileClient: file transfer over one client connection (protocol
// version 2): upload, download and list on a server's served folder
// (docs/PROTOCOL.md, "Files").
//
// The connection is pumped (net::Connection::start): the client's reader
// hands every frame to this object, which writes a download's bytes to its
// hidden temporary file as they arrive and grants credit back once they are
// written; an upload is sent by the coroutine that awaits put(), as far as
// the server's credit and the connection's output allow. Several transfers
// may run at once on one connection. Every member runs on the connection's
// executor.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include <asio/awaitable.hpp>

#include "api/receipt.hpp"
#include "crypto/primitives.hpp"
#include "files/folder.hpp"
#include "files/source_digest.hpp"
#include "net/client.hpp"
#include "proto/file_frames.hpp"
#include "proto/session.hpp"

namespace signet {

struct TransferResult {
  std::uint64_t size = 0;
  crypto::Sha256Digest digest{};  // of the file's content, checked by both ends
  // Bytes the receiver already held from an interrupted attempt, not sent
  // again (docs/PROTOCOL.md, "Resuming").
  std::uint64_t resumed_from = 0;
  // The receiver held a part of another version of the file: it was
  // discarded and the whole file sent.
  bool started_over = false;
  // put or get with want_receipt: the server's signed receipt, checked.
  std::shared_ptr<const Receipt> receipt;
};

// Called as a transfer moves: bytes of the file done so far, and its size.
// The first call says where it starts (a resumed transfer: the bytes the
// receiver held already).
using ProgressFn = std::function<void(std::uint64_t done, std::uint64_t total)>;

class FileClient : public net::Application, public std::enable_shared_from_this<FileClient> {
 public:
  // File transfer over a connection that is open (and not used for anything
  // else). Fails with unsupported_operation when the server speaks only
  // protocol version 1.
  static Result<std::shared_ptr<FileClient>> over(std::shared_ptr<net::Connection> connection);

  // Uploads the regular file `local` as `remote` (a name inside the served
  // folder). The server publishes it only when its SHA-256 matches. When
  // the server holds a part of this file from an interrupted attempt, only
  // the rest is sent (TransferResult::resumed_from); a part that turns out
  // not to be this file's beginning is discarded and the whole file sent
  // (started_over). Fails
  // with not_found, exists (replace false and the name exists), no_space,
  // malformed (a name the server refuses), config (not permitted), refused
  // (the key may not put), cancelled (did not verify), or the connection's
  // error; io for a local file that cannot be read.
  // want_receipt (key mode): the server signs a receipt of the published
  // file (docs/PROTOCOL.md, "Receipts"), checked as
  // MessageClient::request_with_receipt checks one, in
  // TransferResult::receipt; a server that signs none cancels the PUT
  // before any data moves.
  // What receipts from a shared-key server are checked with (none: a
  // shared-key put or get asking for one fails before it starts).
  void set_shared_receipt_key(std::shared_ptr<const SharedReceiptKey> key) {
    shared_receipt_key_ = std::move(key);
  }
  asio::awaitable<Result<TransferResult>> put(std::filesystem::path local, std::string remote,
                                              bool replace, ProgressFn progress = {},
                                              bool want_receipt = false);
  // Downloads `remote` to the file `local`, through a hidden temporary file
  // beside it that becomes `local` only once the SHA-256 matches; local's
  // folder must exist, and `local` must not unless replace. A part left by
  // an interrupted attempt is resumed as put() does. Fails as put().
  // want_receipt (key mode): the server signs a receipt of the file it sent,
  // checked (as put's) before the file is published, in
  // TransferResult::receipt.
  asio::awaitable<Result<TransferResult>> get(std::string remote, std::filesystem::path local,
                                              bool replace, ProgressFn progress = {},
                                              bool want_receipt = false);
  // Downloads `remote` to `name` inside `into` (files::ServedFolder's rules:
  // a checked relative name, folders on the way created, never through a
  // symbolic link). What a recursive download uses.
  asio::awaitable<Result<TransferResult>> get_into(std::string remote,
                                                   const files::ServedFolder& into,
                                                   std::string name, bool replace,
                                                   ProgressFn progress = {},
                                                   bool want_receipt = false);
  // The entries of a folder ("" for the served folder itself); recursive:
  // everything below it, named relative to it. The names are the server's:
  // check them (files::split_name) before using one.
  asio::awaitable<Result<std::vector<proto::ListEntry>>> list(std::string remote,
                                                              bool recursive = false);

  void close() { connection_->close(); }

  // net::Application: the server's frames.
  asio::awaitable<Result<void>> receive(net::Link& link) override;

 private:
  struct Op;
  struct Download;
  struct Upload;
  struct Listing;
  explicit FileClient(std::shared_ptr<net::Connection> connection);
  // Opens an operation and registers its state.
  Result<std::uint32_t> open(proto::Kind kind, util::ByteSpan body, bool fin,
                             std::shared_ptr<Op> op, bool receipt = false);
  // Waits until op's state changes (credit, data, its answer, a failure).
  asio::awaitable<void> wait(Op& op);
  // Sends the file's bytes from `from` on (fd is positioned there), then
  // the SHA-256 of the whole file, which source computes.
  asio::awaitable<Result<void>> send_file(std::uint32_t id, Op& op, int fd, std::uint64_t size,
                                          std::uint64_t from, files::SourceDigest& source,
                                          const ProgressFn& progress);
  // Publishes a verified download; downloads verified in the same turn of
  // the executor are published together (files::publish_together).
  asio::awaitable<Result<void>> publish(std::shared_ptr<Download> op);
  void publish_batch();
  Result<void> take_frames();
  void closed(const Error& why);
  void touch();

  std::shared_ptr<net::Connection> connection_;
  std::shared_ptr<const SharedReceiptKey> shared_receipt_key_;
  proto::Session session_;
  std::unordered_map<std::uint32_t, std::shared_ptr<Op>> ops_;
  std::vector<std::shared_ptr<Download>> to_publish_;
  bool publish_posted_ = false;
};

}  // namespace signet
