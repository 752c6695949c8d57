#include "crypto/sshsig.hpp"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdint>
#include <utility>

#include "crypto/key_encoding.hpp"
#include "crypto/openssl_ptr.hpp"
#include "util/encoding.hpp"

namespace signet::crypto {
namespace {

using detail::BnPtr;
using detail::display;
using detail::ossl_error;
using util::Bytes;
using util::ByteSpan;

using MdCtxPtr = OpenSslPtr<EVP_MD_CTX, EVP_MD_CTX_free>;
using EcdsaSigPtr = OpenSslPtr<ECDSA_SIG, ECDSA_SIG_free>;

// PROTOCOL.sshsig: the blob's magic and version, and the armor around it.
constexpr std::string_view kMagic = "SSHSIG";
constexpr std::uint32_t kVersion = 1;
constexpr std::string_view kBeginLine = "-----BEGIN SSH SIGNATURE-----\n";
constexpr std::string_view kEndMarker = "-----END SSH SIGNATURE-----";
// ssh-keygen wraps the base64 at 70 columns (sshbuf_dtob64).
constexpr std::size_t kArmorColumns = 70;
// ssh-keygen signs with sha512; PROTOCOL.sshsig also allows sha256.
constexpr std::string_view kSignHash = "sha512";
// Signature algorithm names: RFC 8709 (Ed25519), RFC 5656 (ECDSA), RFC 8332
// (RSA with SHA-2; OpenSSH's sshsig.c accepts only these two for RSA).
constexpr std::string_view kEd25519Alg = "ssh-ed25519";
constexpr std::string_view kEcdsaAlg = "ecdsa-sha2-nistp256";
constexpr std::string_view kRsaSha512Alg = "rsa-sha2-512";
constexpr std::string_view kRsaSha256Alg = "rsa-sha2-256";
constexpr std::size_t kEd25519SignatureSize = 64;  // RFC 8032 section 5.1.6

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

// The digest named by an SSHSIG hash_algorithm field; null if SSHSIG does not
// allow it.
const EVP_MD* sshsig_hash(std::string_view name) {
  if (name == "sha512") return EVP_sha512();
  if (name == "sha256") return EVP_sha256();
  return nullptr;
}

Result<Bytes> digest(const EVP_MD* md, ByteSpan message) {
  Bytes out(static_cast<std::size_t>(EVP_MD_get_size(md)));
  unsigned int len = 0;
  if (EVP_Digest(message.data(), message.size(), out.data(), &len, md, nullptr) != 1 ||
      len != out.size()) {
    return ossl_error(Errc::io, "OpenSSL cannot hash the message");
  }
  return out;
}

// PROTOCOL.sshsig: the namespace may not be empty, and OpenSSH reads it as a
// C string, so a NUL byte would make a signature no one else can verify.
Result<void> check_namespace(std::string_view name_space) {
  if (name_space.empty()) return Error(Errc::malformed, "the SSHSIG namespace is empty");
  if (name_space.find('\0') != std::string_view::npos) {
    return Error(Errc::malformed, "the SSHSIG namespace holds a NUL byte");
  }
  return {};
}

// What is signed (PROTOCOL.sshsig, "Signed Data"). The reserved field is
// always signed empty: OpenSSH's verifier builds it that way whatever the
// blob carries.
Bytes signed_data(std::string_view name_space, std::string_view hash_name, ByteSpan hash) {
  Bytes out;
  util::Writer w(out);
  w.bytes(kMagic);
  w.string32(util::as_bytes(name_space));
  w.string32({});
  w.string32(util::as_bytes(hash_name));
  w.string32(hash);
  return out;
}

// The SSH signature encoding of `data` signed by `key`: string algorithm,
// string signature (RFC 4253 section 6.6 and the RFCs above).
Result<Bytes> ssh_signature(const PrivateKey& key, ByteSpan data) {
  const EVP_MD* md = nullptr;
  std::string_view alg;
  switch (key.type()) {
    case KeyType::ed25519:
      alg = kEd25519Alg;  // Ed25519 hashes internally: no digest
      break;
    case KeyType::ecdsa_p256:
      alg = kEcdsaAlg;
      md = EVP_sha256();  // RFC 5656 section 6.2.1
      break;
    case KeyType::rsa:
      alg = kRsaSha512Alg;
      md = EVP_sha512();
      break;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  std::size_t len = 0;
  if (!ctx || EVP_DigestSignInit(ctx.get(), nullptr, md, nullptr, key.evp()) != 1 ||
      EVP_DigestSign(ctx.get(), nullptr, &len, data.data(), data.size()) != 1) {
    return ossl_error(Errc::io, "OpenSSL cannot sign with this key");
  }
  Bytes raw(len);
  if (EVP_DigestSign(ctx.get(), raw.data(), &len, data.data(), data.size()) != 1) {
    return ossl_error(Errc::io, "OpenSSL cannot sign with this key");
  }
  raw.resize(len);

  Bytes sig_blob;
  if (key.type() == KeyType::ecdsa_p256) {
    // OpenSSL gives DER; SSH wants string(mpint r, mpint s) (RFC 5656
    // section 3.1.2).
    const unsigned char* p = raw.data();
    EcdsaSigPtr sig(d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(raw.size())));
    if (!sig) return ossl_error(Errc::io, "OpenSSL gave an unreadable ECDSA signature");
    const BIGNUM* r = nullptr;
    const BIGNUM* s = nullptr;
    ECDSA_SIG_get0(sig.get(), &r, &s);
    util::Writer w(sig_blob);
    detail::write_mpint(w, r);
    detail::write_mpint(w, s);
  } else {
    sig_blob = std::move(raw);
  }
  Bytes out;
  util::Writer w(out);
  w.string32(util::as_bytes(alg));
  w.string32(sig_blob);
  return out;
}

// An SSH signature taken apart into what EVP_DigestVerify wants.
struct VerifyInput {
  const EVP_MD* md = nullptr;
  Bytes signature;
};

// Decodes the SSH signature encoding for `key`; the algorithm must fit the
// key (RSA: rsa-sha2-512 or rsa-sha2-256 only, as OpenSSH's sshsig.c).
Result<VerifyInput> decode_ssh_signature(const PublicKey& key, ByteSpan encoded) {
  util::Reader r(encoded);
  ByteSpan alg_bytes;
  ByteSpan blob;
  if (!r.read_string32(alg_bytes) || !r.read_string32(blob)) {
    return Error(Errc::truncated, "SSHSIG signature field truncated");
  }
  if (!r.empty())
    return Error(Errc::trailing_data, "bytes left over in the SSHSIG signature field");
  const std::string_view alg = util::as_chars(alg_bytes);
  const auto wrong_alg = [&] {
    return Error(Errc::malformed, "signature algorithm \"" + display(alg) +
                                      "\" is not supported for an " + std::string(key.ssh_type()) +
                                      " key");
  };

  VerifyInput in;
  switch (key.type()) {
    case KeyType::ed25519:
      if (alg != kEd25519Alg) return wrong_alg();
      if (blob.size() != kEd25519SignatureSize) {
        return Error(Errc::malformed, "Ed25519 signature is not 64 bytes");
      }
      in.signature.assign(blob.begin(), blob.end());
      return in;

    case KeyType::ecdsa_p256: {
      if (alg != kEcdsaAlg) return wrong_alg();
      util::Reader inner(blob);
      ByteSpan r_mag;
      ByteSpan s_mag;
      std::string why;
      if (!detail::read_mpint(inner, r_mag, why) || !detail::read_mpint(inner, s_mag, why)) {
        return Error(why.starts_with("truncated") ? Errc::truncated : Errc::malformed,
                     "ECDSA signature: " + why);
      }
      if (!inner.empty()) {
        return Error(Errc::trailing_data, "bytes left over in the ECDSA signature");
      }
      if (r_mag.size() > detail::kP256FieldSize || s_mag.size() > detail::kP256FieldSize) {
        return Error(Errc::malformed, "ECDSA signature integer longer than the P-256 order");
      }
      BnPtr r_bn = detail::bn_from(r_mag, false);
      BnPtr s_bn = detail::bn_from(s_mag, false);
      EcdsaSigPtr sig(ECDSA_SIG_new());
      if (!r_bn || !s_bn || !sig || ECDSA_SIG_set0(sig.get(), r_bn.get(), s_bn.get()) != 1) {
        return ossl_error(Errc::io, "out of memory");
      }
      // ECDSA_SIG_set0 took ownership of both.
      (void)r_bn.release();
      (void)s_bn.release();
      const int der_len = i2d_ECDSA_SIG(sig.get(), nullptr);
      if (der_len <= 0) return ossl_error(Errc::io, "cannot DER-encode the ECDSA signature");
      in.signature.resize(static_cast<std::size_t>(der_len));
      unsigned char* p = in.signature.data();
      if (i2d_ECDSA_SIG(sig.get(), &p) != der_len) {
        return ossl_error(Errc::io, "cannot DER-encode the ECDSA signature");
      }
      in.md = EVP_sha256();
      return in;
    }

    case KeyType::rsa: {
      if (alg == kRsaSha512Alg) {
        in.md = EVP_sha512();
      } else if (alg == kRsaSha256Alg) {
        in.md = EVP_sha256();
      } else {
        return wrong_alg();
      }
      // OpenSSH accepts a signature shorter than the modulus (a leading zero
      // dropped) and pads it back; longer is wrong.
      const std::size_t modulus_size = (key.bits() + 7) / 8;
      if (blob.size() > modulus_size) {
        return Error(Errc::malformed, "RSA signature longer than the modulus");
      }
      in.signature.assign(modulus_size - blob.size(), 0);
      in.signature.insert(in.signature.end(), blob.begin(), blob.end());
      return in;
    }
  }
  return wrong_alg();
}

std::string armor(ByteSpan blob) {
  const std::string b64 = util::base64_encode(blob);
  std::string out(kBeginLine);
  for (std::size_t i = 0; i < b64.size(); i += kArmorColumns) {
    out.append(b64, i, kArmorColumns);
    out += '\n';
  }
  out += kEndMarker;
  out += '\n';
  return out;
}

// The blob inside the armor. As OpenSSH's sshsig_dearmor: the BEGIN line
// first, the base64 up to a line that starts with the END marker, whitespace
// in the base64 ignored; unlike it, nothing but whitespace may follow.
Result<Bytes> dearmor(std::string_view text) {
  if (text.size() > kMaxSshsigArmorSize) {
    return Error(Errc::too_large, "SSH signature of " + std::to_string(text.size()) +
                                      " bytes is above " + std::to_string(kMaxSshsigArmorSize));
  }
  if (!text.starts_with(kBeginLine)) {
    return Error(Errc::malformed,
                 "not an SSH signature: no \"-----BEGIN SSH SIGNATURE-----\" line");
  }
  text.remove_prefix(kBeginLine.size());
  const std::string end_line = "\n" + std::string(kEndMarker);
  const std::size_t end = text.find(end_line);
  if (end == std::string_view::npos) {
    return Error(Errc::malformed,
                 "SSH signature has no \"-----END SSH SIGNATURE-----\" line (truncated?)");
  }
  const std::string_view after = text.substr(end + end_line.size());
  if (!std::all_of(after.begin(), after.end(), is_space)) {
    return Error(Errc::trailing_data, "text after the \"-----END SSH SIGNATURE-----\" line");
  }
  std::string b64;
  for (char c : text.substr(0, end)) {
    if (!is_space(c)) b64 += c;
  }
  auto blob = util::base64_decode(b64);
  if (!blob) return Error(Errc::malformed, "SSH signature holds invalid base64");
  return std::move(*blob);
}

// The fields of an SSHSIG blob (PROTOCOL.sshsig, "Blob format"), as views
// into it.
struct SshsigBlob {
  ByteSpan public_key;
  std::string_view name_space;
  std::string_view hash_algorithm;
  ByteSpan signature;
};

Result<SshsigBlob> parse_blob(ByteSpan blob) {
  util::Reader r(blob);
  ByteSpan magic;
  if (!r.read_bytes(kMagic.size(), magic)) return Error(Errc::truncated, "SSHSIG blob truncated");
  if (util::as_chars(magic) != kMagic) {
    return Error(Errc::malformed, "not an SSHSIG signature (no \"SSHSIG\" magic)");
  }
  std::uint32_t version = 0;
  if (!r.read_u32(version)) return Error(Errc::truncated, "SSHSIG blob truncated");
  if (version != kVersion) {
    return Error(Errc::bad_version,
                 "SSHSIG version " + std::to_string(version) + " is not supported (only 1)");
  }
  SshsigBlob out;
  ByteSpan name_space;
  ByteSpan reserved;  // for future use; PROTOCOL.sshsig: ignore it
  ByteSpan hash_algorithm;
  if (!r.read_string32(out.public_key) || !r.read_string32(name_space) ||
      !r.read_string32(reserved) || !r.read_string32(hash_algorithm) ||
      !r.read_string32(out.signature)) {
    return Error(Errc::truncated, "SSHSIG blob truncated");
  }
  if (!r.empty()) return Error(Errc::trailing_data, "bytes left over after the SSHSIG blob");
  out.name_space = util::as_chars(name_space);
  out.hash_algorithm = util::as_chars(hash_algorithm);
  return out;
}

}  // namespace

Result<std::string> sshsig_sign(const PrivateKey& key, std::string_view name_space,
                                ByteSpan message) {
  if (auto ok = check_namespace(name_space); !ok) return ok.error();
  auto hash = digest(EVP_sha512(), message);
  if (!hash) return hash.error();
  auto sig = ssh_signature(key, signed_data(name_space, kSignHash, *hash));
  if (!sig) return sig.error();

  Bytes blob;
  util::Writer w(blob);
  w.bytes(kMagic);
  w.u32(kVersion);
  w.string32(key.public_key().ssh_blob());
  w.string32(util::as_bytes(name_space));
  w.string32({});  // reserved
  w.string32(util::as_bytes(kSignHash));
  w.string32(*sig);
  return armor(blob);
}

Result<PublicKey> sshsig_verify(std::string_view armored, std::string_view name_space,
                                ByteSpan message) {
  if (auto ok = check_namespace(name_space); !ok) return ok.error();
  auto blob = dearmor(armored);
  if (!blob) return blob.error();
  auto parsed = parse_blob(*blob);
  if (!parsed) return parsed.error();

  auto key = PublicKey::from_ssh_blob(parsed->public_key);
  if (!key) return Error(key.error().code, "SSHSIG signer's key: " + key.error().detail);
  // The namespace is public; a plain comparison is fine.
  if (parsed->name_space != name_space) {
    return Error(Errc::bad_tag, "SSH signature is for namespace \"" + display(parsed->name_space) +
                                    "\", not \"" + display(name_space) + "\"");
  }
  const EVP_MD* hash_md = sshsig_hash(parsed->hash_algorithm);
  if (hash_md == nullptr) {
    return Error(Errc::malformed, "SSHSIG hash algorithm \"" + display(parsed->hash_algorithm) +
                                      "\" is not supported (only sha512 and sha256)");
  }
  auto in = decode_ssh_signature(*key, parsed->signature);
  if (!in) return in.error();
  auto hash = digest(hash_md, message);
  if (!hash) return hash.error();
  const Bytes data = signed_data(name_space, parsed->hash_algorithm, *hash);

  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, in->md, nullptr, key->evp()) != 1) {
    return ossl_error(Errc::io, "OpenSSL cannot verify with the signer's key");
  }
  if (EVP_DigestVerify(ctx.get(), in->signature.data(), in->signature.size(), data.data(),
                       data.size()) != 1) {
    return ossl_error(Errc::bad_tag, "SSH signature by " + key->fingerprint() +
                                         " does not verify (message or signature changed)");
  }
  return std::move(*key);
}

}  // namespace signet::crypto
