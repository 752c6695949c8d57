// Where key mode keeps its files by default:
//
//   $XDG_CONFIG_HOME/signet/   (or ~/.config/signet/ when XDG_CONFIG_HOME is
//                               unset, empty or relative, per the XDG Base
//                               Directory specification), mode 0700
//     id_ed25519, id_ed25519.pub   this machine's identity (id_ecdsa, id_rsa
//                                  for the other key types)
//     authorized_keys              keys a server admits
//     known_hosts                  server keys a client has pinned
#pragma once

#include <filesystem>
#include <optional>

#include "crypto/identity.hpp"
#include "util/error.hpp"

namespace signet::keys {

// The configuration directory, without creating it. Fails with config if
// neither XDG_CONFIG_HOME nor a home directory is known.
Result<std::filesystem::path> config_dir_path();

struct ConfigDir {
  std::filesystem::path path;
  bool created = false;  // true the first time: worth a notice to the user
};

// ensure_config_dir creates the directory (and a missing ~/.config) with
// mode 0700 if needed. Fails with config if the path exists but is not a
// directory, io if it cannot be created.
Result<ConfigDir> ensure_config_dir();

// <dir>/id_ed25519: the identity signet uses when none is named.
std::filesystem::path default_identity_path(const std::filesystem::path& dir);
// <dir>/id_ed25519, <dir>/id_ecdsa or <dir>/id_rsa.
std::filesystem::path identity_path(const std::filesystem::path& dir, crypto::KeyType type);
// The first of id_ed25519, id_ecdsa, id_rsa that exists in dir.
std::optional<std::filesystem::path> find_default_identity(const std::filesystem::path& dir);
std::filesystem::path authorized_keys_path(const std::filesystem::path& dir);
std::filesystem::path known_hosts_path(const std::filesystem::path& dir);

}  // namespace signet::keys
