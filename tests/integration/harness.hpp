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

namespace signet::testing {

using namespace std::chrono_literals;

std::string signet_binary();

class Process {
 public:
  // args excludes argv[0]. env: variables to set (value) or, with nullopt, remove.
  // INVOCATION_ID and JOURNAL_STREAM (systemd's) are removed unless env sets them.
  Process(const std::string& dir, const std::string& name, std::vector<std::string> args,
          std::map<std::string, std::optional<std::string>> env = {}, bool pipe_stdin = false);
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
                std::map<std::string, std::optional<std::string>> env);
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
  };
  Proxy(std::uint16_t target_port, Options options);
  ~Proxy();
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string recorded_client_bytes();
  std::string recorded_server_bytes();

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
};

// A raw TCP connection for sending hand-made bytes.
class RawConnection {
 public:
  explicit RawConnection(std::uint16_t port);
  ~RawConnection();
  void send(const std::string& bytes);
  // Reads until the peer closes or the timeout passes.
  std::string read_all(std::chrono::milliseconds timeout = 5s);
  // True if the peer closed the connection within the timeout.
  bool closed_by_peer(std::chrono::milliseconds timeout);

 private:
  int fd_ = -1;
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
