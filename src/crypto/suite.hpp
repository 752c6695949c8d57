// What protects shared-key mode's application frames, by the one-byte id the
// handshake negotiates (docs/PROTOCOL.md, "Algorithms"): a MAC, which
// authenticates frames that travel in clear, or an AEAD, which also
// encrypts them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "crypto/aead.hpp"
#include "crypto/mac.hpp"

namespace signet::crypto {

enum class Suite : std::uint8_t {
  hmac_sha256 = 0x01,
  hmac_sha512 = 0x02,
  blake2b_256 = 0x03,
  aes_256_gcm = 0x10,
  chacha20_poly1305 = 0x11,
};

inline constexpr Suite kAllSuites[] = {Suite::aes_256_gcm, Suite::chacha20_poly1305,
                                       Suite::hmac_sha256, Suite::hmac_sha512, Suite::blake2b_256};

// signet's default preference, on both sides: the AEADs first (AES-256-GCM
// is the faster with AES instructions, ChaCha20-Poly1305 without them), then
// hmac-sha256 so that a peer offering MACs only is still served, in clear.
inline constexpr Suite kDefaultSuites[] = {Suite::aes_256_gcm, Suite::chacha20_poly1305,
                                           Suite::hmac_sha256};

std::optional<Suite> suite_from_wire(std::uint8_t id) noexcept;
std::optional<Suite> suite_from_name(std::string_view name) noexcept;
std::string_view suite_name(Suite s) noexcept;
// "aes-256-gcm, encrypted" / "hmac-sha256, not encrypted": what a person is told.
std::string suite_description(Suite s);

bool encrypts(Suite s) noexcept;
// The AEAD of an encrypting suite, the MAC of the others.
std::optional<AeadAlgorithm> suite_aead(Suite s) noexcept;
std::optional<MacAlgorithm> suite_mac(Suite s) noexcept;
// The MAC of the handshake proofs: the suite's own MAC, HMAC-SHA256 for an AEAD.
MacAlgorithm proof_mac(Suite s) noexcept;
// Size of each key the handshake derives: 32, or 64 for hmac-sha512.
std::size_t suite_key_size(Suite s) noexcept;
// Bytes after each frame's payload: the MAC's tag, or the AEAD's 16-byte tag.
std::size_t suite_tag_size(Suite s) noexcept;
// Size of each per-direction nonce base (IV) the handshake derives: 12 for an AEAD, 0 for a MAC.
std::size_t suite_iv_size(Suite s) noexcept;

}  // namespace signet::crypto
