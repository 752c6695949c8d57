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

// What SHA-256 has absorbed of the first `length` bytes of a stream, taken
// at a whole number of 64-byte blocks: the eight chaining words. A file
// receiver stores it beside the part of a file it holds, so that an
// interrupted transfer goes on hashing where it stopped instead of reading
// that part again (docs/PROTOCOL.md, "Resuming").
struct Sha256Midstate {
  std::uint64_t length = 0;  // a multiple of 64
  std::array<std::uint32_t, 8> h{};
};

// SHA-256 over data that arrives in pieces (a file streamed in chunks).
// Throws std::runtime_error only if OpenSSL itself fails. Copyable (a copy
// goes on independently).
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&&) noexcept;
  Sha256& operator=(Sha256&&) noexcept;
  Sha256(const Sha256&);
  Sha256& operator=(const Sha256&);

  // A hasher that has absorbed the bytes m describes, as if they had been
  // given to update() (m.length 0: a new hasher, whatever m.h holds).
  // Throws std::invalid_argument if m.length is not a multiple of 64.
  static Sha256 resume(const Sha256Midstate& m);

  void update(std::span<const std::uint8_t> bytes);
  // The digest of everything given; the hasher starts over afterwards.
  Sha256Digest finish();
  // The digest of everything given so far; the hasher goes on.
  Sha256Digest peek() const;
  // Bytes given since the start.
  std::uint64_t length() const noexcept;
  // The state after the whole 64-byte blocks given so far (length() rounded
  // down to a multiple of 64); the bytes past them are not in it.
  Sha256Midstate midstate() const noexcept;

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
