// Key-mode identities: public and private keys, in OpenSSH's encodings.
//
// A PublicKey is what a peer is known by: its SSH wire blob (RFC 4253 section
// 6.6, RFC 5656 for ECDSA, RFC 8709 for Ed25519) and the "SHA256:" fingerprint
// `ssh-keygen -l` prints. A PrivateKey is this machine's own identity, stored
// as PKCS#8 PEM; OpenSSH's own unencrypted "openssh-key-v1" files load too.
//
// This header includes no OpenSSL header: an EVP_PKEY is exposed only as the
// opaque `evp_pkey_st*` that the TLS code passes back to OpenSSL.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "crypto/secret.hpp"
#include "util/bytes.hpp"
#include "util/error.hpp"
#include "util/file.hpp"

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
// Key files are small; a bigger file is not a key.
constexpr std::size_t kMaxKeyFileSize = 64 * 1024;

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

// Asked for the passphrase of an encrypted private key file, and only then.
using PassphraseProvider =
    std::function<Result<SecretBytes>(const std::filesystem::path& key_file)>;

// PrivateKey::save's choice, the same as util::write_file_atomic's.
using util::Overwrite;

// This machine's identity. Move-only; the OpenSSL key is freed (and its
// secret parts wiped by OpenSSL) on destruction.
class PrivateKey {
 public:
  // generate makes a fresh key (RSA: kGeneratedRsaBits). Fails with io only
  // if OpenSSL cannot generate keys.
  static Result<PrivateKey> generate(KeyType type);

  // load reads a private key file. It refuses (config) a file that group or
  // others may read or write, naming the file and the `chmod 600` fix, and
  // one that belongs to neither this user (effective uid) nor root. It
  // accepts PKCS#8 PEM, encrypted or not (passphrase asked only when needed;
  // a wrong one fails with config), traditional PEM, and unencrypted
  // openssh-key-v1 files; an encrypted OpenSSH file fails with config and
  // says how to make a usable copy.
  static Result<PrivateKey> load(const std::filesystem::path& path,
                                 const PassphraseProvider& passphrase = {});
  // parse does what load does after reading the file; `name` only labels
  // error messages.
  static Result<PrivateKey> parse(util::ByteSpan file_contents,
                                  const PassphraseProvider& passphrase,
                                  const std::filesystem::path& name);
  // from_openssh_binary decodes the base64-decoded body of an OpenSSH
  // private key file (PROTOCOL.key), checking the check-ints, the padding,
  // that nothing is left over and that the private key matches the public
  // one. Exposed for tests and fuzzing.
  static Result<PrivateKey> from_openssh_binary(util::ByteSpan data);

  PrivateKey(PrivateKey&&) noexcept;
  PrivateKey& operator=(PrivateKey&&) noexcept;
  ~PrivateKey();

  KeyType type() const noexcept { return public_.type(); }
  const PublicKey& public_key() const noexcept { return public_; }
  // The comment stored in an OpenSSH key file; empty for PEM files.
  const std::string& comment() const noexcept { return comment_; }
  // The OpenSSL key including its private half; valid while this object lives.
  evp_pkey_st* evp() const noexcept { return pkey_.get(); }

  // save writes `path` as PKCS#8 PEM, mode 0600 (encrypted with AES-256-CBC
  // when passphrase is not empty), and `path.pub` as one OpenSSH line, mode
  // 0644, each atomically (see util::write_file_atomic). With Overwrite::no it
  // fails with config, before writing anything, if either file exists. The
  // comment must be printable text on one line (config otherwise).
  Result<void> save(const std::filesystem::path& path, std::string_view comment,
                    std::span<const std::uint8_t> passphrase = {},
                    Overwrite overwrite = Overwrite::no) const;

 private:
  struct Free {
    void operator()(evp_pkey_st* p) const noexcept;
  };
  PrivateKey(std::unique_ptr<evp_pkey_st, Free> pkey, PublicKey pub, std::string comment);
  static Result<PrivateKey> adopt(evp_pkey_st* pkey, std::string comment);

  std::unique_ptr<evp_pkey_st, Free> pkey_;
  PublicKey public_;
  std::string comment_;
};

// The `<type> <base64> [comment]` line of a .pub file, without a newline.
std::string format_public_key_line(const PublicKey& key, std::string_view comment);

// Key files were write_file_atomic's first user; it lives in util now and
// keeps its old name here for callers that know it by it.
using util::write_file_atomic;

}  // namespace signet::crypto
