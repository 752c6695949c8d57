#include "net/server.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/redirect_error.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/write.hpp>

namespace signet::net {
namespace {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(use_awaitable);

// Each worker thread reads into its own scratch buffer, synchronously and only
// after the socket reported readable, so an idle connection holds no buffer.
constexpr std::size_t kScratchSize = 64 * 1024;
thread_local std::array<std::uint8_t, kScratchSize> scratch;

// Replies larger than the channel allows are cut, never refused: the handler's
// text is not the client's fault.
constexpr std::size_t kReplyOverhead = 1;

std::string endpoint_string(const tcp::endpoint& ep) {
  const auto a = ep.address();
  if (a.is_v6()) {
    const auto v6 = a.to_v6();
    if (v6.is_v4_mapped()) {
      return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string() + ":" +
             std::to_string(ep.port());
    }
    return "[" + v6.to_string() + "]:" + std::to_string(ep.port());
  }
  return a.to_string() + ":" + std::to_string(ep.port());
}

void log_exception(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    spdlog::error("connection task failed: {}", x.what());
  }
}

}  // namespace

struct Server::Impl {
  ServerOptions options;
  ChannelFactory factory;
  Handler handler;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::optional<tcp::acceptor> acceptor;
  ServerStats stats;
  std::atomic<bool> stopping{false};
  std::size_t next_context = 0;

  awaitable<void> accept_loop();
};

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Server::Impl& server)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), server_(server) {}

  // The coroutine owns the session: its body starts later, on the worker's
  // thread, when no other reference may be left.
  static awaitable<void> run(std::shared_ptr<Session> self);

 private:
  awaitable<void> main();
  awaitable<void> watchdog(std::shared_ptr<Session> self);
  awaitable<Result<void>> serve();
  awaitable<Result<void>> handle_frames();
  awaitable<wire::Reply> call_handler(util::ByteSpan message);
  void touch(std::chrono::milliseconds timeout) {
    deadline_ = Clock::now() + timeout;
    // The watchdog sleeps until the old deadline; wake it if the new one is
    // earlier (later deadlines it notices by itself when it wakes).
    if (deadline_ < timer_.expiry()) timer_.expires_at(deadline_);
  }
  Result<void> account_buffered();

  tcp::socket socket_;
  asio::steady_timer timer_;
  Server::Impl& server_;
  Clock::time_point deadline_;
  std::unique_ptr<channel::Channel> channel_;
  util::Bytes out_;
  PeerInfo peer_;
  bool writing_ = false;
  bool timed_out_ = false;
  bool announced_ = false;
  bool partial_ = false;  // a frame has started arriving and is not complete
  std::int64_t buffered_ = 0;
  std::uint64_t messages_ = 0;
};

awaitable<void> Session::run(std::shared_ptr<Session> self) {
  co_await self->main();
}

awaitable<void> Session::main() {
  std::error_code ec;
  const auto remote = socket_.remote_endpoint(ec);
  peer_.address = ec ? "unknown" : endpoint_string(remote);
  socket_.set_option(tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
  spdlog::info("{}: connection opened", peer_.address);

  touch(server_.options.handshake_timeout);
  asio::co_spawn(socket_.get_executor(), watchdog(shared_from_this()), asio::detached);

  Result<void> result = co_await serve();
  if (!result && !timed_out_) {
    const Error& e = result.error();
    if (e.is(Errc::peer_closed)) {
      spdlog::info("{}: connection closed by peer after {} message(s)", peer_.address, messages_);
    } else {
      ++server_.stats.rejected;
      spdlog::warn("{}: rejected: {}", peer_.address, e.message());
      // Tell the peer why, if the channel queued a notice; bounded by the watchdog.
      if (channel_) channel_->flush(out_);
      if (!out_.empty() && socket_.is_open()) {
        writing_ = true;
        co_await asio::async_write(socket_, asio::buffer(out_), kTuple);
        writing_ = false;
      }
    }
  }
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  timer_.cancel();
  server_.stats.buffered_bytes -= buffered_;
  --server_.stats.active;
}

awaitable<void> Session::watchdog(std::shared_ptr<Session> self) {
  while (socket_.is_open()) {
    timer_.expires_at(deadline_);
    co_await timer_.async_wait(kTuple);
    if (!socket_.is_open()) break;
    if (Clock::now() < deadline_) continue;  // activity moved the deadline
    timed_out_ = true;
    const Error e = !announced_ ? Error(Errc::handshake_timeout)
                    : partial_  ? Error(Errc::idle_timeout, "a message did not arrive in time")
                                : Error(Errc::idle_timeout);
    ++server_.stats.rejected;
    spdlog::warn("{}: {}; closing", peer_.address, e.message());
    std::error_code ec;
    if (!writing_ && channel_) {
      util::Bytes notice;
      channel_->send_error(e, notice);
      socket_.write_some(asio::buffer(notice), ec);  // non-blocking, best effort
    }
    socket_.close(ec);
  }
  (void)self;
}

awaitable<Result<void>> Session::serve() {
  // After a read that did not fill the buffer the socket is almost surely
  // drained: wait for readiness first instead of a read that fails with EAGAIN
  // (one system call less per request in request-response traffic).
  bool may_have_more = true;
  for (;;) {
    std::error_code ec;
    if (!may_have_more) {
      co_await socket_.async_wait(tcp::socket::wait_read, kTuple);
      if (!socket_.is_open()) co_return Error(Errc::idle_timeout);
    }
    std::size_t n = socket_.read_some(asio::buffer(scratch), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      may_have_more = false;
      continue;
    }
    may_have_more = n == scratch.size();
    if (ec == asio::error::eof) {
      if (announced_) co_return Error(Errc::peer_closed);
      co_return Error(Errc::peer_closed, "during the handshake");
    }
    if (ec) co_return Error(ec, "read");
    const util::ByteSpan data(scratch.data(), n);

    if (!channel_) {
      auto made = server_.factory(data, socket_.remote_endpoint(ec));
      if (!made) {
        // A signet client can read an error record, so tell it what is wrong.
        if (data.size() >= wire::kMagic.size() &&
            std::equal(wire::kMagic.begin(), wire::kMagic.end(), data.begin())) {
          out_ = wire::encode(
              wire::ErrorRecord{wire::error_code_for(made.error()), made.error().message()});
        }
        co_return made.error();
      }
      channel_ = std::move(*made);
    }
    if (auto r = channel_->receive(data, out_); !r) co_return r.error();
    if (channel_->established() && !announced_) {
      announced_ = true;
      peer_.mode = channel_->description();
      peer_.identity = channel_->peer();
      spdlog::info("{}: handshake ok ({}{}{})", peer_.address, peer_.mode,
                   peer_.identity.fingerprint.empty() ? "" : ", key ", peer_.identity.fingerprint);
    }
    if (announced_) {
      if (auto r = co_await handle_frames(); !r) co_return r.error();
      if (auto r = account_buffered(); !r) {
        channel_->send_error(r.error(), out_);
        co_return r.error();
      }
    }
    if (channel_) channel_->flush(out_);
    if (!out_.empty()) {
      writing_ = true;
      auto [wec, written] = co_await asio::async_write(socket_, asio::buffer(out_), kTuple);
      writing_ = false;
      if (wec) co_return Error(wec, "write");
      out_.clear();
      if (out_.capacity() > 4 * kScratchSize) util::Bytes().swap(out_);
    }
  }
}

Result<void> Session::account_buffered() {
  const auto now = static_cast<std::int64_t>(channel_->buffered());
  const std::int64_t total = server_.stats.buffered_bytes += now - buffered_;
  buffered_ = now;
  if (now > 0 && static_cast<std::size_t>(total) > server_.options.max_buffered_bytes) {
    return Error(Errc::busy, "input memory limit of " +
                                 std::to_string(server_.options.max_buffered_bytes) +
                                 " bytes reached");
  }
  // The idle clock restarts only between frames; a frame in progress keeps
  // the deadline it got when its first bytes arrived.
  if (now == 0) {
    partial_ = false;
    touch(server_.options.idle_timeout);
  } else if (!partial_) {
    partial_ = true;
    touch(server_.options.frame_timeout);
  }
  return {};
}

awaitable<Result<void>> Session::handle_frames() {
  for (;;) {
    auto f = channel_->next_frame(out_);
    if (!f) co_return f.error();
    if (!f->has_value()) co_return Result<void>{};
    const channel::Frame& frame = **f;
    spdlog::debug("{}: message frame verified ({} bytes, {})", peer_.address, frame.payload.size(),
                  peer_.mode);
    wire::Reply reply = co_await call_handler(frame.payload);
    const std::size_t room = channel_->max_payload() - kReplyOverhead;
    if (reply.text.size() > room) reply.text.resize(room);
    const std::uint8_t status = reply.status;
    channel_->send(wire::FrameType::reply, {util::ByteSpan(&status, 1), util::as_bytes(reply.text)},
                   out_);
    spdlog::debug("{}: reply tagged ({} bytes, status {})", peer_.address, reply.text.size() + 1,
                  status);
    ++messages_;
    ++server_.stats.messages;
  }
}

awaitable<wire::Reply> Session::call_handler(util::ByteSpan message) {
  try {
    if (auto* sync = std::get_if<SyncHandler>(&server_.handler)) co_return (*sync)(peer_, message);
    co_return co_await std::get<AsyncHandler>(server_.handler)(peer_, message);
  } catch (const std::exception& e) {
    spdlog::error("{}: handler failed: {}", peer_.address, e.what());
  }
  co_return wire::Reply{255, "internal error in the server's handler"};
}

}  // namespace

awaitable<void> Server::Impl::accept_loop() {
  for (;;) {
    auto& ctx = *contexts[next_context++ % contexts.size()];
    auto [ec, socket] = co_await acceptor->async_accept(ctx, kTuple);
    if (stopping) co_return;
    if (ec) {
      spdlog::warn("accept failed: {}", ec.message());
      if (ec == asio::error::no_descriptors || ec == asio::error::no_buffer_space) {
        // Out of file descriptors: back off instead of spinning.
        asio::steady_timer t(co_await asio::this_coro::executor, std::chrono::milliseconds(100));
        co_await t.async_wait(kTuple);
      }
      continue;
    }
    ++stats.connections;
    if (stats.active.load() >= options.max_connections) {
      ++stats.rejected;
      spdlog::warn("connection limit ({}) reached; refusing a connection", options.max_connections);
      std::error_code ignored;
      socket.close(ignored);
      continue;
    }
    ++stats.active;
    auto session = std::make_shared<Session>(std::move(socket), *this);
    asio::co_spawn(ctx, Session::run(std::move(session)), log_exception);
  }
}

Server::Server(ServerOptions options, ChannelFactory factory, Handler handler) : impl_(new Impl) {
  impl_->options = std::move(options);
  impl_->factory = std::move(factory);
  impl_->handler = std::move(handler);
  unsigned n = impl_->options.threads;
  if (n == 0) n = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned i = 0; i < n; ++i) impl_->contexts.push_back(std::make_unique<asio::io_context>());
}

Server::~Server() {
  stop();
  // Destroying the contexts destroys the suspended connection coroutines,
  // which closes their sockets.
  impl_->acceptor.reset();
  impl_->contexts.clear();
}

Result<tcp::endpoint> Server::listen() {
  std::error_code ec;
  auto& ctx = *impl_->contexts.front();
  tcp::resolver resolver(ctx);
  auto results =
      resolver.resolve(impl_->options.listen.host, std::to_string(impl_->options.listen.port),
                       tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty()) {
    return Error(Errc::config, "cannot resolve listen address " +
                                   impl_->options.listen.to_string() + ": " + ec.message());
  }
  const tcp::endpoint ep = results.begin()->endpoint();
  tcp::acceptor acceptor(ctx);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Error(Errc::config,
                 "cannot listen on " + impl_->options.listen.to_string() + ": " + ec.message());
  }
  auto bound = acceptor.local_endpoint(ec);
  impl_->acceptor.emplace(std::move(acceptor));
  return bound;
}

void Server::run() {
  if (!impl_->acceptor) return;
  asio::co_spawn(*impl_->contexts.front(), impl_->accept_loop(), log_exception);
  std::vector<std::thread> workers;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> guards;
  for (auto& c : impl_->contexts) guards.push_back(asio::make_work_guard(*c));
  for (std::size_t i = 1; i < impl_->contexts.size(); ++i) {
    workers.emplace_back([c = impl_->contexts[i].get()] { c->run(); });
  }
  impl_->contexts.front()->run();
  for (auto& c : impl_->contexts) c->stop();
  for (auto& w : workers) w.join();
}

void Server::stop() {
  if (impl_->stopping.exchange(true)) return;
  for (auto& c : impl_->contexts) c->stop();
}

const ServerStats& Server::stats() const noexcept {
  return impl_->stats;
}

}  // namespace signet::net
