// Fixed keys, nonces and codecs shared by the fuzz targets and the seed generator,
// so that the seeds in fuzz/corpus/ are valid for the targets that read them.
#pragma once

#include <array>
#include <cstdint>
#include <cstdlib>
#include <map>
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

inline const std::vector<crypto::Suite> kAllSuites(std::begin(crypto::kAllSuites),
                                                   std::end(crypto::kAllSuites));

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

// Fixed direction keys and IVs (not derived: the frame fuzzer does not run a
// handshake): n bytes of `fill`, kept for the codecs that refer to them.
inline const crypto::SecretBytes& fixed_bytes(std::size_t n, std::uint8_t fill) {
  static std::map<std::pair<std::size_t, std::uint8_t>, crypto::SecretBytes> made;
  auto [it, added] = made.try_emplace({n, fill});
  if (added) it->second = crypto::SecretBytes(std::vector<std::uint8_t>(n, fill));
  return it->second;
}
inline const crypto::SecretBytes& fixed_key(crypto::Suite suite, std::uint8_t fill) {
  return fixed_bytes(crypto::suite_key_size(suite), fill);
}
inline const crypto::SecretBytes& fixed_iv(crypto::Suite suite, std::uint8_t fill) {
  return fixed_bytes(crypto::suite_iv_size(suite), fill);
}

// The server's codec: receives client->server frames.
inline channel::FrameCodec server_codec(crypto::Suite suite) {
  return channel::FrameCodec(suite, {fixed_key(suite, 0x53), fixed_iv(suite, 0x73)},
                             {fixed_key(suite, 0x43), fixed_iv(suite, 0x63)},
                             channel::Direction::server_to_client, kFuzzMaxPayload);
}
// The client's codec: sends the frames the server codec accepts.
inline channel::FrameCodec client_codec(crypto::Suite suite) {
  return channel::FrameCodec(suite, {fixed_key(suite, 0x43), fixed_iv(suite, 0x63)},
                             {fixed_key(suite, 0x53), fixed_iv(suite, 0x73)},
                             channel::Direction::client_to_server, kFuzzMaxPayload);
}

// A broken invariant is a finding: abort so libFuzzer saves the input.
inline void require(bool ok) {
  if (!ok) std::abort();
}

}  // namespace signet::fuzz
