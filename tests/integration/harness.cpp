#include "harness.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace signet::testing {
namespace {

sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

int connect_loopback(std::uint16_t port, const char* source = nullptr) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (source != nullptr) {
    sockaddr_in local{};
    local.sin_family = AF_INET;
    ::inet_pton(AF_INET, source, &local.sin_addr);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
      ::close(fd);
      throw std::runtime_error(std::string("cannot bind to ") + source);
    }
  }
  auto a = loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    ::close(fd);
    throw std::runtime_error("connect to 127.0.0.1:" + std::to_string(port) + " failed");
  }
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

// A listening socket on 127.0.0.1 at a port the kernel picks.
int listen_loopback(std::uint16_t& port, const char* who) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  auto a = loopback(0);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 16) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string(who) + " cannot listen");
  }
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  port = ntohs(a.sin_port);
  return fd;
}

// Starts the signet program with the file actions fa and this process's
// environment changed by env (a value sets, nullopt removes).
pid_t spawn_signet(const posix_spawn_file_actions_t& fa, std::vector<std::string> args,
                   const std::map<std::string, std::optional<std::string>>& env,
                   const std::vector<std::string>& wrapper = {}) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; *e != nullptr; ++e) {
    std::string kv(*e);
    const auto eq = kv.find('=');
    if (eq != std::string::npos) vars[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // Tests run under systemd (a CI runner service) would otherwise turn the
  // server's per-message lines off (--log-messages=auto); a test sets them itself.
  vars.erase("INVOCATION_ID");
  vars.erase("JOURNAL_STREAM");
  for (const auto& [k, v] : env) {
    if (v) {
      vars[k] = *v;
    } else {
      vars.erase(k);
    }
  }
  std::vector<std::string> env_strings;
  for (const auto& [k, v] : vars) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);

  args.insert(args.begin(), signet_binary());
  args.insert(args.begin(), wrapper.begin(), wrapper.end());
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data()) != 0) {
    throw std::runtime_error("cannot start " + args[0]);
  }
  return pid;
}

}  // namespace

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string signet_binary() {
  return SIGNET_BINARY;
}

std::string make_temp_dir(const std::string& test_name) {
  auto base = std::filesystem::temp_directory_path() / ("signet-it-" + std::to_string(::getpid()));
  auto dir = base / test_name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

Process::Process(const std::string& dir, const std::string& name, std::vector<std::string> args,
                 std::map<std::string, std::optional<std::string>> env, bool pipe_stdin,
                 std::vector<std::string> wrapper) {
  out_path_ = dir + "/" + name + ".out";
  err_path_ = dir + "/" + name + ".err";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  int in_pipe[2] = {-1, -1};
  if (pipe_stdin) {
    if (::pipe2(in_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_adddup2(&fa, in_pipe[0], 0);
  } else {
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  }
  posix_spawn_file_actions_addopen(&fa, 1, out_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);

  pid_ = spawn_signet(fa, std::move(args), env, wrapper);
  posix_spawn_file_actions_destroy(&fa);
  if (pipe_stdin) {
    ::close(in_pipe[0]);
    stdin_fd_ = in_pipe[1];
  }
}

Process::~Process() {
  close_stdin();
  if (running()) {
    ::kill(pid_, SIGKILL);
    wait(5s);
  }
}

void Process::write_stdin(const std::string& s) {
  const char* p = s.data();
  std::size_t left = s.size();
  while (left > 0) {
    const ssize_t n = ::write(stdin_fd_, p, left);
    if (n <= 0) throw std::runtime_error("write to child stdin failed");
    p += n;
    left -= static_cast<std::size_t>(n);
  }
}

void Process::close_stdin() {
  if (stdin_fd_ >= 0) ::close(stdin_fd_);
  stdin_fd_ = -1;
}

bool Process::running() {
  if (status_) return false;
  int st = 0;
  const pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == pid_) {
    status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    return false;
  }
  return true;
}

int Process::wait(std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (running()) {
    if (std::chrono::steady_clock::now() > end) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      ::waitpid(pid_, &st, 0);
      status_ = -1;
      return -1;
    }
    std::this_thread::sleep_for(5ms);
  }
  return *status_;
}

void Process::terminate() {
  if (running()) ::kill(pid_, SIGTERM);
  wait(10s);
}

std::string Process::out() const {
  return read_file(out_path_);
}
std::string Process::err() const {
  return read_file(err_path_);
}

bool Process::wait_for_output(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (out().find(needle) != std::string::npos) return true;
    if (!running()) return out().find(needle) != std::string::npos;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

ServerProcess::ServerProcess(const std::string& dir, std::vector<std::string> extra_args,
                             std::map<std::string, std::optional<std::string>> env,
                             std::vector<std::string> wrapper) {
  std::vector<std::string> args = {"server", "--listen", "127.0.0.1:0", "--threads", "2"};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  proc_ = std::make_unique<Process>(dir, "server", args, env, false, std::move(wrapper));
  if (!proc_->wait_for_output("listening on 127.0.0.1:")) {
    throw std::runtime_error("server did not start: " + proc_->err());
  }
  const auto out = proc_->out();
  const auto pos = out.find("listening on 127.0.0.1:");
  port_ = static_cast<std::uint16_t>(std::stoi(out.substr(pos + 23)));
}

std::vector<std::string> ServerProcess::verified_lines() const {
  std::vector<std::string> lines;
  std::istringstream in(proc_->out());
  for (std::string line; std::getline(in, line);) {
    if (line.find(" bytes verified ") != std::string::npos) lines.push_back(line);
  }
  return lines;
}

Proxy::Proxy(std::uint16_t target_port, Options options) : target_(target_port), options_(options) {
  listen_fd_ = listen_loopback(port_, "proxy");
  thread_ = std::thread([this] { serve(); });
}

Proxy::~Proxy() {
  stop_ = true;
  ::shutdown(listen_fd_, SHUT_RDWR);
  ::close(listen_fd_);
  thread_.join();
}

std::string Proxy::recorded_client_bytes() {
  std::lock_guard lock(mu_);
  return recorded_;
}

std::string Proxy::recorded_server_bytes() {
  std::lock_guard lock(mu_);
  return recorded_server_;
}

bool Proxy::wait_forwarded(bool client_to_server, std::size_t n,
                           std::chrono::milliseconds timeout) const {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (forwarded_[client_to_server ? 0 : 1] < n) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(10ms);
  }
  return true;
}

void Proxy::serve() {
  // One connection at a time is all the tests need.
  while (!stop_) {
    pollfd lp{listen_fd_, POLLIN, 0};
    if (::poll(&lp, 1, 50) <= 0) continue;
    const int client = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    int server = -1;
    try {
      server = connect_loopback(target_);
    } catch (...) {
      ::close(client);
      continue;
    }
    ++connections_;
    cut_ = false;
    std::size_t offset[2] = {0, 0};  // bytes forwarded client->server, server->client
    pollfd fds[2] = {{client, POLLIN, 0}, {server, POLLIN, 0}};
    bool open = true;
    while (open && !stop_) {
      if (cut_.exchange(false)) break;
      if (::poll(fds, 2, 50) <= 0) continue;
      for (int i = 0; i < 2 && open; ++i) {
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) == 0) continue;
        char buf[65536];
        const auto& stall =
            i == 0 ? options_.stall_client_to_server : options_.stall_server_to_client;
        const bool stalled = stall && offset[i] >= *stall;
        std::size_t want = sizeof buf;
        if (stall && !stalled) want = std::min(want, *stall - offset[i]);
        const ssize_t n = ::read(fds[i].fd, buf, want);
        if (n <= 0) {
          open = false;
          break;
        }
        // Stalled: what this side sends is read and dropped, so that its
        // closing (a FIN behind the data) is seen at once.
        if (stalled) continue;
        const auto& flip = i == 0 ? options_.flip_client_to_server : options_.flip_server_to_client;
        if (flip && *flip >= offset[i] && *flip < offset[i] + static_cast<std::size_t>(n)) {
          buf[*flip - offset[i]] ^= 0x01;
        }
        if (flip_next_[i].exchange(false)) buf[0] ^= 0x01;
        if (options_.record) {
          std::lock_guard lock(mu_);
          (i == 0 ? recorded_ : recorded_server_).append(buf, static_cast<std::size_t>(n));
        }
        offset[i] += static_cast<std::size_t>(n);
        const int to = i == 0 ? server : client;
        if (::send(to, buf, static_cast<std::size_t>(n), MSG_NOSIGNAL) != n) open = false;
        forwarded_[i] += static_cast<std::size_t>(n);
      }
    }
    ::close(client);
    ::close(server);
  }
}

RawConnection::RawConnection(std::uint16_t port, const char* source)
    : fd_(connect_loopback(port, source)) {}
RawConnection::~RawConnection() {
  ::close(fd_);
}

void RawConnection::send(const std::string& bytes) {
  if (::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(bytes.size())) {
    throw std::runtime_error("raw send failed");
  }
}

std::string RawConnection::read_all(std::chrono::milliseconds timeout) {
  std::string got;
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) break;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return got;
}

bool RawConnection::closed_by_peer(std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fd_, buf, sizeof buf);
    if (n <= 0) return true;
  }
  return false;
}

HandshakenConnection::HandshakenConnection(std::uint16_t port, const std::string& key)
    : raw(port),
      channel(
          channel::PskSettings{std::make_shared<const crypto::SecretBytes>(util::as_bytes(key))}) {
  util::Bytes out;
  channel.start(out);
  raw.send(std::string(util::as_chars(out)));
  out.clear();
  const std::string hello = raw.read_all(500ms);
  if (!channel.receive(util::as_bytes(hello), out) || !channel.established()) {
    throw std::runtime_error("handshake failed");
  }
  raw.send(std::string(util::as_chars(out)));
}

void HandshakenConnection::start_frame(std::uint32_t length, std::size_t sent) {
  std::uint8_t header[wire::kFrameHeaderSize];
  wire::encode_frame_header(wire::FrameType::message, length, header);
  raw.send(std::string(reinterpret_cast<char*>(header), sizeof header) + std::string(sent, 'p'));
}

void HandshakenConnection::seal_message(const std::string& message, std::string& out) {
  util::Bytes frame;
  channel.send(wire::FrameType::message, {util::as_bytes(message)}, frame);
  out.append(util::as_chars(frame));
}

FakeServer::FakeServer(Serve serve) : serve_(std::move(serve)) {
  listen_fd_ = listen_loopback(port_, "fake server");
  thread_ = std::thread([this] { run(); });
}

FakeServer::~FakeServer() {
  stop_ = true;
  thread_.join();
  ::close(listen_fd_);
}

void FakeServer::run() {
  while (!stop_) {
    pollfd lp{listen_fd_, POLLIN, 0};
    if (::poll(&lp, 1, 50) <= 0) continue;
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    ++accepted_;
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    serve_(fd, stop_);
    ::close(fd);
  }
}

std::string FakeServer::read_some(int fd, std::size_t n, const std::atomic<bool>& stop,
                                  std::chrono::milliseconds timeout) {
  std::string got;
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (got.size() < n && !stop && std::chrono::steady_clock::now() < end) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    char buf[65536];
    const ssize_t r = ::read(fd, buf, std::min(sizeof buf, n - got.size()));
    if (r <= 0) break;
    got.append(buf, static_cast<std::size_t>(r));
  }
  return got;
}

bool FakeServer::write_all(int fd, const std::string& bytes) {
  return ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
}

void FakeServer::idle(const std::atomic<bool>& stop, std::chrono::milliseconds timeout) {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (!stop && std::chrono::steady_clock::now() < end) std::this_thread::sleep_for(20ms);
}

namespace {

// Quotes s for /bin/sh.
std::string sh_quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string run_capture(const std::string& command) {
  std::string out;
  if (FILE* f = ::popen(command.c_str(), "r")) {
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
    ::pclose(f);
  }
  return out;
}

constexpr const char* kExitMarker = "[signet-test exit ";

}  // namespace

Terminal::Terminal(const std::string& dir, const std::string& name, std::vector<std::string> args,
                   std::map<std::string, std::optional<std::string>> env)
    : socket_(dir + "/" + name + ".tmux") {
  std::string command = "env";
  for (const auto& [k, v] : env) command += v ? " " + sh_quote(k + "=" + *v) : " -u " + k;
  command += " " + sh_quote(signet_binary());
  for (const auto& a : args) command += " " + sh_quote(a);
  // Keep the window after the program ends, showing its exit status.
  command += "; s=$?; echo; echo \"" + std::string(kExitMarker) + "$s]\"; sleep 600";
  const std::string started =
      tmux("new-session -d -x 200 -y 50 -P -F '#{pane_pid}' " + sh_quote(command));
  pane_pid_ = static_cast<pid_t>(std::atoi(started.c_str()));
  if (pane_pid_ <= 0) throw std::runtime_error("tmux did not start: " + started);
}

Terminal::~Terminal() {
  tmux("kill-server");
  if (pane_pid_ > 0) {
    ::kill(-pane_pid_, SIGKILL);  // the pane's process group, if anything is left
    ::kill(pane_pid_, SIGKILL);
  }
}

std::string Terminal::tmux(const std::string& args) const {
  return run_capture("tmux -S " + sh_quote(socket_) + " " + args + " 2>&1");
}

void Terminal::type(const std::string& text, bool enter) {
  tmux("send-keys -l " + sh_quote(text));
  if (enter) tmux("send-keys Enter");
}

std::string Terminal::screen() const {
  return tmux("capture-pane -p -J");
}

bool Terminal::wait_for_screen(const std::string& needle, std::chrono::milliseconds timeout) const {
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    if (screen().find(needle) != std::string::npos) return true;
    std::this_thread::sleep_for(50ms);
  }
  return screen().find(needle) != std::string::npos;
}

std::optional<int> Terminal::exit_status() const {
  const std::string s = screen();
  const auto at = s.rfind(kExitMarker);
  if (at == std::string::npos) return std::nullopt;
  return std::atoi(s.c_str() + at + std::strlen(kExitMarker));
}

TtyRun run_on_tty(const std::string& dir, const std::string& name, std::vector<std::string> args,
                  std::map<std::string, std::optional<std::string>> env,
                  std::chrono::milliseconds timeout) {
  struct Fd {
    int fd;
    ~Fd() {
      if (fd >= 0) ::close(fd);
    }
  };
  Fd master{::posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC)};
  if (master.fd < 0 || ::grantpt(master.fd) != 0 || ::unlockpt(master.fd) != 0) {
    throw std::runtime_error("cannot open a pseudo-terminal");
  }
  char slave_name[128] = {};
  if (::ptsname_r(master.fd, slave_name, sizeof slave_name) != 0) {
    throw std::runtime_error("ptsname_r failed");
  }
  Fd slave{::open(slave_name, O_RDWR | O_NOCTTY | O_CLOEXEC)};
  if (slave.fd < 0) throw std::runtime_error("cannot open " + std::string(slave_name));
  // No output processing (ONLCR would turn "\n" into "\r\n"): the test sees
  // exactly the bytes the program wrote.
  termios t{};
  if (::tcgetattr(slave.fd, &t) == 0) {
    t.c_oflag &= ~static_cast<tcflag_t>(OPOST);
    ::tcsetattr(slave.fd, TCSANOW, &t);
  }
  const std::string err_path = dir + "/" + name + ".err";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, slave.fd, 1);
  posix_spawn_file_actions_addopen(&fa, 2, err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const pid_t pid = spawn_signet(fa, std::move(args), env);
  posix_spawn_file_actions_destroy(&fa);
  ::close(slave.fd);
  slave.fd = -1;

  // Read until the last holder of the terminal's other end is gone (EIO).
  TtyRun run;
  const auto end = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < end) {
    pollfd p{master.fd, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(master.fd, buf, sizeof buf);
    if (n <= 0) break;
    run.tty.append(buf, static_cast<std::size_t>(n));
  }
  if (std::chrono::steady_clock::now() >= end) ::kill(pid, SIGKILL);
  int st = 0;
  ::waitpid(pid, &st, 0);
  run.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  run.err = read_file(err_path);
  return run;
}

}  // namespace signet::testing
