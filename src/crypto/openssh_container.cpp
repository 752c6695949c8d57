#include "crypto/openssh_container.hpp"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include "crypto/key_encoding.hpp"
#include "crypto/openssl_ptr.hpp"
#include "util/encoding.hpp"

namespace signet::crypto {
namespace detail {
namespace {

namespace fs = std::filesystem;
using util::ByteSpan;

constexpr std::string_view kOpensshMagic{"openssh-key-v1\0", 15};  // PROTOCOL.key
constexpr std::string_view kOpensshBegin = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view kOpensshEnd = "-----END OPENSSH PRIVATE KEY-----";
// The cipher "none" pads the private section to 8 bytes (PROTOCOL.key).
constexpr std::size_t kOpensshBlockSize = 8;

void cleanse_string(std::string& s) noexcept {
  cleanse(std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(s.data()), s.size()));
}

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

}  // namespace

bool has_openssh_armor(std::string_view text) {
  return text.find(kOpensshBegin) != std::string_view::npos;
}

Result<PrivateKey> parse_openssh_private_key(std::string_view text, const fs::path& name) {
  const std::string shown = display(name.string());
  auto binary = dearmor_openssh(text);
  if (!binary) return Error(binary.error().code, shown + ": " + binary.error().detail);
  util::Reader peek(binary->span());
  bool encrypted = false;
  if (auto c = read_openssh_container(peek, encrypted); !c && encrypted) {
    return Error(Errc::config, encrypted_openssh_hint(name));
  }
  auto key = PrivateKey::from_openssh_binary(binary->span());
  if (!key) return Error(key.error().code, shown + ": " + key.error().detail);
  return key;
}

}  // namespace detail

Result<PrivateKey> PrivateKey::from_openssh_binary(util::ByteSpan data) {
  util::Reader r(data);
  bool encrypted = false;
  auto container = detail::read_openssh_container(r, encrypted);
  if (!container) return container.error();
  auto header_key = PublicKey::from_ssh_blob(container->public_blob, KeyPolicy::display_only);
  if (!header_key) return header_key.error();

  const util::ByteSpan section = container->private_section;
  if (section.size() % detail::kOpensshBlockSize != 0) {
    return Error(Errc::malformed, "OpenSSH key: private section is not padded to the block size");
  }
  util::Reader p(section);
  std::uint32_t check1 = 0;
  std::uint32_t check2 = 0;
  util::ByteSpan type_name;
  if (!p.read_u32(check1) || !p.read_u32(check2) || !p.read_string32(type_name)) {
    return Error(Errc::truncated, "OpenSSH private key truncated");
  }
  if (check1 != check2) {
    return Error(Errc::malformed, "OpenSSH key: check values differ (the file is damaged)");
  }
  if (util::as_chars(type_name) != header_key->ssh_type()) {
    return Error(Errc::malformed, "OpenSSH key: private and public key types differ");
  }
  Result<detail::PkeyPtr> pkey = Error(Errc::malformed);
  switch (header_key->type()) {
    case KeyType::ed25519:
      pkey = detail::openssh_ed25519_private(p);
      break;
    case KeyType::ecdsa_p256:
      pkey = detail::openssh_ecdsa_private(p);
      break;
    case KeyType::rsa:
      pkey = detail::openssh_rsa_private(p);
      break;
  }
  if (!pkey) return pkey.error();
  util::ByteSpan comment;
  if (!p.read_string32(comment)) return Error(Errc::truncated, "OpenSSH key: comment truncated");
  // Padding is 1, 2, 3, ... up to the block size (PROTOCOL.key).
  if (p.remaining() >= detail::kOpensshBlockSize) {
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

}  // namespace signet::crypto
