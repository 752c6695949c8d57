#include "net/client.hpp"

#include <spdlog/spdlog.h>

#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

#include "channel/psk_channel.hpp"  // channel::peer_error
#include "net/channel_sink.hpp"

namespace signet::net {
namespace {

using asio::awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 64 * 1024;

}  // namespace

// One call() waiting for its reply.
struct Connection::Pending {
  explicit Pending(const asio::any_io_executor& ex) : ready(ex, Clock::time_point::max()) {}
  asio::steady_timer ready;  // never expires; cancelled once result is set
  std::optional<Result<wire::Reply>> result;
};

Connection::Connection(tcp::socket socket, std::unique_ptr<channel::Channel> channel,
                       ClientOptions options)
    : socket_(std::move(socket)),
      deadline_(socket_.get_executor()),
      channel_(std::move(channel)),
      options_(options),
      wake_(socket_.get_executor(), Clock::time_point::max()) {}

awaitable<Result<std::shared_ptr<Connection>>> Connection::open(HostPort server,
                                                                ChannelMaker make_channel,
                                                                ClientOptions options) {
  auto ex = co_await asio::this_coro::executor;
  const std::string where = server.to_string();
  tcp::resolver resolver(ex);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(server.host, std::to_string(server.port), kTuple);
  if (rec) co_return Error(Errc::unreachable, where + ": cannot resolve host: " + rec.message());

  auto conn = std::make_shared<Connection>(tcp::socket(ex), make_channel(), options);
  // Watched from before the socket is open (async_connect opens it) until
  // the connection shuts down.
  conn->arm(options.connect_timeout);
  conn->deadline_.start([weak = std::weak_ptr<Connection>(conn)] {
    if (auto self = weak.lock()) {
      self->timed_out_ = true;
      std::error_code ec;
      self->socket_.close(ec);
    }
  });
  auto [cec, ep] = co_await asio::async_connect(conn->socket_, endpoints, kTuple);
  conn->disarm();
  if (cec) {
    conn->close();
    co_return Error(Errc::unreachable,
                    where + ": " + (conn->timed_out_ ? "connection timed out" : cec.message()));
  }
  std::error_code ignored;
  conn->socket_.set_option(tcp::no_delay(true), ignored);
  if (auto h = co_await conn->handshake(); !h) {
    conn->close();
    co_return h.error();
  }
  // The handshake's last flight is on the wire, so the server is not kept
  // waiting in its handshake while this decides (it may ask a person).
  if (auto c = conn->channel_->confirm_peer(); !c) {
    conn->close();
    co_return c.error();
  }
  co_return conn;
}

void Connection::close() {
  if (!error_) {
    error_ =
        Error(std::make_error_code(std::errc::operation_canceled), "the connection was closed");
  }
  shut_down();
}

void Connection::shut_down() {
  deadline_.stop();
  std::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  wake_.cancel();
  // Every call waiting for a reply learns why it will not come.
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [op, p] : pending) {
    p->result.emplace(*error_);
    p->ready.cancel();
  }
  if (auto hook = std::exchange(close_hook_, nullptr)) hook();
}

Error Connection::io_error(std::error_code ec, const char* what) const {
  if (timed_out_)
    return Error(Errc::idle_timeout, std::string("no answer from the server while ") + what);
  if (ec == asio::error::eof || ec == asio::error::connection_reset) {
    return Error(Errc::peer_closed, std::string("server closed the connection while ") + what);
  }
  return Error(ec, what);
}

awaitable<Result<void>> Connection::write_out() {
  channel_->flush(out_);
  if (out_.empty()) co_return Result<void>{};
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(out_), kTuple);
  out_.clear();
  if (ec) co_return io_error(ec, "sending");
  co_return Result<void>{};
}

awaitable<Result<void>> Connection::read_more() {
  if (in_.size() != kReadChunk) in_.resize(kReadChunk);
  auto [ec, n] = co_await socket_.async_read_some(asio::buffer(in_), kTuple);
  if (ec)
    co_return io_error(ec, channel_->established() ? "waiting for a reply" : "in the handshake");
  auto r = channel_->receive(util::ByteSpan(in_.data(), n), out_);
  auto w = co_await write_out();  // handshake replies, or the notice of an error
  if (!r) co_return r.error();
  co_return w;
}

awaitable<Result<void>> Connection::handshake() {
  arm(options_.handshake_timeout);
  channel_->start(out_);
  if (auto w = co_await write_out(); !w) co_return w.error();
  while (!channel_->established()) {
    if (auto r = co_await read_more(); !r) {
      disarm();
      co_return r.error();
    }
  }
  disarm();
  spdlog::debug("handshake ok ({})", channel_->description());
  co_return Result<void>{};
}

proto::Session& Connection::session() {
  if (!session_) session_.emplace(proto::Role::client, channel_->protocol_version());
  return *session_;
}

Result<std::uint32_t> Connection::open_message(util::ByteSpan message) {
  ChannelSink sink(*channel_, out_);
  auto op = session().open(static_cast<std::uint8_t>(proto::Kind::message), message, true, sink);
  if (op) {
    // description() builds a string: not for every message unless asked.
    if (spdlog::should_log(spdlog::level::debug)) {
      spdlog::debug("message {} sealed ({} bytes, {})", *op, message.size(),
                    channel_->description());
    }
  }
  return op;
}

Result<void> Connection::queue(util::ByteSpan message) {
  auto op = open_message(message);
  if (!op) return op.error();
  queued_.push_back(*op);
  return {};
}

Result<void> Connection::take_frames(std::optional<std::uint32_t> want) {
  ChannelSink sink(*channel_, out_);
  for (;;) {
    auto f = channel_->next_frame(out_);
    if (!f) return f.error();
    if (!f->has_value()) return {};
    auto e = session().receive(static_cast<std::uint8_t>((*f)->type), (*f)->payload, sink);
    if (!e) {
      // A violation after the handshake: tell the server (docs/PROTOCOL.md).
      channel_->send_error(e.error(), out_);
      return e.error();
    }
    if (!e->has_value()) continue;
    if (auto* a = std::get_if<proto::Answered>(&**e)) {
      spdlog::debug("reply to {} verified (status {})", a->op, a->status);
      answered_.emplace_back(a->op, wire::Reply{a->status, std::string(util::as_chars(a->text))});
      if (a->op == want) return {};
    } else if (auto* c = std::get_if<proto::Cancelled>(&**e)) {
      answered_.emplace_back(c->op, channel::peer_error(c->error));
      if (c->op == want) return {};
    } else if (auto* o = std::get_if<proto::Opened>(&**e)) {
      // This client serves no operations.
      (void)session().cancel(
          o->op, {wire::ErrorCode::unsupported_operation, "this client serves no operations"},
          sink);
    }
    // DATA and WINDOW on a message: nothing to do.
  }
}

std::optional<Result<wire::Reply>> Connection::take_answer(std::uint32_t op) {
  // Answers come mostly in the order asked: the one wanted is nearly always first.
  const auto it = find_answer(op);
  if (it == answered_.end()) return std::nullopt;
  auto r = std::move(it->second);
  answered_.erase(it);
  return r;
}

awaitable<Result<void>> Connection::flush() {
  arm(options_.reply_timeout);
  auto w = co_await write_out();
  disarm();
  co_return w;
}

awaitable<Result<wire::Reply>> Connection::next_reply() {
  if (queued_.empty()) co_return Error(Errc::unexpected_frame, "no message is waiting for a reply");
  arm(options_.reply_timeout);
  for (;;) {
    // Frames up to the answer wanted: the channel is read once per frame,
    // and once more only when the answer is not there yet.
    if (find_answer(queued_.front()) == answered_.end()) {
      if (auto r = take_frames(queued_.front()); !r) {
        (void)co_await write_out();  // the notice of the error, best effort
        disarm();
        co_return r.error();
      }
    }
    if (auto a = take_answer(queued_.front())) {
      queued_.pop_front();
      disarm();
      if (!out_.empty()) (void)co_await write_out();  // a CANCEL, if any
      co_return std::move(*a);
    }
    if (auto r = co_await read_more(); !r) {
      disarm();
      co_return r.error();
    }
  }
}

Result<std::optional<wire::Reply>> Connection::poll_reply() {
  if (queued_.empty()) return std::optional<wire::Reply>{};
  if (find_answer(queued_.front()) == answered_.end()) {
    if (auto r = take_frames(queued_.front()); !r) {
      tell_peer_now();
      return r.error();
    }
  }
  auto a = take_answer(queued_.front());
  if (!a) return std::optional<wire::Reply>{};
  queued_.pop_front();
  if (!*a) return a->error();
  return std::optional<wire::Reply>(std::move(**a));
}

awaitable<Result<wire::Reply>> Connection::request(util::ByteSpan message) {
  if (message.size() > channel_->max_payload()) {
    co_return Error(Errc::too_large, "message of " + std::to_string(message.size()) +
                                         " bytes, limit " +
                                         std::to_string(channel_->max_payload()));
  }
  if (auto q = queue(message); !q) co_return q.error();
  if (auto w = co_await flush(); !w) co_return w.error();
  co_return co_await next_reply();
}

// --- Concurrent requests (call) ----------------------------------------------------
//
// All of this runs on the connection's executor, one handler at a time, so
// the state needs no lock: call() seals into out_ and adds its operation to
// pending_; write_loop() is the only writer of the socket once pumping;
// read_loop() is the only reader and completes each pending call by the id
// of the operation its reply answers.

awaitable<Result<wire::Reply>> Connection::call(util::ByteSpan message) {
  if (error_) co_return *error_;
  if (!socket_.is_open()) co_return Error(Errc::peer_closed, "the connection is closed");
  if (message.size() > channel_->max_payload()) {
    co_return Error(Errc::too_large, "message of " + std::to_string(message.size()) +
                                         " bytes, limit " +
                                         std::to_string(channel_->max_payload()));
  }
  auto p = std::make_shared<Pending>(socket_.get_executor());
  auto op = open_message(message);
  if (!op) co_return op.error();
  if (pending_.empty()) arm(options_.reply_timeout);
  pending_.emplace(*op, p);
  start_pump();
  wake_.cancel();
  while (!p->result) co_await p->ready.async_wait(kTuple);
  co_return std::move(*p->result);
}

void Connection::start_pump() {
  if (pumping_) return;
  pumping_ = true;
  // The loops own the connection until it fails or is closed.
  asio::co_spawn(socket_.get_executor(), write_loop(shared_from_this()), asio::detached);
  asio::co_spawn(socket_.get_executor(), read_loop(shared_from_this()), asio::detached);
}

awaitable<void> Connection::write_loop(std::shared_ptr<Connection> self) {
  while (!error_) {
    channel_->flush(out_);
    if (out_.empty()) {
      wake_.expires_at(Clock::time_point::max());
      co_await wake_.async_wait(kTuple);
      continue;
    }
    // Whatever call() seals while this write is on the wire goes in the next one.
    writing_.swap(out_);
    write_busy_ = true;
    auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(writing_), kTuple);
    write_busy_ = false;
    writing_.clear();
    if (writing_.capacity() > 4 * kReadChunk) util::Bytes().swap(writing_);
    if (error_) break;
    if (ec) fail(io_error(ec, "sending"));
  }
  (void)self;
}

awaitable<void> Connection::read_loop(std::shared_ptr<Connection> self) {
  while (!error_) {
    if (auto d = deliver_replies(); !d) {
      fail(d.error(), true);
      break;
    }
    if (!out_.empty()) wake_.cancel();  // channel output for the peer (key mode)
    if (in_.size() != kReadChunk) in_.resize(kReadChunk);
    auto [ec, n] = co_await socket_.async_read_some(asio::buffer(in_), kTuple);
    if (error_) break;
    if (ec) {
      fail(io_error(ec, pending_.empty() ? "idle" : "waiting for a reply"));
      break;
    }
    if (auto r = channel_->receive(util::ByteSpan(in_.data(), n), out_); !r) {
      fail(r.error(), true);
      break;
    }
  }
  (void)self;
}

Result<void> Connection::deliver_replies() {
  if (auto r = take_frames(); !r) return r.error();
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
      disarm();
    } else {
      arm(options_.reply_timeout);
    }
  }
  return {};
}

void Connection::tell_peer_now() {
  // The channel queued a notice of an error: send it without waiting, best
  // effort, as the server does.
  channel_->flush(out_);
  if (!write_busy_ && !out_.empty() && socket_.is_open()) {
    std::error_code ec;
    socket_.non_blocking(true, ec);
    if (!ec) socket_.write_some(asio::buffer(out_), ec);
  }
  out_.clear();
}

void Connection::fail(Error e, bool tell_peer) {
  if (!error_) error_ = std::move(e);
  if (tell_peer) tell_peer_now();
  out_.clear();
  spdlog::debug("connection failed: {}", error_->message());
  shut_down();
}

}  // namespace signet::net
