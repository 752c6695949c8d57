// Public keys, as key mode knows a peer: the SSH wire blob (RFC 4253 section
// 6.6, RFC 5656 for ECDSA, RFC 8709 for Ed25519), the "SHA256:" fingerprint
// `ssh-keygen -l` prints, and the one-line OpenSSH text form.
//
// This header includes no OpenSSL header: an EVP_PKEY is exposed only as the
// opaque `evp_pkey_st*` that the TLS code passes back to OpenSSL.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "util/bytes.hpp"
#include "util/error.hpp"

struct evp_pkey_st;

namespace signet::crypto {

enum class KeyType { ed25519, ecdsa_p256, rsa };

// "ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa".
std::string_view ssh_type_name(KeyType type) noexcept;
std::optional<KeyType> key_type_from_ssh_name(std::string_view name) noexcept;
// "ED25519", "ECDSA", "RSA": the label `ssh-keygen -l` prints in parentheses.
std::string_view key_type_label(KeyType type) noexcept;
// The user-facing names "ed25519", "ecdsa", "rsa" (as in `ssh-keygen -t`).
std::optional<KeyType> key_type_from_name(std::string_view name) noexcept;

// Policy: RSA below 3072 bits gives less than 128-bit security (NIST SP
// 800-57 part 1, table 2), so signet neither generates nor admits such keys.
constexpr unsigned kMinRsaBits = 3072;
// Above this, public-key operations get slow enough to be a denial of
// service; OpenSSH has the same ceiling (SSHBUF_MAX_BIGNUM).
constexpr unsigned kMaxRsaBits = 16384;
constexpr unsigned kGeneratedRsaBits = 3072;
// An SSH public key blob is at most a 16384-bit RSA key plus framing.
constexpr std::size_t kMaxPublicKeyBlob = 4096;

// Whether a parser applies the RSA size policy. `display_only` exists for
// `signet fingerprint`, which should describe a weak key rather than refuse
// to look at it; everything that admits or uses a key keeps `enforce`.
enum class KeyPolicy { enforce, display_only };

// A public key. Copies share one immutable, public-only EVP_PKEY.
class PublicKey {
 public:
  // from_ssh_blob parses the SSH wire encoding of an ssh-ed25519,
  // ecdsa-sha2-nistp256 or ssh-rsa key. It fails with truncated, malformed
  // or trailing_data on a bad encoding (including non-canonical integers and
  // points not on the curve), too_large above kMaxPublicKeyBlob, and with
  // not_authorized for an RSA key under kMinRsaBits unless policy is
  // display_only.
  static Result<PublicKey> from_ssh_blob(util::ByteSpan blob,
                                         KeyPolicy policy = KeyPolicy::enforce);
  // from_evp copies the public half of pkey (for example the key in a peer's
  // TLS certificate). The result never references pkey, so a PublicKey made
  // from a private key holds no private material. Fails like from_ssh_blob,
  // and with malformed for an unsupported algorithm or curve.
  static Result<PublicKey> from_evp(evp_pkey_st* pkey, KeyPolicy policy = KeyPolicy::enforce);

  KeyType type() const noexcept { return type_; }
  std::string_view ssh_type() const noexcept { return ssh_type_name(type_); }
  // The SSH wire encoding; always canonical, so equal keys have equal blobs.
  const util::Bytes& ssh_blob() const noexcept { return blob_; }
  // "SHA256:" + unpadded base64 of SHA-256(blob), exactly as `ssh-keygen -l`.
  const std::string& fingerprint() const noexcept { return fingerprint_; }
  // 256 for Ed25519 and P-256, the modulus size for RSA.
  unsigned bits() const noexcept { return bits_; }
  // not_authorized if the key is below kMinRsaBits (keys parsed with
  // KeyPolicy::display_only may be).
  Result<void> check_policy() const;
  // The OpenSSL key, public half only; valid while any copy of this object lives.
  evp_pkey_st* evp() const noexcept { return pkey_.get(); }

  friend bool operator==(const PublicKey& a, const PublicKey& b) noexcept {
    return a.type_ == b.type_ && a.blob_ == b.blob_;
  }

 private:
  PublicKey() = default;
  friend class PrivateKey;

  std::shared_ptr<evp_pkey_st> pkey_;
  KeyType type_ = KeyType::ed25519;
  unsigned bits_ = 0;
  util::Bytes blob_;
  std::string fingerprint_;
};

// The `<type> <base64> [comment]` line of a .pub file, without a newline.
std::string format_public_key_line(const PublicKey& key, std::string_view comment);

}  // namespace signet::crypto
