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

#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "channel/channel.hpp"
#include "net/address.hpp"
#include "net/admission.hpp"
#include "net/link.hpp"
#include "util/error.hpp"
#include "wire/wire.hpp"

namespace signet::net {

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
  // The memory budget of all connections together: frames still arriving,
  // replies not yet written, and kHandshakeReserve for each connection in its
  // handshake. A connection whose input would take the total over it is
  // refused as busy, and so is a new connection when its reserve would.
  std::size_t max_buffered_bytes = std::size_t{256} << 20;
  // Connections at once; more are refused with server_busy.
  std::size_t max_connections = 16384;
  // Connections in their handshake, in all and per source (admission.hpp).
  StartupLimits startups;
  unsigned threads = 0;  // 0: one per core
  // Called (on the connection's thread) for a connection refused at its
  // handshake for its credentials: a key not admitted (not_authorized) or
  // a wrong shared key (key_mismatch); for an audit log. Not rate-limited
  // (--max-startups bounds how fast handshakes come): keep it cheap.
  std::function<void(const std::string& address, const Error& why)> on_refused_credentials{};
};

// What a connection in its handshake is counted for in max_buffered_bytes:
// a TLS handshake's state (measured at 47-63 KB) plus slack.
inline constexpr std::size_t kHandshakeReserve = 64 * 1024;
struct ServerStats {
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> active{0};
  std::atomic<std::uint64_t> messages{0};
  std::atomic<std::uint64_t> rejected{0};
  std::atomic<std::uint64_t> busy{0};  // connections and requests refused as busy
  std::atomic<std::int64_t> buffered_bytes{0};
};

class Server {
 public:
  // Each connection gets the channel `factory` makes, and once its handshake
  // is over, the application `application` makes (link.hpp).
  Server(ServerOptions options, ChannelFactory factory, ApplicationFactory application);
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
