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

// True when s is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates
// or code points above U+10FFFF); anything else may be in it.
bool is_utf8(std::string_view s);

// True when s is well-formed UTF-8 (RFC 3629: no overlong forms, surrogates
// or code points above U+10FFFF) holding nothing that changes how a terminal
// or a log viewer shows text: no C0 control but tab, no DEL, no C1 control
// (U+0080-U+009F), no bidirectional formatting character (U+061C, U+200E,
// U+200F, U+202A-U+202E, U+2066-U+2069), no line or paragraph separator
// (U+2028, U+2029).
bool is_display_safe_utf8(std::string_view s);

// Makes arbitrary bytes safe to print on one console line: control characters
// (C0, DEL, C1), backslash, the bidirectional formatting characters and
// separators above, and bytes of invalid UTF-8 become \n, \t, \\ or \xNN
// escapes (one per byte); other multi-byte UTF-8 passes through.
std::string escape_for_display(std::string_view s);

}  // namespace signet::util
