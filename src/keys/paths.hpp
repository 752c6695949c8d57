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
// neither XDG_CONFIG_HOME nor a home directory is known, or if the directory
// exists and fails check_private_directories (it holds the identity and the
// pins, so no one else may be able to change it).
Result<std::filesystem::path> config_dir_path();

struct ConfigDir {
  std::filesystem::path path;
  bool created = false;  // true the first time: worth a notice to the user
};

// ensure_config_dir creates the directory (and a missing ~/.config) with
// mode 0700 if needed. Fails with config if the path exists but is not a
// directory or fails check_private_directories, io if it cannot be created.
Result<ConfigDir> ensure_config_dir();

// check_private_directories applies check_private_ownership (files.hpp) to
// dir and to each directory above it, as sshd's safe_path() does for
// authorized_keys: whoever can write any of them can swap what lies below.
// It walks the path with symlinks resolved, then as written (so that the
// folder holding a symlink counts too). Each walk ends after the user's
// home directory, or at "/". It also ends, unchecked, at a root-owned
// directory with the sticky bit such as /tmp: that one is meant to be
// writable by all, and the sticky bit keeps others from renaming or
// removing what this user owns in it. Nothing is checked if dir does not
// exist. Fails with config like check_private_ownership, io if a directory
// cannot be examined.
Result<void> check_private_directories(const std::filesystem::path& dir);

// check_directories_of applies check_private_directories to the directory
// that holds `file` (where a file that does not exist yet would be
// created) and, when `file` is a symlink, to the one that holds its target.
Result<void> check_directories_of(const std::filesystem::path& file);

// <dir>/id_ed25519: the identity signet uses when none is named.
std::filesystem::path default_identity_path(const std::filesystem::path& dir);
// <dir>/id_ed25519, <dir>/id_ecdsa or <dir>/id_rsa.
std::filesystem::path identity_path(const std::filesystem::path& dir, crypto::KeyType type);
// The first of id_ed25519, id_ecdsa, id_rsa that exists in dir.
std::optional<std::filesystem::path> find_default_identity(const std::filesystem::path& dir);
std::filesystem::path authorized_keys_path(const std::filesystem::path& dir);
std::filesystem::path known_hosts_path(const std::filesystem::path& dir);

}  // namespace signet::keys
