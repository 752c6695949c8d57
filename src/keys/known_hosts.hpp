// known_hosts: the server keys a key-mode client has pinned.
//
// File format, one pin per line:
//
//   HOST:PORT KEYTYPE BASE64 [comment]
//
//   HOST  a DNS name (compared case-insensitively and stored in lower case,
//         without a trailing dot), an IPv4 address, or an IPv6 address in
//         brackets: [2001:db8::1]:7000. Numeric hosts are stored as the
//         address the connection goes to (see normalize_host_port).
//   PORT  decimal, 1-65535, always written: another port is another server.
//   KEYTYPE BASE64  as in a .pub file (ssh-ed25519, ecdsa-sha2-nistp256,
//         ssh-rsa); the comment is free text.
//
// The file must pass check_private_ownership and the folders above it
// check_private_directories (paths.hpp), as sshd requires of
// authorized_keys: pins that someone else could have edited are refused
// (config, naming the path and the fix), never used.
//
// Blank lines and lines starting with '#' are ignored. Unlike OpenSSH's
// known_hosts there is no hashing, no host lists, wildcards or @markers. A
// host should appear once; if it appears on several lines the first wins.
// A damaged line for the host being looked up is an error, never skipped:
// skipping it could turn a pinned host into an unknown one.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

#include "crypto/identity.hpp"
#include "util/error.hpp"

namespace signet::keys {

constexpr std::size_t kMaxKnownHostsSize = 4 * 1024 * 1024;

// normalize_host_port returns the canonical "host:port" used as the key of a
// pin ("Example.COM:7000" -> "example.com:7000", "[0:0::1]:7000" ->
// "[::1]:7000"), so that every spelling of one server finds its pin and
// --accept-new cannot pin a second key for it:
//   - a numeric IPv4 host is read as the resolver reads it (inet_aton, as
//     glibc's getaddrinfo does) and stored as a dotted quad: "127.1",
//     "127.000.000.001", "0x7f.0.0.1" and "2130706433" are all 127.0.0.1,
//     and leading zeros mean octal ("010.0.0.1" is 8.0.0.1);
//   - an IPv4-mapped IPv6 address ([::ffff:10.0.0.1]) is its IPv4 address;
//   - a name loses one trailing dot ("example.com." is "example.com");
//     anything inet_aton refuses is a name ("1password.example", "08.1.2.3").
// Fails with config, saying why, on a missing or bad port, an unbracketed
// IPv6 address, a host name with invalid characters or an empty label at
// the end, or a numeric address with a trailing dot ("127.0.0.1."), which
// the resolver looks up as a name.
Result<std::string> normalize_host_port(std::string_view host_port);

enum class HostStatus {
  known,    // pinned, and the presented key is the pinned one
  unknown,  // nothing pinned for this host
  changed,  // pinned to a different key: possible man in the middle
};

struct HostCheck {
  HostStatus status = HostStatus::unknown;
  std::optional<crypto::PublicKey> pinned;  // set when known or changed
  std::size_t line = 0;                     // the pin's line, when pinned
};

enum class Replace : bool { no, yes };

class KnownHosts {
 public:
  explicit KnownHosts(std::filesystem::path path) : path_(std::move(path)) {}
  const std::filesystem::path& path() const noexcept { return path_; }

  // lookup returns the key pinned for host_port, or nullopt (also when the
  // file does not exist). Fails with config on a bad host_port or a file or
  // folder others can write (see above), malformed if the host's line is
  // damaged, io if the file cannot be read.
  Result<std::optional<crypto::PublicKey>> lookup(std::string_view host_port) const;

  // check compares key with the pin; `changed` carries the pinned key so the
  // caller can show both fingerprints. Fails like lookup.
  Result<HostCheck> check(std::string_view host_port, const crypto::PublicKey& key) const;

  // add pins key for host_port with an atomic rewrite (file created 0600 if
  // missing; its directory must exist). Pinning the key already pinned does
  // nothing. If another key is pinned it fails with host_key_changed naming
  // both fingerprints, unless replace is yes, which drops the old pin.
  // Otherwise fails like lookup.
  Result<void> add(std::string_view host_port, const crypto::PublicKey& key,
                   std::string_view comment = {}, Replace replace = Replace::no);

 private:
  std::filesystem::path path_;
};

}  // namespace signet::keys
