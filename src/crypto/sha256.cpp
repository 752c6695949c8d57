// crypto::Sha256 on OpenSSL's SHA256_CTX rather than EVP_MD_CTX: an EVP
// digest's state cannot be read out or restored (OpenSSL 3.0 has no call
// for it), and resuming a file transfer needs exactly that (a midstate kept
// on disk). SHA256_Init/Update/Final are deprecated in OpenSSL 3.0 but
// present in every build that has not been configured without them; they
// are the same assembly the default provider's EVP_sha256 runs, so nothing
// is slower. The hashing itself stays OpenSSL's; this file only copies the
// chaining words and the length in and out of the context.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include <openssl/sha.h>

#include <stdexcept>

#include "crypto/primitives.hpp"

namespace signet::crypto {

struct Sha256::Impl {
  SHA256_CTX ctx{};
  std::uint64_t length = 0;
};

namespace {

void init(SHA256_CTX& ctx) {
  if (SHA256_Init(&ctx) != 1) throw std::runtime_error("OpenSSL SHA-256 failed");
}

}  // namespace

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  init(impl_->ctx);
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;
Sha256::Sha256(const Sha256& o) : impl_(std::make_unique<Impl>(*o.impl_)) {}
Sha256& Sha256::operator=(const Sha256& o) {
  if (this != &o) impl_ = std::make_unique<Impl>(*o.impl_);
  return *this;
}

Sha256 Sha256::resume(const Sha256Midstate& m) {
  if (m.length % SHA256_CBLOCK != 0) {
    throw std::invalid_argument("a SHA-256 midstate is taken at a whole number of blocks");
  }
  Sha256 s;
  if (m.length == 0) return s;  // nothing absorbed: the initial state, whatever h holds
  for (std::size_t i = 0; i < m.h.size(); ++i) s.impl_->ctx.h[i] = m.h[i];
  const std::uint64_t bits = m.length * 8;
  s.impl_->ctx.Nl = static_cast<SHA_LONG>(bits & 0xffffffffu);
  s.impl_->ctx.Nh = static_cast<SHA_LONG>(bits >> 32);
  s.impl_->ctx.num = 0;
  s.impl_->length = m.length;
  return s;
}

void Sha256::update(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return;
  if (SHA256_Update(&impl_->ctx, bytes.data(), bytes.size()) != 1) {
    throw std::runtime_error("OpenSSL SHA-256 failed");
  }
  impl_->length += bytes.size();
}

Sha256Digest Sha256::finish() {
  Sha256Digest d{};
  if (SHA256_Final(d.data(), &impl_->ctx) != 1) throw std::runtime_error("OpenSSL SHA-256 failed");
  init(impl_->ctx);
  impl_->length = 0;
  return d;
}

Sha256Digest Sha256::peek() const {
  SHA256_CTX copy = impl_->ctx;
  Sha256Digest d{};
  if (SHA256_Final(d.data(), &copy) != 1) throw std::runtime_error("OpenSSL SHA-256 failed");
  return d;
}

std::uint64_t Sha256::length() const noexcept {
  return impl_->length;
}

Sha256Midstate Sha256::midstate() const noexcept {
  // The context holds the chaining words of the whole blocks it has
  // compressed, and the `num` bytes of an incomplete one.
  Sha256Midstate m;
  m.length = impl_->length - impl_->ctx.num;
  for (std::size_t i = 0; i < m.h.size(); ++i) m.h[i] = impl_->ctx.h[i];
  return m;
}

}  // namespace signet::crypto
