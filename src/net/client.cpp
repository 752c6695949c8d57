#include "net/client.hpp"

#include <spdlog/spdlog.h>

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

Connection::Connection(tcp::socket socket, std::unique_ptr<channel::Channel> channel,
                       ClientOptions options)
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      channel_(std::move(channel)),
      options_(options) {}

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
  asio::co_spawn(ex, conn->watchdog(conn), asio::detached);
  conn->arm(options.connect_timeout);
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

awaitable<void> Connection::watchdog(std::weak_ptr<Connection> weak) {
  for (;;) {
    auto self = weak.lock();
    if (!self || !self->socket_.is_open()) co_return;
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
  std::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  timer_.cancel();
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
      auto reply = wire::decode_reply_payload((*f)->payload);
      if (reply) spdlog::debug("reply verified (status {})", reply->status);
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
  auto reply = wire::decode_reply_payload((*f)->payload);
  if (!reply) return reply.error();
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

}  // namespace signet::net
