// Fixed keys, nonces and codecs shared by the fuzz targets and the seed generator,
// so that the seeds in fuzz/corpus/ are valid for the targets that read them.
#pragma once

#include <array>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "channel/frame_codec.hpp"
#include "channel/psk_handshake.hpp"
#include "crypto/mac.hpp"
#include "crypto/secret.hpp"
#include "util/bytes.hpp"
#include "wire/wire.hpp"

namespace signet::fuzz {

// Small enough that the fuzzer reaches the too_large path with short inputs.
inline constexpr std::uint32_t kFuzzMaxPayload = 4096;

inline constexpr std::string_view kPsk = "correct horse battery staple 2026";

inline const std::vector<crypto::MacAlgorithm> kAllMacs = {crypto::MacAlgorithm::hmac_sha256,
                                                           crypto::MacAlgorithm::hmac_sha512,
                                                           crypto::MacAlgorithm::blake2b_256};

inline wire::Nonce nonce_from(std::uint8_t first) {
  wire::Nonce n{};
  for (std::size_t i = 0; i < n.size(); ++i) n[i] = static_cast<std::uint8_t>(first + i);
  return n;
}
inline wire::Nonce client_nonce() {
  return nonce_from(0x00);
}
inline wire::Nonce server_nonce() {
  return nonce_from(0x20);
}

inline const crypto::SecretBytes& psk() {
  static const crypto::SecretBytes k(util::as_bytes(kPsk));
  return k;
}

// Fixed direction keys (not derived: the frame fuzzer does not run a handshake).
inline crypto::SecretBytes fixed_key(crypto::MacAlgorithm alg, std::uint8_t fill) {
  return crypto::SecretBytes(std::vector<std::uint8_t>(crypto::mac_key_size(alg), fill));
}

// The server's codec: receives client->server frames.
inline channel::FrameCodec server_codec(crypto::MacAlgorithm alg) {
  return channel::FrameCodec(alg, fixed_key(alg, 0x53), fixed_key(alg, 0x43),
                             channel::Direction::server_to_client, kFuzzMaxPayload);
}
// The client's codec: sends the frames the server codec accepts.
inline channel::FrameCodec client_codec(crypto::MacAlgorithm alg) {
  return channel::FrameCodec(alg, fixed_key(alg, 0x43), fixed_key(alg, 0x53),
                             channel::Direction::client_to_server, kFuzzMaxPayload);
}

// A broken invariant is a finding: abort so libFuzzer saves the input.
inline void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace signet::fuzz
