#include "crypto/suite.hpp"

#include <string>

namespace signet::crypto {

std::optional<Suite> suite_from_wire(std::uint8_t id) noexcept {
  for (Suite s : kAllSuites) {
    if (static_cast<std::uint8_t>(s) == id) return s;
  }
  return std::nullopt;
}

std::optional<Suite> suite_from_name(std::string_view name) noexcept {
  for (Suite s : kAllSuites) {
    if (suite_name(s) == name) return s;
  }
  return std::nullopt;
}

std::string_view suite_name(Suite s) noexcept {
  switch (s) {
    case Suite::hmac_sha256:
      return "hmac-sha256";
    case Suite::hmac_sha512:
      return "hmac-sha512";
    case Suite::blake2b_256:
      return "blake2b-256";
    case Suite::aes_256_gcm:
      return "aes-256-gcm";
    case Suite::chacha20_poly1305:
      return "chacha20-poly1305";
  }
  return "unknown";
}

std::string suite_description(Suite s) {
  return std::string(suite_name(s)) + (encrypts(s) ? ", encrypted" : ", not encrypted");
}

bool encrypts(Suite s) noexcept {
  return suite_aead(s).has_value();
}

std::optional<AeadAlgorithm> suite_aead(Suite s) noexcept {
  switch (s) {
    case Suite::aes_256_gcm:
      return AeadAlgorithm::aes_256_gcm;
    case Suite::chacha20_poly1305:
      return AeadAlgorithm::chacha20_poly1305;
    default:
      return std::nullopt;
  }
}

std::optional<MacAlgorithm> suite_mac(Suite s) noexcept {
  return mac_from_wire(static_cast<std::uint8_t>(s));
}

MacAlgorithm proof_mac(Suite s) noexcept {
  return suite_mac(s).value_or(MacAlgorithm::hmac_sha256);
}

std::size_t suite_key_size(Suite s) noexcept {
  if (auto m = suite_mac(s)) return mac_key_size(*m);
  return kAeadKeySize;
}

std::size_t suite_tag_size(Suite s) noexcept {
  if (auto m = suite_mac(s)) return mac_tag_size(*m);
  return kAeadTagSize;
}

std::size_t suite_iv_size(Suite s) noexcept {
  return encrypts(s) ? kAeadNonceSize : 0;
}

}  // namespace signet::crypto
