#include "cli/exec_handler.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <asio/strand.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "util/encoding.hpp"

extern char** environ;

namespace signet::cli {
namespace {

using asio::awaitable;
using asio::posix::stream_descriptor;
using Clock = std::chrono::steady_clock;
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);

constexpr std::size_t kReadChunk = 16 * 1024;
constexpr std::size_t kMaxStderrLog = 64 * 1024;
// How long our pipe ends stay open after the timeout kill, for output still
// in flight, before a process outside the group that holds them is ignored.
constexpr std::chrono::milliseconds kKillGrace{500};
// Exit polling when pidfd_open is unavailable.
constexpr std::chrono::milliseconds kPollFirst{1};
constexpr std::chrono::milliseconds kPollMax{20};

Error errno_error(int err, std::string what) {
  return Error(std::error_code(err, std::system_category()), std::move(what));
}

// An owned file descriptor, closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) noexcept : fd_(fd) {}
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) reset(std::exchange(o.fd_, -1));
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() { reset(); }

  int get() const noexcept { return fd_; }
  int release() noexcept { return std::exchange(fd_, -1); }
  void reset(int fd = -1) noexcept {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

struct Pipe {
  Fd read;
  Fd write;
};

// Close-on-exec, so that a child spawned by another thread cannot inherit it.
Result<Pipe> make_pipe() {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return errno_error(errno, "pipe");
  return Pipe{Fd(fds[0]), Fd(fds[1])};
}

// --- The child's environment ---------------------------------------------------

// Variables never passed on from the server: the shared key, and any stale
// value of the variables the handler sets itself.
constexpr std::array<std::string_view, 5> kNotInherited = {
    "SHARED_SECRET_KEY", "SIGNET_PEER_ADDRESS", "SIGNET_PEER_FINGERPRINT", "SIGNET_PEER_COMMENT",
    "SIGNET_MODE"};

bool names_variable(std::string_view entry, std::string_view name) {
  return entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 &&
         entry[name.size()] == '=';
}

// An environment string ends at the first NUL; drop NULs rather than let a
// value end early.
std::string variable(std::string_view name, std::string_view value) {
  std::string s(name);
  s += '=';
  for (char c : value) {
    if (c != '\0') s += c;
  }
  return s;
}

std::vector<std::string> child_environment(const net::PeerInfo& peer) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    bool keep = true;
    for (auto name : kNotInherited) keep = keep && !names_variable(entry, name);
    if (keep) env.emplace_back(entry);
  }
  env.push_back(variable("SIGNET_PEER_ADDRESS", peer.address));
  env.push_back(variable("SIGNET_PEER_FINGERPRINT", peer.identity.fingerprint));
  env.push_back(variable("SIGNET_PEER_COMMENT", peer.identity.comment));
  env.push_back(variable("SIGNET_MODE", peer.mode));
  return env;
}

// --- Starting the child -------------------------------------------------------------

struct Spawned {
  pid_t pid = -1;
  Fd stdin_write;  // non-blocking
  Fd stdout_read;
  Fd stderr_read;
};

// posix_spawn's attribute objects, destroyed on every path.
struct SpawnSetup {
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  SpawnSetup() {
    ::posix_spawn_file_actions_init(&actions);
    ::posix_spawnattr_init(&attr);
  }
  ~SpawnSetup() {
    ::posix_spawn_file_actions_destroy(&actions);
    ::posix_spawnattr_destroy(&attr);
  }
  SpawnSetup(const SpawnSetup&) = delete;
  SpawnSetup& operator=(const SpawnSetup&) = delete;
};

Result<Spawned> spawn_shell(const std::string& command, const net::PeerInfo& peer) {
  auto in = make_pipe();
  if (!in) return in.error();
  auto out = make_pipe();
  if (!out) return out.error();
  auto err = make_pipe();
  if (!err) return err.error();

  SpawnSetup s;
  // dup2 onto 0, 1, 2 clears close-on-exec there; closefrom(3) then drops
  // everything else the server holds (Asio's sockets are not close-on-exec).
  int rc = ::posix_spawn_file_actions_adddup2(&s.actions, in->read.get(), 0);
  if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(&s.actions, out->write.get(), 1);
  if (rc == 0) rc = ::posix_spawn_file_actions_adddup2(&s.actions, err->write.get(), 2);
  if (rc == 0) rc = ::posix_spawn_file_actions_addclosefrom_np(&s.actions, 3);
  // A group of its own, so the timeout can kill the command and its children;
  // default signal actions (an ignored SIGPIPE would otherwise be inherited).
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  sigdelset(&all, SIGKILL);
  sigdelset(&all, SIGSTOP);
  if (rc == 0) rc = ::posix_spawnattr_setpgroup(&s.attr, 0);
  if (rc == 0) rc = ::posix_spawnattr_setsigmask(&s.attr, &none);
  if (rc == 0) rc = ::posix_spawnattr_setsigdefault(&s.attr, &all);
  if (rc == 0) {
    rc = ::posix_spawnattr_setflags(
        &s.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  }
  if (rc != 0) return errno_error(rc, "posix_spawn setup");

  std::vector<std::string> env = child_environment(peer);
  std::vector<char*> envp;
  envp.reserve(env.size() + 1);
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string sh = "/bin/sh";
  std::string dash_c = "-c";
  std::string cmd = command;
  char* argv[] = {sh.data(), dash_c.data(), cmd.data(), nullptr};

  pid_t pid = -1;
  rc = ::posix_spawn(&pid, sh.c_str(), &s.actions, &s.attr, argv, envp.data());
  if (rc != 0) return errno_error(rc, "cannot start /bin/sh");

  // The child's ends close here (Pipe destructors); ours are returned.
  const int flags = ::fcntl(in->write.get(), F_GETFL);
  if (flags >= 0) ::fcntl(in->write.get(), F_SETFL, flags | O_NONBLOCK);
  return Spawned{pid, std::move(in->write), std::move(out->read), std::move(err->read)};
}

// write(2) without dying of SIGPIPE when the child has closed its stdin.
// Linux sends that SIGPIPE to the writing thread; blocking it in this thread
// and consuming it before unblocking leaves the process-wide disposition
// alone. The caller still sees EPIPE.
ssize_t write_without_sigpipe(int fd, const std::uint8_t* data, std::size_t n) {
  sigset_t pipe_only;
  sigemptyset(&pipe_only);
  sigaddset(&pipe_only, SIGPIPE);
  sigset_t old;
  ::pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
  sigset_t pending;
  sigemptyset(&pending);
  ::sigpending(&pending);
  const bool already_pending = sigismember(&pending, SIGPIPE) == 1;

  const ssize_t r = ::write(fd, data, n);
  const int saved = errno;
  if (r < 0 && saved == EPIPE && !already_pending) {
    const timespec zero{};
    while (::sigtimedwait(&pipe_only, nullptr, &zero) < 0 && errno == EINTR) {
    }
  }
  ::pthread_sigmask(SIG_SETMASK, &old, nullptr);
  errno = saved;
  return r;
}

// --- One run of the command ------------------------------------------------------------

class Run {
 public:
  Run(const asio::any_io_executor& ex, Spawned child, std::shared_ptr<const ExecOptions> options)
      : pid_(child.pid),
        stdin_(ex, child.stdin_write.release()),
        stdout_(ex, child.stdout_read.release()),
        stderr_(ex, child.stderr_read.release()),
        deadline_(ex),
        options_(std::move(options)) {}

  // Reached with the child unreaped only when the handler was abandoned (the
  // server is shutting down): kill the group and reap, which after SIGKILL
  // takes no measurable time.
  ~Run() {
    if (reaped_) return;
    ::kill(-pid_, SIGKILL);
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
  }
  Run(const Run&) = delete;
  Run& operator=(const Run&) = delete;

  awaitable<void> feed(util::ByteSpan message);
  awaitable<void> read_stdout() {
    return drain(stdout_, output_, output_total_, options_->max_output);
  }
  awaitable<void> read_stderr() { return drain(stderr_, errors_, errors_total_, kMaxStderrLog); }
  awaitable<void> wait_exit();
  static awaitable<void> watchdog(std::shared_ptr<Run> self);

  // The command is over: stop the watchdog.
  void finish() {
    finished_ = true;
    deadline_.cancel();
  }
  wire::Reply reply() const;
  void log(const net::PeerInfo& peer, Clock::duration elapsed) const;

 private:
  static awaitable<void> drain(stream_descriptor& from, std::string& kept, std::size_t& total,
                               std::size_t cap);
  // Whether the child has exited; its status is left for reap().
  bool has_exited();
  void reap();
  void close_pipes() {
    std::error_code ignored;
    stdin_.close(ignored);
    stdout_.close(ignored);
    stderr_.close(ignored);
  }

  pid_t pid_;
  stream_descriptor stdin_;
  stream_descriptor stdout_;
  stream_descriptor stderr_;
  asio::steady_timer deadline_;
  std::shared_ptr<const ExecOptions> options_;
  std::string output_;
  std::size_t output_total_ = 0;
  std::string errors_;
  std::size_t errors_total_ = 0;
  bool exited_ = false;
  bool reaped_ = false;
  bool finished_ = false;
  bool timed_out_ = false;
  std::optional<int> wait_status_;  // nullopt: lost
  std::string lost_reason_;
};

awaitable<void> Run::feed(util::ByteSpan message) {
  std::size_t done = 0;
  while (done < message.size() && stdin_.is_open()) {
    const ssize_t n =
        write_without_sigpipe(stdin_.native_handle(), message.data() + done, message.size() - done);
    if (n > 0) {
      done += static_cast<std::size_t>(n);
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      auto [ec] = co_await stdin_.async_wait(stream_descriptor::wait_write, kTuple);
      if (ec) break;
    } else {
      break;  // EPIPE: the command did not read all of its input, which is its right
    }
  }
  std::error_code ignored;
  stdin_.close(ignored);  // end of input for the command
}

awaitable<void> Run::drain(stream_descriptor& from, std::string& kept, std::size_t& total,
                           std::size_t cap) {
  std::array<char, kReadChunk> buf;
  for (;;) {
    auto [ec, n] = co_await from.async_read_some(asio::buffer(buf), kTuple);
    if (ec) break;  // end of file, or closed by the watchdog
    total += n;
    if (kept.size() < cap) kept.append(buf.data(), std::min(n, cap - kept.size()));
  }
  std::error_code ignored;
  from.close(ignored);
}

bool Run::has_exited() {
  siginfo_t info{};
  for (;;) {
    const int r = ::waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT);
    if (r == 0) return info.si_pid != 0;
    if (errno == EINTR) continue;
    // ECHILD: someone else reaped it (SIGCHLD ignored, or waitpid(-1)
    // elsewhere). The pid may be reused already, so never signal it again.
    lost_reason_ = std::strerror(errno);
    reaped_ = true;
    return true;
  }
}

void Run::reap() {
  if (reaped_) return;
  // Sweep what the shell left in its group while the zombie still pins the
  // pid, then collect the status.
  ::kill(-pid_, SIGKILL);
  int status = 0;
  pid_t r;
  while ((r = ::waitpid(pid_, &status, 0)) < 0 && errno == EINTR) {
  }
  reaped_ = true;
  if (r == pid_) {
    wait_status_ = status;
  } else {
    lost_reason_ = std::strerror(errno);
  }
}

awaitable<void> Run::wait_exit() {
  auto ex = co_await asio::this_coro::executor;
  const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd >= 0) {
    // A pidfd polls readable once the process has exited (Linux 5.3+).
    stream_descriptor exit_watch(ex, pidfd);
    while (!has_exited()) {
      auto [ec] = co_await exit_watch.async_wait(stream_descriptor::wait_read, kTuple);
      if (ec) co_return;  // abandoned; ~Run reaps
    }
  } else {
    asio::steady_timer poll(ex);
    auto interval = kPollFirst;
    while (!has_exited()) {
      poll.expires_after(interval);
      auto [ec] = co_await poll.async_wait(kTuple);
      if (ec) co_return;
      interval = std::min(interval * 2, kPollMax);
    }
  }
  exited_ = true;
  reap();
}

awaitable<void> Run::watchdog(std::shared_ptr<Run> self) {
  if (self->finished_) co_return;  // the command was quicker than this coroutine's start
  self->deadline_.expires_after(self->options_->timeout);
  auto [ec] = co_await self->deadline_.async_wait(kTuple);
  if (ec || self->finished_) co_return;
  if (!self->exited_) {
    self->timed_out_ = true;
    ::kill(-self->pid_, SIGKILL);  // not reaped yet, so the group id is still ours
    self->deadline_.expires_after(kKillGrace);
    auto [ec2] = co_await self->deadline_.async_wait(kTuple);
    if (ec2 || self->finished_) co_return;
  }
  // The shell is gone but a process that left its group holds the pipes.
  self->close_pipes();
}

std::string signal_name(int sig) {
  const char* abbrev = ::sigabbrev_np(sig);
  return abbrev ? " (SIG" + std::string(abbrev) + ")" : std::string();
}

wire::Reply Run::reply() const {
  wire::Reply r;
  std::string notes;
  const auto note = [&notes](const std::string& line) {
    notes += (notes.empty() ? "" : "\n") + ("signet: " + line);
  };
  if (timed_out_) {
    r.status = kExecTimeoutStatus;
    note("the command timed out after " + std::to_string(options_->timeout.count()) +
         " ms and was killed");
  } else if (!wait_status_) {
    r.status = kExecFailedStatus;
    note("the command's exit status was lost (" + lost_reason_ + ")");
  } else if (WIFEXITED(*wait_status_)) {
    r.status = static_cast<std::uint8_t>(WEXITSTATUS(*wait_status_));
  } else {
    const int sig = WIFSIGNALED(*wait_status_) ? WTERMSIG(*wait_status_) : 0;
    r.status = kExecFailedStatus;
    note("the command was killed by signal " + std::to_string(sig) + signal_name(sig));
  }
  if (output_total_ > output_.size()) {
    note("output truncated (" + std::to_string(output_total_) + " bytes, limit " +
         std::to_string(options_->max_output) + ")");
  }
  if (notes.empty()) {
    r.text = output_;
    return r;
  }
  // Output, then the notes on lines of their own, all within max_output.
  const std::size_t cap = options_->max_output;
  if (notes.size() >= cap) {
    r.text = notes.substr(0, cap);
    return r;
  }
  std::size_t keep = std::min(output_.size(), cap - notes.size());
  const bool newline = keep > 0 && output_[keep - 1] != '\n';
  if (newline && keep + 1 + notes.size() > cap) --keep;
  r.text = output_.substr(0, keep);
  if (!r.text.empty() && r.text.back() != '\n') r.text += '\n';
  r.text += notes;
  return r;
}

void Run::log(const net::PeerInfo& peer, Clock::duration elapsed) const {
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count();
  if (!errors_.empty()) {
    const std::size_t dropped = errors_total_ - errors_.size();
    spdlog::info("{}: command stderr: {}{}", peer.address, util::escape_for_display(errors_),
                 dropped ? " (" + std::to_string(dropped) + " more bytes dropped)" : "");
  }
  if (timed_out_) {
    spdlog::warn("{}: command timed out after {} ms; process group killed", peer.address, ms);
  } else if (!wait_status_) {
    spdlog::warn("{}: command's exit status lost: {}", peer.address, lost_reason_);
  } else if (WIFEXITED(*wait_status_)) {
    spdlog::info("{}: command exited with status {} after {} ms ({} bytes of output)", peer.address,
                 WEXITSTATUS(*wait_status_), ms, output_total_);
  } else {
    const int sig = WIFSIGNALED(*wait_status_) ? WTERMSIG(*wait_status_) : 0;
    spdlog::warn("{}: command killed by signal {}{} after {} ms", peer.address, sig,
                 signal_name(sig), ms);
  }
}

awaitable<wire::Reply> run_command(std::shared_ptr<const ExecOptions> options,
                                   const net::PeerInfo& peer, util::ByteSpan message) {
  using namespace asio::experimental::awaitable_operators;
  const auto started = Clock::now();
  auto child = spawn_shell(options->command, peer);
  if (!child) {
    spdlog::error("{}: cannot run the command: {}", peer.address, child.error().message());
    co_return wire::Reply{kExecFailedStatus, "signet: the command could not be started (" +
                                                 child.error().message() + ")"};
  }
  auto ex = co_await asio::this_coro::executor;
  auto run = std::make_shared<Run>(ex, std::move(*child), options);
  asio::co_spawn(ex, Run::watchdog(run), asio::detached);
  // Input, both outputs and the exit at once: a command that writes before it
  // has read all of its input cannot deadlock against us.
  co_await (run->feed(message) && run->read_stdout() && run->read_stderr() && run->wait_exit());
  run->finish();
  run->log(peer, Clock::now() - started);
  co_return run->reply();
}

// On a strand of the connection's executor, so that the command's coroutines
// never run at once even on a multi-threaded io_context.
awaitable<wire::Reply> run_on_strand(std::shared_ptr<const ExecOptions> options,
                                     const net::PeerInfo& peer, util::ByteSpan message) {
  auto ex = co_await asio::this_coro::executor;
  co_return co_await asio::co_spawn(
      asio::make_strand(ex), run_command(std::move(options), peer, message), asio::use_awaitable);
}

}  // namespace

net::AsyncHandler make_exec_handler(ExecOptions options) {
  auto shared = std::make_shared<const ExecOptions>(std::move(options));
  // Not a coroutine itself: the returned awaitable owns a copy of `shared`.
  return [shared](const net::PeerInfo& peer, util::ByteSpan message) {
    return run_on_strand(shared, peer, message);
  };
}

}  // namespace signet::cli
