#include "files/names.hpp"

#include "util/encoding.hpp"

namespace signet::files {
namespace {

Error bad_name(std::string_view name, const std::string& why) {
  return Error(Errc::malformed, "bad file name \"" + util::escape_for_display(name) + "\": " + why);
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
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == 0) return bad_name(name, "holds a NUL byte");
    if (c < 0x20 || c == 0x7f) return bad_name(name, "holds a control character");
  }
  if (!util::is_utf8(name)) return bad_name(name, "is not valid UTF-8");
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
