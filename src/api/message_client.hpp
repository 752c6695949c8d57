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

  // What receipts from a shared-key server are checked with (a key derived
  // from the shared key; none: asking a shared-key server for one fails).
  void set_shared_receipt_key(std::shared_ptr<const SharedReceiptKey> key) {
    shared_receipt_key_ = std::move(key);
  }

  // Pipelining: queue() seals messages, flush() writes them, next_reply()
  // returns replies in the order the messages were queued. queue() fails
  // with busy when proto::kMaxOpenOperations messages are already waiting
  // for their replies. With receipt, the message asks for a signed receipt
  // (unsupported_operation at once without key mode or protocol version 2;
  // a server that signs none cancels the message undelivered, and its
  // answer is that error); next_answer() returns it with the reply.
  Result<void> queue(util::ByteSpan message, bool receipt = false);
  asio::awaitable<Result<void>> flush();
  asio::awaitable<Result<wire::Reply>> next_reply();
  // A reply that has already arrived, without waiting; nullopt if none has.
  Result<std::optional<wire::Reply>> poll_reply();

  // A reply and what came before it as its operation's DATA: for a message
  // queued with a receipt, the receipt's bytes (encode_receipt's framing),
  // not yet checked (check_message_receipt); empty otherwise, or when the
  // server sent none.
  struct Answer {
    wire::Reply reply;
    util::Bytes receipt;
  };
  // next_reply() and poll_reply() with the receipt. Either may be used for
  // any queued message; next_reply() and poll_reply() drop its receipt.
  asio::awaitable<Result<Answer>> next_answer();
  Result<std::optional<Answer>> poll_answer();
  // Checks the receipt that came with the reply to a message of `size` bytes
  // and SHA-256 `sha256` (check_receipt_for): its framing, its signature,
  // its signer being the server's key this connection pinned, this
  // connection's session value, the message's size and digest, the reply's
  // status and digest. not_verified when the receipt is empty (the server
  // answered without one) or names something else, bad_tag when its
  // signature does not verify. That it names the caller's own key
  // (client_key) is the caller's to check.
  Result<Receipt> check_message_receipt(util::ByteSpan receipt, std::uint64_t size,
                                        const crypto::Sha256Digest& sha256,
                                        const wire::Reply& reply) const;

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
  // Opens a message operation (seals it into the connection's output); with
  // receipt, one that asks for a signed receipt, whose DATA take_frames()
  // then collects (unsupported_operation without key mode or version 2).
  Result<std::uint32_t> open_message(util::ByteSpan message, bool receipt = false);
  // Takes the oldest queued message's answer off the queue, with its
  // receipt's bytes if any; nullopt if it has not arrived.
  std::optional<Result<Answer>> take_front();
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
  std::shared_ptr<const SharedReceiptKey> shared_receipt_key_;
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
