// Plain TCP request-response with blocking sockets and TCP_NODELAY: the floor
// a signet round trip is compared with (same sizes, same CPU pinning).
//
//   tcp_pingpong server PORT
//   tcp_pingpong client PORT SIZE COUNT   -> prints p50/p90/p99 round trip in us
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

bool full(int fd, char* p, std::size_t n, bool write) {
  while (n > 0) {
    const ssize_t r = write ? ::send(fd, p, n, MSG_NOSIGNAL) : ::recv(fd, p, n, 0);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

sockaddr_in loopback(int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<std::uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

void nodelay(int fd) {
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

// Echo: a 4-byte length, then that many bytes, answered with the same.
int serve(int port) {
  const int l = ::socket(AF_INET, SOCK_STREAM, 0);
  const int one = 1;
  ::setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto a = loopback(port);
  if (::bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(l, 8) != 0) return 1;
  std::printf("listening on 127.0.0.1:%d\n", port);
  std::fflush(stdout);
  for (;;) {
    const int c = ::accept(l, nullptr, nullptr);
    if (c < 0) continue;
    nodelay(c);
    std::vector<char> buf;
    for (;;) {
      std::uint32_t len = 0;
      if (!full(c, reinterpret_cast<char*>(&len), 4, false)) break;
      buf.resize(len + 4);
      std::copy_n(reinterpret_cast<char*>(&len), 4, buf.data());
      if (!full(c, buf.data() + 4, len, false) || !full(c, buf.data(), len + 4, true)) break;
    }
    ::close(c);
  }
}

int client(int port, std::size_t size, std::size_t count) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  auto a = loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return 1;
  nodelay(fd);
  std::vector<char> msg(size + 4, 'x'), back(size + 4);
  const auto len = static_cast<std::uint32_t>(size);
  std::copy_n(reinterpret_cast<const char*>(&len), 4, msg.data());
  std::vector<double> us;
  us.reserve(count);
  for (std::size_t i = 0; i < count; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!full(fd, msg.data(), msg.size(), true) || !full(fd, back.data(), back.size(), false)) {
      return 1;
    }
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0)
                     .count());
  }
  std::sort(us.begin(), us.end());
  const auto at = [&](double p) { return us[static_cast<std::size_t>(p * static_cast<double>(us.size() - 1))]; };
  std::printf("plain-tcp size=%zu count=%zu p50=%.1f p90=%.1f p99=%.1f max=%.1f us\n", size,
              count, at(0.5), at(0.9), at(0.99), us.back());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "server") return serve(std::atoi(argv[2]));
  if (argc == 5 && std::string(argv[1]) == "client") {
    return client(std::atoi(argv[2]), std::strtoul(argv[3], nullptr, 10),
                  std::strtoul(argv[4], nullptr, 10));
  }
  std::fprintf(stderr, "usage: tcp_pingpong server PORT | client PORT SIZE COUNT\n");
  return 2;
}
