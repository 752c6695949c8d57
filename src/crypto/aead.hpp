// Authenticated encryption with associated data from OpenSSL's EVP ciphers:
// AES-256-GCM (NIST SP 800-38D) and ChaCha20-Poly1305 (RFC 8439), both with
// 32-byte keys, 12-byte nonces and 16-byte tags.
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>

namespace signet::crypto {

enum class AeadAlgorithm : std::uint8_t {
  aes_256_gcm,
  chacha20_poly1305,
};

inline constexpr std::size_t kAeadKeySize = 32;
inline constexpr std::size_t kAeadNonceSize = 12;
inline constexpr std::size_t kAeadTagSize = 16;

// One key, one direction: a sealer only encrypts, an opener only decrypts.
// The key is installed once; each frame sets only its nonce. Not thread-safe.
class Aead {
 public:
  enum class Role : bool { seal, open };

  // key: kAeadKeySize bytes. Throws std::runtime_error if OpenSSL cannot
  // provide the cipher (a broken installation, not bad input).
  Aead(AeadAlgorithm alg, std::span<const std::uint8_t> key, Role role);
  ~Aead();
  Aead(Aead&&) noexcept;
  Aead& operator=(Aead&&) noexcept;

  AeadAlgorithm algorithm() const noexcept { return alg_; }

  // Encrypts the concatenation of `plaintext` into `ciphertext` (of the same
  // total length; it may be the same memory as a single plaintext part) and
  // writes the tag. Sealers only.
  void seal(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
            std::initializer_list<std::span<const std::uint8_t>> plaintext,
            std::span<std::uint8_t> ciphertext, std::span<std::uint8_t> tag);

  // Decrypts `ciphertext` into `plaintext` (same length; may be the same
  // memory) and checks the tag over the nonce, aad and ciphertext. Returns
  // false if the tag does not verify; `plaintext` then holds nothing usable
  // (it is zeroed). Openers only.
  bool open(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
            std::span<const std::uint8_t> ciphertext, std::span<const std::uint8_t> tag,
            std::span<std::uint8_t> plaintext);

 private:
  struct Impl;
  AeadAlgorithm alg_;
  Role role_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace signet::crypto
