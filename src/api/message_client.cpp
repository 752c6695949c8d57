#include "api/message_client.hpp"

#include <spdlog/spdlog.h>

#include <utility>

#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "api/link_sink.hpp"
#include "channel/psk_channel.hpp"  // channel::peer_error
#include "crypto/primitives.hpp"
#include "crypto/sshsig.hpp"
#include "util/encoding.hpp"

namespace signet {
namespace {

using asio::awaitable;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace

// One call() waiting for its reply.
struct MessageClient::Pending {
  explicit Pending(const asio::any_io_executor& ex) : ready(ex, Clock::time_point::max()) {}
  asio::steady_timer ready;  // never expires; cancelled once result is set
  std::optional<Result<wire::Reply>> result;
};

awaitable<Result<std::shared_ptr<MessageClient>>> MessageClient::open(
    net::HostPort server, net::Connection::ChannelMaker make_channel, net::ClientOptions options) {
  auto c = co_await net::Connection::open(std::move(server), std::move(make_channel), options);
  if (!c) co_return c.error();
  co_return over(std::move(*c));
}

std::shared_ptr<MessageClient> MessageClient::over(std::shared_ptr<net::Connection> connection) {
  auto client = std::shared_ptr<MessageClient>(new MessageClient(std::move(connection)));
  // Held weakly: the connection holds this client (as its application) only while pumped.
  client->connection_->on_close([weak = std::weak_ptr<MessageClient>(client)](const Error& why) {
    if (auto c = weak.lock()) c->closed(why);
  });
  return client;
}

MessageClient::MessageClient(std::shared_ptr<net::Connection> connection)
    : connection_(std::move(connection)),
      session_(proto::Role::client, connection_->protocol_version()) {}

Result<void> MessageClient::check_size(util::ByteSpan message) const {
  if (message.size() <= max_payload()) return {};
  return Error(Errc::too_large, "message of " + std::to_string(message.size()) + " bytes, limit " +
                                    std::to_string(max_payload()));
}

Result<std::uint32_t> MessageClient::open_message(util::ByteSpan message, bool receipt) {
  if (receipt) {
    if (protocol_version() < proto::kVersion2) {
      return Error(Errc::unsupported_operation,
                   "the server speaks protocol version 1, which has no receipts");
    }
    if (auto c = can_check_receipts(connection_->peer().identity, shared_receipt_key_.get()); !c) {
      return c.error();
    }
  }
  LinkSink sink(*connection_);
  auto op =
      session_.open(static_cast<std::uint8_t>(proto::Kind::message), message, true, sink, receipt);
  if (op && receipt) receipts_[*op];  // take_frames() collects its DATA here
  // description() builds a string: not for every message unless asked.
  if (op && spdlog::should_log(spdlog::level::debug)) {
    spdlog::debug("message {} sealed ({} bytes, {})", *op, message.size(), description());
  }
  return op;
}

Result<void> MessageClient::queue(util::ByteSpan message, bool receipt) {
  auto op = open_message(message, receipt);
  if (!op) return op.error();
  queued_.push_back(*op);
  return {};
}

Result<void> MessageClient::take_frames(std::optional<std::uint32_t> want) {
  LinkSink sink(*connection_);
  for (;;) {
    auto f = connection_->next_frame();
    if (!f) return f.error();
    if (!f->has_value()) return {};
    auto e = session_.receive(static_cast<std::uint8_t>((*f)->type), (*f)->payload, sink);
    if (!e) return e.error();  // a violation: the connection tells the server
    if (!e->has_value()) continue;
    if (auto* a = std::get_if<proto::Answered>(&**e)) {
      spdlog::debug("reply to {} verified (status {})", a->op, a->status);
      answered_.emplace_back(a->op, wire::Reply{a->status, std::string(util::as_chars(a->text))});
      if (a->op == want) return {};
    } else if (auto* c = std::get_if<proto::Cancelled>(&**e)) {
      answered_.emplace_back(c->op, channel::peer_error(c->error));
      if (c->op == want) return {};
    } else if (auto* d = std::get_if<proto::Received>(&**e)) {
      // A receipt, on a message that asked for one (bounded: a statement
      // and one signature); DATA on any other message is ignored.
      if (auto it = receipts_.find(d->op); it != receipts_.end()) {
        if (it->second.size() + d->bytes.size() > 4 + 4096 + crypto::kMaxSshsigArmorSize) {
          return Error(Errc::too_large, "a receipt larger than any signet signs");
        }
        it->second.insert(it->second.end(), d->bytes.begin(), d->bytes.end());
      }
    } else if (auto* o = std::get_if<proto::Opened>(&**e)) {
      // This client serves no operations.
      (void)session_.cancel(
          o->op, {wire::ErrorCode::unsupported_operation, "this client serves no operations"},
          sink);
    }
    // DATA and WINDOW on a message: nothing to do.
  }
}

std::optional<Result<wire::Reply>> MessageClient::take_answer(std::uint32_t op) {
  // Answers come mostly in the order asked: the one wanted is nearly always first.
  const auto it = find_answer(op);
  if (it == answered_.end()) return std::nullopt;
  auto r = std::move(it->second);
  answered_.erase(it);
  return r;
}

awaitable<Result<void>> MessageClient::flush() {
  co_return co_await connection_->flush();
}

std::optional<Result<MessageClient::Answer>> MessageClient::take_front() {
  const std::uint32_t op = queued_.front();
  auto a = take_answer(op);
  if (!a) return std::nullopt;
  queued_.pop_front();
  // Its receipt, if it asked for one: taken even when the answer is an
  // error, so that none is left behind.
  util::Bytes receipt;
  if (!receipts_.empty()) {
    if (auto it = receipts_.find(op); it != receipts_.end()) {
      receipt = std::move(it->second);
      receipts_.erase(it);
    }
  }
  if (!*a) return Result<Answer>(a->error());
  return Result<Answer>(Answer{std::move(**a), std::move(receipt)});
}

awaitable<Result<wire::Reply>> MessageClient::next_reply() {
  auto a = co_await next_answer();
  if (!a) co_return a.error();
  co_return std::move(a->reply);
}

awaitable<Result<MessageClient::Answer>> MessageClient::next_answer() {
  if (queued_.empty()) co_return Error(Errc::unexpected_frame, "no message is waiting for a reply");
  connection_->arm(connection_->options().reply_timeout);
  for (;;) {
    // Frames up to the answer wanted: the channel is read once per frame,
    // and once more only when the answer is not there yet.
    if (find_answer(queued_.front()) == answered_.end()) {
      if (auto r = take_frames(queued_.front()); !r) {
        connection_->fail(r.error());
        co_return r.error();
      }
    }
    if (auto a = take_front()) {
      connection_->disarm();
      if (connection_->queued() > 0) (void)co_await connection_->flush();  // a CANCEL, if any
      co_return std::move(*a);
    }
    if (auto r = co_await connection_->read_more(); !r) {
      connection_->disarm();
      co_return r.error();
    }
  }
}

Result<std::optional<wire::Reply>> MessageClient::poll_reply() {
  auto a = poll_answer();
  if (!a) return a.error();
  if (!a->has_value()) return std::optional<wire::Reply>{};
  return std::optional<wire::Reply>(std::move((*a)->reply));
}

Result<std::optional<MessageClient::Answer>> MessageClient::poll_answer() {
  if (queued_.empty()) return std::optional<Answer>{};
  if (find_answer(queued_.front()) == answered_.end()) {
    if (auto r = take_frames(queued_.front()); !r) {
      connection_->fail(r.error());
      return r.error();
    }
  }
  auto a = take_front();
  if (!a) return std::optional<Answer>{};
  if (!*a) return a->error();
  return std::optional<Answer>(std::move(**a));
}

Result<Receipt> MessageClient::check_message_receipt(util::ByteSpan receipt, std::uint64_t size,
                                                     const crypto::Sha256Digest& sha256,
                                                     const wire::Reply& reply) const {
  if (receipt.empty()) return Error(Errc::not_verified, "the server answered without a receipt");
  return check_receipt_for(receipt, connection_->peer().identity,
                           ReceiptExpected{"message", {}, size, sha256, reply},
                           shared_receipt_key_.get());
}

awaitable<Result<wire::Reply>> MessageClient::request(util::ByteSpan message) {
  if (auto s = check_size(message); !s) co_return s.error();
  if (auto q = queue(message); !q) co_return q.error();
  if (auto w = co_await flush(); !w) co_return w.error();
  co_return co_await next_reply();
}

awaitable<Result<std::pair<wire::Reply, Receipt>>> MessageClient::request_with_receipt(
    util::ByteSpan message) {
  if (auto s = check_size(message); !s) co_return s.error();
  if (auto q = queue(message, /*receipt=*/true); !q) co_return q.error();
  // What the receipt must state, taken before the message's bytes may be gone.
  const crypto::Sha256Digest sent = crypto::sha256({message});
  const std::uint64_t size = message.size();
  if (auto w = co_await flush(); !w) co_return w.error();
  auto a = co_await next_answer();
  if (!a) co_return a.error();
  auto receipt = check_message_receipt(a->receipt, size, sent, a->reply);
  if (!receipt) co_return receipt.error();
  co_return std::make_pair(std::move(a->reply), std::move(*receipt));
}

// --- Concurrent requests (call) ------------------------------------------------------

awaitable<Result<wire::Reply>> MessageClient::call(util::ByteSpan message) {
  if (const auto& e = connection_->error()) co_return *e;
  if (!connection_->is_open()) co_return Error(Errc::peer_closed, "the connection is closed");
  if (auto s = check_size(message); !s) co_return s.error();
  auto p = std::make_shared<Pending>(connection_->executor());
  auto op = open_message(message);
  if (!op) co_return op.error();
  if (pending_.empty()) connection_->arm(connection_->options().reply_timeout);
  pending_.emplace(*op, p);
  if (!pumping_) {
    pumping_ = true;
    connection_->start(shared_from_this());
  }
  while (!p->result) co_await p->ready.async_wait(kTuple);
  co_return std::move(*p->result);
}

awaitable<Result<void>> MessageClient::receive(net::Link&) {
  if (auto r = take_frames(); !r) co_return r.error();
  deliver_replies();
  co_return Result<void>{};
}

void MessageClient::deliver_replies() {
  bool progress = false;
  for (auto it = answered_.begin(); it != answered_.end();) {
    auto p = pending_.find(it->first);
    if (p == pending_.end()) {
      ++it;
      continue;
    }
    p->second->result.emplace(std::move(it->second));
    p->second->ready.cancel();
    pending_.erase(p);
    it = answered_.erase(it);
    progress = true;
  }
  // Progress: the next reply gets a full reply_timeout.
  if (progress) {
    if (pending_.empty()) {
      connection_->disarm();
    } else {
      connection_->arm(connection_->options().reply_timeout);
    }
  }
}

void MessageClient::closed(const Error& why) {
  // Every call waiting for a reply learns why it will not come.
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [op, p] : pending) {
    p->result.emplace(why);
    p->ready.cancel();
  }
  if (auto hook = std::exchange(close_hook_, nullptr)) hook();
}

}  // namespace signet
