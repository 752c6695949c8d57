// signet::MessageClient: messages over one client connection, in either
// protocol version: proto::Session on top of a net::Connection.
//
// Two ways to use it, not to be mixed on one connection:
//   - one coroutine at a time: request(), or queue()/flush()/next_reply() for
//     pipelining by hand (the CLI and the benchmark);
//   - call(), from any number of coroutines at once (signet::Client).
// Every member runs on the connection's executor.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>
#include <vector>

#include <asio/awaitable.hpp>

#include "api/receipt.hpp"
#include "net/client.hpp"
#include "proto/session.hpp"
#include "wire/wire.hpp"

namespace signet {

class MessageClient : public net::Application, public std::enable_shared_from_this<MessageClient> {
 public:
  // Opens a connection (net::Connection::open) for messages.
  static asio::awaitable<Result<std::shared_ptr<MessageClient>>> open(
      net::HostPort server, net::Connection::ChannelMaker make_channel,
      net::ClientOptions options = {});

  // Messages over a connection that is open (and not used for anything else).
  static std::shared_ptr<MessageClient> over(std::shared_ptr<net::Connection> connection);

  // Sends one message and waits for its reply.
  asio::awaitable<Result<wire::Reply>> request(util::ByteSpan message);
  // Sends one message asking for a signed receipt (key mode, protocol
  // version 2; unsupported_operation otherwise, and from a server that signs
  // none, which then does not deliver the message) and waits for its reply
  // and its receipt. The receipt is checked before it is returned: its
  // signature, its signer being the server's key this connection pinned,
  // this connection's session value, this message's size and SHA-256, this
  // reply's status and SHA-256; not_verified names what differs. That it
  // names the caller's own key (client_key) is the caller's to check.
  asio::awaitable<Result<std::pair<wire::Reply, Receipt>>> request_with_receipt(
      util::ByteSpan message);

  // Pipelining: queue() seals messages, flush() writes them, next_reply()
  // returns replies in the order the messages were queued. queue() fails
  // with busy when proto::kMaxOpenOperations messages are already waiting
  // for their replies.
  Result<void> queue(util::ByteSpan message);
  asio::awaitable<Result<void>> flush();
  asio::awaitable<Result<wire::Reply>> next_reply();
  // A reply that has already arrived, without waiting; nullopt if none has.
  Result<std::optional<wire::Reply>> poll_reply();

  // Concurrent requests. Any number of coroutines may await call() at once:
  // each message is sealed and queued in call order, the connection's writer
  // sends what is queued, and each reply goes to the caller whose message it
  // answers (by operation id in protocol version 2; in version 1 replies come
  // in the order of the messages). The connection is pumped from the first
  // call() on (net::Connection::start).
  //
  // Fails with too_large for a message above max_payload() (the connection
  // stays usable). When the connection fails (peer closed, reply_timeout
  // without progress, bad tag, error frame, close()), every pending call
  // fails with that error and later calls fail at once with it; nothing is
  // re-sent. The message bytes are sealed before call() first suspends, so
  // they need not outlive that.
  asio::awaitable<Result<wire::Reply>> call(util::ByteSpan message);
  // Calls sent or queued and not yet answered.
  std::size_t pending() const noexcept { return pending_.size(); }

  bool is_open() const { return connection_->is_open(); }
  std::string description() const { return connection_->description(); }
  int protocol_version() const { return connection_->protocol_version(); }
  channel::PeerIdentity peer() const { return connection_->peer().identity; }
  std::uint32_t max_payload() const { return connection_->max_payload(); }
  // Closes the connection. Pending call()s fail with operation_canceled.
  void close() { connection_->close(); }
  // f runs once, on the connection's executor, when the connection fails or
  // is closed (after pending call()s have been failed). Replaces an earlier f.
  void on_close(std::function<void()> f) { close_hook_ = std::move(f); }

  // net::Application (pumped): the server's frames.
  asio::awaitable<Result<void>> receive(net::Link& link) override;

 private:
  struct Pending;
  explicit MessageClient(std::shared_ptr<net::Connection> connection);
  Result<void> check_size(util::ByteSpan message) const;
  // Opens a message operation (seals it into the connection's output).
  Result<std::uint32_t> open_message(util::ByteSpan message);
  // Runs every verified frame through the session: answers land in
  // answered_; a violation is returned. Stops early once the answer to
  // `want` has arrived.
  Result<void> take_frames(std::optional<std::uint32_t> want = std::nullopt);
  std::optional<Result<wire::Reply>> take_answer(std::uint32_t op);
  // Hands the answers that have arrived to their call()s.
  void deliver_replies();
  void closed(const Error& why);
  auto find_answer(std::uint32_t op) {
    return std::find_if(answered_.begin(), answered_.end(),
                        [op](const auto& a) { return a.first == op; });
  }

  std::shared_ptr<net::Connection> connection_;
  proto::Session session_;
  std::deque<std::uint32_t> queued_;  // queue(): operations in the order queued
  // Answers not yet taken, in the order they arrived: mostly none or one
  // (a vector, not a map or a deque: no allocation per message).
  std::vector<std::pair<std::uint32_t, Result<wire::Reply>>> answered_;
  std::unordered_map<std::uint32_t, std::shared_ptr<Pending>> pending_;  // call()
  // Receipts arriving (DATA) for the messages that asked for one.
  std::unordered_map<std::uint32_t, util::Bytes> receipts_;
  bool pumping_ = false;
  std::function<void()> close_hook_;
};

}  // namespace signet
