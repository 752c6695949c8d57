// Internal to the crypto layer: the SSH wire encoding of key parts (RFC 4251
// section 5 mpints, RFC 5656 points) and the OpenSSL plumbing that both
// public keys (public_key.cpp) and OpenSSH private key files
// (openssh_container.cpp) build their EVP_PKEYs with. Not part of the API.
#pragma once

#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "crypto/openssl_ptr.hpp"
#include "util/bytes.hpp"
#include "util/error.hpp"

namespace signet::crypto::detail {

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

// An Error(code, detail) after clearing OpenSSL's error queue.
Error ossl_error(Errc code, std::string detail);

// Text (or bytes) from a key or a file name, escaped for an error message.
std::string display(std::string_view s);
std::string display(util::ByteSpan b);

// Reads an mpint that must be positive or zero and minimally encoded, and
// returns its magnitude; false with `why` ("truncated ...", or what is wrong).
bool read_mpint(util::Reader& r, util::ByteSpan& magnitude, std::string& why);
// Writes bn as an mpint (RFC 4251 section 5).
void write_mpint(util::Writer& w, const BIGNUM* bn);
// A BIGNUM from a big-endian magnitude (in secure memory if secret); null
// if OpenSSL fails.
BnPtr bn_from(util::ByteSpan magnitude, bool secret);

// EVP_PKEY_fromdata for `algorithm` ("EC", "RSA"); null on failure.
PkeyPtr pkey_from_params(const char* algorithm, OSSL_PARAM_BLD* bld, int selection);
// EVP_PKEY_pairwise_check (a key pair) or EVP_PKEY_public_check.
bool pkey_check(EVP_PKEY* pkey, bool pairwise);

// Reads the curve name and point shared by the public and private ECDSA
// encodings (RFC 5656 section 3.1); only nistp256 and uncompressed points.
bool read_ecdsa_point(util::Reader& r, util::ByteSpan& point, Error& err);
// Sanity limits on an RSA public key, before OpenSSL sees it: the modulus
// size (too_large above kMaxRsaBits), an odd modulus and a usable exponent.
Result<void> check_rsa_public(const BIGNUM* n, const BIGNUM* e);

}  // namespace signet::crypto::detail
