// One convention for owning OpenSSL objects (as BoringSSL's
// bssl::UniquePtr): a unique_ptr whose deleter is the object's own free
// function, named once per type where it is used:
//
//   using PkeyPtr = crypto::OpenSslPtr<EVP_PKEY, EVP_PKEY_free>;
//
// This header includes no OpenSSL header; the caller names the type and its
// free function. A public header that must not include OpenSSL's (the TLS
// channel's, the identity's) keeps a deleter struct whose operator() is
// defined in its .cpp instead.
#pragma once

#include <memory>

namespace signet::crypto {

template <auto FreeFunction>
struct OpenSslFree {
  template <class T>
  void operator()(T* p) const noexcept {
    FreeFunction(p);
  }
};

template <class T, auto FreeFunction>
using OpenSslPtr = std::unique_ptr<T, OpenSslFree<FreeFunction>>;

}  // namespace signet::crypto
