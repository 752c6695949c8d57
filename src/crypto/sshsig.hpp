// OpenSSH "SSHSIG" signatures (PROTOCOL.sshsig in OpenSSH): what
// `ssh-keygen -Y sign` writes and `ssh-keygen -Y verify` checks. A signature
// binds a message to a namespace ("file", "git", an application's own name),
// so that a signature made for one purpose cannot be replayed for another.
//
// Every primitive is OpenSSL's (EVP_DigestSign, EVP_DigestVerify). This
// header includes no OpenSSL header (see public_key.hpp).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "crypto/private_key.hpp"
#include "crypto/public_key.hpp"
#include "util/bytes.hpp"
#include "util/error.hpp"

namespace signet::crypto {

// An armored signature is a few kilobytes even for a 16384-bit RSA key and a
// long namespace; sshsig_verify refuses anything bigger (too_large) before
// decoding it.
constexpr std::size_t kMaxSshsigArmorSize = 64 * 1024;

// sshsig_sign returns the armored SSHSIG signature of `message` by `key` in
// `name_space`, hash sha512: "-----BEGIN SSH SIGNATURE-----\n", the base64
// of the signature blob wrapped at 70 columns, "-----END SSH SIGNATURE-----\n",
// exactly as `ssh-keygen -Y sign -n NAMESPACE` writes it (byte for byte for
// Ed25519, whose signatures are deterministic). RSA keys sign with
// rsa-sha2-512, as ssh-keygen does. Fails with malformed for an empty
// namespace or one holding a NUL byte (PROTOCOL.sshsig forbids the first;
// ssh-keygen cannot verify the second), and with io only if OpenSSL fails.
Result<std::string> sshsig_sign(const PrivateKey& key, std::string_view name_space,
                                util::ByteSpan message);

// sshsig_verify checks an armored SSHSIG signature of `message` in
// `name_space` and returns the signer's public key; the caller decides
// whether that key is one it trusts (compare it, or its fingerprint, with
// the key it expects). It accepts what `ssh-keygen -Y verify` accepts: hash
// sha512 or sha256, RSA signatures as rsa-sha2-512 or rsa-sha2-256, and
// whitespace after the END line. It fails with
//   too_large      above kMaxSshsigArmorSize;
//   malformed      for a bad armor, bad base64, a blob that is not SSHSIG, an
//                  unsupported hash or signature algorithm, a signature
//                  algorithm that does not fit the key, or an empty
//                  expected namespace;
//   truncated, trailing_data
//                  for a blob that ends early or has bytes left over;
//   bad_version    for an SSHSIG version other than 1;
//   what PublicKey::from_ssh_blob fails with for the signer's key
//                  (not_authorized for RSA under kMinRsaBits);
//   bad_tag        when the signature is for another namespace or does not
//                  verify (a changed message, a tampered signature).
// The error's detail says which of these it was.
Result<PublicKey> sshsig_verify(std::string_view armored, std::string_view name_space,
                                util::ByteSpan message);

}  // namespace signet::crypto
