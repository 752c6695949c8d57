// Thin wrappers over OpenSSL: randomness, hashing, HKDF, constant-time compare.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "crypto/secret.hpp"

namespace signet::crypto {

using Sha256Digest = std::array<std::uint8_t, 32>;

// Fills out from OpenSSL's CSPRNG (RAND_bytes). Throws std::runtime_error if
// the generator fails: continuing without randomness would be unsafe.
void random_bytes(std::span<std::uint8_t> out);

// SHA-256 of the concatenation of the parts.
Sha256Digest sha256(std::initializer_list<std::span<const std::uint8_t>> parts);

// SHA-256 over data that arrives in pieces (a file streamed in chunks).
// Throws std::runtime_error only if OpenSSL itself fails. Move-only.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::span<const std::uint8_t> bytes);
  // The digest of everything given; the hasher starts over afterwards.
  Sha256Digest finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// HKDF-SHA256 (RFC 5869), extract then expand, into out (at most 255*32 bytes).
// Throws std::runtime_error only if OpenSSL itself fails.
void hkdf_sha256(std::span<const std::uint8_t> salt, std::span<const std::uint8_t> ikm,
                 std::span<const std::uint8_t> info, std::span<std::uint8_t> out);

// Constant-time equality (CRYPTO_memcmp); false when the sizes differ.
bool constant_time_equal(std::span<const std::uint8_t> a, std::span<const std::uint8_t> b) noexcept;

// The version text of the OpenSSL library linked at run time
// (OpenSSL_version(OPENSSL_VERSION), e.g. "OpenSSL 3.0.11 19 Sep 2023").
// Never fails; the text lives as long as the process.
std::string_view openssl_version() noexcept;

}  // namespace signet::crypto
