// Message authentication codes from OpenSSL's EVP_MAC.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>

#include "crypto/secret.hpp"

namespace signet::crypto {

// Wire identifiers (the MAC suites of crypto/suite.hpp); see docs/PROTOCOL.md "Algorithms".
enum class MacAlgorithm : std::uint8_t {
  hmac_sha256 = 0x01,
  hmac_sha512 = 0x02,
  blake2b_256 = 0x03,  // keyed BLAKE2b (RFC 7693) with a 32-byte tag
};

std::optional<MacAlgorithm> mac_from_wire(std::uint8_t id) noexcept;
// Tag length in bytes: 32, 64 and 32.
std::size_t mac_tag_size(MacAlgorithm a) noexcept;
// Length of the keys signet derives for this algorithm: 32, 64 and 32.
std::size_t mac_key_size(MacAlgorithm a) noexcept;

constexpr std::size_t kMaxTagSize = 64;

// A keyed MAC. The key is installed once; each tag re-initialises the context
// without re-keying, which keeps per-frame cost to the hashing itself.
// Not thread-safe: one Mac per direction per connection.
class Mac {
 public:
  // Throws std::runtime_error if OpenSSL cannot provide the algorithm or key.
  Mac(MacAlgorithm alg, std::span<const std::uint8_t> key);
  ~Mac();
  Mac(Mac&&) noexcept;
  Mac& operator=(Mac&&) noexcept;

  MacAlgorithm algorithm() const noexcept { return alg_; }
  std::size_t tag_size() const noexcept { return mac_tag_size(alg_); }

  // Streaming use: begin(), update() any number of times, finish(out).
  void begin();
  void update(std::span<const std::uint8_t> data);
  // Writes exactly tag_size() bytes to out (out.size() must be >= tag_size()).
  void finish(std::span<std::uint8_t> out);

  // One call for a message in a few parts.
  void compute(std::initializer_list<std::span<const std::uint8_t>> parts,
               std::span<std::uint8_t> out);
  // Recomputes the tag over parts and compares it to tag in constant time.
  bool verify(std::initializer_list<std::span<const std::uint8_t>> parts,
              std::span<const std::uint8_t> tag);

 private:
  struct Impl;
  MacAlgorithm alg_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signet::crypto
