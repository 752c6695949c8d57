// Text encodings of bytes: hex, base64 (RFC 4648), and escaping for display.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "util/bytes.hpp"

namespace signet::util {

std::string to_hex(ByteSpan b);
// Accepts upper or lower case, ignores ASCII whitespace; nullopt on odd length or a non-hex digit.
std::optional<Bytes> from_hex(std::string_view s);

// Standard alphabet with '=' padding.
std::string base64_encode(ByteSpan b);
// Standard alphabet without padding (as in OpenSSH's "SHA256:" fingerprints).
std::string base64_encode_unpadded(ByteSpan b);
// Strict: standard alphabet, padding required, no whitespace; nullopt otherwise.
std::optional<Bytes> base64_decode(std::string_view s);

// Makes arbitrary bytes safe to print on one console line: control characters,
// backslash, DEL and bytes of invalid UTF-8 become \n, \t, \\ or \xNN escapes;
// valid multi-byte UTF-8 passes through.
std::string escape_for_display(std::string_view s);

}  // namespace signet::util
