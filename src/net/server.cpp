#include "net/server.hpp"

#include <spdlog/spdlog.h>

#include <array>
#include <thread>
#include <utility>

#include "crypto/primitives.hpp"
#include "net/deadline.hpp"
#include "net/log_limiter.hpp"

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
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
// An output buffer keeps its memory up to this after a write: a transfer
// that keeps the output near kOutputHighWater reuses it instead of
// allocating (and faulting in) fresh pages for every batch; larger ones
// (a big reply) are given back.
constexpr std::size_t kKeptOutput = kOutputHighWater + 256 * 1024;
thread_local std::array<std::uint8_t, kScratchSize> scratch;

// The first byte of a TLS handshake record (RFC 8446 section 5.1).
constexpr std::uint8_t kTlsHandshakeRecord = 0x16;

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

// Refusals lingering at once (each holds a descriptor for up to
// kRefusalLinger); beyond this many a refused connection gets its record
// without the linger (a flood must not hold descriptors for its refusals).
constexpr int kMaxRefusalsInFlight = 1024;
// How long a refused client has to read the refusal and close.
constexpr auto kRefusalLinger = std::chrono::seconds(2);

// A random number in 0..99, for the random early drop.
unsigned roll_percent() {
  std::array<std::uint8_t, 4> b{};
  crypto::random_bytes(b);
  return util::load_u32(b.data()) % 100;
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
  explicit Impl(ServerOptions o) : options(std::move(o)), admission(options.startups) {}

  ServerOptions options;
  ChannelFactory factory;
  ApplicationFactory application;
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::optional<tcp::acceptor> acceptor;
  ServerStats stats;
  std::atomic<bool> stopping{false};
  std::size_t next_context = 0;
  StartupAdmission admission;
  std::atomic<int> refusing{0};
  // Everything an unauthenticated peer can make the server log goes through
  // one of these (log_limiter.hpp).
  LogLimiter refused_log{"refused connections"};
  LogLimiter rejected_log{"rejected connections"};
  LogLimiter accept_log{"failed accepts", 1, std::chrono::seconds(10)};

  awaitable<void> accept_loop();
  awaitable<void> housekeeping();
  // Tells a connection that is not admitted why (a signet error record,
  // which both modes' clients read), then closes it.
  void refuse(tcp::socket socket, const Error& why);
  awaitable<void> linger_and_close(tcp::socket socket, util::Bytes notice);
  // Takes `bytes` from the memory budget unless that would exceed it.
  bool reserve(std::size_t bytes);
};

namespace {

class Session final : public Link, public std::enable_shared_from_this<Session> {
 public:
  // The connection comes admitted into the handshake (an admission slot for
  // `source` and kHandshakeReserve of the budget); the session gives both
  // back when the handshake is over or the connection ends.
  Session(tcp::socket socket, Server::Impl& server, StartupAdmission::Source source)
      : socket_(std::move(socket)),
        executor_(socket_.get_executor()),
        deadline_(socket_.get_executor()),
        wake_writer_(socket_.get_executor(), Clock::time_point::max()),
        wrote_(socket_.get_executor(), Clock::time_point::max()),
        server_(server),
        source_(source) {}

  // The coroutine owns the session: its body starts later, on the worker's
  // thread, when no other reference may be left.
  static awaitable<void> run(std::shared_ptr<Session> self);

  // Link.
  const PeerInfo& peer() const override { return peer_; }
  asio::any_io_executor executor() const override { return executor_; }
  Result<std::optional<channel::Frame>> next_frame() override;
  void send(wire::FrameType type, std::initializer_list<util::ByteSpan> parts) override;
  std::uint32_t max_send_payload() const override { return channel_->max_send_payload(); }
  std::size_t queued() const override { return out_.size() + writing_.size(); }
  awaitable<Result<void>> drained() override;
  void served() override {
    ++served_;
    ++server_.stats.messages;
  }

 private:
  awaitable<void> main();
  // The deadline passed: tell the peer why if possible, and close.
  void timed_out();
  // The reader: reads, feeds the channel, hands frames to the application.
  awaitable<Result<void>> serve();
  awaitable<Result<void>> established();
  // The writer (from the end of the handshake): writes whatever is queued.
  static awaitable<void> write_loop(std::shared_ptr<Session> self);
  // Writes what is queued without waiting, as far as the socket takes it,
  // and leaves the rest to the writer. The reader calls it after each batch
  // of frames, so a reply goes out in the reader's turn, without waking the
  // writer (one reactor round trip less per request).
  void write_now();
  // During the handshake, and for the last notice: writes everything queued.
  awaitable<Result<void>> write_all();
  // After the last notice: closing with the peer's frames unread would reset
  // the connection and could destroy the notice before the peer reads it (a
  // client in the middle of an upload always has frames in flight), so read
  // and drop what it sends until it closes, for kRefusalLinger at most.
  awaitable<void> linger();
  void wake_writer_later();
  void wake_writer() {
    if (!writer_idle_) return;
    writer_idle_ = false;
    wake_writer_.cancel();
  }
  void leave_handshake();
  void touch(std::chrono::milliseconds timeout) { deadline_.arm(timeout); }
  // Brings this connection's share of the memory budget up to date (input
  // still arriving, output not yet written) and moves the deadline: between
  // frames the idle timeout runs from the last complete frame (bytes that
  // carry no frame, such as TLS KeyUpdate records, do not count as
  // activity); a frame that has started must complete within frame_timeout.
  // Fails with busy when input is arriving and the budget is exhausted.
  Result<void> account();
  // Logs a line about an unauthenticated peer through the rate limiter.
  bool may_log() { return announced_ ? true : server_.rejected_log.admit(); }

  tcp::socket socket_;
  asio::any_io_executor executor_;
  Deadline deadline_;
  asio::steady_timer wake_writer_;  // the writer sleeps on it while nothing is queued
  asio::steady_timer wrote_;        // drained() sleeps on it while the writer writes
  Server::Impl& server_;
  StartupAdmission::Source source_;
  bool in_handshake_ = true;  // holds an admission slot and the handshake reserve
  std::unique_ptr<channel::Channel> channel_;
  std::unique_ptr<Application> application_;  // from the end of the handshake
  util::Bytes out_;                           // queued for the peer
  util::Bytes writing_;                       // what the writer has on the wire
  PeerInfo peer_;
  bool writer_started_ = false;
  bool writer_idle_ = false;     // the writer waits on wake_writer_
  bool wake_posted_ = false;     // wake_writer_later() has a check queued
  bool channel_failed_ = false;  // the channel has queued its own notice of the error
  std::optional<std::error_code> write_error_;
  bool timed_out_ = false;
  bool announced_ = false;
  bool partial_ = false;        // a frame has started arriving and is not complete
  std::size_t frames_ = 0;      // complete frames taken since the last account()
  std::int64_t accounted_ = 0;  // this connection's part of stats.buffered_bytes
  std::uint64_t served_ = 0;
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
  spdlog::debug("{}: connection opened", peer_.address);

  touch(server_.options.handshake_timeout);
  deadline_.start([weak = weak_from_this()] {
    if (auto self = weak.lock()) self->timed_out();
  });

  Result<void> result = co_await serve();
  if (!result && !timed_out_) {
    const Error& e = result.error();
    if (e.is(Errc::peer_closed)) {
      if (announced_) {
        spdlog::info("{}: connection closed by peer after {} message(s)", peer_.address, served_);
      } else if (may_log()) {
        spdlog::info("{}: connection closed by peer {}", peer_.address, e.detail);
      }
    } else {
      ++server_.stats.rejected;
      if (e.is(Errc::busy)) ++server_.stats.busy;
      if (may_log()) spdlog::warn("{}: rejected: {}", peer_.address, e.message());
      if (!announced_ && (e.is(Errc::not_authorized) || e.is(Errc::key_mismatch)) &&
          server_.options.on_refused_credentials) {
        server_.options.on_refused_credentials(peer_.address, e);
      }
      // Tell the peer why (the channel has queued its own notice of what
      // it found; the application's errors get an ERROR frame here), after
      // what is queued before it; bounded by the watchdog.
      if (channel_ && announced_ && !channel_failed_) channel_->send_error(e, out_);
      if (socket_.is_open() && !write_error_ && co_await write_all() && announced_) {
        // What the connection holds goes back before the linger (a
        // partial frame in the channel, its share of the memory budget).
        application_.reset();
        channel_.reset();
        server_.stats.buffered_bytes -= accounted_;
        accounted_ = 0;
        co_await linger();
      }
    }
  }
  application_.reset();
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  wake_writer_.cancel();
  wrote_.cancel();
  deadline_.stop();
  leave_handshake();
  server_.stats.buffered_bytes -= accounted_;
  accounted_ = 0;
  --server_.stats.active;
}

void Session::leave_handshake() {
  if (!in_handshake_) return;
  in_handshake_ = false;
  server_.admission.done(source_);
  server_.stats.buffered_bytes -= static_cast<std::int64_t>(kHandshakeReserve);
}

void Session::timed_out() {
  if (!socket_.is_open()) return;
  timed_out_ = true;
  const Error e = !announced_ ? Error(Errc::handshake_timeout)
                  : partial_  ? Error(Errc::idle_timeout, "a message did not arrive in time")
                              : Error(Errc::idle_timeout);
  ++server_.stats.rejected;
  if (may_log()) spdlog::warn("{}: {}; closing", peer_.address, e.message());
  std::error_code ec;
  // Only between frames: a notice must not land inside one half written.
  if (writing_.empty() && out_.empty() && channel_) {
    util::Bytes notice;
    channel_->send_error(e, notice);
    socket_.write_some(asio::buffer(notice), ec);  // non-blocking, best effort
  }
  socket_.close(ec);
  wake_writer_.cancel();
  wrote_.cancel();
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
        // Both modes' clients read a signet error record (a key-mode client
        // one in place of the server's TLS reply), so tell them what is
        // wrong; a peer that speaks neither gets nothing.
        const bool signet = data.size() >= wire::kMagic.size() &&
                            std::equal(wire::kMagic.begin(), wire::kMagic.end(), data.begin());
        const bool tls = !data.empty() && data[0] == kTlsHandshakeRecord;
        if (signet || tls) {
          out_ = wire::encode(
              wire::ErrorRecord{wire::error_code_for(made.error()), made.error().message()});
        }
        channel_failed_ = true;
        co_return made.error();
      }
      channel_ = std::move(*made);
    }
    if (auto r = channel_->receive(data, out_); !r) {
      channel_failed_ = true;
      co_return r.error();
    }
    if (!announced_) {
      if (channel_->established()) {
        if (auto r = co_await established(); !r) co_return r.error();
      } else if (auto w = co_await write_all(); !w) {
        co_return w.error();
      }
      if (!announced_) continue;
    }
    auto r = co_await application_->receive(*this);
    if (!r) co_return r.error();
    write_now();
    if (auto a = account(); !a) co_return a.error();
    if (write_error_) co_return Error(*write_error_, "write");
    // Back-pressure: a peer that sends and does not read gets no more of
    // its frames taken until what it was sent has gone out.
    if (queued() >= kOutputHighWater) {
      if (auto d = co_await drained(); !d) co_return d.error();
    }
  }
}

awaitable<Result<void>> Session::established() {
  announced_ = true;
  leave_handshake();
  peer_.mode = channel_->description();
  peer_.identity = channel_->peer();
  peer_.protocol = channel_->protocol_version();
  spdlog::info("{}: handshake ok ({}{}{}, protocol {})", peer_.address, peer_.mode,
               peer_.identity.fingerprint.empty() ? "" : ", key ", peer_.identity.fingerprint,
               peer_.protocol);
  // The handshake's last bytes go out before the application may send.
  if (auto w = co_await write_all(); !w) co_return w.error();
  touch(server_.options.idle_timeout);
  application_ = server_.application(*this);
  writer_started_ = true;
  asio::co_spawn(socket_.get_executor(), write_loop(shared_from_this()), asio::detached);
  co_return Result<void>{};
}

awaitable<void> Session::linger() {
  using namespace asio::experimental::awaitable_operators;
  std::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  auto drain = [](tcp::socket& s) -> awaitable<void> {
    std::array<std::uint8_t, 4096> sink;
    for (;;) {
      auto [rec, n] = co_await s.async_read_some(asio::buffer(sink), kTuple);
      if (rec) co_return;
    }
  };
  asio::steady_timer timer(executor_, kRefusalLinger);
  co_await (drain(socket_) || timer.async_wait(asio::use_awaitable));
}

Result<std::optional<channel::Frame>> Session::next_frame() {
  auto f = channel_->next_frame(out_);
  if (!f) {
    channel_failed_ = true;
    return f.error();
  }
  if (f->has_value()) ++frames_;
  return f;
}

void Session::send(wire::FrameType type, std::initializer_list<util::ByteSpan> parts) {
  channel_->send(type, parts, out_);
  wake_writer_later();
}

void Session::wake_writer_later() {
  // What the reader's frames make the application send, the reader writes
  // itself when it is done with them (write_now), in the same turn: the
  // writer is woken only for what is still queued when this turn of the
  // executor is over (sent by a coroutine of the application's own, or
  // before the application waited for something), once for all the frames
  // of the turn. Waking it at once would cost a timer cancel and a writer
  // turn per request for nothing: a tenth of the round trip.
  if (!writer_idle_ || wake_posted_) return;
  wake_posted_ = true;
  asio::post(executor_, [self = shared_from_this()] {
    self->wake_posted_ = false;
    if (!self->socket_.is_open() || !self->channel_) return;
    self->channel_->flush(self->out_);
    if (!self->out_.empty()) self->wake_writer();
  });
}

awaitable<Result<void>> Session::drained() {
  if (channel_) channel_->flush(out_);
  while (queued() > 0) {
    if (!socket_.is_open()) co_return Error(Errc::peer_closed);
    if (write_error_) co_return Error(*write_error_, "write");
    wake_writer();
    co_await wrote_.async_wait(kTuple);
    wrote_.expires_at(Clock::time_point::max());
  }
  (void)account();
  co_return Result<void>{};
}

awaitable<void> Session::write_loop(std::shared_ptr<Session> self) {
  auto& s = *self;
  for (;;) {
    if (!s.socket_.is_open() || s.write_error_ || !s.channel_) break;
    s.channel_->flush(s.out_);
    if (s.out_.empty()) {
      s.writer_idle_ = true;
      co_await s.wake_writer_.async_wait(kTuple);
      s.writer_idle_ = false;
      s.wake_writer_.expires_at(Clock::time_point::max());
      continue;
    }
    s.writing_.swap(s.out_);
    auto [ec, written] = co_await asio::async_write(s.socket_, asio::buffer(s.writing_), kTuple);
    s.writing_.clear();
    if (s.writing_.capacity() > kKeptOutput) util::Bytes().swap(s.writing_);
    if (ec) s.write_error_ = ec;
    (void)s.account();
    s.wrote_.cancel();
  }
  s.wrote_.cancel();
}

void Session::write_now() {
  channel_->flush(out_);
  if (out_.empty() || !writing_.empty() || write_error_) return;
  std::error_code ec;
  const std::size_t n = socket_.write_some(asio::buffer(out_), ec);
  if (ec && ec != asio::error::would_block && ec != asio::error::try_again) {
    write_error_ = ec;
    return;
  }
  if (n == out_.size()) {
    out_.clear();
    if (out_.capacity() > kKeptOutput) util::Bytes().swap(out_);
    return;
  }
  out_.erase(out_.begin(), out_.begin() + static_cast<std::ptrdiff_t>(n));
  wake_writer();
}

awaitable<Result<void>> Session::write_all() {
  if (writer_started_) {
    // Everything queued goes out through the writer, in order.
    auto d = co_await drained();
    if (!d || out_.empty()) co_return d;
  }
  if (channel_) channel_->flush(out_);
  if (out_.empty()) co_return Result<void>{};
  writing_.swap(out_);
  auto [ec, written] = co_await asio::async_write(socket_, asio::buffer(writing_), kTuple);
  writing_.clear();
  if (ec) {
    write_error_ = ec;
    co_return Error(ec, "write");
  }
  co_return Result<void>{};
}

Result<void> Session::account() {
  const std::size_t input = channel_ ? channel_->buffered() : 0;
  const auto now = static_cast<std::int64_t>(input + queued());
  const std::int64_t total = server_.stats.buffered_bytes += now - accounted_;
  accounted_ = now;
  const std::size_t frames = std::exchange(frames_, 0);
  if (input > 0 && static_cast<std::size_t>(total) > server_.options.max_buffered_bytes) {
    return Error(
        Errc::busy,
        "memory limit of " + std::to_string(server_.options.max_buffered_bytes) + " bytes reached");
  }
  if (input == 0) {
    if (partial_ || frames > 0) touch(server_.options.idle_timeout);
    partial_ = false;
  } else if (!partial_ || frames > 0) {
    // A new frame has started: it gets a full frame_timeout.
    partial_ = true;
    touch(server_.options.frame_timeout);
  }
  return {};
}
}  // namespace

awaitable<void> Server::Impl::accept_loop() {
  auto backoff = std::chrono::milliseconds(50);
  for (;;) {
    auto& ctx = *contexts[next_context++ % contexts.size()];
    auto [ec, socket] = co_await acceptor->async_accept(ctx, kTuple);
    if (stopping) co_return;
    if (ec) {
      const bool out_of_descriptors = ec == asio::error::no_descriptors ||
                                      ec == asio::error::no_buffer_space ||
                                      ec == std::errc::too_many_files_open_in_system;
      if (accept_log.admit()) {
        spdlog::warn("accept failed: {}{}", ec.message(),
                     out_of_descriptors ? " (raise the descriptor limit, `ulimit -n`, or lower "
                                          "--max-connections); backing off"
                                        : "");
      }
      if (out_of_descriptors) {
        // The pending connection stays in the backlog: retry later instead
        // of spinning, a little later each time until a descriptor frees.
        asio::steady_timer t(co_await asio::this_coro::executor, backoff);
        co_await t.async_wait(kTuple);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(1000));
      }
      continue;
    }
    backoff = std::chrono::milliseconds(50);
    ++stats.connections;
    std::error_code ignored;
    const auto remote = socket.remote_endpoint(ignored);
    if (stats.active.load() >= options.max_connections) {
      refuse(std::move(socket),
             Error(Errc::busy, "the server is full (" + std::to_string(options.max_connections) +
                                   " connections); try again later"));
      continue;
    }
    const auto source = StartupAdmission::source_of(remote.address());
    if (auto admitted = admission.admit(source, roll_percent()); !admitted) {
      refuse(std::move(socket), admitted.error());
      continue;
    }
    if (!reserve(kHandshakeReserve)) {
      admission.done(source);
      refuse(std::move(socket), Error(Errc::busy,
                                      "the server is out of memory for new "
                                      "connections; try again later"));
      continue;
    }
    ++stats.active;
    auto session = std::make_shared<Session>(std::move(socket), *this, source);
    asio::co_spawn(ctx, Session::run(std::move(session)), log_exception);
  }
}

bool Server::Impl::reserve(std::size_t bytes) {
  const auto n = static_cast<std::int64_t>(bytes);
  const std::int64_t total = stats.buffered_bytes += n;
  if (static_cast<std::size_t>(total) <= options.max_buffered_bytes) return true;
  stats.buffered_bytes -= n;
  return false;
}

void Server::Impl::refuse(tcp::socket socket, const Error& why) {
  ++stats.rejected;
  ++stats.busy;
  std::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (refused_log.admit()) {
    spdlog::warn("{}: refused: {}", ec ? "unknown" : endpoint_string(remote), why.message());
  }
  auto notice = wire::encode(wire::ErrorRecord{wire::error_code_for(why), why.detail});
  if (refusing.load() >= kMaxRefusalsInFlight) {
    // No linger: take what the client has sent so far (so that closing does
    // not reset the connection over unread bytes, if its hello is in), send
    // the record, close.
    socket.non_blocking(true, ec);
    std::array<std::uint8_t, 4096> sink;
    while (socket.read_some(asio::buffer(sink), ec) > 0 && !ec) {
    }
    socket.write_some(asio::buffer(notice), ec);
    socket.shutdown(tcp::socket::shutdown_send, ec);
    socket.close(ec);
    return;
  }
  ++refusing;
  auto ex = socket.get_executor();
  asio::co_spawn(ex, linger_and_close(std::move(socket), std::move(notice)), log_exception);
}

awaitable<void> Server::Impl::linger_and_close(tcp::socket socket, util::Bytes notice) {
  using namespace asio::experimental::awaitable_operators;
  std::error_code ec;
  // A new connection's send buffer is empty: the record goes out at once.
  socket.non_blocking(true, ec);
  socket.write_some(asio::buffer(notice), ec);
  socket.shutdown(tcp::socket::shutdown_send, ec);
  // Closing now, with the client's hello unread, would reset the connection
  // and could destroy the refusal before the client reads it: read and drop
  // what it sends until it closes, for a short while.
  auto drain = [](tcp::socket& s) -> awaitable<void> {
    std::array<std::uint8_t, 4096> sink;
    for (;;) {
      auto [rec, n] = co_await s.async_read_some(asio::buffer(sink), kTuple);
      if (rec) co_return;
    }
  };
  asio::steady_timer linger(socket.get_executor(), kRefusalLinger);
  co_await (drain(socket) || linger.async_wait(use_awaitable));
  socket.close(ec);
  --refusing;
}

awaitable<void> Server::Impl::housekeeping() {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  while (!stopping) {
    tick.expires_after(std::chrono::seconds(1));
    auto [ec] = co_await tick.async_wait(kTuple);
    if (ec) co_return;
    refused_log.flush();
    rejected_log.flush();
    accept_log.flush();
  }
}

Server::Server(ServerOptions options, ChannelFactory factory, ApplicationFactory application)
    : impl_(new Impl(std::move(options))) {
  impl_->factory = std::move(factory);
  impl_->application = std::move(application);
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
  asio::co_spawn(*impl_->contexts.front(), impl_->housekeeping(), log_exception);
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
