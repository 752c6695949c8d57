// signet::message_service: the application that answers messages, protocol
// version 1's MESSAGE/REPLY and version 2's message operations alike, by
// calling a handler for each verified message, and, given a folder to
// serve, version 2's file operations (api/file_service.hpp).
//
// It drives the connection's proto::Session: every frame the peer sends goes
// through it (so the peer's rights are checked on every operation it opens),
// and every answer goes back through it. In version 1 a connection's
// handlers run one at a time, in the order the messages came (its replies
// must come in that order). In version 2 a coroutine handler (or any
// handler under a gate) runs apart for each message, up to 64 per
// connection, and each is answered when it is done, so a slow one holds up
// no other; a plain function without a gate is called at once, in order.
// Across connections at most max_concurrent_handlers run at once
// (net::HandlerGate).
#pragma once

#include <cstddef>
#include <functional>
#include <memory>

#include "api/audit_log.hpp"
#include "api/file_service.hpp"
#include "api/receipt.hpp"
#include "crypto/private_key.hpp"
#include "net/link.hpp"

namespace signet {

struct MessageServiceOptions {
  // Handlers running at once over all connections, and requests that may
  // wait for a turn beyond those (net/handler_gate.hpp); 0: no limit.
  std::size_t max_concurrent_handlers = 0;
  std::size_t max_queued_handlers = 0;
  // The folder whose files PUT, GET and LIST operations reach (serve_files);
  // none: such operations are cancelled as unsupported.
  std::shared_ptr<const FileServiceShared> files;
  // The key that signs receipts on key-mode connections (the server's
  // identity): a message whose OPEN asks for a receipt gets one before its
  // REPLY (docs/PROTOCOL.md, "Receipts"). None: such messages are cancelled
  // undelivered.
  std::shared_ptr<const crypto::PrivateKey> receipt_key{};
  // Shared-key connections: the key derived from the shared key that
  // authenticates their receipts (a MAC), asked for once per connection as
  // it starts (so that a shared key re-read on SIGHUP applies to the
  // connections made with it). None, or a null key: such receipts are
  // refused.
  std::function<std::shared_ptr<const SharedReceiptKey>()> receipt_shared_key{};
  // Where every operation a peer opens is recorded when it ends (signet
  // server --audit-log); none: nowhere.
  std::shared_ptr<AuditLog> audit{};
};

// Opens the folder to serve (signet server --files). Fails with config when
// it is not a directory.
Result<std::shared_ptr<const FileServiceShared>> serve_files(FileServiceOptions options);

net::ApplicationFactory message_service(net::Handler handler, MessageServiceOptions options = {});

}  // namespace signet
