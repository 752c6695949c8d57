#include "crypto/aead.hpp"

#include <openssl/evp.h>

#include <limits>
#include <stdexcept>
#include <string>

#include "crypto/openssl_ptr.hpp"
#include "crypto/secret.hpp"

namespace signet::crypto {
namespace {

using CipherCtxPtr = OpenSslPtr<EVP_CIPHER_CTX, EVP_CIPHER_CTX_free>;

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string("OpenSSL AEAD failure: ") + what);
}

const EVP_CIPHER* cipher_of(AeadAlgorithm alg) {
  return alg == AeadAlgorithm::aes_256_gcm ? EVP_aes_256_gcm() : EVP_chacha20_poly1305();
}

// EVP's lengths are ints; frames are far below INT_MAX, but never truncate.
int int_size(std::size_t n) {
  if (n > static_cast<std::size_t>(std::numeric_limits<int>::max())) fail("input too long");
  return static_cast<int>(n);
}

}  // namespace

struct Aead::Impl {
  CipherCtxPtr ctx;
};

Aead::Aead(AeadAlgorithm alg, std::span<const std::uint8_t> key, Role role)
    : alg_(alg), role_(role), impl_(new Impl) {
  if (key.size() != kAeadKeySize) fail("key size");
  impl_->ctx.reset(EVP_CIPHER_CTX_new());
  if (!impl_->ctx) fail("context");
  EVP_CIPHER_CTX* c = impl_->ctx.get();
  const int enc = role == Role::seal ? 1 : 0;
  // The cipher and key once; each frame then sets only its nonce.
  if (EVP_CipherInit_ex(c, cipher_of(alg), nullptr, nullptr, nullptr, enc) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_IVLEN, static_cast<int>(kAeadNonceSize), nullptr) !=
          1 ||
      EVP_CipherInit_ex(c, nullptr, nullptr, key.data(), nullptr, enc) != 1) {
    fail("key");
  }
}

Aead::~Aead() = default;
Aead::Aead(Aead&&) noexcept = default;
Aead& Aead::operator=(Aead&&) noexcept = default;

void Aead::seal(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
                std::initializer_list<std::span<const std::uint8_t>> plaintext,
                std::span<std::uint8_t> ciphertext, std::span<std::uint8_t> tag) {
  if (role_ != Role::seal) fail("seal with an opener");
  if (nonce.size() != kAeadNonceSize || tag.size() != kAeadTagSize) fail("nonce or tag size");
  EVP_CIPHER_CTX* c = impl_->ctx.get();
  int n = 0;
  if (EVP_EncryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data()) != 1 ||
      (!aad.empty() && EVP_EncryptUpdate(c, nullptr, &n, aad.data(), int_size(aad.size())) != 1)) {
    fail("seal");
  }
  std::size_t at = 0;
  for (auto part : plaintext) {
    if (part.empty()) continue;
    if (at + part.size() > ciphertext.size()) fail("ciphertext too short");
    if (EVP_EncryptUpdate(c, ciphertext.data() + at, &n, part.data(), int_size(part.size())) != 1 ||
        static_cast<std::size_t>(n) != part.size()) {
      fail("seal");
    }
    at += part.size();
  }
  if (at != ciphertext.size()) fail("ciphertext length");
  std::uint8_t none[kAeadTagSize];  // GCM and ChaCha20-Poly1305 write nothing at the end
  if (EVP_EncryptFinal_ex(c, none, &n) != 1 || n != 0 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kAeadTagSize), tag.data()) !=
          1) {
    fail("seal");
  }
}

bool Aead::open(std::span<const std::uint8_t> nonce, std::span<const std::uint8_t> aad,
                std::span<const std::uint8_t> ciphertext, std::span<const std::uint8_t> tag,
                std::span<std::uint8_t> plaintext) {
  if (role_ != Role::open) fail("open with a sealer");
  if (nonce.size() != kAeadNonceSize || tag.size() != kAeadTagSize ||
      plaintext.size() != ciphertext.size()) {
    fail("nonce, tag or buffer size");
  }
  EVP_CIPHER_CTX* c = impl_->ctx.get();
  int n = 0;
  // EVP takes the expected tag through a non-const pointer; it only reads it.
  std::uint8_t expected[kAeadTagSize];
  std::copy(tag.begin(), tag.end(), expected);
  if (EVP_DecryptInit_ex(c, nullptr, nullptr, nullptr, nonce.data()) != 1 ||
      (!aad.empty() && EVP_DecryptUpdate(c, nullptr, &n, aad.data(), int_size(aad.size())) != 1) ||
      (!ciphertext.empty() && EVP_DecryptUpdate(c, plaintext.data(), &n, ciphertext.data(),
                                                int_size(ciphertext.size())) != 1) ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kAeadTagSize), expected) !=
          1) {
    fail("open");
  }
  // The tag is compared inside EVP (in constant time) at the final step.
  std::uint8_t none[kAeadTagSize];
  if (EVP_DecryptFinal_ex(c, none, &n) != 1 || n != 0) {
    cleanse(plaintext);
    return false;
  }
  return true;
}

}  // namespace signet::crypto
