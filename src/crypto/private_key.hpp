// This machine's identity: a private key, made fresh or loaded from PKCS#8
// PEM (encrypted or not), traditional PEM, or OpenSSH's unencrypted
// "openssh-key-v1" files, and saved as PKCS#8 PEM with an OpenSSH .pub line.
//
// This header includes no OpenSSL header (see public_key.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "crypto/public_key.hpp"
#include "crypto/secret.hpp"
#include "util/bytes.hpp"
#include "util/error.hpp"
#include "util/file.hpp"

struct evp_pkey_st;

namespace signet::crypto {

// Key files are small; a bigger file is not a key.
constexpr std::size_t kMaxKeyFileSize = 64 * 1024;

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

}  // namespace signet::crypto
