// OpenSSH public key lines: `[options] type base64 [comment]`, the format of
// .pub files and authorized_keys (sshd(8), AUTHORIZED_KEYS FILE FORMAT).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/identity.hpp"
#include "util/error.hpp"

namespace signet::keys {

// A line longer than this is not a key line (a 16384-bit RSA key in base64
// with generous options and comment fits easily).
constexpr std::size_t kMaxKeyLineLength = 16 * 1024;

// One option of an options field: `name` (lower-cased) or `name="value"`.
struct KeyOption {
  std::string name;
  std::optional<std::string> value;  // dequoted; nullopt for a flag
};

// parse_options splits an options field such as
// `from="10.0.0.0/8,::1",expiry-time="20300101"`: comma-separated, values in
// double quotes (which may contain commas and \" escapes). Fails with
// malformed on an empty option, a bad name, an unterminated quote or an
// unquoted value. Knows nothing about which options exist.
Result<std::vector<KeyOption>> parse_options(std::string_view field);

struct PublicKeyLine {
  std::string options;  // the options field as written; empty when none
  std::vector<KeyOption> parsed_options;
  crypto::PublicKey key;
  std::string comment;  // the rest of the line, trimmed; may be empty
};

// parse_public_key_line parses one line (without its newline; surrounding
// blanks are ignored). The key type word must match the type encoded in the
// base64 blob. Fails with malformed (naming what is wrong), too_large, or the
// key parser's error; policy is passed to crypto::PublicKey::from_ssh_blob.
Result<PublicKeyLine> parse_public_key_line(std::string_view line,
                                            crypto::KeyPolicy policy = crypto::KeyPolicy::enforce);

// parse_key_fields parses the `type base64` pair on its own, as used by
// known_hosts; same failures as parse_public_key_line.
Result<crypto::PublicKey> parse_key_fields(std::string_view type_word, std::string_view base64,
                                           crypto::KeyPolicy policy = crypto::KeyPolicy::enforce);

// `[options ]type base64[ comment]`, without a newline.
std::string format_line(const PublicKeyLine& line);

}  // namespace signet::keys
