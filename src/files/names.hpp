// File names inside a served folder, as a peer sends them or a user types
// them: checked once, then split into the components that the folder opens
// one by one relative to a held directory (files/folder.hpp).
//
// The check is on the text alone and only decides what may be asked for;
// what the name resolves to is decided by the file system, walked without
// following symbolic links (ServedFolder), never by looking at the text.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "util/error.hpp"

namespace signet::files {

// Linux's NAME_MAX and PATH_MAX: longer names could not be opened anyway.
inline constexpr std::size_t kMaxComponent = 255;
inline constexpr std::size_t kMaxName = 4096;

// The prefix of the server's own temporary files (".signet-part-<hex>"): no
// name a peer sends may use it, so no peer can reach or clobber an upload in
// progress, and listings hide such names.
inline constexpr std::string_view kReservedPrefix = ".signet-";

// split_name checks `name`, a '/'-separated name relative to the served
// folder, and returns its components. It fails with Errc::malformed, the
// message saying what is wrong and showing the name escaped
// (util::escape_for_display), for: an empty name (unless allow_root, when the
// empty name is the folder itself and gives no components), a leading '/', an
// empty component ("a//b", a trailing '/'), a "." or ".." component, a NUL or
// any other control character (below 0x20, or 0x7f), invalid UTF-8
// (RFC 3629), a component of more than kMaxComponent bytes, a name of more
// than kMaxName bytes, or a component starting with kReservedPrefix.
Result<std::vector<std::string>> split_name(std::string_view name, bool allow_root = false);

}  // namespace signet::files
