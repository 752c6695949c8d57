// signet::net::Connection: the client end of one secure channel.
//
// Two ways to use it, not to be mixed on one connection:
//   - one coroutine at a time: request(), or queue()/flush()/next_reply() for
//     pipelining by hand (the CLI and the benchmark);
//   - call(), from any number of coroutines at once (the library's Client).
// Either way, every member runs on the connection's executor, which must not
// run two of its handlers at once (an io_context run by one thread, or a
// strand).
#pragma once

#include <algorithm>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "channel/channel.hpp"
#include "net/address.hpp"
#include "net/deadline.hpp"
#include "proto/session.hpp"
#include "util/error.hpp"
#include "wire/wire.hpp"

namespace signet::net {

struct ClientOptions {
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds reply_timeout{std::chrono::seconds(60)};
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  using ChannelMaker = std::function<std::unique_ptr<channel::Channel>()>;

  // Resolves, connects and completes the handshake. Fails with Errc::unreachable when the server
  // cannot be reached.
  static asio::awaitable<Result<std::shared_ptr<Connection>>> open(HostPort server,
                                                                   ChannelMaker make_channel,
                                                                   ClientOptions options = {});

  // Sends one message and waits for its reply.
  asio::awaitable<Result<wire::Reply>> request(util::ByteSpan message);

  // Pipelining: queue() seals messages into the output buffer, flush() writes
  // them, next_reply() returns replies in the order the messages were queued.
  // queue() fails with busy when proto::kMaxOpenOperations messages are
  // already waiting for their replies.
  Result<void> queue(util::ByteSpan message);
  asio::awaitable<Result<void>> flush();
  asio::awaitable<Result<wire::Reply>> next_reply();
  // A reply that has already arrived, without waiting; nullopt if none has.
  Result<std::optional<wire::Reply>> poll_reply();

  // Concurrent requests. Any number of coroutines may await call() at once:
  // each message is sealed and queued in call order, one writer coroutine
  // sends what is queued, one reader coroutine hands each reply to the
  // caller whose message it answers (by operation id in protocol version
  // 2; in version 1 replies come in the order of the messages). Both coroutines start with the
  // first call() and keep reading while no call is pending, so a server that closes the connection
  // is noticed at once (is_open() turns false).
  //
  // Fails with too_large for a message above max_payload() (the connection
  // stays usable). When the connection fails (peer closed, reply_timeout
  // without progress, bad tag, error frame, close()), every pending call
  // fails with that error and later calls fail at once with it; nothing is
  // re-sent. The message bytes are sealed before call() first suspends, so
  // they need not outlive that.
  asio::awaitable<Result<wire::Reply>> call(util::ByteSpan message);
  // False once the connection has failed or was closed.
  bool is_open() const { return !error_ && socket_.is_open(); }
  // Calls sent or queued and not yet answered.
  std::size_t pending() const noexcept { return pending_.size(); }

  std::string description() const { return channel_->description(); }
  // The application protocol version the handshake settled on (1 or 2).
  int protocol_version() const { return channel_->protocol_version(); }
  channel::PeerIdentity peer() const { return channel_->peer(); }
  std::uint32_t max_payload() const { return channel_->max_payload(); }
  // Closes the socket. Pending call()s fail with operation_canceled.
  void close();
  // f runs once, on the connection's executor, when the connection fails or
  // is closed (after pending call()s have been failed). Replaces an earlier f.
  void on_close(std::function<void()> f) { close_hook_ = std::move(f); }

  Connection(asio::ip::tcp::socket socket, std::unique_ptr<channel::Channel> channel,
             ClientOptions options);

 private:
  asio::awaitable<Result<void>> handshake();
  asio::awaitable<Result<void>> read_more();
  asio::awaitable<Result<void>> write_out();
  void arm(std::chrono::milliseconds timeout) { deadline_.arm(timeout); }
  void disarm() { deadline_.disarm(); }
  Error io_error(std::error_code ec, const char* what) const;

  // The application protocol, from the version the handshake chose.
  proto::Session& session();
  // Opens a message operation (seals it into out_).
  Result<std::uint32_t> open_message(util::ByteSpan message);
  // Runs every verified frame through the session: answers land in
  // answered_; a violation is returned (with an ERROR frame queued).
  // Stops early once the answer to `want` has arrived.
  Result<void> take_frames(std::optional<std::uint32_t> want = std::nullopt);
  std::optional<Result<wire::Reply>> take_answer(std::uint32_t op);

  // call(): see client.cpp.
  struct Pending;
  void start_pump();
  asio::awaitable<void> write_loop(std::shared_ptr<Connection> self);
  asio::awaitable<void> read_loop(std::shared_ptr<Connection> self);
  Result<void> deliver_replies();
  // Writes queued channel output at once, without waiting (best effort).
  void tell_peer_now();
  void fail(Error e, bool tell_peer = false);
  void shut_down();

  asio::ip::tcp::socket socket_;
  // Closes the socket when it passes while armed, which ends the operation
  // in progress with operation_aborted (seen as a timeout through timed_out_).
  Deadline deadline_;
  std::unique_ptr<channel::Channel> channel_;
  ClientOptions options_;
  util::Bytes out_;
  util::Bytes in_;
  bool timed_out_ = false;
  // call() state.
  asio::steady_timer wake_;  // the writer sleeps on it while out_ is empty
  std::optional<proto::Session> session_;
  std::deque<std::uint32_t> queued_;  // queue(): operations in the order queued
  // Answers not yet taken, in the order they arrived: mostly none or one
  // (a vector, not a map or a deque: no allocation per message).
  std::vector<std::pair<std::uint32_t, Result<wire::Reply>>> answered_;
  auto find_answer(std::uint32_t op) {
    return std::find_if(answered_.begin(), answered_.end(),
                        [op](const auto& a) { return a.first == op; });
  }
  std::unordered_map<std::uint32_t, std::shared_ptr<Pending>> pending_;  // call()
  util::Bytes writing_;  // what the writer has on the wire
  std::optional<Error> error_;
  bool pumping_ = false;
  bool write_busy_ = false;
  std::function<void()> close_hook_;
};

}  // namespace signet::net
