#include "crypto/mac.hpp"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <stdexcept>

#include "crypto/openssl_ptr.hpp"
#include "crypto/primitives.hpp"

namespace signet::crypto {
namespace {

using MacPtr = OpenSslPtr<EVP_MAC, EVP_MAC_free>;
using MacCtxPtr = OpenSslPtr<EVP_MAC_CTX, EVP_MAC_CTX_free>;

[[noreturn]] void fail(const char* what) {
  throw std::runtime_error(std::string("OpenSSL MAC failure: ") + what);
}

}  // namespace

std::optional<MacAlgorithm> mac_from_wire(std::uint8_t id) noexcept {
  switch (id) {
    case 0x01:
      return MacAlgorithm::hmac_sha256;
    case 0x02:
      return MacAlgorithm::hmac_sha512;
    case 0x03:
      return MacAlgorithm::blake2b_256;
    default:
      return std::nullopt;
  }
}

std::size_t mac_tag_size(MacAlgorithm a) noexcept {
  return a == MacAlgorithm::hmac_sha512 ? 64 : 32;
}

std::size_t mac_key_size(MacAlgorithm a) noexcept {
  return a == MacAlgorithm::hmac_sha512 ? 64 : 32;
}

struct Mac::Impl {
  MacCtxPtr ctx;
};

Mac::Mac(MacAlgorithm alg, std::span<const std::uint8_t> key) : alg_(alg), impl_(new Impl) {
  const bool blake = alg == MacAlgorithm::blake2b_256;
  MacPtr mac(
      EVP_MAC_fetch(nullptr, blake ? OSSL_MAC_NAME_BLAKE2BMAC : OSSL_MAC_NAME_HMAC, nullptr));
  if (!mac) fail("fetch");
  impl_->ctx.reset(EVP_MAC_CTX_new(mac.get()));
  if (!impl_->ctx) fail("context");

  OSSL_PARAM params[2];
  std::size_t size = mac_tag_size(alg);
  char sha256[] = "SHA256";
  char sha512[] = "SHA512";
  if (blake) {
    params[0] = OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size);
  } else {
    params[0] = OSSL_PARAM_construct_utf8_string(
        OSSL_MAC_PARAM_DIGEST, alg == MacAlgorithm::hmac_sha512 ? sha512 : sha256, 0);
  }
  params[1] = OSSL_PARAM_construct_end();
  if (EVP_MAC_init(impl_->ctx.get(), key.data(), key.size(), params) != 1) fail("key");
}

Mac::~Mac() = default;
Mac::Mac(Mac&&) noexcept = default;
Mac& Mac::operator=(Mac&&) noexcept = default;

void Mac::begin() {
  // A null key re-initialises with the key installed by the constructor.
  if (EVP_MAC_init(impl_->ctx.get(), nullptr, 0, nullptr) != 1) fail("init");
}

void Mac::update(std::span<const std::uint8_t> data) {
  if (EVP_MAC_update(impl_->ctx.get(), data.data(), data.size()) != 1) fail("update");
}

void Mac::finish(std::span<std::uint8_t> out) {
  std::size_t len = 0;
  if (out.size() < tag_size() ||
      EVP_MAC_final(impl_->ctx.get(), out.data(), &len, out.size()) != 1 || len != tag_size()) {
    fail("final");
  }
}

void Mac::compute(std::initializer_list<std::span<const std::uint8_t>> parts,
                  std::span<std::uint8_t> out) {
  begin();
  for (auto p : parts) update(p);
  finish(out);
}

bool Mac::verify(std::initializer_list<std::span<const std::uint8_t>> parts,
                 std::span<const std::uint8_t> tag) {
  std::uint8_t expected[kMaxTagSize];
  compute(parts, expected);
  const bool ok = constant_time_equal(std::span<const std::uint8_t>(expected, tag_size()), tag);
  cleanse(expected);
  return ok;
}

}  // namespace signet::crypto
