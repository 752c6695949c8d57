#include "cli/mode.hpp"

#include "api/signet.hpp"

#include <pwd.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>
#include <mutex>

#include "api/audit_log.hpp"
#include "channel/psk_channel.hpp"
#include "channel/tls_channel.hpp"
#include "cli/common.hpp"
#include "cli/key_commands.hpp"
#include "keys/known_hosts.hpp"
#include "keys/paths.hpp"
#include "util/encoding.hpp"

namespace signet::cli {
namespace {

namespace fs = std::filesystem;

// The first byte of a TLS handshake record (RFC 8446 section 5.1).
constexpr std::uint8_t kTlsHandshakeRecord = 0x16;

std::string shown(const fs::path& p) {
  return util::escape_for_display(p.string());
}

Result<std::vector<crypto::Suite>> parse_suites(const std::vector<std::string>& names) {
  std::vector<crypto::Suite> out;
  for (const auto& n : names) {
    auto a = crypto::suite_from_name(n);
    if (!a) {
      return Error(Errc::config, "unknown algorithm '" + util::escape_for_display(n) +
                                     "' (choose from aes-256-gcm, chacha20-poly1305, "
                                     "hmac-sha256, hmac-sha512, blake2b-256)");
    }
    if (std::find(out.begin(), out.end(), *a) == out.end()) out.push_back(*a);
  }
  if (out.size() > wire::kMaxMacOffers) {
    return Error(Errc::config, "at most " + std::to_string(wire::kMaxMacOffers) + " algorithms");
  }
  if (out.empty()) out.assign(std::begin(crypto::kDefaultSuites), std::end(crypto::kDefaultSuites));
  return out;
}

// "aes-256-gcm, chacha20-poly1305, hmac-sha256; encrypted unless the client
// offers only hmac-sha256": what a first line says before any handshake.
// unless: how the peer could make it a MAC ("the client offers only").
std::string suite_list(const std::vector<crypto::Suite>& suites, const char* unless) {
  std::string names, clear;
  bool any_aead = false;
  for (auto a : suites) {
    names += (names.empty() ? "" : ", ") + std::string(crypto::suite_name(a));
    if (crypto::encrypts(a)) {
      any_aead = true;
    } else {
      clear += (clear.empty() ? "" : ", ") + std::string(crypto::suite_name(a));
    }
  }
  if (!any_aead) return names + "; not encrypted";
  if (clear.empty()) return names + "; encrypted";
  return names + "; encrypted unless " + unless + " " + clear;
}

using SharedKey = std::shared_ptr<const crypto::SecretBytes>;

Result<channel::PskSettings> psk_settings(SharedKey key, const ChannelOptions& options) {
  auto suites = parse_suites(options.algorithms);
  if (!suites) return suites.error();
  return channel::PskSettings{std::move(key), std::move(*suites), options.max_message,
                              options.max_protocol};
}

// The configuration directory, created (with a notice) if missing.
Result<fs::path> config_dir() {
  auto dir = keys::ensure_config_dir();
  if (!dir) return dir.error();
  if (dir->created) {
    std::cerr << "signet: created configuration directory " << shown(dir->path) << " (mode 0700)"
              << std::endl;
  }
  return dir->path;
}

// --identity, or the default identity, created on first use.
Result<crypto::PrivateKey> load_identity(const ChannelOptions& o) {
  const crypto::PassphraseProvider passphrase = o.passphrase_file.empty()
                                                    ? tty_passphrase_provider()
                                                    : passphrase_file_provider(o.passphrase_file);
  if (!o.identity.empty()) {
    std::error_code ec;
    if (!fs::exists(o.identity, ec)) {
      return Error(Errc::config, "identity " + shown(o.identity) +
                                     " does not exist; create it with `signet keygen -f " +
                                     shown(o.identity) + "`");
    }
    return crypto::PrivateKey::load(o.identity, passphrase);
  }
  auto dir = keys::config_dir_path();
  if (!dir) return dir.error();
  if (auto found = keys::find_default_identity(*dir)) {
    return crypto::PrivateKey::load(*found, passphrase);
  }
  auto made = config_dir();
  if (!made) return made.error();
  auto key = crypto::PrivateKey::generate(crypto::KeyType::ed25519);
  if (!key) return key.error();
  const fs::path path = keys::default_identity_path(*made);
  if (auto saved = key->save(path, default_comment()); !saved) return saved.error();
  std::cerr << "signet: created a new identity " << key->public_key().fingerprint() << " in "
            << shown(path) << std::endl;
  return key;
}

Result<fs::path> file_in_config_dir(const std::string& option,
                                    fs::path (*name)(const fs::path& dir)) {
  if (!option.empty()) return fs::path(option);
  auto dir = config_dir();
  if (!dir) return dir.error();
  return name(*dir);
}

void log_reload(const keys::AuthorizedKeysFile& file,
                const keys::AuthorizedKeysFile::Snapshot& snapshot, bool first) {
  for (const auto& w : snapshot.warnings) spdlog::warn("authorized_keys: {}", w);
  const std::size_t n = snapshot.keys->entries().size();
  if (first) {
    spdlog::info("{}: {} key(s) authorized", shown(file.path()), n);
  } else {
    spdlog::info("{} changed: {} key(s) authorized now", shown(file.path()), n);
  }
  if (n == 0) {
    spdlog::warn(
        "no key is authorized: add one with `signet keys add KEY.pub` (no restart needed)");
  }
}

// Key mode's server side: the TLS context, and the authorized_keys policy
// each connection's channel checks client keys against.
struct KeyModeServer {
  std::shared_ptr<const channel::TlsServerContext> context;
  std::shared_ptr<const AuthorizedKeysPolicy> authorized_keys;
  std::shared_ptr<const crypto::PrivateKey> identity;  // signs receipts
};

Result<KeyModeServer> make_tls_server(const ChannelOptions& options, SharedKey psk,
                                      std::string& description, std::function<void()>& reload) {
  auto identity = load_identity(options);
  if (!identity) return identity.error();
  auto path = file_in_config_dir(options.authorized_keys, keys::authorized_keys_path);
  if (!path) return path.error();
  if (!options.add_keys.empty()) {
    auto report = keys::import_directory(*path, options.add_keys);
    if (!report) {
      return Error(report.error().code,
                   "cannot import --add-keys " + options.add_keys + ": " + report.error().detail);
    }
    // The first line on stdout says the mode; the report goes to stderr.
    print_import_report(*report, std::cerr, std::cerr);
  }
  auto file = std::make_shared<keys::AuthorizedKeysFile>(*path);
  log_reload(*file, file->current(), true);

  channel::TlsServerSettings s;
  s.psk = std::move(psk);
  s.require_psk = options.require_psk;
  s.max_payload = options.max_message;
  s.max_protocol = options.max_protocol;
  // Worker threads may reload at once; the file serialises reads, this the log lines.
  auto log_mutex = std::make_shared<std::mutex>();
  AuthorizedKeysPolicy policy;
  policy.file = file;
  policy.on_reload = [file = file.get(),
                      log_mutex](const keys::AuthorizedKeysFile::Snapshot& snap) {
    std::lock_guard lock(*log_mutex);
    log_reload(*file, snap, false);
  };
  // The policy holds the file for as long as the server runs; so does this.
  reload = [file, log_mutex] {
    const auto snap = file->reload();
    std::lock_guard lock(*log_mutex);
    for (const auto& w : snap.warnings) spdlog::warn("authorized_keys: {}", w);
    spdlog::info("SIGHUP: re-read {}: {} key(s) authorized", shown(file->path()),
                 snap.keys->entries().size());
  };
  const bool bound = s.require_psk;
  auto ctx = channel::TlsServerContext::create(*identity, std::move(s));
  if (!ctx) return ctx.error();
  description = "key mode (TLS 1.3, identity " + identity->public_key().fingerprint() +
                (bound ? ", shared key required" : "") + ")";
  return KeyModeServer{std::move(*ctx),
                       std::make_shared<const AuthorizedKeysPolicy>(std::move(policy)),
                       std::make_shared<const crypto::PrivateKey>(std::move(*identity))};
}

// --- The client's known_hosts policy ---

struct HostKeyPolicy {
  keys::KnownHosts known_hosts;
  std::string host;        // normalized "host:port"
  std::string server_key;  // --server-key, or empty
  bool accept_new = false;
  bool interactive = false;  // stdin is a terminal: ask
};

bool ask_to_trust(const HostKeyPolicy& p, const crypto::PublicKey& key) {
  std::cerr << "The server " << p.host << " presents the key " << key.fingerprint() << " ("
            << crypto::key_type_label(key.type()) << "), which is not in "
            << shown(p.known_hosts.path()) << ".\n"
            << "Compare it with the server's `signet fingerprint` before you answer.\n"
            << "Trust it? [y/N] " << std::flush;
  std::string answer;
  if (!std::getline(std::cin, answer)) return false;
  return answer == "y" || answer == "Y" || answer == "yes";
}

Result<void> pin_new(HostKeyPolicy& p, const crypto::PublicKey& key, const char* why) {
  auto added = p.known_hosts.add(p.host, key, "pinned " + keys::format_utc(keys::Clock::now()));
  if (!added) {
    return Error(Errc::host_key_unknown, "cannot pin the server's key in " +
                                             shown(p.known_hosts.path()) + ": " +
                                             added.error().message());
  }
  std::cerr << "signet: pinned the server key " << key.fingerprint() << " for " << p.host << " in "
            << shown(p.known_hosts.path()) << " (" << why << ")" << std::endl;
  return {};
}

Error unpinned_error(const HostKeyPolicy& p, const crypto::PublicKey& key) {
  return Error(Errc::host_key_unknown,
               "the server " + p.host + " presented the key " + key.fingerprint() +
                   ", which is not pinned in " + shown(p.known_hosts.path()) +
                   "; check it with the server's operator and pass --server-key " +
                   key.fingerprint() + ", or pass --accept-new to trust it on first use");
}

// Inside the handshake (the server has not yet proved it holds the key):
// refuse a changed key at once; a new key is only marked for confirm_host_key.
Result<channel::ServerKeyTrust> check_host_key(HostKeyPolicy& p, const crypto::PublicKey& key) {
  using channel::ServerKeyTrust;
  if (!p.server_key.empty() && p.server_key != key.fingerprint()) {
    return Error(Errc::host_key_changed, "the server " + p.host + " presented " +
                                             key.fingerprint() + ", not " + p.server_key +
                                             " (--server-key); refusing");
  }
  auto check = p.known_hosts.check(p.host, key);
  if (!check) {
    return Error(Errc::host_key_unknown, "cannot check the server's key against " +
                                             shown(p.known_hosts.path()) + ": " +
                                             check.error().message());
  }
  switch (check->status) {
    case keys::HostStatus::known:
      return ServerKeyTrust::trusted;
    case keys::HostStatus::changed: {
      const std::string line = std::to_string(check->line);
      return Error(Errc::host_key_changed,
                   "SERVER KEY CHANGED for " + p.host + ": pinned " + check->pinned->fingerprint() +
                       " (" + shown(p.known_hosts.path()) + " line " + line +
                       "), server presented " + key.fingerprint() +
                       " - refusing; someone may be intercepting the connection. If the change "
                       "is expected, remove line " +
                       line + " from " + shown(p.known_hosts.path()));
    }
    case keys::HostStatus::unknown:
      break;
  }
  if (!p.server_key.empty()) return ServerKeyTrust::trusted;  // named out of band
  if (p.accept_new || p.interactive) return ServerKeyTrust::confirm;
  return unpinned_error(p, key);
}

// After the handshake, for a key check_host_key marked: the server has now
// proved it holds the key, and its handshake is over (the prompt cannot make
// it time out).
Result<void> confirm_host_key(HostKeyPolicy& p, const crypto::PublicKey& key) {
  if (p.accept_new) return pin_new(p, key, "--accept-new");
  if (p.interactive) {
    if (ask_to_trust(p, key)) return pin_new(p, key, "trusted at the prompt");
    return Error(Errc::host_key_unknown,
                 "the server key " + key.fingerprint() + " for " + p.host + " was not trusted");
  }
  return unpinned_error(p, key);
}

}  // namespace

void add_channel_options(CLI::App* cmd, ChannelOptions& options, bool server) {
  add_channel_options(cmd, options, server ? ChannelSide::server : ChannelSide::client);
}

void add_channel_options(CLI::App* cmd, ChannelOptions& options, ChannelSide side) {
  const bool server = side == ChannelSide::server;
  cmd->add_option("--psk-file", options.psk.file,
                  "Read the shared key from FILE instead of SHARED_SECRET_KEY")
      ->type_name("FILE");
  cmd->add_option("--psk-credential", options.psk.credential,
                  "Read the shared key from the systemd credential NAME "
                  "($CREDENTIALS_DIRECTORY/NAME, LoadCredential=)")
      ->type_name("NAME");
  // The key itself, for the configuration file only (check_config_secrets
  // refuses it on the command line and in a file others may read). Hidden
  // from --help: nobody should type a key into a command line.
  cmd->add_option("--psk", options.psk.config)->group("");
  cmd->add_option("--algorithms,--mac", options.algorithms,
                  std::string(side == ChannelSide::both
                                  ? "Shared-key algorithms to offer (listening: to allow)"
                              : server ? "Shared-key algorithms to allow"
                                       : "Shared-key algorithms to offer") +
                      ", preferred first: aes-256-gcm, chacha20-poly1305 (encrypted), "
                      "hmac-sha256, hmac-sha512, blake2b-256 (authenticated, not encrypted); "
                      "default aes-256-gcm,chacha20-poly1305,hmac-sha256")
      ->delimiter(',')
      ->type_name("LIST");
  cmd->add_option("--max-message", options.max_message,
                  "Largest message in bytes (default 1048576)")
      ->check(CLI::Range(1u, 64u * 1024 * 1024));
  cmd->add_option("--protocol", options.max_protocol,
                  std::string("Highest application protocol version to ") +
                      (side == ChannelSide::both ? "offer or accept"
                       : server                  ? "accept"
                                                 : "offer") +
                      ": 2 (default), or 1 to speak only as the first release did")
      ->check(CLI::Range(1, 2));
  cmd->add_option("--identity,-i", options.identity,
                  "Key mode with this private key (default: the default identity, created on "
                  "first use); with a shared key configured too, "
                  "key mode and the shared key are both used")
      ->type_name("FILE");
  cmd->add_option("--passphrase-file", options.passphrase_file,
                  "Read the identity's passphrase from the first line of FILE")
      ->type_name("FILE");
  if (side != ChannelSide::client) {
    cmd->add_option("--authorized-keys", options.authorized_keys,
                    "Client keys to admit (default: authorized_keys in the configuration "
                    "directory; re-read when it changes)")
        ->type_name("FILE");
    cmd->add_option("--add-keys", options.add_keys,
                    "Admit the key of every *.pub file in DIR before serving")
        ->type_name("DIR");
    cmd->add_flag("--require-psk", options.require_psk,
                  "Key mode only, and clients must also prove the shared key "
                  "(needs --identity and a shared key)");
  }
  if (side != ChannelSide::server) {
    cmd->add_option("--known-hosts", options.known_hosts,
                    "Pinned server keys (default: known_hosts in the configuration directory)")
        ->type_name("FILE");
    cmd->add_flag("--accept-new", options.accept_new,
                  "Pin the server's key if none is pinned yet (trust on first use)");
    cmd->add_option("--server-key", options.server_key,
                    "The server must present this key (as `signet fingerprint` prints it)")
        ->type_name("SHA256:...");
  }
}

namespace {

// Shared-key mode's settings, replaceable while connections start.
struct SharedSettings {
  std::optional<channel::PskSettings> current() {
    std::lock_guard lock(mutex);
    return settings;
  }
  std::shared_ptr<const SharedReceiptKey> current_receipt_key() {
    std::lock_guard lock(mutex);
    return receipt_key;
  }
  std::mutex mutex;
  std::optional<channel::PskSettings> settings;         // nullopt: shared-key mode not served
  std::shared_ptr<const SharedReceiptKey> receipt_key;  // of the same shared key
};

// SIGHUP in shared-key mode: the key is read again from --psk-file or
// --psk-credential (SHARED_SECRET_KEY is gone from the environment once
// read, and psk in the configuration file needs a restart). A key that
// cannot be read keeps the old one.
std::function<void()> shared_key_reload(std::shared_ptr<SharedSettings> shared,
                                        const ChannelOptions& options) {
  if (options.psk.file.empty() && options.psk.credential.empty()) {
    return [] {
      spdlog::info(
          "SIGHUP: the shared key came from SHARED_SECRET_KEY or the configuration file and is "
          "not re-read; restart to change it");
    };
  }
  SharedKeySources sources{options.psk.file, options.psk.credential, {}};
  return [shared, sources, options] {
    auto sources_copy = sources;
    auto key = load_shared_key(sources_copy);
    if (!key || !*key) {
      spdlog::error("SIGHUP: keeping the shared key: {}",
                    key ? std::string("no key") : key.error().message());
      return;
    }
    auto settings = psk_settings(**key, options);
    if (!settings) {
      spdlog::error("SIGHUP: keeping the shared key: {}", settings.error().message());
      return;
    }
    auto receipt_key = std::make_shared<const SharedReceiptKey>(***key);
    {
      std::lock_guard lock(shared->mutex);
      shared->settings = std::move(*settings);
      shared->receipt_key = std::move(receipt_key);
    }
    spdlog::info("SIGHUP: re-read the shared key; new connections use it");
  };
}

}  // namespace

Result<ServerMode> make_server_mode(ChannelOptions& options) {
  auto key = load_shared_key(options.psk);
  if (!key) return key.error();
  SharedKey psk = key->value_or(nullptr);
  const bool key_mode = !psk || !options.identity.empty();
  if (options.require_psk && (!psk || options.identity.empty())) {
    return Error(Errc::config,
                 "--require-psk needs both --identity and a shared key (SHARED_SECRET_KEY or "
                 "--psk-file)");
  }
  // Shared-key clients are served unless the shared key must come with a key.
  const bool shared_key_mode = psk && !options.require_psk;

  ServerMode mode;
  KeyModeServer tls;
  // The shared-key settings new connections get; SIGHUP may replace them
  // (open connections keep the copy they started with).
  auto shared = std::make_shared<SharedSettings>();
  std::string key_description, shared_description;
  if (key_mode) {
    auto made = make_tls_server(options, psk, key_description, mode.reload);
    if (!made) return made.error();
    tls = std::move(*made);
    mode.receipt_key = tls.identity;
  }
  if (shared_key_mode) {
    auto settings = psk_settings(psk, options);
    if (!settings) return settings.error();
    shared_description =
        "shared-key mode (" + suite_list(settings->suites, "the client offers only") + ")";
    shared->settings = std::move(*settings);
    shared->receipt_key = std::make_shared<const SharedReceiptKey>(*psk);
    mode.receipt_shared_key = [shared] { return shared->current_receipt_key(); };
    mode.audit_shared_key = audit_shared_key(*psk);
  }
  if (shared_key_mode && !key_mode) {
    mode.reload = shared_key_reload(shared, options);
  } else if (shared_key_mode && (!options.psk.file.empty() || !options.psk.credential.empty())) {
    // Key mode's TLS context holds the key too (the binding); both would
    // have to change at once.
    auto reload_keys = std::move(mode.reload);
    mode.reload = [reload_keys] {
      if (reload_keys) reload_keys();
      spdlog::info("SIGHUP: the shared key is not re-read while key mode is served too; restart");
    };
  }
  if (tls.context && shared_key_mode) {
    // Documented, but easy to miss: the shared key alone is a way in.
    spdlog::warn(
        "serving key mode and shared-key mode: a client holding the shared key is admitted "
        "without any key in authorized_keys; pass --require-psk to require both");
  }
  mode.description = key_description.empty()      ? shared_description
                     : shared_description.empty() ? key_description
                                                  : key_description + " and " + shared_description;
  const bool require_psk = options.require_psk;
  mode.factory = [tls, shared, require_psk](util::ByteSpan first, const asio::ip::tcp::endpoint& ep)
      -> Result<std::unique_ptr<channel::Channel>> {
    if (!first.empty() && first[0] == kTlsHandshakeRecord) {
      if (!tls.context) {
        return Error(Errc::wrong_mode,
                     "the client speaks TLS (key mode) but this server runs shared-key mode only");
      }
      return std::unique_ptr<channel::Channel>(new channel::TlsServerChannel(
          tls.context,
          signet::authorized_keys_check(tls.authorized_keys, signet::peer_address(ep))));
    }
    auto settings = shared->current();
    if (!settings) {
      if (!first.empty() && first[0] == wire::kMagic[0]) {
        return Error(Errc::wrong_mode,
                     require_psk ? "this server admits only key-mode clients that also prove the "
                                   "shared key: use --identity on the client"
                                 : "the client uses shared-key mode but this server runs key mode "
                                   "(TLS 1.3) only: unset SHARED_SECRET_KEY on the client");
      }
      return Error(Errc::bad_magic, "the client speaks neither TLS nor signet");
    }
    return std::unique_ptr<channel::Channel>(new channel::PskServerChannel(*settings));
  };
  return mode;
}

Result<ClientMode> make_client_mode(ChannelOptions& options, const net::HostPort& server) {
  auto key = load_shared_key(options.psk);
  if (!key) return key.error();
  SharedKey psk = key->value_or(nullptr);
  ClientMode mode;
  if (psk && options.identity.empty()) {
    auto settings = psk_settings(psk, options);
    if (!settings) return settings.error();
    mode.description =
        "shared-key mode (" + suite_list(settings->suites, "the server allows only") + ")";
    mode.make_channel = [s = std::move(*settings)]() -> std::unique_ptr<channel::Channel> {
      return std::make_unique<channel::PskClientChannel>(s);
    };
    mode.receipt_shared_key = std::make_shared<const SharedReceiptKey>(*psk);
    return mode;
  }

  if (!options.server_key.empty() && !options.server_key.starts_with("SHA256:")) {
    return Error(Errc::config, "--server-key takes a fingerprint such as SHA256:" +
                                   std::string(43, 'x') + ", as `signet fingerprint` prints it");
  }
  auto host = keys::normalize_host_port(server.to_string());
  if (!host) return host.error();
  auto known_hosts = file_in_config_dir(options.known_hosts, keys::known_hosts_path);
  if (!known_hosts) return known_hosts.error();
  auto identity = load_identity(options);
  if (!identity) return identity.error();

  auto policy = std::make_shared<HostKeyPolicy>(
      HostKeyPolicy{keys::KnownHosts(*known_hosts), *host, options.server_key, options.accept_new,
                    ::isatty(STDIN_FILENO) == 1});
  channel::TlsClientSettings s;
  s.check_server_key = [policy](const crypto::PublicKey& k) { return check_host_key(*policy, k); };
  s.confirm_server_key = [policy](const crypto::PublicKey& k) {
    return confirm_host_key(*policy, k);
  };
  s.psk = psk;
  s.max_payload = options.max_message;
  s.max_protocol = options.max_protocol;
  auto ctx = channel::TlsClientContext::create(*identity, std::move(s));
  if (!ctx) return ctx.error();
  mode.key_mode = true;
  mode.fingerprint = identity->public_key().fingerprint();
  mode.description = "key mode (TLS 1.3, identity " + identity->public_key().fingerprint() +
                     (psk ? ", shared key bound" : "") + ")";
  mode.make_channel = [ctx = *ctx]() -> std::unique_ptr<channel::Channel> {
    return std::make_unique<channel::TlsClientChannel>(ctx);
  };
  return mode;
}

std::string client_error_message(const Error& e, const ClientMode& mode) {
  if (mode.key_mode && !e.detail.empty() &&
      (e.is(Errc::host_key_changed) || e.is(Errc::host_key_unknown) ||
       (e.is(Errc::not_authorized) && e.detail.starts_with("not authorized by this server")))) {
    return e.detail;
  }
  return e.message();
}

}  // namespace signet::cli
