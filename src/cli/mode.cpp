#include "cli/mode.hpp"

#include "channel/psk_channel.hpp"
#include "cli/common.hpp"

namespace signet::cli {
namespace {

Result<std::vector<crypto::MacAlgorithm>> parse_macs(const std::vector<std::string>& names) {
  std::vector<crypto::MacAlgorithm> out;
  for (const auto& n : names) {
    auto a = crypto::mac_from_name(n);
    if (!a) {
      return Error(Errc::config,
                   "unknown MAC '" + n + "' (choose hmac-sha256, hmac-sha512 or blake2b-256)");
    }
    out.push_back(*a);
  }
  if (out.empty()) out.push_back(crypto::MacAlgorithm::hmac_sha256);
  return out;
}

std::string mac_list(const std::vector<crypto::MacAlgorithm>& macs) {
  std::string s;
  for (auto m : macs) s += (s.empty() ? "" : ",") + std::string(crypto::mac_name(m));
  return s;
}

Result<channel::PskSettings> psk_settings(const ChannelOptions& options) {
  auto key = load_shared_key(options.psk_file);
  if (!key) return key.error();
  if (!key->has_value()) {
    return Error(Errc::config, "no shared key: set SHARED_SECRET_KEY or pass --psk-file FILE");
  }
  auto macs = parse_macs(options.macs);
  if (!macs) return macs.error();
  return channel::PskSettings{std::move(**key), std::move(*macs), options.max_message};
}

}  // namespace

void add_channel_options(CLI::App* cmd, ChannelOptions& options, bool server) {
  cmd->add_option("--psk-file", options.psk_file,
                  "Read the shared key from FILE instead of SHARED_SECRET_KEY")
      ->type_name("FILE");
  cmd->add_option("--mac", options.macs,
                  server ? "MAC algorithms to allow, preferred first "
                           "(hmac-sha256, hmac-sha512, blake2b-256; default hmac-sha256)"
                         : "MAC algorithms to offer, preferred first (default hmac-sha256)")
      ->delimiter(',')
      ->type_name("LIST");
  cmd->add_option("--max-message", options.max_message,
                  "Largest message in bytes (default 1048576)")
      ->check(CLI::Range(1u, 64u * 1024 * 1024));
}

Result<ServerMode> make_server_mode(const ChannelOptions& options) {
  auto settings = psk_settings(options);
  if (!settings) return settings.error();
  ServerMode mode;
  mode.description = "shared-key mode (" + mac_list(settings->macs) + ")";
  mode.factory = [s = std::move(*settings)](
                     util::ByteSpan first,
                     const asio::ip::tcp::endpoint&) -> Result<std::unique_ptr<channel::Channel>> {
    if (!first.empty() && first[0] == 0x16) {
      return Error(Errc::wrong_mode,
                   "the client speaks TLS (key mode) but this server runs shared-key mode");
    }
    return std::unique_ptr<channel::Channel>(new channel::PskServerChannel(s));
  };
  return mode;
}

Result<ClientMode> make_client_mode(const ChannelOptions& options, const net::HostPort&) {
  auto settings = psk_settings(options);
  if (!settings) return settings.error();
  ClientMode mode;
  mode.description = "shared-key mode (" + mac_list(settings->macs) + ")";
  mode.make_channel = [s = std::move(*settings)]() -> std::unique_ptr<channel::Channel> {
    return std::make_unique<channel::PskClientChannel>(s);
  };
  return mode;
}

}  // namespace signet::cli
