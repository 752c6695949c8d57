#include "net/admission.hpp"

#include <charconv>
#include <string>
#include <vector>

namespace signet::net {
namespace {

bool parse_count(std::string_view s, std::size_t& out) {
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return !s.empty() && ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

Result<StartupLimits> parse_startup_limits(std::string_view text) {
  const auto bad = [&](const std::string& why) {
    return Error(Errc::config, "--max-startups \"" + std::string(text) + "\": " + why +
                                   " (expected BEGIN:RATE:FULL such as 256:30:1024, or N)");
  };
  std::vector<std::string_view> parts;
  for (std::size_t at = 0;;) {
    const auto colon = text.find(':', at);
    parts.push_back(text.substr(at, colon == std::string_view::npos ? colon : colon - at));
    if (colon == std::string_view::npos) break;
    at = colon + 1;
  }
  StartupLimits limits;
  std::size_t begin = 0, rate = 100, full = 0;
  if (parts.size() == 1) {
    if (!parse_count(parts[0], begin)) return bad("not a number");
    full = begin;
  } else if (parts.size() == 3) {
    if (!parse_count(parts[0], begin) || !parse_count(parts[1], rate) ||
        !parse_count(parts[2], full)) {
      return bad("not three numbers");
    }
  } else {
    return bad("wrong number of fields");
  }
  if (begin == 0) return bad("BEGIN must be at least 1");
  if (rate > 100) return bad("RATE is a percentage, at most 100");
  if (full < begin) return bad("FULL must be at least BEGIN");
  limits.begin = begin;
  limits.rate = static_cast<unsigned>(rate);
  limits.full = full;
  return limits;
}

StartupAdmission::StartupAdmission(StartupLimits limits) : limits_(limits) {}

StartupAdmission::Source StartupAdmission::source_of(const asio::ip::address& a) {
  Source s{};
  if (a.is_v4() || (a.is_v6() && a.to_v6().is_v4_mapped())) {
    const auto v4 =
        a.is_v4() ? a.to_v4() : asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6());
    const auto b = v4.to_bytes();
    s[0] = 4;
    std::copy(b.begin(), b.end(), s.begin() + 1);
  } else {
    const auto b = a.to_v6().to_bytes();
    s[0] = 6;
    std::copy(b.begin(), b.begin() + 8, s.begin() + 1);
  }
  return s;
}

Result<void> StartupAdmission::admit(const Source& source, unsigned roll) {
  std::lock_guard lock(mu_);
  if (total_ >= limits_.full) {
    return Error(Errc::busy, "too many connections in the handshake (" + std::to_string(total_) +
                                 "); try again later");
  }
  if (total_ >= limits_.begin) {
    // sshd's formula: rate% at begin, rising linearly to 100% at full.
    const std::size_t span = limits_.full - limits_.begin;
    const std::size_t p =
        limits_.rate + (span == 0 ? 0 : (100 - limits_.rate) * (total_ - limits_.begin) / span);
    if (roll < p) {
      return Error(Errc::busy, "too many connections in the handshake (" + std::to_string(total_) +
                                   "); try again later");
    }
  }
  std::size_t& mine = per_source_[source];
  if (limits_.per_source != 0 && mine >= limits_.per_source) {
    if (mine == 0) per_source_.erase(source);
    return Error(Errc::busy, "too many connections from your address in the handshake (" +
                                 std::to_string(mine) + "); try again later");
  }
  ++mine;
  ++total_;
  return {};
}

void StartupAdmission::done(const Source& source) {
  std::lock_guard lock(mu_);
  if (total_ > 0) --total_;
  auto it = per_source_.find(source);
  if (it == per_source_.end()) return;
  if (--it->second == 0) per_source_.erase(it);
}

std::size_t StartupAdmission::in_handshake() const {
  std::lock_guard lock(mu_);
  return total_;
}

}  // namespace signet::net
