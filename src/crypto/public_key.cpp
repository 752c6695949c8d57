#include "crypto/public_key.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "crypto/key_encoding.hpp"
#include "crypto/openssl_ptr.hpp"
#include "crypto/primitives.hpp"
#include "util/encoding.hpp"

namespace signet::crypto {
namespace {

using detail::bn_from;
using detail::BnPtr;
using detail::check_rsa_public;
using detail::display;
using detail::kEd25519KeySize;
using detail::kNistp256;
using detail::kP256FieldSize;
using detail::kP256PointSize;
using detail::ossl_error;
using detail::ParamBldPtr;
using detail::pkey_check;
using detail::pkey_from_params;
using detail::PkeyPtr;
using detail::read_ecdsa_point;
using detail::read_mpint;
using detail::write_mpint;
using util::Bytes;
using util::ByteSpan;

bool is_p256(EVP_PKEY* pkey) {
  char name[64] = {};
  std::size_t len = 0;
  if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, name, sizeof(name), &len) !=
      1) {
    return false;
  }
  int nid = OBJ_sn2nid(name);
  if (nid == NID_undef) nid = EC_curve_nist2nid(name);
  return nid == NID_X9_62_prime256v1;
}

// The key type and the canonical SSH blob of any supported EVP_PKEY.
Result<Bytes> encode_blob(EVP_PKEY* pkey, KeyType& type) {
  Bytes blob;
  util::Writer w(blob);
  switch (EVP_PKEY_get_base_id(pkey)) {
    case EVP_PKEY_ED25519: {
      std::array<std::uint8_t, kEd25519KeySize> raw{};
      std::size_t len = raw.size();
      if (EVP_PKEY_get_raw_public_key(pkey, raw.data(), &len) != 1 || len != raw.size()) {
        return ossl_error(Errc::malformed, "cannot read the Ed25519 public key");
      }
      type = KeyType::ed25519;
      w.string32(util::as_bytes(ssh_type_name(type)));
      w.string32(raw);
      return blob;
    }
    case EVP_PKEY_EC: {
      if (!is_p256(pkey)) {
        ERR_clear_error();
        return Error(Errc::malformed, "unsupported elliptic curve (only P-256 is supported)");
      }
      BIGNUM* x_raw = nullptr;
      BIGNUM* y_raw = nullptr;
      const bool got_x = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x_raw) == 1;
      BnPtr x(x_raw);
      const bool got_y = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y_raw) == 1;
      BnPtr y(y_raw);
      std::array<std::uint8_t, kP256PointSize> point{};
      point[0] = 0x04;
      if (!got_x || !got_y ||
          BN_bn2binpad(x.get(), point.data() + 1, kP256FieldSize) != kP256FieldSize ||
          BN_bn2binpad(y.get(), point.data() + 1 + kP256FieldSize, kP256FieldSize) !=
              kP256FieldSize) {
        return ossl_error(Errc::malformed, "cannot read the ECDSA public key");
      }
      type = KeyType::ecdsa_p256;
      w.string32(util::as_bytes(ssh_type_name(type)));
      w.string32(util::as_bytes(kNistp256));
      w.string32(point);
      return blob;
    }
    case EVP_PKEY_RSA: {
      BIGNUM* n_raw = nullptr;
      BIGNUM* e_raw = nullptr;
      const bool got_n = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &n_raw) == 1;
      BnPtr n(n_raw);
      const bool got_e = EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e_raw) == 1;
      BnPtr e(e_raw);
      if (!got_n || !got_e) return ossl_error(Errc::malformed, "cannot read the RSA public key");
      type = KeyType::rsa;
      w.string32(util::as_bytes(ssh_type_name(type)));
      write_mpint(w, e.get());  // RFC 4253 section 6.6: e before n
      write_mpint(w, n.get());
      return blob;
    }
    default:
      ERR_clear_error();
      return Error(Errc::malformed, "unsupported key algorithm (use Ed25519, ECDSA P-256 or RSA)");
  }
}

Result<PkeyPtr> parse_ed25519_public(util::Reader& r) {
  ByteSpan pk;
  if (!r.read_string32(pk)) return Error(Errc::truncated, "Ed25519 key truncated");
  if (pk.size() != kEd25519KeySize) return Error(Errc::malformed, "Ed25519 key is not 32 bytes");
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pk.data(), pk.size()));
  if (!pkey) return ossl_error(Errc::malformed, "invalid Ed25519 key");
  return pkey;
}

Result<PkeyPtr> parse_ecdsa_public(util::Reader& r) {
  ByteSpan point;
  Error err;
  if (!read_ecdsa_point(r, point, err)) return err;
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1) {
    return ossl_error(Errc::malformed, "cannot build the ECDSA key");
  }
  PkeyPtr pkey = pkey_from_params("EC", bld.get(), EVP_PKEY_PUBLIC_KEY);
  // public_check rejects points off the curve and the point at infinity.
  if (!pkey || !pkey_check(pkey.get(), false)) {
    return ossl_error(Errc::malformed, "ECDSA point is not on the P-256 curve");
  }
  return pkey;
}

Result<PkeyPtr> parse_rsa_public(util::Reader& r) {
  ByteSpan e_mag;
  ByteSpan n_mag;
  std::string why;
  if (!read_mpint(r, e_mag, why) || !read_mpint(r, n_mag, why)) {
    return Error(why.starts_with("truncated") ? Errc::truncated : Errc::malformed,
                 "RSA key: " + why);
  }
  if (n_mag.size() > kMaxRsaBits / 8) return Error(Errc::too_large, "RSA modulus too large");
  BnPtr e = bn_from(e_mag, false);
  BnPtr n = bn_from(n_mag, false);
  if (!e || !n) return ossl_error(Errc::malformed, "cannot read the RSA key");
  if (auto ok = check_rsa_public(n.get(), e.get()); !ok) return ok.error();
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1) {
    return ossl_error(Errc::malformed, "cannot build the RSA key");
  }
  PkeyPtr pkey = pkey_from_params("RSA", bld.get(), EVP_PKEY_PUBLIC_KEY);
  if (!pkey) return ossl_error(Errc::malformed, "invalid RSA key");
  return pkey;
}

std::string too_weak_message(unsigned bits) {
  return "RSA key of " + std::to_string(bits) + " bits is below signet's minimum of " +
         std::to_string(kMinRsaBits) + " bits";
}

}  // namespace

// --- Key types ---

std::string_view ssh_type_name(KeyType type) noexcept {
  switch (type) {
    case KeyType::ed25519:
      return "ssh-ed25519";
    case KeyType::ecdsa_p256:
      return "ecdsa-sha2-nistp256";
    case KeyType::rsa:
      return "ssh-rsa";
  }
  return "unknown";
}

std::optional<KeyType> key_type_from_ssh_name(std::string_view name) noexcept {
  for (KeyType t : {KeyType::ed25519, KeyType::ecdsa_p256, KeyType::rsa}) {
    if (name == ssh_type_name(t)) return t;
  }
  return std::nullopt;
}

std::string_view key_type_label(KeyType type) noexcept {
  switch (type) {
    case KeyType::ed25519:
      return "ED25519";
    case KeyType::ecdsa_p256:
      return "ECDSA";
    case KeyType::rsa:
      return "RSA";
  }
  return "UNKNOWN";
}

std::optional<KeyType> key_type_from_name(std::string_view name) noexcept {
  if (name == "ed25519") return KeyType::ed25519;
  if (name == "ecdsa") return KeyType::ecdsa_p256;
  if (name == "rsa") return KeyType::rsa;
  return std::nullopt;
}

// --- PublicKey ---

Result<PublicKey> PublicKey::from_ssh_blob(util::ByteSpan blob, KeyPolicy policy) {
  if (blob.size() > kMaxPublicKeyBlob) {
    return Error(Errc::too_large, "public key of " + std::to_string(blob.size()) + " bytes");
  }
  util::Reader r(blob);
  ByteSpan type_name;
  if (!r.read_string32(type_name)) return Error(Errc::truncated, "public key truncated");
  const auto type = key_type_from_ssh_name(util::as_chars(type_name));
  if (!type) {
    return Error(Errc::malformed, "unsupported key type \"" + display(type_name) + "\"");
  }
  Result<PkeyPtr> parsed = Error(Errc::malformed);
  switch (*type) {
    case KeyType::ed25519:
      parsed = parse_ed25519_public(r);
      break;
    case KeyType::ecdsa_p256:
      parsed = parse_ecdsa_public(r);
      break;
    case KeyType::rsa:
      parsed = parse_rsa_public(r);
      break;
  }
  if (!parsed) return parsed.error();
  if (!r.empty()) return Error(Errc::trailing_data, "data after the public key");

  PublicKey key;
  auto canonical = encode_blob(parsed->get(), key.type_);
  if (!canonical) return canonical.error();
  // Defence in depth: the strict parsers above should make this impossible.
  if (key.type_ != *type ||
      !std::equal(blob.begin(), blob.end(), canonical->begin(), canonical->end())) {
    return Error(Errc::malformed, "public key is not canonically encoded");
  }
  key.bits_ = static_cast<unsigned>(EVP_PKEY_get_bits(parsed->get()));
  key.pkey_ = std::shared_ptr<evp_pkey_st>(parsed->release(), OpenSslFree<EVP_PKEY_free>{});
  key.blob_ = std::move(*canonical);
  const auto digest = sha256({key.blob_});
  key.fingerprint_ = "SHA256:" + util::base64_encode_unpadded(digest);
  if (policy == KeyPolicy::enforce) {
    if (auto ok = key.check_policy(); !ok) return ok.error();
  }
  return key;
}

Result<PublicKey> PublicKey::from_evp(evp_pkey_st* pkey, KeyPolicy policy) {
  if (pkey == nullptr) return Error(Errc::malformed, "no public key");
  KeyType type{};
  auto blob = encode_blob(pkey, type);
  if (!blob) return blob.error();
  // Re-parsing the blob yields a fresh key that holds only public material.
  return from_ssh_blob(*blob, policy);
}

Result<void> PublicKey::check_policy() const {
  if (type_ == KeyType::rsa && bits_ < kMinRsaBits) {
    return Error(Errc::not_authorized, too_weak_message(bits_));
  }
  return {};
}

std::string format_public_key_line(const PublicKey& key, std::string_view comment) {
  std::string line(key.ssh_type());
  line += ' ';
  line += util::base64_encode(key.ssh_blob());
  if (!comment.empty()) {
    line += ' ';
    line += comment;
  }
  return line;
}

}  // namespace signet::crypto
