// signet::net::Connection: the client end of one secure channel.
//
// Like the server's connections, it moves verified frames and does not know
// what they mean (net::Link); the application protocol is driven from above
// (api/message_client.hpp). Two ways to use it, not to be mixed on one
// connection:
//   - one coroutine at a time: send(), flush(), read_more() and next_frame()
//     (the CLI's request-response and the benchmark's pipelining);
//   - pumped: start() runs a reader and a writer coroutine; the application
//     gets receive() whenever frames have arrived and may send() at any
//     moment from any coroutine on the connection's executor.
// Either way, every member runs on the connection's executor, which must not
// run two of its handlers at once (an io_context run by one thread, or a
// strand).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "channel/channel.hpp"
#include "net/address.hpp"
#include "net/deadline.hpp"
#include "net/link.hpp"
#include "util/error.hpp"

namespace signet::net {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds reply_timeout{std::chrono::seconds(60)};
};

class Connection final : public Link, public std::enable_shared_from_this<Connection> {
 public:
  using ChannelMaker = std::function<std::unique_ptr<channel::Channel>()>;

  // Resolves, connects and completes the handshake. Fails with
  // Errc::unreachable when the server cannot be reached.
  static asio::awaitable<Result<std::shared_ptr<Connection>>> open(HostPort server,
                                                                   ChannelMaker make_channel,
                                                                   ClientOptions options = {});

  // Link. next_frame() and a failed receive mark an error as the channel's
  // (it has queued its own notice for the server).
  const PeerInfo& peer() const override { return peer_; }
  asio::any_io_executor executor() const override { return executor_; }
  Result<std::optional<channel::Frame>> next_frame() override;
  void send(wire::FrameType type, std::initializer_list<util::ByteSpan> parts) override;
  std::uint32_t max_send_payload() const override { return channel_->max_send_payload(); }
  std::size_t queued() const override { return out_.size() + writing_.size(); }
  asio::awaitable<Result<void>> drained() override;
  void served() override {}

  const ClientOptions& options() const noexcept { return options_; }
  std::string description() const { return channel_->description(); }
  // The application protocol version the handshake settled on (1 or 2).
  int protocol_version() const { return channel_->protocol_version(); }
  // The largest payload this side accepts.
  std::uint32_t max_payload() const { return channel_->max_payload(); }

  // One coroutine at a time: writes what is queued (bounded by
  // reply_timeout); reads once and feeds the channel, frames then come from
  // next_frame() (bounded by the deadline the caller arms: a server that
  // drips bytes must not keep moving it).
  asio::awaitable<Result<void>> flush();
  asio::awaitable<Result<void>> read_more();

  // Pumped: from now on a reader coroutine hands app every batch of frames
  // and a writer coroutine writes what is sent. The connection holds app
  // until it fails or is closed. The reader keeps reading when nothing is
  // expected, so a server that closes the connection is noticed at once.
  void start(std::shared_ptr<Application> app);

  // The watchdog: the connection fails with idle_timeout ("no answer from
  // the server while ...") if the deadline passes while armed.
  void arm(std::chrono::milliseconds timeout) { deadline_.arm(timeout); }
  void disarm() { deadline_.disarm(); }

  // False once the connection has failed or was closed.
  bool is_open() const { return !error_ && socket_.is_open(); }
  // Why it is not open, once it is not.
  const std::optional<Error>& error() const noexcept { return error_; }
  // Ends the connection with e. Unless the channel reported e (it has queued
  // its own notice), the server is told in an ERROR frame, best effort.
  void fail(Error e);
  // Closes the connection: error() becomes operation_canceled.
  void close();
  // f runs once, on the connection's executor, when the connection fails or
  // is closed. Replaces an earlier f.
  void on_close(std::function<void(const Error&)> f) { close_hook_ = std::move(f); }

  Connection(asio::ip::tcp::socket socket, std::unique_ptr<channel::Channel> channel,
             ClientOptions options, std::string address);

 private:
  asio::awaitable<Result<void>> handshake();
  asio::awaitable<Result<void>> write_out();
  asio::awaitable<Result<void>> read_once(const char* waiting);
  Error io_error(std::error_code ec, const char* what) const;
  static asio::awaitable<void> write_loop(std::shared_ptr<Connection> self);
  static asio::awaitable<void> read_loop(std::shared_ptr<Connection> self);
  void wake_writer();
  // Writes queued channel output at once, without waiting (best effort).
  void tell_peer_now();
  void shut_down();

  asio::ip::tcp::socket socket_;
  asio::any_io_executor executor_;
  // Closes the socket when it passes while armed, which ends the operation
  // in progress with operation_aborted (seen as a timeout through timed_out_).
  Deadline deadline_;
  std::unique_ptr<channel::Channel> channel_;
  ClientOptions options_;
  PeerInfo peer_;
  util::Bytes out_;      // queued for the server
  util::Bytes writing_;  // what the writer has on the wire
  util::Bytes in_;
  bool timed_out_ = false;
  bool channel_failed_ = false;  // the channel has queued its own notice of the error
  // Pumped.
  std::shared_ptr<Application> app_;
  asio::steady_timer wake_;   // the writer sleeps on it while nothing is queued
  asio::steady_timer wrote_;  // drained() sleeps on it while the writer writes
  bool writer_idle_ = false;
  bool wake_posted_ = false;  // send() has a wake of the writer queued
  std::optional<Error> error_;
  std::function<void(const Error&)> close_hook_;
};

}  // namespace signet::net
