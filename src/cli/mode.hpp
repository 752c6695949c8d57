// Chooses the secure channel from the configuration (docs/PROTOCOL.md,
// "Telling the modes apart"):
//
//   - Shared-key mode when a shared key is configured (SHARED_SECRET_KEY or
//     --psk-file) and --identity is not given: the behaviour before key mode.
//   - Key mode (TLS 1.3) when no shared key is configured, or when --identity
//     is given. With both, a client proves the shared key inside TLS too (the
//     binding frame), and a server serves both modes on one port; with
//     --require-psk a server runs key mode only and admits only clients that
//     prove the shared key as well as an authorized key.
//
// Key mode uses the identity from --identity or the default identity in the
// configuration directory, which is created (with a notice) the first time.
#pragma once

#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "api/message_client.hpp"
#include "api/receipt.hpp"
#include "cli/common.hpp"
#include "net/client.hpp"
#include "net/server.hpp"

namespace signet::cli {

struct ChannelOptions {
  // Shared-key mode.
  SharedKeySources psk;  // --psk-file, --psk-credential, psk (configuration file only)
  std::vector<std::string> algorithms;  // suite names, preference order (--algorithms, --mac)
  std::uint32_t max_message = wire::kDefaultMaxPayload;
  int max_protocol = 2;  // --protocol: the highest version offered or accepted
  // Key mode, both sides.
  std::string identity;  // empty: the default identity
  std::string passphrase_file;
  // Key mode, server.
  std::string authorized_keys;  // empty: in the configuration directory
  std::string add_keys;         // a directory of .pub files to admit before serving
  bool require_psk = false;
  // Key mode, client.
  std::string known_hosts;  // empty: in the configuration directory
  bool accept_new = false;
  std::string server_key;  // "SHA256:..." the server must present
};

void add_channel_options(CLI::App* cmd, ChannelOptions& options, bool server);
// signet chat listens or calls: both sets of options.
enum class ChannelSide { server, client, both };
void add_channel_options(CLI::App* cmd, ChannelOptions& options, ChannelSide side);

struct ServerMode {
  net::ChannelFactory factory;
  std::string description;  // for the first line the program prints
  // What SIGHUP re-reads, without touching open connections: in key mode
  // authorized_keys (logged as it is read). Empty when there is nothing.
  std::function<void()> reload;
  // Key mode: the identity key, which signs receipts (api/receipt.hpp).
  std::shared_ptr<const crypto::PrivateKey> receipt_key;
  // Shared-key mode: the key derived from the shared key that authenticates
  // receipts on shared-key connections, as of now (SIGHUP may re-read the
  // shared key: connections made after get the new one's).
  std::function<std::shared_ptr<const SharedReceiptKey>()> receipt_shared_key;
  // Shared-key mode: the key derived from the shared key that authenticates
  // the audit log's checkpoints when there is no identity key (the key at
  // start: a log's checkpoints keep it until a restart).
  std::shared_ptr<const SharedMacKey> audit_shared_key;
};
// Loads keys, imports --add-keys and builds the TLS context once. Notices
// (a new identity, the import report) go to stderr; authorized_keys
// warnings to the log.
// Wipes options.psk.config once the key is taken.
Result<ServerMode> make_server_mode(ChannelOptions& options);

struct ClientMode {
  net::Connection::ChannelMaker make_channel;
  std::string description;
  bool key_mode = false;
  std::string fingerprint;  // key mode: the client's own key's
  // Shared-key mode: what a shared-key server's receipts are checked with.
  std::shared_ptr<const SharedReceiptKey> receipt_shared_key;
};
// server is where known_hosts pins the key (and what the trust prompt names).
// Wipes options.psk.config once the key is taken.
Result<ClientMode> make_client_mode(ChannelOptions& options, const net::HostPort& server);

// The text a client prints for e: key-mode refusals are whole sentences
// ("not authorized by this server (your key SHA256:...)") and are printed as
// they are.
std::string client_error_message(const Error& e, const ClientMode& mode);

}  // namespace signet::cli
