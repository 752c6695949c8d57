// HOST:PORT parsing for the command line and the library.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "util/error.hpp"

namespace signet::net {

struct HostPort {
  std::string host;  // name, IPv4 literal, or IPv6 literal without brackets
  std::uint16_t port = 0;

  // "host:port", with brackets around IPv6 literals.
  std::string to_string() const;
};

// Accepts "host:port", "1.2.3.4:port", "[::1]:port"; config error otherwise.
Result<HostPort> parse_host_port(std::string_view text);

}  // namespace signet::net
