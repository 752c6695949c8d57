#include "keys/ip_address.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "util/encoding.hpp"

namespace signet::keys {
namespace {

constexpr std::array<std::uint8_t, 12> kMappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
// INET6_ADDRSTRLEN, plus room to refuse longer input before copying it.
constexpr std::size_t kMaxAddressText = 64;

// Whether the first `prefix` bits of a and b agree.
bool prefix_equal(util::ByteSpan a, util::ByteSpan b, unsigned prefix) {
  const unsigned whole = prefix / 8;
  if (!std::equal(a.begin(), a.begin() + whole, b.begin())) return false;
  const unsigned rest = prefix % 8;
  if (rest == 0) return true;
  const auto mask = static_cast<std::uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
  // inet_pton wants a NUL-terminated string and stops at the first NUL, so
  // an embedded one would let "10.0.0.1\0junk" pass as 10.0.0.1.
  if (text.empty() || text.size() >= kMaxAddressText || text.find('\0') != std::string_view::npos) {
    return std::nullopt;
  }
  const std::string z(text);
  IpAddress a;
  if (::inet_pton(AF_INET, z.c_str(), a.b_.data()) == 1) {
    a.v4_ = true;
    return a;
  }
  if (::inet_pton(AF_INET6, z.c_str(), a.b_.data()) == 1) return a;
  return std::nullopt;
}

std::optional<IpAddress> IpAddress::from_bytes(util::ByteSpan bytes) {
  if (bytes.size() != 4 && bytes.size() != 16) return std::nullopt;
  IpAddress a;
  std::copy(bytes.begin(), bytes.end(), a.b_.begin());
  a.v4_ = bytes.size() == 4;
  return a;
}

IpAddress IpAddress::unmapped() const noexcept {
  if (v4_ || !std::equal(kMappedPrefix.begin(), kMappedPrefix.end(), b_.begin())) return *this;
  IpAddress a;
  std::copy(b_.begin() + 12, b_.end(), a.b_.begin());
  a.v4_ = true;
  return a;
}

std::string IpAddress::to_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (::inet_ntop(v4_ ? AF_INET : AF_INET6, b_.data(), buf, sizeof(buf)) == nullptr) return "?";
  return buf;
}

Result<IpNetwork> IpNetwork::parse(std::string_view text) {
  const auto shown = [&] { return "\"" + util::escape_for_display(text) + "\""; };
  const auto slash = text.find('/');
  const auto addr = IpAddress::parse(text.substr(0, slash));
  if (!addr) return Error(Errc::malformed, shown() + " is not an IP address or CIDR network");
  IpNetwork net;
  net.base_ = *addr;
  const unsigned max_prefix = addr->is_v4() ? 32 : 128;
  net.prefix_ = max_prefix;
  if (slash != std::string_view::npos) {
    const std::string_view digits = text.substr(slash + 1);
    unsigned prefix = 0;
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
    if (digits.empty() || digits.size() > 3 || ec != std::errc() ||
        end != digits.data() + digits.size() || prefix > max_prefix) {
      return Error(Errc::malformed, shown() + " has an invalid prefix length");
    }
    net.prefix_ = prefix;
  }
  // Host bits must be zero.
  const auto bytes = net.base_.bytes();
  for (unsigned bit = net.prefix_; bit < max_prefix; ++bit) {
    if ((bytes[bit / 8] >> (7 - bit % 8)) & 1) {
      return Error(Errc::malformed, shown() + " has host bits set after the prefix");
    }
  }
  return net;
}

bool IpNetwork::contains(const IpAddress& peer) const noexcept {
  const IpAddress candidate = base_.is_v4() ? peer.unmapped() : peer;
  if (candidate.is_v4() != base_.is_v4()) return false;
  return prefix_equal(candidate.bytes(), base_.bytes(), prefix_);
}

IpNetwork IpNetwork::unmapped() const noexcept {
  const IpAddress plain = base_.unmapped();
  // A mapped base with a prefix shorter than 96 has host bits set, which
  // parse refuses; checked anyway.
  if (base_.is_v4() || !plain.is_v4() || prefix_ < 96) return *this;
  IpNetwork net;
  net.base_ = plain;
  net.prefix_ = prefix_ - 96;
  return net;
}

std::string IpNetwork::to_string() const {
  const unsigned max_prefix = base_.is_v4() ? 32 : 128;
  if (prefix_ == max_prefix) return base_.to_string();
  return base_.to_string() + "/" + std::to_string(prefix_);
}

}  // namespace signet::keys
