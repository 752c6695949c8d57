#include "net/client.hpp"

#include <spdlog/spdlog.h>

#include <utility>

#include <asio/co_spawn.hpp>
#include <asio/connect.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace signet::net {
namespace {

using asio::awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 64 * 1024;
// An output buffer keeps its memory up to this after a write: a transfer
// that keeps the output near kOutputHighWater reuses it instead of
// allocating (and faulting in) fresh pages for every batch; larger ones
// (a big reply) are given back.
constexpr std::size_t kKeptOutput = kOutputHighWater + 256 * 1024;

}  // namespace

Connection::Connection(tcp::socket socket, std::unique_ptr<channel::Channel> channel,
                       ClientOptions options, std::string address)
    : socket_(std::move(socket)),
      executor_(socket_.get_executor()),
      deadline_(executor_),
      channel_(std::move(channel)),
      options_(options),
      wake_(executor_, Clock::time_point::max()),
      wrote_(executor_, Clock::time_point::max()) {
  peer_.address = std::move(address);
}

awaitable<Result<std::shared_ptr<Connection>>> Connection::open(HostPort server,
                                                                ChannelMaker make_channel,
                                                                ClientOptions options) {
  auto ex = co_await asio::this_coro::executor;
  const std::string where = server.to_string();
  tcp::resolver resolver(ex);
  auto [rec, endpoints] =
      co_await resolver.async_resolve(server.host, std::to_string(server.port), kTuple);
  if (rec) co_return Error(Errc::unreachable, where + ": cannot resolve host: " + rec.message());

  auto conn = std::make_shared<Connection>(tcp::socket(ex), make_channel(), options, where);
  // Watched from before the socket is open (async_connect opens it) until
  // the connection shuts down.
  conn->arm(options.connect_timeout);
  conn->deadline_.start([weak = std::weak_ptr<Connection>(conn)] {
    if (auto self = weak.lock()) {
      self->timed_out_ = true;
      std::error_code ec;
      self->socket_.close(ec);
      self->wake_.cancel();
      self->wrote_.cancel();
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
  conn->peer_.mode = conn->channel_->description();
  conn->peer_.identity = conn->channel_->peer();
  conn->peer_.protocol = conn->channel_->protocol_version();
  co_return conn;
}

void Connection::close() {
  if (!error_) {
    error_ =
        Error(std::make_error_code(std::errc::operation_canceled), "the connection was closed");
  }
  shut_down();
}

void Connection::fail(Error e) {
  if (!error_) {
    if (!channel_failed_ && channel_->established()) channel_->send_error(e, out_);
    tell_peer_now();
    error_ = std::move(e);
    spdlog::debug("connection failed: {}", error_->message());
  }
  shut_down();
}

void Connection::shut_down() {
  deadline_.stop();
  std::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  out_.clear();
  wake_.cancel();
  wrote_.cancel();
  if (auto hook = std::exchange(close_hook_, nullptr)) hook(*error_);
  // The application may hold the last reference to this connection.
  if (app_) asio::post(executor_, [app = std::move(app_)] {});
}

Error Connection::io_error(std::error_code ec, const char* what) const {
  if (timed_out_)
    return Error(Errc::idle_timeout, std::string("no answer from the server while ") + what);
  if (ec == asio::error::eof || ec == asio::error::connection_reset) {
    return Error(Errc::peer_closed, std::string("server closed the connection while ") + what);
  }
  return Error(ec, what);
}

Result<std::optional<channel::Frame>> Connection::next_frame() {
  auto f = channel_->next_frame(out_);
  if (!f) channel_failed_ = true;
  return f;
}

void Connection::send(wire::FrameType type, std::initializer_list<util::ByteSpan> parts) {
  channel_->send(type, parts, out_);
  // Many frames sent in one turn of the executor (call()s, an application's
  // burst) wake the writer once, when the turn is over, and go out in one write.
  if (!writer_idle_ || wake_posted_) return;
  wake_posted_ = true;
  asio::post(executor_, [self = shared_from_this()] {
    self->wake_posted_ = false;
    self->wake_writer();
  });
}

void Connection::wake_writer() {
  if (!writer_idle_) return;
  writer_idle_ = false;
  wake_.cancel();
}

awaitable<Result<void>> Connection::write_out() {
  channel_->flush(out_);
  if (out_.empty()) co_return Result<void>{};
  writing_.swap(out_);
  auto [ec, n] = co_await asio::async_write(socket_, asio::buffer(writing_), kTuple);
  writing_.clear();
  if (ec) co_return io_error(ec, "sending");
  co_return Result<void>{};
}

awaitable<Result<void>> Connection::read_once(const char* waiting) {
  if (in_.size() != kReadChunk) in_.resize(kReadChunk);
  auto [ec, n] = co_await socket_.async_read_some(asio::buffer(in_), kTuple);
  if (error_) co_return *error_;
  if (ec) co_return io_error(ec, waiting);
  if (auto r = channel_->receive(util::ByteSpan(in_.data(), n), out_); !r) {
    channel_failed_ = true;
    co_return r.error();
  }
  co_return Result<void>{};
}

awaitable<Result<void>> Connection::handshake() {
  arm(options_.handshake_timeout);
  channel_->start(out_);
  auto w = co_await write_out();
  while (w && !channel_->established()) {
    auto r = co_await read_once("in the handshake");
    w = co_await write_out();  // handshake replies, or the notice of an error
    if (!r) w = r.error();
  }
  disarm();
  if (!w) co_return w.error();
  spdlog::debug("handshake ok ({})", channel_->description());
  co_return Result<void>{};
}

awaitable<Result<void>> Connection::flush() {
  if (error_) co_return *error_;
  arm(options_.reply_timeout);
  auto w = co_await write_out();
  disarm();
  co_return w;
}

awaitable<Result<void>> Connection::read_more() {
  if (error_) co_return *error_;
  auto r = co_await read_once("waiting for a reply");
  if (!out_.empty()) {
    // Channel output for the server (key mode), or the notice of an error.
    if (auto w = co_await write_out(); r && !w) r = w.error();
  }
  co_return r;
}

awaitable<Result<void>> Connection::drained() {
  channel_->flush(out_);
  while (queued() > 0) {
    if (error_) co_return *error_;
    wake_writer();
    co_await wrote_.async_wait(kTuple);
    wrote_.expires_at(Clock::time_point::max());
  }
  co_return Result<void>{};
}

// --- Pumped ---------------------------------------------------------------------------
//
// All of this runs on the connection's executor, one handler at a time, so
// the state needs no lock: the application sends into out_; write_loop() is
// the only writer of the socket; read_loop() the only reader.

void Connection::start(std::shared_ptr<Application> app) {
  app_ = std::move(app);
  // The loops own the connection until it fails or is closed.
  asio::co_spawn(executor_, write_loop(shared_from_this()), asio::detached);
  asio::co_spawn(executor_, read_loop(shared_from_this()), asio::detached);
}

awaitable<void> Connection::write_loop(std::shared_ptr<Connection> self) {
  auto& s = *self;
  while (!s.error_) {
    s.channel_->flush(s.out_);
    if (s.out_.empty()) {
      s.writer_idle_ = true;
      co_await s.wake_.async_wait(kTuple);
      s.writer_idle_ = false;
      s.wake_.expires_at(Clock::time_point::max());
      continue;
    }
    // Whatever is sent while this write is on the wire goes in the next one.
    s.writing_.swap(s.out_);
    auto [ec, n] = co_await asio::async_write(s.socket_, asio::buffer(s.writing_), kTuple);
    s.writing_.clear();
    if (s.writing_.capacity() > kKeptOutput) util::Bytes().swap(s.writing_);
    s.wrote_.cancel();
    if (s.error_) break;
    if (ec) s.fail(s.io_error(ec, "sending"));
  }
}

awaitable<void> Connection::read_loop(std::shared_ptr<Connection> self) {
  auto& s = *self;
  while (!s.error_) {
    if (auto app = s.app_) {
      auto r = co_await app->receive(s);
      if (s.error_) break;
      if (!r) {
        s.fail(r.error());
        break;
      }
    }
    if (!s.out_.empty()) s.wake_writer();  // channel output for the server (key mode)
    auto r = co_await s.read_once(s.deadline_.armed() ? "waiting for a reply" : "idle");
    if (s.error_) break;
    if (!r) {
      s.fail(r.error());
      break;
    }
  }
}

void Connection::tell_peer_now() {
  // The channel queued a notice of an error: send it without waiting, best
  // effort, as the server does.
  channel_->flush(out_);
  if (writing_.empty() && !out_.empty() && socket_.is_open()) {
    std::error_code ec;
    socket_.non_blocking(true, ec);
    if (!ec) socket_.write_some(asio::buffer(out_), ec);
  }
  out_.clear();
}

}  // namespace signet::net
