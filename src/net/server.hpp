// signet::net::Server: accepts connections and runs one secure channel each.
//
// Each worker thread owns one io_context, so a connection's coroutines never
// run concurrently and need no strand or lock. A connection that misbehaves
// (garbage, wrong key, tampering, stalling, oversize frames) ends itself, never
// the server or another connection.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <variant>

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "channel/channel.hpp"
#include "net/address.hpp"
#include "util/error.hpp"
#include "wire/wire.hpp"

namespace signet::net {

struct PeerInfo {
  std::string address;  // "127.0.0.1:50412"
  std::string mode;     // channel description, e.g. "shared-key hmac-sha256"
  channel::PeerIdentity identity;
};

// A handler answers each verified message with a status and a text. It is
// either a plain function or a coroutine; both run on the connection's thread.
using SyncHandler = std::function<wire::Reply(const PeerInfo&, util::ByteSpan message)>;
using AsyncHandler =
    std::function<asio::awaitable<wire::Reply>(const PeerInfo&, util::ByteSpan message)>;
using Handler = std::variant<SyncHandler, AsyncHandler>;

// Builds the channel for a new connection from its first bytes (so one port
// can tell shared-key mode from key mode) and the peer's address. An Error
// refuses the connection; its message is logged and, where the peer can read
// it, sent to the peer.
using ChannelFactory = std::function<Result<std::unique_ptr<channel::Channel>>(
    util::ByteSpan first_bytes, const asio::ip::tcp::endpoint& peer)>;

struct ServerOptions {
  HostPort listen{"127.0.0.1", 7878};
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(300)};
  // A frame that has started must be complete within this time, however
  // slowly its bytes trickle in (so a slow peer cannot pin a buffer).
  std::chrono::milliseconds frame_timeout{std::chrono::seconds(30)};
  // All connections together may hold at most this many bytes of frames still
  // arriving; a connection that would go over is refused as busy.
  std::size_t max_buffered_bytes = std::size_t{256} << 20;
  std::size_t max_connections = 16384;
  unsigned threads = 0;  // 0: one per core
};

struct ServerStats {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> active{0};
  std::atomic<std::uint64_t> messages{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::int64_t> buffered_bytes{0};
};

class Server {
 public:
  Server(ServerOptions options, ChannelFactory factory, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds and listens; returns the bound endpoint (port 0 picks a free port).
  Result<asio::ip::tcp::endpoint> listen();
  // Serves until stop(); returns after every worker thread has finished.
  void run();
  // Stops accepting and closes every connection. Safe from any thread.
  void stop();

  const ServerStats& stats() const noexcept;

  struct Impl;  // defined in server.cpp; public so its connection sessions can name it

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace signet::net
