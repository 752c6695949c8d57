#include "crypto/private_key.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <optional>
#include <utility>

#include "crypto/key_encoding.hpp"
#include "crypto/openssh_container.hpp"
#include "crypto/openssl_ptr.hpp"
#include "crypto/secret_file.hpp"
#include "util/encoding.hpp"

namespace signet::crypto {
namespace {

namespace fs = std::filesystem;
using detail::BioPtr;
using detail::display;
using detail::ossl_error;
using detail::PkeyPtr;
using util::ByteSpan;

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

Result<PrivateKey> PrivateKey::parse(util::ByteSpan contents, const PassphraseProvider& passphrase,
                                     const std::filesystem::path& name) {
  const std::string_view text = util::as_chars(contents);
  const std::string shown = display(name.string());
  if (detail::has_openssh_armor(text)) return detail::parse_openssh_private_key(text, name);
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
