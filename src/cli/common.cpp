#include "cli/common.hpp"

#include "cli/systemd.hpp"

#include "api/signet.hpp"
#include "crypto/secret_file.hpp"
#include "util/bytes.hpp"
#include "util/encoding.hpp"

#include <fcntl.h>
#include <pwd.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <system_error>
#include <vector>

namespace signet::cli {
namespace {
constexpr std::size_t kMinRecommendedKey = 16;
constexpr std::size_t kMaxKeyFile = 64 * 1024;
}  // namespace

int exit_status_for(const Error& e) {
  if (e.code.category() != signet_category()) return kExitRefused;
  switch (static_cast<Errc>(e.code.value())) {
    case Errc::config:
      return kExitUsage;
    case Errc::unreachable:
      return kExitConnect;
    case Errc::key_mismatch:
    case Errc::bad_tag:
    case Errc::not_authorized:
    case Errc::host_key_changed:
    case Errc::host_key_unknown:
      return kExitAuth;
    case Errc::io:
      return kExitFailure;
    case Errc::not_verified:
      return kExitNotVerified;
    default:
      return kExitRefused;
  }
}

void print_error(const std::string& message) {
  // In the journal, an error has the error priority (sd-daemon(3)).
  static const bool journal = is_journal_stream(STDERR_FILENO);
  std::cerr << (journal ? journal_priority_prefix(spdlog::level::err) : "") << "signet: " << message
            << std::endl;
}

namespace {

// Log lines to a descriptor signet opened itself: spdlog's file sink would
// create the file with the umask's mode, and the log holds message bodies
// that key mode kept confidential on the wire.
class FdSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  explicit FdSink(int fd) noexcept : fd_(fd) {}
  FdSink(const FdSink&) = delete;
  FdSink& operator=(const FdSink&) = delete;
  ~FdSink() override { ::close(fd_); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t line;
    formatter_->format(msg, line);
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;  // a full disk must not stop the server
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }
  // Each line is written with write(2) at once; nothing is buffered here.
  void flush_() override {}

 private:
  int fd_;
};

// Opens (creating with mode 0600) the --log-file for appending. A symlink is
// refused, so the path cannot be pointed at some other file. *too_open is set
// when an existing regular file is accessible by group or others.
Result<int> open_log_file(const std::string& path, bool* too_open) {
  const std::string shown = util::escape_for_display(path);
  const int fd =
      ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
  if (fd < 0) {
    const int err = errno;
    return Error(Errc::config, "cannot open --log-file " + shown + ": " +
                                   (err == ELOOP ? std::string("it is a symbolic link")
                                                 : std::generic_category().message(err)));
  }
  struct stat st {};
  *too_open = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 077) != 0;
  return fd;
}

}  // namespace

namespace {

// %* in a pattern: the line's sd-daemon(3) priority prefix ("<6>").
class JournalPriority final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string_view prefix = journal_priority_prefix(msg.level);
    dest.append(prefix.data(), prefix.data() + prefix.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JournalPriority>();
  }
};

// Under systemd the journal stamps each line itself and reads its priority
// from a "<N>" prefix; the level word stays for people reading the journal.
std::unique_ptr<spdlog::formatter> journal_formatter(const char* pattern) {
  auto f = std::make_unique<spdlog::pattern_formatter>();
  f->add_flag<JournalPriority>('*').set_pattern(pattern);
  return f;
}

}  // namespace

Result<void> setup_logging(const LogOptions& options) {
  auto err_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto out_sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  std::vector<spdlog::sink_ptr> log_sinks{err_sink};
  std::vector<spdlog::sink_ptr> message_sinks{out_sink};
  bool too_open = false;
  if (!options.file.empty()) {
    auto fd = open_log_file(options.file, &too_open);
    if (!fd) return fd.error();
    auto file_sink = std::make_shared<FdSink>(*fd);
    log_sinks.push_back(file_sink);
    message_sinks.push_back(file_sink);
  }
  auto log = std::make_shared<spdlog::logger>("signet", log_sinks.begin(), log_sinks.end());
  auto messages =
      std::make_shared<spdlog::logger>("messages", message_sinks.begin(), message_sinks.end());
  log->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  messages->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %v");
  // Set after the loggers' patterns, which reach every sink (--log-file
  // keeps its timestamps).
  if (is_journal_stream(STDERR_FILENO)) err_sink->set_formatter(journal_formatter("%*%l %v"));
  if (is_journal_stream(STDOUT_FILENO)) out_sink->set_formatter(journal_formatter("%*%v"));
  const auto level = options.verbosity < 0   ? spdlog::level::warn
                     : options.verbosity > 0 ? spdlog::level::debug
                                             : spdlog::level::info;
  log->set_level(level);
  messages->set_level(level);
  log->flush_on(spdlog::level::info);
  messages->flush_on(spdlog::level::info);
  spdlog::set_default_logger(log);
  spdlog::register_logger(messages);
  if (too_open) {
    // Warned, not changed: a group that may read the logs can be deliberate.
    spdlog::warn(
        "--log-file {} is accessible by group or others, and it holds message bodies; "
        "chmod 600 it",
        util::escape_for_display(options.file));
  }
  return {};
}

bool log_message_lines(const std::string& setting) {
  if (setting == "yes") return true;
  if (setting == "no") return false;
  if (::isatty(STDOUT_FILENO) == 1) return true;
  // systemd sets these for the processes it starts (systemd.exec(5)).
  return std::getenv("INVOCATION_ID") == nullptr && std::getenv("JOURNAL_STREAM") == nullptr;
}

CLI::Option* add_seconds_option(CLI::App* cmd, const std::string& name, double& seconds,
                                const std::string& description) {
  static const std::string kRange = "(0 - " + std::to_string(static_cast<int>(kMaxSeconds)) + "]";
  const CLI::Validator check(
      [](std::string& text) -> std::string {
        double v = 0;
        const char* end = text.data() + text.size();
        const auto [rest, ec] = std::from_chars(text.data(), end, v);
        if (ec == std::errc() && rest == end && std::isfinite(v) && v > 0 && v <= kMaxSeconds) {
          return {};
        }
        return "'" + text + "' is not a number of seconds above 0 and at most " +
               std::to_string(static_cast<int>(kMaxSeconds)) + " (one day)";
      },
      kRange, "SECONDS");
  return cmd->add_option(name, seconds, description)->type_name("SECONDS")->check(check);
}

std::chrono::milliseconds seconds_option(double s) {
  // NaN fails every comparison and ends up at the lower bound.
  const double clamped = s > 0 ? std::min(s, kMaxSeconds) : 0.001;
  const auto ms = static_cast<std::int64_t>(std::ceil(clamped * 1000));
  return std::chrono::milliseconds(std::max<std::int64_t>(ms, 1));
}

std::string default_comment() {
  std::string user = "user";
  std::vector<char> buf(16384);
  passwd pw{};
  passwd* found = nullptr;
  if (::getpwuid_r(::geteuid(), &pw, buf.data(), buf.size(), &found) == 0 && found != nullptr &&
      found->pw_name != nullptr) {
    user = found->pw_name;
  }
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) host[0] = '\0';
  return user + "@" + (host[0] != '\0' ? host : "localhost");
}

std::uint64_t raise_descriptor_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur == RLIM_INFINITY ? UINT64_MAX : static_cast<std::uint64_t>(lim.rlim_cur);
}

void harden_process() {
  const rlimit none{0, 0};
  setrlimit(RLIMIT_CORE, &none);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

namespace {

// A key file's contents: one trailing newline (an artefact of editors and
// echo, not key material) is dropped. what names the file in messages.
Result<std::shared_ptr<const crypto::SecretBytes>> read_key_file(const std::string& path,
                                                                 const std::string& what) {
  // Bounded, and refused unless a regular file: /dev/zero or a FIFO given
  // by mistake must fail at once rather than exhaust memory or block.
  auto file = crypto::read_secret_file(path, kMaxKeyFile);
  if (!file) return Error(Errc::config, "cannot use the " + what + ": " + file.error().detail);
  const std::string shown = util::escape_for_display(path);
  if ((file->mode & (S_IRWXG | S_IRWXO)) != 0) {
    spdlog::warn("shared key file {} is accessible by group or others; chmod 600 it", shown);
  }
  auto content = file->contents.span();
  if (!content.empty() && content.back() == '\n') content = content.first(content.size() - 1);
  if (!content.empty() && content.back() == '\r') content = content.first(content.size() - 1);
  if (content.empty()) return Error(Errc::config, what + " " + shown + " is empty");
  return std::make_shared<const crypto::SecretBytes>(content);
}

}  // namespace

Result<std::optional<std::shared_ptr<const crypto::SecretBytes>>> load_shared_key(
    SharedKeySources& sources) {
  using Key = std::shared_ptr<const crypto::SecretBytes>;
  Key key;
  if (!sources.file.empty()) {
    auto read = read_key_file(sources.file, "shared key file");
    if (!read) return read.error();
    key = std::move(*read);
  } else if (!sources.credential.empty()) {
    const std::string& name = sources.credential;
    if (name.find('/') != std::string::npos || name == "." || name == "..") {
      return Error(Errc::config, "--psk-credential " + util::escape_for_display(name) +
                                     " is not a credential name (no slashes)");
    }
    const char* dir = std::getenv("CREDENTIALS_DIRECTORY");
    if (dir == nullptr || dir[0] == '\0') {
      return Error(Errc::config, "--psk-credential " + util::escape_for_display(name) +
                                     ": CREDENTIALS_DIRECTORY is not set (systemd sets it for "
                                     "a unit with LoadCredential=)");
    }
    auto read = read_key_file(std::string(dir) + "/" + name, "shared key credential");
    if (!read) return read.error();
    key = std::move(*read);
  } else if (!sources.config.empty()) {
    key = std::make_shared<const crypto::SecretBytes>(util::as_bytes(sources.config));
  } else {
    if (std::getenv("SHARED_SECRET_KEY") == nullptr) return std::optional<Key>{};
    // The library reads it, wipes it in place and removes it from the environment.
    auto taken = take_shared_key_from_environment();
    if (!taken) return Error(Errc::config, "SHARED_SECRET_KEY is set but empty");
    key = std::make_shared<const crypto::SecretBytes>(std::move(*taken));
  }
  if (!sources.config.empty()) {
    crypto::cleanse(
        {reinterpret_cast<std::uint8_t*>(sources.config.data()), sources.config.size()});
    sources.config.clear();
  }
  if (key->size() < kMinRecommendedKey) {
    spdlog::warn("the shared key is only {} bytes; use at least {} random bytes", key->size(),
                 kMinRecommendedKey);
  }
  return std::optional<Key>(std::move(key));
}

Result<void> check_config_secrets(const CLI::App& app, bool psk_given, int argc,
                                  const char* const* argv) {
  if (!psk_given) return {};
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg == "--psk" || arg.starts_with("--psk=")) {
      return Error(Errc::config,
                   "--psk is accepted only in a configuration file of mode 0600 (a command line "
                   "is visible to every user); use --psk-file, --psk-credential or "
                   "SHARED_SECRET_KEY");
    }
  }
  // Not on the command line, so it came from the configuration file CLI11 read.
  const CLI::Option* config = app.get_config_ptr();
  const std::string path = config != nullptr ? config->as<std::string>() : "";
  const std::string shown = util::escape_for_display(path);
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0) {
    return Error(Errc::config,
                 "cannot check the mode of the configuration file " + shown + " that sets psk");
  }
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return Error(Errc::config, "the configuration file " + shown + " has mode " + mode +
                                   " and sets psk: a file holding the shared key must be mode "
                                   "0600 (chmod 600 it, or use psk-file or psk-credential)");
  }
  return {};
}

}  // namespace signet::cli
