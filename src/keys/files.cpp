#include "keys/files.hpp"

#include <unistd.h>

#include "util/encoding.hpp"

namespace signet::keys {

namespace fs = std::filesystem;

Result<void> check_private_ownership(const util::FileStamp& stamp, const fs::path& name) {
  const std::string shown = util::escape_for_display(name.string());
  if ((stamp.mode & 022) != 0) {
    return Error(Errc::config,
                 shown + " is writable by group or others (run: chmod go-w " + shown + ")");
  }
  const uid_t me = ::geteuid();
  if (stamp.owner != me && stamp.owner != 0) {
    return Error(Errc::config, shown + " belongs to uid " + std::to_string(stamp.owner) +
                                   ", neither this user (uid " + std::to_string(me) + ") nor root");
  }
  return {};
}

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace signet::keys
