// Hostile peers for the reliability figures (bench/hostile.sh): connections
// that stall in the handshake and connections that trickle a frame a byte at
// a time, kept up for a while from several loopback source addresses.
//
//   hostile_peers PORT --stall N --trickle M [--sources K] [--seconds S]
//
// Stallers send the first 20 bytes of a ClientHello and nothing more.
// Tricklers complete a shared-key handshake (SHARED_SECRET_KEY) and then send
// a frame header announcing 1000 bytes, one payload byte every 100 ms. Both
// connect from 127.0.0.2 .. 127.0.0.(K+1) in turn, and reconnect whenever the
// server closes them (its timeouts, or a refusal). At the end it prints how
// many connections it opened, how many were refused with server_busy, and how
// many the server closed otherwise.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "channel/psk_channel.hpp"
#include "wire/wire.hpp"

namespace {

using namespace signet;
using Clock = std::chrono::steady_clock;

struct Options {
  int port = 0;
  std::size_t stall = 0, trickle = 0, sources = 10;
  double seconds = 30;
};

struct Peer {
  int fd = -1;
  bool trickler = false;
  std::size_t source = 0;
};

struct Stats {
  std::size_t opened = 0, refused_busy = 0, closed = 0, failed = 0;
};

int connect_from(std::size_t source, int port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  local.sin_addr.s_addr = htonl(0x7f000002u + static_cast<std::uint32_t>(source));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
    ::close(fd);
    return -1;
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

bool send_all(int fd, util::ByteSpan b) {
  return ::send(fd, b.data(), b.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(b.size());
}

// Reads what arrives within `ms`; false if the peer closed.
bool read_for(int fd, util::Bytes& got, int ms) {
  const auto end = Clock::now() + std::chrono::milliseconds(ms);
  while (Clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10) <= 0) continue;
    std::uint8_t buf[4096];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    got.insert(got.end(), buf, buf + n);
    return true;
  }
  return true;
}

bool is_busy_record(const util::Bytes& got) {
  auto e = wire::decode_error_record(got);
  return e && e->code == wire::ErrorCode::server_busy;
}

// Opens one hostile connection; -1 if refused or failed.
int open_peer(const Options& o, Peer& p, const channel::PskSettings& psk, Stats& st) {
  const int fd = connect_from(p.source, o.port);
  if (fd < 0) {
    ++st.failed;
    return -1;
  }
  ++st.opened;
  util::Bytes out;
  if (!p.trickler) {
    channel::PskClientChannel ch(psk);
    ch.start(out);
    send_all(fd, util::ByteSpan(out).first(20));
    return fd;
  }
  channel::PskClientChannel ch(psk);
  ch.start(out);
  util::Bytes got;
  if (!send_all(fd, out) || !read_for(fd, got, 500) || is_busy_record(got)) {
    if (is_busy_record(got)) ++st.refused_busy;
    ::close(fd);
    return -1;
  }
  out.clear();
  if (!ch.receive(got, out) || !ch.established() || !send_all(fd, out)) {
    ::close(fd);
    ++st.failed;
    return -1;
  }
  std::uint8_t header[wire::kFrameHeaderSize];
  wire::encode_frame_header(wire::FrameType::message, 1000, header);
  send_all(fd, util::ByteSpan(header, sizeof header));
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT --stall N --trickle M [--sources K] [--seconds S]\n",
                 argv[0]);
    return 2;
  }
  o.port = std::atoi(argv[1]);
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const double v = std::atof(argv[i + 1]);
    if (k == "--stall") o.stall = static_cast<std::size_t>(v);
    if (k == "--trickle") o.trickle = static_cast<std::size_t>(v);
    if (k == "--sources") o.sources = std::max<std::size_t>(1, static_cast<std::size_t>(v));
    if (k == "--seconds") o.seconds = v;
  }
  const char* key = std::getenv("SHARED_SECRET_KEY");
  if (key == nullptr || *key == '\0') {
    std::fprintf(stderr, "SHARED_SECRET_KEY must be set (the tricklers complete a handshake)\n");
    return 2;
  }
  rlimit lim{};
  ::getrlimit(RLIMIT_NOFILE, &lim);
  lim.rlim_cur = lim.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &lim);

  const channel::PskSettings psk{
      std::make_shared<const crypto::SecretBytes>(util::as_bytes(std::string_view(key)))};
  std::vector<Peer> peers(o.stall + o.trickle);
  Stats st;
  for (std::size_t i = 0; i < peers.size(); ++i) {
    peers[i].trickler = i >= o.stall;
    peers[i].source = i % o.sources;
  }
  const auto end = Clock::now() + std::chrono::duration<double>(o.seconds);
  std::printf("hostile peers: %zu stalling, %zu trickling, from %zu addresses, %.0f s\n", o.stall,
              o.trickle, o.sources, o.seconds);
  std::fflush(stdout);
  const std::uint8_t byte = 'p';
  while (Clock::now() < end) {
    const auto round = Clock::now();
    for (auto& p : peers) {
      if (p.fd < 0) {
        p.fd = open_peer(o, p, psk, st);
        continue;
      }
      // Anything from the server means a refusal or a close; then reconnect.
      pollfd pf{p.fd, POLLIN, 0};
      if (::poll(&pf, 1, 0) > 0) {
        util::Bytes got;
        const bool open = read_for(p.fd, got, 1);
        if (is_busy_record(got)) {
          ++st.refused_busy;
        } else if (!open || !got.empty()) {
          ++st.closed;
        }
        ::close(p.fd);
        p.fd = -1;
        continue;
      }
      if (p.trickler && !send_all(p.fd, util::ByteSpan(&byte, 1))) {
        ++st.closed;
        ::close(p.fd);
        p.fd = -1;
      }
    }
    std::this_thread::sleep_until(round + std::chrono::milliseconds(100));
  }
  std::size_t open = 0;
  for (auto& p : peers) {
    if (p.fd >= 0) {
      ++open;
      ::close(p.fd);
    }
  }
  std::printf(
      "hostile peers: opened %zu connections, refused with server_busy %zu, closed by the server "
      "%zu, failed to connect %zu, open at the end %zu\n",
      st.opened, st.refused_busy, st.closed, st.failed, open);
  return 0;
}
