// signet::Server: a net::Server on a thread of its own (see signet.hpp).
#include <thread>

#include "api/message_service.hpp"
#include "api/signet.hpp"

namespace signet {

struct Server::Impl {
  std::unique_ptr<net::Server> server;
  std::thread thread;
  std::uint16_t port = 0;
  bool started = false;
  net::ServerStats final_stats;  // what stats() shows once the server is gone
};

Server::Server(ServerConfig config, net::ChannelFactory channel, net::Handler handler)
    : Server(config, std::move(channel),
             message_service(std::move(handler),
                             {config.max_concurrent_handlers, config.max_queued_handlers, {}})) {}

Server::Server(ServerConfig config, net::ChannelFactory channel,
               net::ApplicationFactory application)
    : impl_(std::make_unique<Impl>()) {
  net::ServerOptions options;
  options.listen = std::move(config.listen);
  options.handshake_timeout = config.handshake_timeout;
  options.idle_timeout = config.idle_timeout;
  options.frame_timeout = config.frame_timeout;
  options.max_buffered_bytes = config.max_buffered_bytes;
  options.max_connections = config.max_connections;
  options.startups = config.startups;
  options.threads = config.threads;
  impl_->server =
      std::make_unique<net::Server>(std::move(options), std::move(channel), std::move(application));
}

Server::Server(ServerConfig config, crypto::SecretBytes key, net::Handler handler)
    : Server(std::move(config), shared_key_server(std::move(key)), std::move(handler)) {}

Server::~Server() {
  stop();
}

Result<asio::ip::tcp::endpoint> Server::start() {
  if (impl_->started) return Error(Errc::config, "the server was started already");
  auto bound = impl_->server->listen();
  if (!bound) return bound.error();
  impl_->started = true;
  impl_->port = bound->port();
  // run() returns after stop(), even when stop() comes before it starts.
  impl_->thread = std::thread([server = impl_->server.get()] { server->run(); });
  return bound;
}

void Server::stop() {
  if (!impl_->server) return;
  impl_->server->stop();
  if (impl_->thread.joinable()) impl_->thread.join();
  const auto& s = impl_->server->stats();
  impl_->final_stats.connections = s.connections.load();
  impl_->final_stats.active = 0;
  impl_->final_stats.messages = s.messages.load();
  impl_->final_stats.rejected = s.rejected.load();
  impl_->final_stats.busy = s.busy.load();
  // Destroying the net::Server closes the listening socket and every connection.
  impl_->server.reset();
}

std::uint16_t Server::port() const noexcept {
  return impl_->port;
}

const net::ServerStats& Server::stats() const {
  return impl_->server ? impl_->server->stats() : impl_->final_stats;
}

}  // namespace signet
