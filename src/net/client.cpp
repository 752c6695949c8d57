#include "net/client.hpp"

#include <spdlog/spdlog.h>

#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

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
      timer_(socket_.get_executor()),
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
  // Armed before the watchdog starts: co_spawn may run it inline, right here,
  // and it must find the deadline already set.
  conn->arm(options.connect_timeout);
  asio::co_spawn(ex, conn->watchdog(conn), asio::detached);
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

void Connection::arm(std::chrono::milliseconds timeout) {
  deadline_ = Clock::now() + timeout;
  armed_ = true;
  // Only an earlier deadline needs the sleeping watchdog woken up.
  if (timer_.expiry() > deadline_) timer_.expires_at(deadline_);
}

void Connection::disarm() {
  armed_ = false;
}

// Sleeps until the deadline while one is armed; at the deadline it closes the
// socket, which ends the operation in progress with operation_aborted (seen as
// a timeout through timed_out_). It lives until shut_down(), not until the
// socket closes: the socket is not even open when it starts (async_connect
// opens it), and a watchdog that stopped on a closed socket never fired.
awaitable<void> Connection::watchdog(std::weak_ptr<Connection> weak) {
  for (;;) {
    auto self = weak.lock();
    if (!self || self->shut_down_) co_return;
    self->timer_.expires_at(self->armed_ ? self->deadline_ : Clock::time_point::max());
    auto& timer = self->timer_;
    self.reset();  // do not keep the connection alive while sleeping
    co_await timer.async_wait(kTuple);
    self = weak.lock();
    if (!self) co_return;
    if (self->armed_ && Clock::now() >= self->deadline_) {
      self->timed_out_ = true;
      std::error_code ec;
      self->socket_.close(ec);
      co_return;
    }
  }
}

void Connection::close() {
  if (!error_) {
    error_ =
        Error(std::make_error_code(std::errc::operation_canceled), "the connection was closed");
  }
  shut_down();
}

void Connection::shut_down() {
  shut_down_ = true;
  std::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  timer_.cancel();
  wake_.cancel();
  // Every call waiting for a reply learns why it will not come.
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& p : pending) {
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

void Connection::queue(util::ByteSpan message) {
  channel_->send(wire::FrameType::message, {message}, out_);
  spdlog::debug("message tagged ({} bytes, {})", message.size(), channel_->description());
}

awaitable<Result<void>> Connection::flush() {
  arm(options_.reply_timeout);
  auto w = co_await write_out();
  disarm();
  co_return w;
}

awaitable<Result<wire::Reply>> Connection::next_reply() {
  arm(options_.reply_timeout);
  for (;;) {
    auto f = channel_->next_frame(out_);
    if (!f) {
      (void)co_await write_out();  // the notice of the error, best effort
      disarm();
      co_return f.error();
    }
    if (f->has_value()) {
      disarm();
      auto reply = decode_reply((*f)->payload);
      if (!reply) (void)co_await write_out();  // the notice of the error, best effort
      co_return reply;
    }
    if (auto r = co_await read_more(); !r) {
      disarm();
      co_return r.error();
    }
  }
}

Result<std::optional<wire::Reply>> Connection::poll_reply() {
  auto f = channel_->next_frame(out_);
  if (!f) return f.error();
  if (!f->has_value()) return std::optional<wire::Reply>{};
  auto reply = decode_reply((*f)->payload);
  if (!reply) {
    tell_peer_now();
    return reply.error();
  }
  return std::optional<wire::Reply>(std::move(*reply));
}

awaitable<Result<wire::Reply>> Connection::request(util::ByteSpan message) {
  if (message.size() > channel_->max_payload()) {
    co_return Error(Errc::too_large, "message of " + std::to_string(message.size()) +
                                         " bytes, limit " +
                                         std::to_string(channel_->max_payload()));
  }
  queue(message);
  if (auto w = co_await flush(); !w) co_return w.error();
  co_return co_await next_reply();
}

// --- Concurrent requests (call) ----------------------------------------------------
//
// All of this runs on the connection's executor, one handler at a time, so
// the state needs no lock: call() seals into out_ and appends to pending_;
// write_loop() is the only writer of the socket once pumping; read_loop() is
// the only reader and completes pending_ from the front.

awaitable<Result<wire::Reply>> Connection::call(util::ByteSpan message) {
  if (error_) co_return *error_;
  if (!socket_.is_open()) co_return Error(Errc::peer_closed, "the connection is closed");
  if (message.size() > channel_->max_payload()) {
    co_return Error(Errc::too_large, "message of " + std::to_string(message.size()) +
                                         " bytes, limit " +
                                         std::to_string(channel_->max_payload()));
  }
  auto p = std::make_shared<Pending>(socket_.get_executor());
  channel_->send(wire::FrameType::message, {message}, out_);
  if (pending_.empty()) arm(options_.reply_timeout);
  pending_.push_back(p);
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
  for (;;) {
    auto f = channel_->next_frame(out_);
    if (!f) return f.error();
    if (!f->has_value()) return {};
    const channel::Frame& frame = **f;
    if (frame.type != wire::FrameType::reply) {
      return Error(Errc::unexpected_frame, "the server sent a frame that is not a reply");
    }
    if (pending_.empty()) return Error(Errc::unexpected_frame, "a reply to no message");
    auto reply = decode_reply(frame.payload);
    if (!reply) return reply.error();
    auto p = std::move(pending_.front());
    pending_.pop_front();
    p->result.emplace(std::move(*reply));
    p->ready.cancel();
    // Progress: the next reply gets a full reply_timeout.
    if (pending_.empty()) {
      disarm();
    } else {
      arm(options_.reply_timeout);
    }
  }
}

Result<wire::Reply> Connection::decode_reply(util::ByteSpan payload) {
  auto reply = wire::decode_reply_payload(payload);
  if (!reply) {
    // A REPLY without its status byte is a protocol violation after the
    // handshake: tell the server, as for any other (docs/PROTOCOL.md).
    channel_->send_error(reply.error(), out_);
    return reply.error();
  }
  spdlog::debug("reply verified (status {})", reply->status);
  return reply;
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
