// The signet library: a server that answers authenticated messages, and a
// client that sends them.
//
//   signet::Server server({.listen = {"127.0.0.1", 0}}, std::move(key),
//       [](const net::PeerInfo& peer, util::ByteSpan msg) -> asio::awaitable<wire::Reply> {
//         co_return wire::Reply{0, "hello " + peer.address};
//       });
//   auto bound = server.start();                       // serves on its own threads
//   signet::Client client({.server = {"127.0.0.1", bound->port()}}, std::move(key_copy));
//   auto reply = client.send("hi");                    // blocking, or
//   auto reply = co_await client.async_send("hi");     // from any coroutine
//
// Channels. Both sides take the channel as a plain net::ChannelFactory
// (server) or net::Connection::ChannelMaker (client), so this layer does not
// care which mode it runs: shared_key_server() / shared_key_client() build
// shared-key mode ones, and the constructors taking a crypto::SecretBytes are
// shorthand for them.
// key_mode_server() / key_mode_client() build key mode (TLS 1.3 with pinned
// identity keys) channels of the same two function types.
//
// Handlers see the verified peer (net::PeerInfo: address, channel
// description, and in key mode the key's fingerprint and comment). A handler
// is a plain function or a coroutine (net::SyncHandler / net::AsyncHandler);
// either runs on the connection's worker thread, and a sync handler blocks
// that thread's other connections while it runs. A handler that throws gets
// the peer status 255 and "internal error in the server's handler".
//
// Client delivery semantics. Many requests may be in flight at once, from any
// number of threads and coroutines; each caller gets the reply to its own
// message. A request whose connection breaks before its reply arrives fails
// (peer_closed, idle_timeout, bad_tag, ...) and is NEVER re-sent: it may or
// may not have been processed, and retrying is the caller's decision
// (at-least-once is opt-in). Only connecting is retried: a send while no
// connection is up (first use, or after the server closed or restarted)
// connects with up to RetryPolicy::attempts tries, backing off between them;
// if they all fail the send fails with the last error (unreachable, ...).
// Authentication failures (key_mismatch, wrong_mode, not_authorized, ...)
// are never retried.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/ip/tcp.hpp>

#include "api/message_client.hpp"
#include "channel/tls_channel.hpp"
#include "crypto/identity.hpp"
#include "crypto/mac.hpp"
#include "crypto/secret.hpp"
#include "crypto/suite.hpp"
#include "keys/authorized_keys.hpp"
#include "keys/ip_address.hpp"
#include "net/address.hpp"
#include "net/client.hpp"
#include "net/server.hpp"
#include "util/error.hpp"
#include "wire/wire.hpp"

namespace signet {

// --- Channels ----------------------------------------------------------------

struct SharedKeyOptions {
  // Server: allowed, preferred first. Client: offered, preferred first.
  // AEADs encrypt and authenticate; MACs only authenticate (crypto/suite.hpp).
  std::vector<crypto::Suite> algorithms{std::begin(crypto::kDefaultSuites),
                                        std::end(crypto::kDefaultSuites)};
  // Largest message (and reply) in bytes; both ends must agree.
  std::uint32_t max_message = wire::kDefaultMaxPayload;
};

// Shared-key mode server channels; a client that speaks TLS (key mode) is
// refused with wrong_mode.
net::ChannelFactory shared_key_server(crypto::SecretBytes key, SharedKeyOptions options = {});
// Shared-key mode client channels.
net::Connection::ChannelMaker shared_key_client(crypto::SecretBytes key,
                                                SharedKeyOptions options = {});

struct KeyModeServerOptions {
  // The client keys admitted, re-read when the file changes. Required.
  std::shared_ptr<keys::AuthorizedKeysFile> authorized_keys;
  // Also require clients to prove this shared key, bound to the TLS session.
  std::shared_ptr<const crypto::SecretBytes> psk = nullptr;
  std::uint32_t max_message = wire::kDefaultMaxPayload;
};

// Key mode server channels: TLS 1.3, this identity, clients admitted by
// authorized_keys (checked on every handshake, with the client's address,
// by authorized_keys_check()).
// Fails with config or io when the identity or settings are unusable
// (config when options.authorized_keys is null).
Result<net::ChannelFactory> key_mode_server(const crypto::PrivateKey& identity,
                                            KeyModeServerOptions options);

struct KeyModeClientOptions {
  // Accepts or refuses the server's key, e.g. pin_server_key(); required.
  channel::ServerKeyCheck check_server_key;
  // For a key the check answered ServerKeyTrust::confirm: decides after the
  // handshake (when the server has proved it holds the key), e.g. pins it.
  channel::ServerKeyConfirm confirm_server_key = nullptr;
  // Prove this shared key too (for a server that requires it).
  std::shared_ptr<const crypto::SecretBytes> psk = nullptr;
  std::uint32_t max_message = wire::kDefaultMaxPayload;
};

Result<net::Connection::ChannelMaker> key_mode_client(const crypto::PrivateKey& identity,
                                                      KeyModeClientOptions options);

// How a key-mode server admits client keys: by an authorized_keys file.
struct AuthorizedKeysPolicy {
  // Re-read when it changes; consulted on every handshake. Required.
  std::shared_ptr<keys::AuthorizedKeysFile> file;
  // The time expiry-time= is checked against; the system clock if empty.
  std::function<keys::Clock::time_point()> now;
  // Called with each snapshot that re-read authorized_keys (to log its
  // warnings once per reload); may run on any worker thread.
  std::function<void(const keys::AuthorizedKeysFile::Snapshot&)> on_reload;
};

// The ClientKeyCheck for one key-mode connection from `peer` (give it to
// that connection's channel::TlsServerChannel). It admits a key that the
// policy's authorized_keys admits from that address now, named by its
// line's comment; the admission's authorize applies the line's allow=,
// expiry-time= and from= to every operation the client opens (an operation
// kind unknown here fails with unsupported_operation). Refusals fail with
// not_authorized and the messages of keys::AuthorizedKeys::authorize. A
// policy without a file refuses every key.
channel::ClientKeyCheck authorized_keys_check(std::shared_ptr<const AuthorizedKeysPolicy> policy,
                                              keys::IpAddress peer);

// A server key check that admits exactly the key with this fingerprint
// ("SHA256:..."); any other key fails with host_key_changed naming both.
channel::ServerKeyCheck pin_server_key(std::string fingerprint);

// The peer address authorized_keys' from= is checked against; IPv4-mapped
// IPv6 addresses become IPv4.
keys::IpAddress peer_address(const asio::ip::tcp::endpoint& endpoint);

// The key in SHARED_SECRET_KEY (its bytes as they are), as `signet` reads it:
// the variable is wiped in place and removed from the environment. nullopt
// when it is unset or empty.
std::optional<crypto::SecretBytes> take_shared_key_from_environment();

// --- Server --------------------------------------------------------------------------

struct ServerConfig {
  net::HostPort listen{"127.0.0.1", 0};  // port 0: the kernel picks one
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds idle_timeout{std::chrono::seconds(300)};
  std::chrono::milliseconds frame_timeout{std::chrono::seconds(30)};
  // Memory for frames arriving, replies not yet written and connections in
  // their handshake, all connections together (net::ServerOptions).
  std::size_t max_buffered_bytes = std::size_t{256} << 20;
  std::size_t max_connections = 16384;  // more are refused with server_busy
  // Connections still in their handshake, in all and per source (net/admission.hpp).
  net::StartupLimits startups;
  // Handlers running at once, and requests waiting for a turn beyond those
  // (more are refused with server_busy); 0: no limit.
  std::size_t max_concurrent_handlers = 0;
  std::size_t max_queued_handlers = 0;
  unsigned threads = 0;  // worker threads; 0: one per core
};

// Serves on threads of its own from start() to stop() (or destruction).
// Not restartable: to serve again, make a new Server.
class Server {
 public:
  Server(ServerConfig config, net::ChannelFactory channel, net::Handler handler);
  // Serves what `application` makes of each connection instead of messages
  // only (net/link.hpp; message_service() is the application the other
  // constructors serve). max_concurrent_handlers and max_queued_handlers
  // are message_service()'s options and not used here.
  Server(ServerConfig config, net::ChannelFactory channel, net::ApplicationFactory application);
  // Shared-key mode: shared_key_server(std::move(key)).
  Server(ServerConfig config, crypto::SecretBytes key, net::Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts serving; returns the bound endpoint. Fails with
  // config when the address cannot be bound, or when already started.
  Result<asio::ip::tcp::endpoint> start();
  // Stops accepting, closes every connection and joins the threads; returns
  // once the port is free. Safe to call twice; not from a handler.
  void stop();

  // The bound port, 0 before start().
  std::uint16_t port() const noexcept;
  const net::ServerStats& stats() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// --- Client ----------------------------------------------------------------------------

struct RetryPolicy {
  unsigned attempts = 5;  // connection attempts per send that finds no connection; at least 1
  std::chrono::milliseconds initial_backoff{100};  // doubled after each failed attempt
  std::chrono::milliseconds max_backoff{2000};
};

struct ClientConfig {
  net::HostPort server{"127.0.0.1", 7878};
  std::chrono::milliseconds connect_timeout{std::chrono::seconds(10)};
  std::chrono::milliseconds handshake_timeout{std::chrono::seconds(10)};
  // A connection with requests in flight and no reply for this long is
  // closed; its requests fail with idle_timeout.
  std::chrono::milliseconds reply_timeout{std::chrono::seconds(60)};
  RetryPolicy retry;
};

// A client owns one io_context and the thread that runs it; one connection
// at a time lives there, opened on first use (or by connect()) and reopened
// after it breaks (see "Client delivery semantics" above). Every member is
// safe to call from any thread, except that the blocking ones must not be
// called from the client's own thread (a handler running on executor()):
// they return an Error there instead of deadlocking.
class Client {
 public:
  Client(ClientConfig config, net::Connection::ChannelMaker channel);
  // Shared-key mode: shared_key_client(std::move(key)).
  Client(ClientConfig config, crypto::SecretBytes key);
  // Closes the connection: requests still in flight fail with
  // operation_canceled. Waits up to ~2 s for the thread to finish them.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects now (with retries) instead of on the first send. Blocking.
  Result<void> connect();
  // Sends one message and waits for its reply. Blocking; the reply's status
  // is the server's (non-zero is not an Error here).
  Result<wire::Reply> send(std::string_view message);
  // The same from a coroutine on any executor; the message is copied when the
  // operation starts, and the caller resumes on its own executor. Any number
  // may be in flight at once.
  asio::awaitable<Result<wire::Reply>> async_send(std::string_view message);
  // Closes the connection (requests in flight fail); the next send reconnects.
  void disconnect();

  // Whether a connection is up right now (it may still break at any time).
  bool connected() const noexcept;
  // The client's own executor, for coroutines that want to run next to it.
  asio::any_io_executor executor() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace signet
