#include "files/names.hpp"

#include <cstdint>

#include "util/encoding.hpp"

namespace signet::files {
namespace {

Error bad_name(std::string_view name, const std::string& why) {
  return Error(Errc::malformed, "bad file name \"" + util::escape_for_display(name) + "\": " + why);
}

// Length of the well-formed UTF-8 sequence (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF) at s[i], a byte >= 0x80; 0 if the bytes
// there are not one.
std::size_t utf8_sequence_length(std::string_view s, std::size_t i) {
  const auto c = static_cast<unsigned char>(s[i]);
  std::size_t n = 0;
  std::uint32_t cp = 0;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1Fu;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0Fu;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07u;
  } else {
    return 0;
  }
  if (s.size() - i < n) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (cc & 0x3Fu);
  }
  if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || cp > 0x10FFFF ||
      (cp >= 0xD800 && cp <= 0xDFFF)) {
    return 0;
  }
  return n;
}

}  // namespace

Result<std::vector<std::string>> split_name(std::string_view name, bool allow_root) {
  if (name.empty()) {
    if (allow_root) return std::vector<std::string>{};
    return Error(Errc::malformed, "empty file name");
  }
  if (name.size() > kMaxName) {
    // Not shown: the message would be as long as the name.
    return Error(Errc::malformed, "a file name of " + std::to_string(name.size()) +
                                      " bytes is longer than " + std::to_string(kMaxName));
  }
  for (std::size_t i = 0; i < name.size();) {
    const auto c = static_cast<unsigned char>(name[i]);
    if (c == 0) return bad_name(name, "holds a NUL byte");
    if (c < 0x20 || c == 0x7f) return bad_name(name, "holds a control character");
    if (c < 0x80) {
      ++i;
      continue;
    }
    const std::size_t n = utf8_sequence_length(name, i);
    if (n == 0) return bad_name(name, "is not valid UTF-8");
    i += n;
  }
  if (name.front() == '/') return bad_name(name, "is absolute (starts with '/')");

  std::vector<std::string> parts;
  std::size_t start = 0;
  for (;;) {
    const std::size_t slash = name.find('/', start);
    const std::string_view part = name.substr(
        start, slash == std::string_view::npos ? std::string_view::npos : slash - start);
    if (part.empty()) return bad_name(name, "has an empty component");
    if (part == "." || part == "..") {
      return bad_name(name, "has a \"" + std::string(part) + "\" component");
    }
    if (part.size() > kMaxComponent) {
      return bad_name(name,
                      "has a component longer than " + std::to_string(kMaxComponent) + " bytes");
    }
    if (part.substr(0, kReservedPrefix.size()) == kReservedPrefix) {
      return bad_name(name, "has a component starting with \"" + std::string(kReservedPrefix) +
                                "\" (reserved for the server's temporary files)");
    }
    parts.emplace_back(part);
    if (slash == std::string_view::npos) return parts;
    start = slash + 1;
  }
}

}  // namespace signet::files
