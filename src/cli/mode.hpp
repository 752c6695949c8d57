// Chooses the secure channel from the configuration: shared-key mode when a
// shared key is configured (SHARED_SECRET_KEY or --psk-file).
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "net/client.hpp"
#include "net/server.hpp"

namespace signet::cli {

struct ChannelOptions {
  std::string psk_file;
  std::vector<std::string> macs;  // names, preference order
  std::uint32_t max_message = wire::kDefaultMaxPayload;
};

void add_channel_options(CLI::App* cmd, ChannelOptions& options, bool server);

struct ServerMode {
  net::ChannelFactory factory;
  std::string description;  // for the first line the program prints
};
Result<ServerMode> make_server_mode(const ChannelOptions& options);

struct ClientMode {
  net::Connection::ChannelMaker make_channel;
  std::string description;
};
Result<ClientMode> make_client_mode(const ChannelOptions& options, const net::HostPort& server);

}  // namespace signet::cli
