// IP addresses and networks for authorized_keys from="..." checks, without
// Asio: the net layer converts its endpoint with IpAddress::from_bytes or
// IpAddress::parse(address.to_string()).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "util/bytes.hpp"
#include "util/error.hpp"

namespace signet::keys {

class IpAddress {
 public:
  // Dotted-quad IPv4 or RFC 4291 IPv6 text (inet_pton rules: no zone index,
  // no brackets, no leading zeros in IPv4 octets); nullopt otherwise.
  static std::optional<IpAddress> parse(std::string_view text);
  // 4 bytes for IPv4, 16 for IPv6, in network order; nullopt otherwise.
  static std::optional<IpAddress> from_bytes(util::ByteSpan bytes);

  bool is_v4() const noexcept { return v4_; }
  // The address bytes: 4 or 16 of them.
  util::ByteSpan bytes() const noexcept { return util::ByteSpan(b_).first(v4_ ? 4 : 16); }
  // An IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 section 2.5.5.2)
  // as the IPv4 address it stands for; any other address unchanged. A
  // dual-stack server sees IPv4 clients this way.
  IpAddress unmapped() const noexcept;
  std::string to_string() const;

  friend bool operator==(const IpAddress&, const IpAddress&) = default;

 private:
  std::array<std::uint8_t, 16> b_{};
  bool v4_ = false;
};

// An address prefix such as 10.0.0.0/8 or 2001:db8::/32, or a single address.
class IpNetwork {
 public:
  // Fails with malformed on a bad address, a prefix length out of range, or
  // host bits set below the prefix (10.1.2.3/8 is ambiguous, so refused).
  static Result<IpNetwork> parse(std::string_view text);

  // IPv4 networks match IPv4 peers and IPv4-mapped IPv6 peers; IPv6 networks
  // match IPv6 peers as they are.
  bool contains(const IpAddress& peer) const noexcept;
  bool is_v4() const noexcept { return base_.is_v4(); }
  // An IPv4-mapped network (::ffff:a.b.c.d/96+n, RFC 4291 section 2.5.5.2)
  // as the IPv4 network a.b.c.d/n it stands for; any other network
  // unchanged. Peers are compared in their IPv4 form, so the mapped form
  // would match none of them.
  IpNetwork unmapped() const noexcept;
  std::string to_string() const;

 private:
  IpAddress base_;
  unsigned prefix_ = 0;
};

}  // namespace signet::keys
