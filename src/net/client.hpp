// signet::net::Connection: the client end of one secure channel.
#pragma once

#include <chrono>
#include <functional>
#include <memory>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include "channel/channel.hpp"
#include "net/address.hpp"
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
  void queue(util::ByteSpan message);
  asio::awaitable<Result<void>> flush();
  asio::awaitable<Result<wire::Reply>> next_reply();
  // A reply that has already arrived, without waiting; nullopt if none has.
  Result<std::optional<wire::Reply>> poll_reply();

  std::string description() const { return channel_->description(); }
  channel::PeerIdentity peer() const { return channel_->peer(); }
  std::uint32_t max_payload() const { return channel_->max_payload(); }
  void close();

  Connection(asio::ip::tcp::socket socket, std::unique_ptr<channel::Channel> channel,
             ClientOptions options);

 private:
  asio::awaitable<Result<void>> handshake();
  asio::awaitable<Result<void>> read_more();
  asio::awaitable<Result<void>> write_out();
  asio::awaitable<void> watchdog(std::weak_ptr<Connection> weak);
  void arm(std::chrono::milliseconds timeout);
  void disarm();
  Error io_error(std::error_code ec, const char* what) const;

  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  std::unique_ptr<channel::Channel> channel_;
  ClientOptions options_;
  util::Bytes out_;
  util::Bytes in_;
  std::chrono::steady_clock::time_point deadline_;
  bool armed_ = false;
  bool timed_out_ = false;
  bool failed_ = false;
};

}  // namespace signet::net
