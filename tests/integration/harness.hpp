// Test harness: runs the real signet program and a loopback TCP proxy.
//
// Every process is started with posix_spawn, its output goes to files in a
// per-test directory, and it is killed by pid when the test ends. Everything
// listens on 127.0.0.1 with ports the kernel picks.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "channel/psk_channel.hpp"

namespace signet::testing {

using namespace std::chrono_literals;

std::string signet_binary();
// The whole file, or "" if it cannot be read.
std::string read_file(const std::string& path);

class Process {
 public:
  // args excludes argv[0]. env: variables to set (value) or, with nullopt, remove.
  // wrapper: a program that execs signet with args after it (e.g. prlimit).
  // INVOCATION_ID and JOURNAL_STREAM (systemd's) are removed unless env sets them.
  Process(const std::string& dir, const std::string& name, std::vector<std::string> args,
          std::map<std::string, std::optional<std::string>> env = {}, bool pipe_stdin = false,
          std::vector<std::string> wrapper = {});
  ~Process();
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t pid() const { return pid_; }
  void write_stdin(const std::string& s);
  void close_stdin();
  // Exit status, or -1 if it had to be killed after the timeout.
  int wait(std::chrono::milliseconds timeout = 20s);
  bool running();
  void terminate();  // SIGTERM, then wait
  std::string out() const;
  std::string err() const;
  // Waits until stdout contains needle; false on timeout or exit.
  bool wait_for_output(const std::string& needle, std::chrono::milliseconds timeout = 10s);

 private:
  pid_t pid_ = -1;
  int stdin_fd_ = -1;
  std::optional<int> status_;
  std::string out_path_, err_path_;
};

// A server process on an ephemeral loopback port.
class ServerProcess {
 public:
  ServerProcess(const std::string& dir, std::vector<std::string> extra_args,
                std::map<std::string, std::optional<std::string>> env,
                std::vector<std::string> wrapper = {});
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::uint16_t port() const { return port_; }
  Process& process() { return *proc_; }
  // Lines of stdout that report a verified message.
  std::vector<std::string> verified_lines() const;

 private:
  std::unique_ptr<Process> proc_;
  std::uint16_t port_ = 0;
};

// A TCP proxy for one or more connections, forwarding both ways. It can flip
// one byte at a given offset of either direction and records what each side sent.
class Proxy {
 public:
  struct Options {
    std::optional<std::size_t> flip_client_to_server = std::nullopt;  // stream offset to flip
    std::optional<std::size_t> flip_server_to_client = std::nullopt;
    // After forwarding this many bytes of a direction, forward no more of
    // it (the transfer stalls there, for a test to cut it at a known point;
    // what comes after is read and dropped).
    std::optional<std::size_t> stall_client_to_server = std::nullopt;
    std::optional<std::size_t> stall_server_to_client = std::nullopt;
    bool record = true;  // keep what each side sent (recorded_*_bytes)
  };
  Proxy(std::uint16_t target_port, Options options);
  ~Proxy();
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string recorded_client_bytes();
  std::string recorded_server_bytes();
  // Bytes forwarded so far, client to server and server to client.
  std::size_t forwarded_client_bytes() const { return forwarded_[0]; }
  std::size_t forwarded_server_bytes() const { return forwarded_[1]; }
  // Waits until `n` bytes of a direction are forwarded; false on timeout.
  bool wait_forwarded(bool client_to_server, std::size_t n,
                      std::chrono::milliseconds timeout = 30s) const;
  // Closes the connection being forwarded, both ends, as a network that
  // drops it would; the proxy goes on accepting.
  void cut() { cut_ = true; }
  // Flips the first byte of what one direction forwards next (once).
  void flip_next(bool client_to_server) { flip_next_[client_to_server ? 0 : 1] = true; }
  // Connections accepted so far.
  int connections() const { return connections_; }

 private:
  void serve();
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::uint16_t target_;
  Options options_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  std::mutex mu_;
  std::string recorded_;
  std::string recorded_server_;
  std::atomic<std::size_t> forwarded_[2] = {0, 0};
  std::atomic<bool> cut_{false};
  std::atomic<bool> flip_next_[2] = {false, false};
  std::atomic<int> connections_{0};
};

// A raw TCP connection for sending hand-made bytes.
class RawConnection {
 public:
  // source: the local address to connect from (another 127.x.y.z address is
  // another client as far as the server can tell).
  explicit RawConnection(std::uint16_t port, const char* source = nullptr);
  ~RawConnection();
  void send(const std::string& bytes);
  // Reads until the peer closes or the timeout passes.
  std::string read_all(std::chrono::milliseconds timeout = 5s);
  // True if the peer closed the connection within the timeout.
  bool closed_by_peer(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
};

// A real shared-key handshake over a raw socket, so that a test can misbehave
// afterwards (send frames by hand, never read, ...). Throws if the handshake fails.
struct HandshakenConnection {
  HandshakenConnection(std::uint16_t port, const std::string& key);
  // Sends a frame header announcing `length` payload bytes, then `sent` of them.
  void start_frame(std::uint32_t length, std::size_t sent);
  // Appends one tagged MESSAGE frame to `out` (to send several in one write).
  void seal_message(const std::string& message, std::string& out);
  RawConnection raw;
  channel::PskClientChannel channel;
};

// A hand-written server on an ephemeral loopback port, for playing a hostile
// or broken server. Each accepted connection is handed to `serve` (one at a
// time, on the server's thread) with the socket and a flag that turns true
// when the test ends; serve must return soon after it does. The destructor
// stops it, closes every socket and joins the thread.
class FakeServer {
 public:
  using Serve = std::function<void(int fd, const std::atomic<bool>& stop)>;
  explicit FakeServer(Serve serve);
  ~FakeServer();
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::uint16_t port() const { return port_; }
  // Connections accepted so far.
  int accepted() const { return accepted_; }

  // Helpers for serve functions: both give up when stop turns true.
  // Reads up to n bytes (fewer if the peer closes); waits at most `timeout`.
  static std::string read_some(int fd, std::size_t n, const std::atomic<bool>& stop,
                               std::chrono::milliseconds timeout = 10s);
  static bool write_all(int fd, const std::string& bytes);
  // Sleeps until stop, or the timeout.
  static void idle(const std::atomic<bool>& stop, std::chrono::milliseconds timeout = 120s);

 private:
  void run();
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  Serve serve_;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread thread_;
};

// A program on a terminal, as a person sees it: a tmux server of its own
// (socket in the test's directory) runs `args` in an 200x50 window. type()
// sends keys as typed, screen() reads what the window shows. The destructor
// kills the tmux server and, by pid, what ran in it.
class Terminal {
 public:
  Terminal(const std::string& dir, const std::string& name, std::vector<std::string> args,
           std::map<std::string, std::optional<std::string>> env = {});
  ~Terminal();
  Terminal(const Terminal&) = delete;
  Terminal& operator=(const Terminal&) = delete;

  // Types text literally, then Enter if enter is true.
  void type(const std::string& text, bool enter = true);
  std::string screen() const;
  // Waits until the screen shows needle; false on timeout.
  bool wait_for_screen(const std::string& needle, std::chrono::milliseconds timeout = 10s) const;
  // The exit status once the program has ended (the window shows it), else nullopt.
  std::optional<int> exit_status() const;

 private:
  std::string tmux(const std::string& args) const;
  std::string socket_;
  pid_t pane_pid_ = -1;
};

std::string make_temp_dir(const std::string& test_name);

// Runs the signet program to its end with stdout on a pseudo-terminal (no
// output processing), stdin from /dev/null and stderr to a file, as a user at
// a terminal would see it. status is the exit status, or 128 + the signal that
// ended the program (SIGKILL after the timeout).
struct TtyRun {
  int status = -1;
  std::string tty;  // what the program wrote to the terminal
  std::string err;
};
TtyRun run_on_tty(const std::string& dir, const std::string& name, std::vector<std::string> args,
                  std::map<std::string, std::optional<std::string>> env,
                  std::chrono::milliseconds timeout = 20s);

}  // namespace signet::testing
