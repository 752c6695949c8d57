// net::StartupAdmission: how many connections may be in their handshake at
// once, in all and per source, before the server refuses new ones.
//
// Before a peer has authenticated it costs the server memory (a TLS
// handshake holds about 50-60 KB) and it is accountable to nobody. OpenSSH
// bounds this with MaxStartups "start:rate:full" and PerSourceMaxStartups;
// signet does the same:
//   - below `begin` connections in the handshake every new one is admitted;
//   - from `begin` on, a new one is refused at random with probability `rate`
//     percent, rising linearly to 100% at `full` (random early drop: a flood
//     cannot predict which of its connections get through, and well-behaved
//     clients still get some);
//   - from one source (an IPv4 address, or an IPv6 /64, which one host
//     usually has) at most `per_source` at once.
// Thread-safe: admit() runs on the accept loop, done() on any worker.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>

#include <asio/ip/address.hpp>

#include "util/error.hpp"

namespace signet::net {

struct StartupLimits {
  std::size_t begin = 256;
  unsigned rate = 30;  // percent, 0..100
  std::size_t full = 1024;
  std::size_t per_source = 128;  // 0: no limit per source
};

// Parses "begin:rate:full" (or one number N, meaning N:100:N, as sshd).
// Fails with config, saying why.
Result<StartupLimits> parse_startup_limits(std::string_view text);

class StartupAdmission {
 public:
  explicit StartupAdmission(StartupLimits limits);

  // The key connections from one source share: the IPv4 address (also when
  // it arrives IPv4-mapped), or the first 64 bits of an IPv6 address.
  using Source = std::array<std::uint8_t, 9>;  // family byte, then up to 8 bytes
  static Source source_of(const asio::ip::address& a);

  // Admits a connection into the handshake, or says why not (busy). `roll` is
  // a random number in 0..99 for the early drop; an admitted connection must
  // be given back with done() exactly once.
  Result<void> admit(const Source& source, unsigned roll);
  void done(const Source& source);

  std::size_t in_handshake() const;

 private:
  const StartupLimits limits_;
  mutable std::mutex mu_;
  std::size_t total_ = 0;
  std::map<Source, std::size_t> per_source_;
};

}  // namespace signet::net
