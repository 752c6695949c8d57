// Internal to the crypto layer: OpenSSH's "openssh-key-v1" private key file
// (PROTOCOL.key), which PrivateKey::parse hands over when it sees the armor.
// Only unencrypted files: signet does not implement bcrypt-pbkdf.
// PrivateKey::from_openssh_binary (private_key.hpp) is defined with these.
#pragma once

#include <filesystem>
#include <string_view>

#include "crypto/private_key.hpp"
#include "util/error.hpp"

namespace signet::crypto::detail {

// True when text holds the "-----BEGIN OPENSSH PRIVATE KEY-----" line.
bool has_openssh_armor(std::string_view text);

// Decodes an armored openssh-key-v1 file. Errors name the file (`name`); an
// encrypted file fails with config and says how to make a usable copy.
Result<PrivateKey> parse_openssh_private_key(std::string_view text,
                                             const std::filesystem::path& name);

}  // namespace signet::crypto::detail
