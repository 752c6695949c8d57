// signet::Client: one MessageClient connection at a time on a thread of the client's
// own, reopened on demand (see signet.hpp).
//
// Everything below Impl's public entry points runs on that thread, so the
// connection, the connection attempt and the flags need no lock. Callers on
// other threads or executors reach it with co_spawn and get their result back
// through a future (blocking) or their own executor (co_await).
#include <spdlog/spdlog.h>

#include <atomic>
#include <future>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/executor_work_guard.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "api/signet.hpp"

namespace signet {
namespace {

using asio::awaitable;
using Clock = std::chrono::steady_clock;
using ConnectionPtr = std::shared_ptr<MessageClient>;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
// How long the destructor lets requests in flight fail cleanly.
constexpr auto kShutdownGrace = std::chrono::seconds(2);

Error closed_error() {
  return Error(std::make_error_code(std::errc::operation_canceled), "the client was closed");
}

// Worth another connection attempt unless the same attempt must fail the same
// way again: authentication, a mode or protocol mismatch, configuration.
// Everything else (refused, reset, timeouts, the server closing or busy) may
// pass once the server is back.
bool retryable(const Error& e) {
  if (e.code.category() != signet_category()) return true;  // ECONNREFUSED, ECONNRESET, ...
  switch (static_cast<Errc>(e.code.value())) {
    case Errc::key_mismatch:
    case Errc::bad_tag:
    case Errc::not_authorized:
    case Errc::host_key_changed:
    case Errc::host_key_unknown:
    case Errc::wrong_mode:
    case Errc::bad_magic:
    case Errc::bad_version:
    case Errc::unsupported_mac:
    case Errc::config:
      return false;
    default:
      return true;
  }
}

// One connection attempt (with its retries) that any number of sends wait on.
struct Attempt {
  explicit Attempt(asio::io_context& ctx) : done(ctx, Clock::time_point::max()) {}
  asio::steady_timer done;  // never expires; cancelled once result is set
  std::optional<Result<ConnectionPtr>> result;
};

}  // namespace

struct Client::Impl {
  Impl(ClientConfig c, net::Connection::ChannelMaker m)
      : config(std::move(c)), make_channel(std::move(m)) {}

  // Runs op on the client's thread and waits for it; T must be a Result.
  template <class T>
  T wait_for(awaitable<std::optional<T>> op);

  awaitable<Result<ConnectionPtr>> connection();
  awaitable<void> connect_with_retries(std::shared_ptr<Attempt> a);
  awaitable<std::optional<Result<wire::Reply>>> send(std::string message);
  awaitable<std::optional<Result<void>>> connect();
  void disconnect();
  void close();

  ClientConfig config;
  net::Connection::ChannelMaker make_channel;
  asio::io_context ctx{1};
  asio::executor_work_guard<asio::io_context::executor_type> guard{ctx.get_executor()};
  asio::steady_timer backoff{ctx};
  std::promise<void> finished;
  std::thread thread;
  std::atomic<bool> up{false};
  // Client thread only.
  ConnectionPtr conn;
  std::shared_ptr<Attempt> attempt;
  bool closed = false;
};

template <class T>
T Client::Impl::wait_for(awaitable<std::optional<T>> op) {
  if (ctx.get_executor().running_in_this_thread()) {
    return Error(Errc::config, "a blocking signet::Client call on the client's own thread");
  }
  std::promise<T> promise;
  auto future = promise.get_future();
  asio::co_spawn(ctx, std::move(op), [&promise](std::exception_ptr e, std::optional<T> r) {
    if (e) {
      promise.set_exception(e);
    } else {
      promise.set_value(std::move(*r));
    }
  });
  return future.get();
}

awaitable<Result<ConnectionPtr>> Client::Impl::connection() {
  if (closed) co_return closed_error();
  if (conn && conn->is_open()) co_return conn;
  if (!attempt) {
    attempt = std::make_shared<Attempt>(ctx);
    asio::co_spawn(ctx, connect_with_retries(attempt), asio::detached);
  }
  auto a = attempt;
  while (!a->result) co_await a->done.async_wait(kTuple);
  co_return *a->result;
}

awaitable<void> Client::Impl::connect_with_retries(std::shared_ptr<Attempt> a) {
  if (conn) {
    conn->close();
    conn.reset();
  }
  net::ClientOptions options;
  options.connect_timeout = config.connect_timeout;
  options.handshake_timeout = config.handshake_timeout;
  options.reply_timeout = config.reply_timeout;
  const unsigned attempts = std::max(1u, config.retry.attempts);
  auto pause = config.retry.initial_backoff;
  std::optional<Error> last;
  unsigned tried = 0;
  while (tried < attempts && !closed) {
    ++tried;
    auto r = co_await MessageClient::open(config.server, make_channel, options);
    if (closed) {
      if (r) (*r)->close();
      break;
    }
    if (r) {
      conn = *r;
      up = true;
      conn->on_close([this, raw = conn.get()] {
        if (conn.get() == raw) up = false;
      });
      a->result.emplace(conn);
      break;
    }
    last = r.error();
    spdlog::debug("connection attempt {} of {} to {} failed: {}", tried, attempts,
                  config.server.to_string(), last->message());
    if (!retryable(*last) || tried == attempts) break;
    backoff.expires_after(pause);
    co_await backoff.async_wait(kTuple);
    pause = std::min(pause * 2, config.retry.max_backoff);
  }
  if (!a->result) {
    if (closed || !last) {
      a->result.emplace(closed_error());
    } else {
      if (tried > 1) last->detail += " (gave up after " + std::to_string(tried) + " attempts)";
      a->result.emplace(std::move(*last));
    }
  }
  if (attempt == a) attempt.reset();
  a->done.cancel();
}

awaitable<std::optional<Result<wire::Reply>>> Client::Impl::send(std::string message) {
  auto c = co_await connection();
  if (!c) co_return Result<wire::Reply>(c.error());
  // Keep the connection alive across the call even if a reconnect replaces it.
  ConnectionPtr keep = *c;
  co_return co_await keep->call(util::as_bytes(message));
}

awaitable<std::optional<Result<void>>> Client::Impl::connect() {
  auto c = co_await connection();
  if (!c) co_return Result<void>(c.error());
  co_return Result<void>{};
}

void Client::Impl::disconnect() {
  if (conn) conn->close();
  conn.reset();
  up = false;
}

void Client::Impl::close() {
  closed = true;
  backoff.cancel();
  disconnect();
}

Client::Client(ClientConfig config, net::Connection::ChannelMaker channel)
    : impl_(std::make_shared<Impl>(std::move(config), std::move(channel))) {
  impl_->thread = std::thread([impl = impl_.get()] {
    impl->ctx.run();
    impl->finished.set_value();
  });
}

Client::Client(ClientConfig config, crypto::SecretBytes key)
    : Client(std::move(config), shared_key_client(std::move(key))) {}

Client::~Client() {
  auto finished = impl_->finished.get_future();
  asio::post(impl_->ctx, [impl = impl_.get()] { impl->close(); });
  impl_->guard.reset();
  // The thread ends once requests in flight have failed; a connection attempt
  // still waiting on the network is cut short instead.
  if (finished.wait_for(kShutdownGrace) != std::future_status::ready) impl_->ctx.stop();
  impl_->thread.join();
}

Result<void> Client::connect() {
  return impl_->wait_for(impl_->connect());
}

Result<wire::Reply> Client::send(std::string_view message) {
  return impl_->wait_for(impl_->send(std::string(message)));
}

asio::awaitable<Result<wire::Reply>> Client::async_send(std::string_view message) {
  std::string copy(message);
  auto r = co_await asio::co_spawn(impl_->ctx, impl_->send(std::move(copy)), asio::use_awaitable);
  co_return std::move(*r);
}

void Client::disconnect() {
  asio::post(impl_->ctx, [impl = impl_.get()] { impl->disconnect(); });
}

bool Client::connected() const noexcept {
  return impl_->up.load();
}

asio::any_io_executor Client::executor() const {
  return impl_->ctx.get_executor();
}

}  // namespace signet
