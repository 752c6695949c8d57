// Channel builders for the library (see signet.hpp), and the authorized_keys
// check key-mode servers give their channels.
#include <cstdlib>
#include <cstring>
#include <string>

#include "api/signet.hpp"
#include "channel/psk_channel.hpp"
#include "proto/frames.hpp"

namespace signet {

namespace {

channel::PskSettings psk_settings(crypto::SecretBytes key, SharedKeyOptions options) {
  return channel::PskSettings{std::make_shared<const crypto::SecretBytes>(std::move(key)),
                              std::move(options.algorithms), options.max_message};
}

// A TLS record starts with content type 22 (handshake), RFC 8446 section 5.1.
constexpr std::uint8_t kTlsHandshakeRecord = 0x16;

// The allow= name of an operation kind the protocol opens; nullopt for a
// kind authorized_keys has no name for.
std::optional<keys::Operation> operation_of(std::uint8_t kind) {
  switch (static_cast<proto::Kind>(kind)) {
    case proto::Kind::message:
      return keys::Operation::message;
    case proto::Kind::put:
      return keys::Operation::put;
    case proto::Kind::get:
    case proto::Kind::list:  // listing is reading: a key that may get may list
      return keys::Operation::get;
    case proto::Kind::chat:
    case proto::Kind::chat_message:
      return keys::Operation::chat;
  }
  return std::nullopt;
}

keys::Clock::time_point now(const AuthorizedKeysPolicy& policy) {
  return policy.now ? policy.now() : keys::Clock::now();
}

}  // namespace

channel::ClientKeyCheck authorized_keys_check(std::shared_ptr<const AuthorizedKeysPolicy> policy,
                                              keys::IpAddress peer) {
  if (!policy || !policy->file) return {};  // the channel refuses every key
  return [policy = std::move(policy),
          peer](const crypto::PublicKey& key) -> Result<channel::ClientAdmission> {
    auto snapshot = policy->file->current();
    if (snapshot.reloaded && policy->on_reload) policy->on_reload(snapshot);
    // Who may connect is decided here; what it may do, on each request.
    auto entry = snapshot.keys->authorize(key, peer, now(*policy));
    if (!entry) return entry.error();
    auto admitted = std::make_shared<const keys::AuthorizedKey>(std::move(*entry));
    std::string comment = admitted->comment;
    std::string folder = admitted->dir;
    return channel::ClientAdmission{std::move(comment),
                                    [admitted, peer, policy](std::uint8_t kind) -> Result<void> {
                                      const auto op = operation_of(kind);
                                      if (!op) {
                                        return Error(Errc::unsupported_operation,
                                                     "operation kind " + std::to_string(kind));
                                      }
                                      return admitted->check(peer, now(*policy), *op);
                                    },
                                    std::move(folder)};
  };
}

net::ChannelFactory shared_key_server(crypto::SecretBytes key, SharedKeyOptions options) {
  const bool no_key = key.empty();
  return [settings = psk_settings(std::move(key), std::move(options)), no_key](
             util::ByteSpan first,
             const asio::ip::tcp::endpoint&) -> Result<std::unique_ptr<channel::Channel>> {
    if (no_key) return Error(Errc::config, "the server has an empty shared key");
    if (!first.empty() && first[0] == kTlsHandshakeRecord) {
      return Error(Errc::wrong_mode,
                   "the client speaks TLS (key mode) but this server runs shared-key mode");
    }
    return std::unique_ptr<channel::Channel>(new channel::PskServerChannel(settings));
  };
}

net::Connection::ChannelMaker shared_key_client(crypto::SecretBytes key, SharedKeyOptions options) {
  return [settings = psk_settings(std::move(key), std::move(options))]() {
    return std::unique_ptr<channel::Channel>(new channel::PskClientChannel(settings));
  };
}

keys::IpAddress peer_address(const asio::ip::tcp::endpoint& endpoint) {
  const auto a = endpoint.address();
  std::optional<keys::IpAddress> ip;
  if (a.is_v4()) {
    const auto b = a.to_v4().to_bytes();
    ip = keys::IpAddress::from_bytes(b);
  } else {
    const auto b = a.to_v6().to_bytes();
    ip = keys::IpAddress::from_bytes(b);
  }
  return ip ? ip->unmapped() : keys::IpAddress();
}

Result<net::ChannelFactory> key_mode_server(const crypto::PrivateKey& identity,
                                            KeyModeServerOptions options) {
  if (!options.authorized_keys) {
    return Error(Errc::config, "key mode needs an authorized_keys file");
  }
  auto policy = std::make_shared<const AuthorizedKeysPolicy>(
      AuthorizedKeysPolicy{std::move(options.authorized_keys), {}, {}});
  channel::TlsServerSettings s;
  s.require_psk = options.psk != nullptr;
  s.psk = std::move(options.psk);
  s.max_payload = options.max_message;
  auto ctx = channel::TlsServerContext::create(identity, std::move(s));
  if (!ctx) return ctx.error();
  return net::ChannelFactory(
      [tls = std::move(*ctx), policy = std::move(policy)](
          util::ByteSpan first,
          const asio::ip::tcp::endpoint& ep) -> Result<std::unique_ptr<channel::Channel>> {
        if (first.empty() || first[0] != 0x16) {
          return Error(Errc::wrong_mode, "this server runs key mode (TLS 1.3) only");
        }
        return std::unique_ptr<channel::Channel>(
            new channel::TlsServerChannel(tls, authorized_keys_check(policy, peer_address(ep))));
      });
}

Result<net::Connection::ChannelMaker> key_mode_client(const crypto::PrivateKey& identity,
                                                      KeyModeClientOptions options) {
  channel::TlsClientSettings s;
  s.check_server_key = std::move(options.check_server_key);
  s.confirm_server_key = std::move(options.confirm_server_key);
  s.psk = std::move(options.psk);
  s.max_payload = options.max_message;
  auto ctx = channel::TlsClientContext::create(identity, std::move(s));
  if (!ctx) return ctx.error();
  return net::Connection::ChannelMaker(
      [tls = std::move(*ctx)]() -> std::unique_ptr<channel::Channel> {
        return std::make_unique<channel::TlsClientChannel>(tls);
      });
}

channel::ServerKeyCheck pin_server_key(std::string fingerprint) {
  return [pinned = std::move(fingerprint)](
             const crypto::PublicKey& key) -> Result<channel::ServerKeyTrust> {
    if (key.fingerprint() == pinned) return channel::ServerKeyTrust::trusted;
    return Error(Errc::host_key_changed,
                 "server presented " + key.fingerprint() + ", expected " + pinned);
  };
}

std::optional<crypto::SecretBytes> take_shared_key_from_environment() {
  char* value = std::getenv("SHARED_SECRET_KEY");
  if (value == nullptr) return std::nullopt;
  const std::size_t n = std::strlen(value);
  crypto::SecretBytes key(util::ByteSpan(reinterpret_cast<const std::uint8_t*>(value), n));
  // Wipe the variable in place so it is gone from /proc/PID/environ too.
  crypto::cleanse({reinterpret_cast<std::uint8_t*>(value), n});
  ::unsetenv("SHARED_SECRET_KEY");
  if (key.empty()) return std::nullopt;
  return key;
}

}  // namespace signet
