#include "api/message_service.hpp"

#include <spdlog/spdlog.h>

#include <optional>
#include <unordered_map>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "api/link_sink.hpp"
#include "api/receipt.hpp"
#include "crypto/primitives.hpp"
#include "net/handler_gate.hpp"
#include "proto/session.hpp"
#include "util/encoding.hpp"

namespace signet {
namespace {

// Replies larger than the peer takes are cut, never refused: the handler's
// text is not the client's fault. What a reply frame's payload holds besides
// the text and within the limit: the status (version 1). Version 2's
// operation header is outside the limit (wire::operation_header_size).
std::size_t reply_overhead(int version) {
  return version == proto::kVersion2 ? 0 : 1;
}

struct Shared {
  net::Handler handler;
  std::unique_ptr<net::HandlerGate> gate;
  std::shared_ptr<const FileServiceShared> files;
  std::shared_ptr<const crypto::PrivateKey> receipt_key;
  std::function<std::shared_ptr<const SharedReceiptKey>()> receipt_shared_key;
  std::shared_ptr<AuditLog> audit;
};

// Version 2: handlers of one connection's messages that may run at once
// (each its own coroutine, answered in the order they finish); beyond
// that, the connection's frames wait (back-pressure). Across connections
// --exec's gate bounds them too.
constexpr std::size_t kRunningPerConnection = 64;

bool is_file_kind(std::uint8_t kind) {
  return kind == static_cast<std::uint8_t>(proto::Kind::put) ||
         kind == static_cast<std::uint8_t>(proto::Kind::get) ||
         kind == static_cast<std::uint8_t>(proto::Kind::list);
}

class MessageService : public net::Application {
 public:
  MessageService(std::shared_ptr<const Shared> shared, net::Link& link)
      : shared_(std::move(shared)),
        // Every operation the peer opens is checked against the rights its
        // channel attached before a handler sees it (key mode: the check
        // that admitted the key, applying its authorized_keys line's allow=
        // and other options; api/channels.cpp).
        session_(proto::Role::server, link.peer().protocol, link.peer().identity.authorize),
        sink_(link),
        receipt_keys_{shared_->receipt_key,
                      shared_->receipt_shared_key ? shared_->receipt_shared_key() : nullptr},
        slot_freed_(link.executor()) {
    if (shared_->audit) {
      audit_.emplace(shared_->audit, link.peer());
      session_.observe_ends([this](const proto::Ended& e) { audit_->ended(e); });
    }
    if (shared_->files) {
      files_.emplace(shared_->files, session_, link, sink_, receipt_keys_,
                     audit_ ? &*audit_ : nullptr);
    }
  }

  ~MessageService() override { *alive_ = false; }

  asio::awaitable<Result<void>> receive(net::Link& link) override;

 private:
  // A message the peer opened: checked, answered by the handler.
  asio::awaitable<Result<void>> answer(net::Link& link, const proto::Opened& opened);
  // Version 2: the same in a coroutine of its own, so that a slow handler
  // holds up no other operation of the connection. What it needs is its
  // own (the message, the peer, the handler); it touches this object again
  // only if alive still holds once the handler is done.
  asio::awaitable<void> answer_apart(net::Link& link, std::shared_ptr<bool> alive,
                                     std::shared_ptr<const Shared> shared, net::PeerInfo peer,
                                     std::uint32_t op, util::Bytes message);
  // A plain handler without a gate answers without a coroutine of its own
  // (one per message would cost a tenth of the small-message rate).
  bool answers_at_once() const noexcept {
    return !shared_->gate && std::holds_alternative<net::SyncHandler>(shared_->handler);
  }
  // The handler's reply, in a turn of the gate if there is one: busy when
  // the gate's queue is full, nullopt when the connection ended (alive
  // false) while it waited.
  static asio::awaitable<Result<std::optional<wire::Reply>>> call_in_turn(const Shared& shared,
                                                                          const net::PeerInfo& peer,
                                                                          util::ByteSpan message,
                                                                          const bool& alive);
  static wire::Reply call_sync(const Shared& shared, const net::PeerInfo& peer,
                               util::ByteSpan message);
  static asio::awaitable<wire::Reply> call_handler(const Shared& shared, const net::PeerInfo& peer,
                                                   util::ByteSpan message);
  Result<void> send_reply(net::Link& link, std::uint32_t op, wire::Reply reply);

  // A file operation the peer opened.
  Result<void> open_file_operation(net::Link& link, const proto::Opened& opened);
  // Sends what the downloads and listings in progress may send now.
  asio::awaitable<Result<void>> pump_files(net::Link& link);

  // Whether the message goes on to its handler: one that asks for a receipt
  // is refused at once (false) when this server signs none, and otherwise
  // remembered for the reply.
  Result<bool> want_receipt(net::Link& link, const proto::Opened& opened);

  std::shared_ptr<const Shared> shared_;
  proto::Session session_;
  LinkSink sink_;
  ReceiptKeys receipt_keys_;             // what vouches for this connection's receipts
  std::optional<AuditTrail> audit_;      // with an audit log
  std::optional<FileOperations> files_;  // with a served folder
  // Messages whose reply goes with a signed receipt: what was received.
  struct Received {
    std::uint64_t size = 0;
    crypto::Sha256Digest sha256{};
  };
  std::unordered_map<std::uint32_t, Received> receipts_;
  // Version 2: handlers running apart (answer_apart), and what wakes
  // receive() when one ends while it waits for a slot.
  std::size_t running_ = 0;
  asio::steady_timer slot_freed_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

asio::awaitable<Result<void>> MessageService::receive(net::Link& link) {
  for (;;) {
    auto f = link.next_frame();
    if (!f) co_return f.error();
    if (!f->has_value()) break;
    auto event = session_.receive(static_cast<std::uint8_t>((*f)->type), (*f)->payload, sink_);
    if (!event) co_return event.error();
    // This server opens no operations, so REPLY needs no action; WINDOW lets
    // downloads go on (pump_files below); the session has checked them all.
    if (!event->has_value()) continue;
    if (const auto* refused = std::get_if<proto::Refused>(&**event)) {
      spdlog::warn("{}: refused operation {} ({}): {}", link.peer().address, refused->op,
                   proto::kind_name(refused->kind), refused->why.message());
      continue;
    }
    if (const auto* data = std::get_if<proto::Received>(&**event)) {
      if (files_) {
        if (auto r = files_->received(*data); !r) co_return r.error();
      }
      continue;
    }
    if (const auto* cancelled = std::get_if<proto::Cancelled>(&**event)) {
      if (files_ && files_->forget(cancelled->op)) {
        spdlog::info("{}: operation {} cancelled by the peer: {}", link.peer().address,
                     cancelled->op, util::escape_for_display(cancelled->error.reason));
      }
      continue;
    }
    const auto* opened = std::get_if<proto::Opened>(&**event);
    if (opened == nullptr) continue;
    if (audit_ && opened->kind == static_cast<std::uint8_t>(proto::Kind::message)) {
      audit_->message(opened->op, opened->body);
    }
    if (is_file_kind(opened->kind)) {
      if (auto r = open_file_operation(link, *opened); !r) co_return r.error();
      continue;
    }
    if (opened->kind != static_cast<std::uint8_t>(proto::Kind::message)) {
      const Error e(Errc::unsupported_operation,
                    "this server does not chat (signet chat --listen does)");
      spdlog::warn("{}: refused operation {} ({}): {}", link.peer().address, opened->op,
                   proto::kind_name(opened->kind), e.message());
      if (auto c = session_.cancel(opened->op, {wire::error_code_for(e), e.detail}, sink_); !c) {
        co_return c.error();
      }
      continue;
    }
    if (!opened->fin) {
      // A message is one OPEN frame; DATA that follows is dropped.
      const Error e(Errc::unsupported_operation,
                    "a message is one OPEN frame with FIN; this server does not take streamed "
                    "messages");
      spdlog::warn("{}: refused operation {} (message): {}", link.peer().address, opened->op,
                   e.message());
      if (auto c = session_.cancel(opened->op, {wire::error_code_for(e), e.detail}, sink_); !c) {
        co_return c.error();
      }
      continue;
    }
    spdlog::debug("{}: message {} verified ({} bytes, {})", link.peer().address, opened->op,
                  opened->body.size(), link.peer().mode);
    if (auto w = want_receipt(link, *opened); !w || !*w) {
      if (!w) co_return w.error();
      continue;  // refused: no receipts on this connection
    }
    if (answers_at_once()) {
      auto r = send_reply(link, opened->op, call_sync(*shared_, link.peer(), opened->body));
      if (!r) co_return r.error();
    } else if (session_.version() == proto::kVersion2) {
      while (running_ >= kRunningPerConnection) {
        slot_freed_.expires_at(asio::steady_timer::time_point::max());
        (void)co_await slot_freed_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      }
      ++running_;
      asio::co_spawn(link.executor(),
                     answer_apart(link, alive_, shared_, link.peer(), opened->op,
                                  util::Bytes(opened->body.begin(), opened->body.end())),
                     asio::detached);
    } else if (auto r = co_await answer(link, *opened); !r) {
      co_return r.error();
    }
    // Back-pressure: a peer that sends and does not read gets no more of
    // its frames taken until its replies have gone out.
    if (link.queued() >= net::kOutputHighWater) {
      if (auto d = co_await link.drained(); !d) co_return d.error();
    }
  }
  if (files_) {
    if (auto c = files_->commit(); !c) co_return c.error();
  }
  co_return co_await pump_files(link);
}

Result<void> MessageService::open_file_operation(net::Link& link, const proto::Opened& opened) {
  if (!files_) {
    const Error e(Errc::unsupported_operation,
                  "this server serves no files (start it with --files DIR)");
    spdlog::warn("{}: refused operation {} ({}): {}", link.peer().address, opened.op,
                 proto::kind_name(opened.kind), e.message());
    return session_.cancel(opened.op, {wire::error_code_for(e), e.detail}, sink_);
  }
  return files_->opened(opened);
}

asio::awaitable<Result<void>> MessageService::pump_files(net::Link& link) {
  // Downloads go on while the peer's credit lasts, waiting for the output
  // to drain whenever it is full (the peer's credit bounds how long the
  // reader is held here: a client grants as it consumes).
  while (files_ && files_->active()) {
    auto more = files_->pump();
    if (!more) co_return more.error();
    if (!*more) break;
    if (auto d = co_await link.drained(); !d) co_return d.error();
  }
  co_return Result<void>{};
}

asio::awaitable<Result<std::optional<wire::Reply>>> MessageService::call_in_turn(
    const Shared& shared, const net::PeerInfo& peer, util::ByteSpan message, const bool& alive) {
  std::optional<net::HandlerGate::Permit> permit;
  if (shared.gate) {
    auto p = co_await shared.gate->acquire();
    if (!p) co_return p.error();
    permit.emplace(std::move(*p));
  }
  // A connection that ended while its message waited for a turn gets no
  // handler run for it.
  if (!alive) co_return std::optional<wire::Reply>{};
  co_return std::optional<wire::Reply>(co_await call_handler(shared, peer, message));
}

asio::awaitable<Result<void>> MessageService::answer(net::Link& link, const proto::Opened& opened) {
  auto reply = co_await call_in_turn(*shared_, link.peer(), opened.body, *alive_);
  if (!reply) co_return reply.error();
  co_return send_reply(link, opened.op, std::move(**reply));
}

asio::awaitable<void> MessageService::answer_apart(net::Link& link, std::shared_ptr<bool> alive,
                                                   std::shared_ptr<const Shared> shared,
                                                   net::PeerInfo peer, std::uint32_t op,
                                                   util::Bytes message) {
  auto reply = co_await call_in_turn(*shared, peer, message, *alive);
  if (!*alive) co_return;
  --running_;
  slot_freed_.cancel();
  Result<void> r;
  if (!reply) {
    spdlog::warn("{}: refused message {}: {}", peer.address, op, reply.error().message());
    r = session_.cancel(op, {wire::error_code_for(reply.error()), reply.error().detail}, sink_);
  } else {
    r = send_reply(link, op, std::move(**reply));
  }
  // The operation may be over already (the peer cancelled it): nothing to
  // answer. Any other failure is the connection's, which ends by itself.
  if (!r && !r.error().is(Errc::cancelled)) {
    spdlog::debug("{}: message {} not answered: {}", peer.address, op, r.error().message());
  }
}

Result<bool> MessageService::want_receipt(net::Link& link, const proto::Opened& opened) {
  if (!opened.receipt) return true;
  if (!receipt_keys_.can_sign(link.peer())) {
    const Error e(Errc::unsupported_operation,
                  "this server makes no receipts on this connection; the message was not "
                  "delivered");
    spdlog::warn("{}: refused message {}: {}", link.peer().address, opened.op, e.detail);
    auto c = session_.cancel(opened.op, {wire::error_code_for(e), e.detail}, sink_);
    if (!c) return c.error();
    return false;
  }
  receipts_[opened.op] = Received{opened.body.size(), crypto::sha256({opened.body})};
  return true;
}

Result<void> MessageService::send_reply(net::Link& link, std::uint32_t op, wire::Reply reply) {
  // Cut to what a peer accepts by default, not to this server's own receive
  // limit (which may be smaller).
  const std::size_t room = link.max_send_payload() - reply_overhead(link.peer().protocol);
  if (reply.text.size() > room) reply.text.resize(room);
  if (auto it = receipts_.find(op); it != receipts_.end()) {
    // The receipt goes first, in the operation's only DATA; then the reply
    // it states.
    const auto& peer = link.peer();
    const Received received = it->second;
    receipts_.erase(it);
    auto signed_receipt = receipt_keys_.sign(peer, "message", {}, received.size, received.sha256,
                                             reply.status, reply.text);
    if (!signed_receipt) {
      spdlog::error("{}: cannot sign a receipt: {}", peer.address,
                    signed_receipt.error().message());
      return session_.cancel(op, {wire::ErrorCode::internal, "the receipt could not be signed"},
                             sink_);
    }
    const auto bytes = encode_receipt(*signed_receipt);
    if (auto d = session_.send_data(op, bytes, true, sink_); !d) return d.error();
    spdlog::info("{}: receipt for message {} made (sha256 {})", peer.address, op,
                 util::to_hex(received.sha256));
  }
  if (auto r = session_.reply(op, reply.status, util::as_bytes(reply.text), sink_); !r) {
    return r.error();
  }
  spdlog::debug("{}: reply {} sealed ({} bytes, status {})", link.peer().address, op,
                reply.text.size(), reply.status);
  link.served();
  return {};
}

wire::Reply MessageService::call_sync(const Shared& shared, const net::PeerInfo& peer,
                                      util::ByteSpan message) {
  try {
    return std::get<net::SyncHandler>(shared.handler)(peer, message);
  } catch (const std::exception& e) {
    spdlog::error("{}: handler failed: {}", peer.address, e.what());
  }
  return wire::Reply{255, "internal error in the server's handler"};
}

asio::awaitable<wire::Reply> MessageService::call_handler(const Shared& shared,
                                                          const net::PeerInfo& peer,
                                                          util::ByteSpan message) {
  if (std::holds_alternative<net::SyncHandler>(shared.handler))
    co_return call_sync(shared, peer, message);
  try {
    co_return co_await std::get<net::AsyncHandler>(shared.handler)(peer, message);
  } catch (const std::exception& e) {
    spdlog::error("{}: handler failed: {}", peer.address, e.what());
  }
  co_return wire::Reply{255, "internal error in the server's handler"};
}

}  // namespace

Result<std::shared_ptr<const FileServiceShared>> serve_files(FileServiceOptions options) {
  auto folder = files::ServedFolder::open(options.root);
  if (!folder) return folder.error();
  std::shared_ptr<FolderUsage> usage;
  if (options.max_total != 0) {
    auto used = folder->total_size();
    if (!used) return used.error();
    usage = std::make_shared<FolderUsage>(*used);
  }
  return std::make_shared<const FileServiceShared>(
      FileServiceShared{std::move(*folder), std::move(options), std::move(usage)});
}

net::ApplicationFactory message_service(net::Handler handler, MessageServiceOptions options) {
  auto shared = std::make_shared<Shared>();
  shared->handler = std::move(handler);
  shared->files = std::move(options.files);
  shared->receipt_key = std::move(options.receipt_key);
  shared->receipt_shared_key = std::move(options.receipt_shared_key);
  shared->audit = std::move(options.audit);
  if (options.max_concurrent_handlers != 0) {
    shared->gate = std::make_unique<net::HandlerGate>(options.max_concurrent_handlers,
                                                      options.max_queued_handlers);
  }
  return [shared = std::shared_ptr<const Shared>(std::move(shared))](
             net::Link& link) -> std::unique_ptr<net::Application> {
    return std::make_unique<MessageService>(shared, link);
  };
}

}  // namespace signet
