#include "crypto/identity.hpp"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <exception>
#include <utility>

#include "crypto/openssl_ptr.hpp"
#include "crypto/primitives.hpp"
#include "crypto/secret_file.hpp"
#include "util/encoding.hpp"

namespace signet::crypto {
namespace {

namespace fs = std::filesystem;
using util::Bytes;
using util::ByteSpan;

using PkeyPtr = OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
using PkeyCtxPtr = OpenSslPtr<EVP_PKEY_CTX, EVP_PKEY_CTX_free>;
// BN_clear_free: a BIGNUM may hold a private key's parts.
using BnPtr = OpenSslPtr<BIGNUM, BN_clear_free>;
using BnCtxPtr = OpenSslPtr<BN_CTX, BN_CTX_free>;
using ParamBldPtr = OpenSslPtr<OSSL_PARAM_BLD, OSSL_PARAM_BLD_free>;
using ParamPtr = OpenSslPtr<OSSL_PARAM, OSSL_PARAM_free>;
using BioPtr = OpenSslPtr<BIO, BIO_free>;

constexpr std::string_view kNistp256 = "nistp256";  // RFC 5656 section 10.1
constexpr std::size_t kEd25519KeySize = 32;         // RFC 8032 section 5.1.5
constexpr std::size_t kP256FieldSize = 32;
constexpr std::size_t kP256PointSize = 1 + 2 * kP256FieldSize;  // SEC 1 uncompressed
// Keeps the public exponent to what OpenSSL accepts for large moduli
// (OPENSSL_RSA_MAX_PUBEXP_BITS).
constexpr int kMaxRsaExponentBits = 64;
// Below this an RSA key is not worth describing even for display.
constexpr int kMinRsaParseBits = 1024;

constexpr std::string_view kOpensshMagic{"openssh-key-v1\0", 15};  // PROTOCOL.key
constexpr std::string_view kOpensshBegin = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view kOpensshEnd = "-----END OPENSSH PRIVATE KEY-----";
// The cipher "none" pads the private section to 8 bytes (PROTOCOL.key).
constexpr std::size_t kOpensshBlockSize = 8;

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

void cleanse_string(std::string& s) noexcept {
  cleanse(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(s.data()), s.size()));
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

Result<PkeyPtr> parse_ed25519_public(util::Reader& r) {
  ByteSpan pk;
  if (!r.read_string32(pk)) return Error(Errc::truncated, "Ed25519 key truncated");
  if (pk.size() != kEd25519KeySize) return Error(Errc::malformed, "Ed25519 key is not 32 bytes");
  PkeyPtr pkey(EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, pk.data(), pk.size()));
  if (!pkey) return ossl_error(Errc::malformed, "invalid Ed25519 key");
  return pkey;
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

// --- Private key files ---

// Error text for an encrypted OpenSSH key: signet does not implement
// bcrypt-pbkdf, so it says how to get a file it can read.
std::string encrypted_openssh_hint(const fs::path& name) {
  const std::string n = display(name.string());
  return n +
         " is an encrypted OpenSSH private key, which signet cannot read. Either make a "
         "decrypted copy (cp " +
         n +
         " COPY && chmod 600 COPY && ssh-keygen -p -f COPY -N \"\") and use COPY, or "
         "create a signet key with `signet keygen` (which can protect it with a passphrase)";
}

struct OpensshPrivate {
  ByteSpan public_blob;
  ByteSpan private_section;
};

Result<OpensshPrivate> read_openssh_container(util::Reader& r, bool& encrypted) {
  ByteSpan magic;
  if (!r.read_bytes(kOpensshMagic.size(), magic)) {
    return Error(Errc::truncated, "OpenSSH key: missing magic");
  }
  if (util::as_chars(magic) != kOpensshMagic) {
    return Error(Errc::bad_magic, "not an openssh-key-v1 private key");
  }
  ByteSpan cipher;
  ByteSpan kdf;
  ByteSpan kdf_options;
  if (!r.read_string32(cipher)) return Error(Errc::truncated, "OpenSSH key: truncated header");
  if (util::as_chars(cipher) != "none") {
    encrypted = true;
    return Error(Errc::config, "encrypted OpenSSH private key");
  }
  if (!r.read_string32(kdf) || !r.read_string32(kdf_options)) {
    return Error(Errc::truncated, "OpenSSH key: truncated header");
  }
  if (util::as_chars(kdf) != "none" || !kdf_options.empty()) {
    return Error(Errc::malformed, "OpenSSH key: a key derivation without a cipher");
  }
  std::uint32_t count = 0;
  if (!r.read_u32(count)) return Error(Errc::truncated, "OpenSSH key: truncated header");
  if (count != 1) {
    return Error(Errc::malformed,
                 "OpenSSH key file holds " + std::to_string(count) + " keys; expected 1");
  }
  OpensshPrivate out;
  if (!r.read_string32(out.public_blob) || !r.read_string32(out.private_section)) {
    return Error(Errc::truncated, "OpenSSH key truncated");
  }
  if (!r.empty()) return Error(Errc::trailing_data, "OpenSSH key: data after the key");
  return out;
}

Result<PkeyPtr> openssh_ed25519_private(util::Reader& p) {
  ByteSpan pk;
  ByteSpan sk;
  if (!p.read_string32(pk) || !p.read_string32(sk)) {
    return Error(Errc::truncated, "OpenSSH Ed25519 key truncated");
  }
  // OpenSSH stores the 32-byte seed followed by the public key (as in
  // NaCl's crypto_sign secret key).
  if (pk.size() != kEd25519KeySize || sk.size() != 2 * kEd25519KeySize ||
      !std::equal(pk.begin(), pk.end(), sk.begin() + kEd25519KeySize)) {
    return Error(Errc::malformed, "OpenSSH Ed25519 key has inconsistent lengths or halves");
  }
  PkeyPtr pkey(EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, nullptr, sk.data(), kEd25519KeySize));
  if (!pkey) return ossl_error(Errc::malformed, "invalid Ed25519 private key");
  std::array<std::uint8_t, kEd25519KeySize> derived{};
  std::size_t len = derived.size();
  if (EVP_PKEY_get_raw_public_key(pkey.get(), derived.data(), &len) != 1 || len != derived.size() ||
      !std::equal(derived.begin(), derived.end(), pk.begin())) {
    return ossl_error(Errc::malformed, "OpenSSH Ed25519 private key does not match its public key");
  }
  return pkey;
}

Result<PkeyPtr> openssh_ecdsa_private(util::Reader& p) {
  ByteSpan point;
  Error err;
  if (!read_ecdsa_point(p, point, err)) return err;
  ByteSpan d_mag;
  std::string why;
  if (!read_mpint(p, d_mag, why)) {
    return Error(why.starts_with("truncated") ? Errc::truncated : Errc::malformed,
                 "OpenSSH ECDSA key: " + why);
  }
  if (d_mag.empty() || d_mag.size() > kP256FieldSize) {
    return Error(Errc::malformed, "OpenSSH ECDSA private scalar out of range");
  }
  BnPtr d = bn_from(d_mag, true);
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!d || !bld ||
      OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) !=
          1 ||
      OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                       point.size()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_PRIV_KEY, d.get()) != 1) {
    return ossl_error(Errc::malformed, "cannot build the ECDSA key");
  }
  PkeyPtr pkey = pkey_from_params("EC", bld.get(), EVP_PKEY_KEYPAIR);
  // The pairwise check confirms that the point is d times the generator.
  if (!pkey || !pkey_check(pkey.get(), true)) {
    return ossl_error(Errc::malformed, "OpenSSH ECDSA private key does not match its public key");
  }
  return pkey;
}

Result<PkeyPtr> openssh_rsa_private(util::Reader& p) {
  // sshkey_private_serialize order: n, e, d, iqmp, p, q.
  std::array<ByteSpan, 6> mags;
  std::string why;
  for (auto& m : mags) {
    if (!read_mpint(p, m, why)) {
      return Error(why.starts_with("truncated") ? Errc::truncated : Errc::malformed,
                   "OpenSSH RSA key: " + why);
    }
    if (m.size() > kMaxRsaBits / 8) return Error(Errc::too_large, "RSA key too large");
  }
  BnPtr n = bn_from(mags[0], false);
  BnPtr e = bn_from(mags[1], false);
  BnPtr d = bn_from(mags[2], true);
  BnPtr iqmp = bn_from(mags[3], true);
  BnPtr prime_p = bn_from(mags[4], true);
  BnPtr prime_q = bn_from(mags[5], true);
  BnPtr dmp1(BN_secure_new());
  BnPtr dmq1(BN_secure_new());
  BnPtr tmp(BN_secure_new());
  BnCtxPtr bn_ctx(BN_CTX_secure_new());
  if (!n || !e || !d || !iqmp || !prime_p || !prime_q || !dmp1 || !dmq1 || !tmp || !bn_ctx) {
    return ossl_error(Errc::malformed, "cannot read the RSA key");
  }
  if (auto ok = check_rsa_public(n.get(), e.get()); !ok) return ok.error();
  if (BN_is_zero(prime_p.get()) || BN_is_zero(prime_q.get()) || BN_is_zero(d.get())) {
    return Error(Errc::malformed, "OpenSSH RSA key has a zero component");
  }
  // OpenSSH does not store the CRT exponents; OpenSSL wants them.
  const bool derived = BN_sub(tmp.get(), prime_p.get(), BN_value_one()) == 1 &&
                       BN_mod(dmp1.get(), d.get(), tmp.get(), bn_ctx.get()) == 1 &&
                       BN_sub(tmp.get(), prime_q.get(), BN_value_one()) == 1 &&
                       BN_mod(dmq1.get(), d.get(), tmp.get(), bn_ctx.get()) == 1;
  ParamBldPtr bld(OSSL_PARAM_BLD_new());
  if (!derived || !bld || OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, n.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, e.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_D, d.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR1, prime_p.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_FACTOR2, prime_q.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT1, dmp1.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_EXPONENT2, dmq1.get()) != 1 ||
      OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_COEFFICIENT1, iqmp.get()) != 1) {
    return ossl_error(Errc::malformed, "cannot build the RSA key");
  }
  PkeyPtr pkey = pkey_from_params("RSA", bld.get(), EVP_PKEY_KEYPAIR);
  // The pairwise check confirms n = pq and that d inverts e.
  if (!pkey || !pkey_check(pkey.get(), true)) {
    return ossl_error(Errc::malformed, "OpenSSH RSA private key is inconsistent");
  }
  return pkey;
}

// Context for OpenSSL's PEM passphrase callback. The provider is asked at
// most once, and only if OpenSSL finds the key encrypted.
struct PassphraseRequest {
  const PassphraseProvider* provider = nullptr;
  const fs::path* name = nullptr;
  bool asked = false;
  std::optional<Error> failure;
  SecretBytes passphrase;
};

int passphrase_callback(char* buf, int size, int /*rwflag*/, void* u) {
  auto* req = static_cast<PassphraseRequest*>(u);
  if (!req->asked) {
    req->asked = true;
    if (req->provider == nullptr || !*req->provider) {
      req->failure = Error(Errc::config, display(req->name->string()) +
                                             " is encrypted and no passphrase was supplied");
      return -1;
    }
    try {
      auto got = (*req->provider)(*req->name);
      if (!got) {
        req->failure = got.error();
        return -1;
      }
      req->passphrase = std::move(*got);
    } catch (const std::exception&) {
      // An exception must not unwind through OpenSSL's C frames.
      req->failure = Error(Errc::io, "reading the passphrase failed");
      return -1;
    }
  }
  if (req->failure || size < 0 || req->passphrase.size() > static_cast<std::size_t>(size)) {
    return -1;
  }
  std::copy(req->passphrase.span().begin(), req->passphrase.span().end(), buf);
  return static_cast<int>(req->passphrase.size());
}

Result<PkeyPtr> parse_pem_private(ByteSpan contents, const PassphraseProvider& provider,
                                  const fs::path& name) {
  BioPtr bio(BIO_new_mem_buf(contents.data(), static_cast<int>(contents.size())));
  if (!bio) return ossl_error(Errc::io, "out of memory");
  PassphraseRequest req;
  req.provider = &provider;
  req.name = &name;
  PkeyPtr pkey(PEM_read_bio_PrivateKey(bio.get(), nullptr, passphrase_callback, &req));
  if (pkey) {
    ERR_clear_error();
    return pkey;
  }
  if (req.failure) {
    ERR_clear_error();
    return *req.failure;
  }
  if (req.asked) {
    return ossl_error(Errc::config, "wrong passphrase for " + display(name.string()) +
                                        " (or the file is damaged)");
  }
  return ossl_error(Errc::malformed, display(name.string()) + " is not a readable PEM private key");
}

// Extracts and base64-decodes the body between the OpenSSH armor lines.
Result<SecretBytes> dearmor_openssh(std::string_view text) {
  const auto begin = text.find(kOpensshBegin);
  const auto end = begin == std::string_view::npos
                       ? begin
                       : text.find(kOpensshEnd, begin + kOpensshBegin.size());
  if (begin == std::string_view::npos || end == std::string_view::npos) {
    return Error(Errc::malformed, "OpenSSH private key armor is incomplete");
  }
  const std::string_view body =
      text.substr(begin + kOpensshBegin.size(), end - begin - kOpensshBegin.size());
  std::string b64;
  b64.reserve(body.size());
  for (char c : body) {
    if (c == ' ' || c == '\t' || c == '\r' || c == '\n') continue;
    b64.push_back(c);
  }
  auto decoded = util::base64_decode(b64);
  cleanse_string(b64);
  if (!decoded) return Error(Errc::malformed, "OpenSSH private key body is not valid base64");
  SecretBytes out{std::span<const std::uint8_t>(*decoded)};
  cleanse(*decoded);
  return out;
}

std::string mode_string(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

bool printable_one_line(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
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

// --- PrivateKey ---

void PrivateKey::Free::operator()(evp_pkey_st* p) const noexcept {
  EVP_PKEY_free(p);
}

PrivateKey::PrivateKey(std::unique_ptr<evp_pkey_st, Free> pkey, PublicKey pub, std::string comment)
    : pkey_(std::move(pkey)), public_(std::move(pub)), comment_(std::move(comment)) {}
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;

Result<PrivateKey> PrivateKey::adopt(evp_pkey_st* raw, std::string comment) {
  std::unique_ptr<evp_pkey_st, Free> pkey(raw);
  auto pub = PublicKey::from_evp(pkey.get(), KeyPolicy::display_only);
  if (!pub) return pub.error();
  if (auto ok = pub->check_policy(); !ok) return Error(Errc::config, ok.error().detail);
  return PrivateKey(std::move(pkey), std::move(*pub), std::move(comment));
}

Result<PrivateKey> PrivateKey::generate(KeyType type) {
  EVP_PKEY* raw = nullptr;
  switch (type) {
    case KeyType::ed25519:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
      break;
    case KeyType::ecdsa_p256:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
      break;
    case KeyType::rsa:
      raw = EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", std::size_t{kGeneratedRsaBits});
      break;
  }
  if (raw == nullptr) return ossl_error(Errc::io, "OpenSSL key generation failed");
  return adopt(raw, {});
}

Result<PrivateKey> PrivateKey::from_openssh_binary(util::ByteSpan data) {
  util::Reader r(data);
  bool encrypted = false;
  auto container = read_openssh_container(r, encrypted);
  if (!container) return container.error();
  auto header_key = PublicKey::from_ssh_blob(container->public_blob, KeyPolicy::display_only);
  if (!header_key) return header_key.error();

  const ByteSpan section = container->private_section;
  if (section.size() % kOpensshBlockSize != 0) {
    return Error(Errc::malformed, "OpenSSH key: private section is not padded to the block size");
  }
  util::Reader p(section);
  std::uint32_t check1 = 0;
  std::uint32_t check2 = 0;
  ByteSpan type_name;
  if (!p.read_u32(check1) || !p.read_u32(check2) || !p.read_string32(type_name)) {
    return Error(Errc::truncated, "OpenSSH private key truncated");
  }
  if (check1 != check2) {
    return Error(Errc::malformed, "OpenSSH key: check values differ (the file is damaged)");
  }
  if (util::as_chars(type_name) != header_key->ssh_type()) {
    return Error(Errc::malformed, "OpenSSH key: private and public key types differ");
  }
  Result<PkeyPtr> pkey = Error(Errc::malformed);
  switch (header_key->type()) {
    case KeyType::ed25519:
      pkey = openssh_ed25519_private(p);
      break;
    case KeyType::ecdsa_p256:
      pkey = openssh_ecdsa_private(p);
      break;
    case KeyType::rsa:
      pkey = openssh_rsa_private(p);
      break;
  }
  if (!pkey) return pkey.error();
  ByteSpan comment;
  if (!p.read_string32(comment)) return Error(Errc::truncated, "OpenSSH key: comment truncated");
  // Padding is 1, 2, 3, ... up to the block size (PROTOCOL.key).
  if (p.remaining() >= kOpensshBlockSize) {
    return Error(Errc::trailing_data, "OpenSSH key: data after the private key");
  }
  for (std::uint8_t expected = 1; !p.empty(); ++expected) {
    std::uint8_t b = 0;
    if (!p.read_u8(b) || b != expected) {
      return Error(Errc::malformed, "OpenSSH key: invalid padding");
    }
  }
  auto key = adopt(pkey->release(), std::string(util::as_chars(comment)));
  if (!key) return key.error();
  if (!(key->public_key() == *header_key)) {
    return Error(Errc::malformed, "OpenSSH key: private key does not match the public key");
  }
  return key;
}

Result<PrivateKey> PrivateKey::parse(util::ByteSpan contents, const PassphraseProvider& passphrase,
                                     const std::filesystem::path& name) {
  const std::string_view text = util::as_chars(contents);
  const std::string shown = display(name.string());
  if (text.find(kOpensshBegin) != std::string_view::npos) {
    auto binary = dearmor_openssh(text);
    if (!binary) return Error(binary.error().code, shown + ": " + binary.error().detail);
    util::Reader peek(binary->span());
    bool encrypted = false;
    if (auto c = read_openssh_container(peek, encrypted); !c && encrypted) {
      return Error(Errc::config, encrypted_openssh_hint(name));
    }
    auto key = from_openssh_binary(binary->span());
    if (!key) return Error(key.error().code, shown + ": " + key.error().detail);
    return key;
  }
  if (text.find("-----BEGIN ") != std::string_view::npos &&
      text.find("PRIVATE KEY-----") != std::string_view::npos) {
    auto pkey = parse_pem_private(contents, passphrase, name);
    if (!pkey) return pkey.error();
    auto key = adopt(pkey->release(), {});
    if (!key) return Error(key.error().code, shown + ": " + key.error().detail);
    return key;
  }
  return Error(Errc::malformed,
               shown + " is not a private key (expected PEM or OpenSSH private key format)");
}

Result<PrivateKey> PrivateKey::load(const std::filesystem::path& path,
                                    const PassphraseProvider& passphrase) {
  auto file = read_secret_file(path, kMaxKeyFileSize);
  if (!file) return file.error();
  if ((file->mode & 077) != 0) {
    const std::string shown = display(path.string());
    return Error(Errc::config, shown + ": permissions " + mode_string(file->mode) +
                                   " are too open; a private key must be accessible only by "
                                   "its owner (run: chmod 600 " +
                                   shown + ")");
  }
  // A key file that belongs to someone else is theirs to replace with a key
  // of their choosing; the mode check above cannot keep its owner out. (The
  // keys layer's check_private_ownership is this rule for files others must
  // not write; crypto sits below that layer.)
  if (const uid_t me = ::geteuid(); file->owner != me && file->owner != 0) {
    const std::string shown = display(path.string());
    return Error(Errc::config, shown + " belongs to uid " + std::to_string(file->owner) +
                                   ", neither this user (uid " + std::to_string(me) +
                                   ") nor root; a private key must belong to the user who "
                                   "uses it");
  }
  return parse(file->contents.span(), passphrase, path);
}

Result<void> PrivateKey::save(const std::filesystem::path& path, std::string_view comment,
                              std::span<const std::uint8_t> passphrase, Overwrite overwrite) const {
  if (!printable_one_line(comment)) {
    return Error(Errc::config, "a key comment must be printable text on one line");
  }
  fs::path pub_path = path;
  pub_path += ".pub";
  if (overwrite == Overwrite::no) {
    for (const auto& p : {path, pub_path}) {
      std::error_code ec;
      if (fs::symlink_status(p, ec).type() != fs::file_type::not_found) {
        return Error(Errc::config, display(p.string()) + " already exists; not overwriting it");
      }
    }
  }
  // BIO_s_secmem keeps the PEM (the key itself when unencrypted) in secure
  // memory when OpenSSL has a secure heap, and clears it on free either way.
  BioPtr bio(BIO_new(BIO_s_secmem()));
  if (!bio) return ossl_error(Errc::io, "out of memory");
  const EVP_CIPHER* cipher = passphrase.empty() ? nullptr : EVP_aes_256_cbc();
  // OpenSSL takes the passphrase as a non-const char*; it only reads it.
  char* pass = passphrase.empty()
                   ? nullptr
                   : const_cast<char*>(reinterpret_cast<const char*>(passphrase.data()));
  if (PEM_write_bio_PKCS8PrivateKey(bio.get(), pkey_.get(), cipher, pass,
                                    static_cast<int>(passphrase.size()), nullptr, nullptr) != 1) {
    return ossl_error(Errc::io, "cannot encode the private key");
  }
  char* pem_data = nullptr;
  const long pem_len = BIO_get_mem_data(bio.get(), &pem_data);
  if (pem_len <= 0 || pem_data == nullptr) return ossl_error(Errc::io, "cannot encode the key");
  const ByteSpan pem(reinterpret_cast<const std::uint8_t*>(pem_data),
                     static_cast<std::size_t>(pem_len));
  if (auto ok = util::write_file_atomic(path, pem, 0600, overwrite); !ok) return ok;

  const std::string line = format_public_key_line(public_, comment) + "\n";
  if (auto ok = util::write_file_atomic(pub_path, util::as_bytes(line), 0644, overwrite); !ok) {
    // Without its .pub a fresh key is only half made; leave nothing behind.
    if (overwrite == Overwrite::no) ::unlink(path.c_str());
    return ok;
  }
  return {};
}

}  // namespace signet::crypto
