// The shared-key handshake (docs/PROTOCOL.md, "Shared-key handshake"), without I/O.
//
//   client -> server  ClientHello   mode, client nonce, algorithms (suites) offered
//   server -> client  ServerHello   chosen suite, server nonce, server proof
//   client -> server  ClientFinish  client proof
//
// Both nonces and the transcript feed HKDF, so every session has fresh keys and
// a recorded session replayed later fails. Each side proves it holds the key
// before any application frame is sent, so a wrong key is reported as
// "shared key mismatch" on both sides.
#pragma once

#include <memory>
#include <optional>
#include <vector>

#include "channel/frame_codec.hpp"
#include "crypto/mac.hpp"
#include "crypto/secret.hpp"
#include "wire/wire.hpp"

namespace signet::channel {

// Keys derived by the handshake: four of the suite's key size, and for an
// AEAD suite two 12-byte IVs (empty for a MAC suite).
struct SessionKeys {
  crypto::Suite suite{};
  crypto::SecretBytes client_proof_key;
  crypto::SecretBytes server_proof_key;
  crypto::SecretBytes client_to_server;
  crypto::SecretBytes server_to_client;
  crypto::SecretBytes client_to_server_iv;
  crypto::SecretBytes server_to_client_iv;
  // A value both ends of this session share and no other session has
  // (PeerIdentity::session: what a receipt is bound to). Not a key.
  Bytes session;
};

// HKDF-SHA256(salt = client nonce || server nonce, IKM = psk,
//             info = "signet/1 shared-key" || SHA-256(ClientHello || ServerHello without proof)),
// and the session value from the same salt, IKM and transcript hash with
// info = "signet/1 session" || SHA-256(...), 32 bytes.
SessionKeys derive_session_keys(const crypto::SecretBytes& psk, crypto::Suite suite,
                                const wire::Nonce& client_nonce, const wire::Nonce& server_nonce,
                                ByteSpan client_hello, ByteSpan server_hello_without_proof);

inline constexpr std::string_view kServerProofLabel = "signet/1 server proof";
inline constexpr std::string_view kClientProofLabel = "signet/1 client proof";

class PskClientHandshake {
 public:
  // offer: suites in preference order (1..7). max_protocol 2 adds
  // wire::kProtocol2Capability to the offer. nonce: for tests only.
  PskClientHandshake(const crypto::SecretBytes& psk, std::vector<crypto::Suite> offer,
                     std::optional<wire::Nonce> nonce = std::nullopt, int max_protocol = 2);

  const Bytes& client_hello() const noexcept { return client_hello_; }

  // Checks the server's proof. On success returns the ClientFinish record to
  // send; key_mismatch if the proof is wrong; protocol errors otherwise.
  Result<Bytes> on_server_hello(ByteSpan record);

  crypto::Suite suite() const noexcept { return keys_.suite; }
  // The application protocol version the server chose (1 or 2).
  int protocol() const noexcept { return protocol_; }
  const Bytes& session() const noexcept { return keys_.session; }
  // The codec for application frames; call once, after on_server_hello succeeded.
  FrameCodec make_codec(std::uint32_t max_payload) const;

 private:
  const crypto::SecretBytes& psk_;
  std::vector<crypto::Suite> offer_;
  wire::Nonce nonce_{};
  bool offered_protocol2_ = false;
  int protocol_ = 1;
  Bytes client_hello_;
  SessionKeys keys_;
};

class PskServerHandshake {
 public:
  // accept: suites this server allows, in its preference order. The server
  // picks its most preferred suite that the client offered.
  // max_protocol: 2 answers a client that offers version 2 with it.
  PskServerHandshake(const crypto::SecretBytes& psk, std::vector<crypto::Suite> accept,
                     std::optional<wire::Nonce> nonce = std::nullopt, int max_protocol = 2);

  // Returns the ServerHello record to send; unsupported_mac or a protocol error.
  Result<Bytes> on_client_hello(ByteSpan record);
  // key_mismatch if the client's proof is wrong (a wrong key, or a replayed
  // handshake, which carries a proof for an older server nonce).
  Result<void> on_client_finish(ByteSpan record);

  crypto::Suite suite() const noexcept { return keys_.suite; }
  std::size_t proof_size() const noexcept {
    return crypto::mac_tag_size(crypto::proof_mac(keys_.suite));
  }
  int protocol() const noexcept { return protocol_; }
  const Bytes& session() const noexcept { return keys_.session; }
  FrameCodec make_codec(std::uint32_t max_payload) const;

 private:
  const crypto::SecretBytes& psk_;
  std::vector<crypto::Suite> accept_;
  wire::Nonce nonce_{};
  int max_protocol_ = 2;
  int protocol_ = 1;
  SessionKeys keys_;
};

}  // namespace signet::channel
