#include "crypto/key_encoding.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>

#include <string>
#include <utility>

#include "crypto/public_key.hpp"
#include "util/encoding.hpp"

namespace signet::crypto::detail {
namespace {

using util::Bytes;
using util::ByteSpan;

// Keeps the public exponent to what OpenSSL accepts for large moduli
// (OPENSSL_RSA_MAX_PUBEXP_BITS).
constexpr int kMaxRsaExponentBits = 64;
// Below this an RSA key is not worth describing even for display.
constexpr int kMinRsaParseBits = 1024;

}  // namespace

// Drops whatever OpenSSL queued while failing: the error is reported as a
// value, and a stale queue would confuse the next, unrelated OpenSSL caller.
Error ossl_error(Errc code, std::string detail) {
  ERR_clear_error();
  return Error(code, std::move(detail));
}

std::string display(std::string_view s) {
  return util::escape_for_display(s);
}

std::string display(ByteSpan b) {
  return display(util::as_chars(b));
}

// --- SSH wire primitives (RFC 4251 section 5) ---

// Reads an mpint that must be positive or zero and minimally encoded (no
// sign bit, no superfluous leading zero byte), and returns its magnitude.
// The canonical form matters: one key must have one blob and one fingerprint.
bool read_mpint(util::Reader& r, ByteSpan& magnitude, std::string& why) {
  ByteSpan raw;
  if (!r.read_string32(raw)) {
    why = "truncated integer";
    return false;
  }
  if (!raw.empty() && (raw[0] & 0x80) != 0) {
    why = "negative integer";
    return false;
  }
  if (!raw.empty() && raw[0] == 0 && (raw.size() == 1 || (raw[1] & 0x80) == 0)) {
    why = "integer with a superfluous leading zero";
    return false;
  }
  magnitude = (!raw.empty() && raw[0] == 0) ? raw.subspan(1) : raw;
  return true;
}

void write_mpint(util::Writer& w, const BIGNUM* bn) {
  Bytes mag(static_cast<std::size_t>(BN_num_bytes(bn)));
  if (!mag.empty()) BN_bn2bin(bn, mag.data());
  const bool pad = !mag.empty() && (mag[0] & 0x80) != 0;
  w.u32(static_cast<std::uint32_t>(mag.size() + (pad ? 1 : 0)));
  if (pad) w.u8(0);
  w.bytes(mag);
}

BnPtr bn_from(ByteSpan magnitude, bool secret) {
  BnPtr bn(secret ? BN_secure_new() : BN_new());
  if (bn && BN_bin2bn(magnitude.data(), static_cast<int>(magnitude.size()), bn.get()) == nullptr) {
    bn.reset();
  }
  return bn;
}

PkeyPtr pkey_from_params(const char* algorithm, OSSL_PARAM_BLD* bld, int selection) {
  ParamPtr params(OSSL_PARAM_BLD_to_param(bld));
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_name(nullptr, algorithm, nullptr));
  EVP_PKEY* raw = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, selection, params.get()) != 1) {
    return nullptr;
  }
  return PkeyPtr(raw);
}

bool pkey_check(EVP_PKEY* pkey, bool pairwise) {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_from_pkey(nullptr, pkey, nullptr));
  if (!ctx) return false;
  return (pairwise ? EVP_PKEY_pairwise_check(ctx.get()) : EVP_PKEY_public_check(ctx.get())) == 1;
}

// Reads the curve name and point shared by the public and private ECDSA
// encodings (RFC 5656 section 3.1).
bool read_ecdsa_point(util::Reader& r, ByteSpan& point, Error& err) {
  ByteSpan curve;
  if (!r.read_string32(curve) || !r.read_string32(point)) {
    err = Error(Errc::truncated, "ECDSA key truncated");
    return false;
  }
  if (util::as_chars(curve) != kNistp256) {
    err = Error(Errc::malformed, "ECDSA curve \"" + display(curve) + "\" is not nistp256");
    return false;
  }
  if (point.size() != kP256PointSize || point[0] != 0x04) {
    err = Error(Errc::malformed, "ECDSA point is not an uncompressed P-256 point");
    return false;
  }
  return true;
}

// Sanity limits on an RSA public key, before OpenSSL sees it.
Result<void> check_rsa_public(const BIGNUM* n, const BIGNUM* e) {
  const int bits = BN_num_bits(n);
  if (bits > static_cast<int>(kMaxRsaBits)) {
    return Error(Errc::too_large, "RSA modulus of " + std::to_string(bits) + " bits is above " +
                                      std::to_string(kMaxRsaBits));
  }
  if (bits < kMinRsaParseBits || !BN_is_odd(n)) {
    return Error(Errc::malformed, "RSA modulus is not a plausible RSA modulus");
  }
  if (!BN_is_odd(e) || BN_is_one(e) || BN_num_bits(e) > kMaxRsaExponentBits) {
    return Error(Errc::malformed, "RSA public exponent is invalid");
  }
  return {};
}

}  // namespace signet::crypto::detail
