// Key-mode identities: public and private keys, in OpenSSH's encodings.
//
// A PublicKey (public_key.hpp) is what a peer is known by: its SSH wire blob
// and its "SHA256:" fingerprint. A PrivateKey (private_key.hpp) is this
// machine's own identity, stored as PKCS#8 PEM; OpenSSH's own unencrypted
// "openssh-key-v1" files load too. This header brings in both, for callers
// that use either; include the one you need where that is clearer.
#pragma once

#include "crypto/private_key.hpp"
#include "crypto/public_key.hpp"
#include "util/file.hpp"

namespace signet::crypto {

// Key files were write_file_atomic's first user; it lives in util now and
// keeps its old name here for callers that know it by it.
using util::write_file_atomic;

}  // namespace signet::crypto
