#include "cli/common.hpp"

#include "api/signet.hpp"
#include "crypto/secret_file.hpp"
#include "util/bytes.hpp"
#include "util/encoding.hpp"

#include <pwd.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iostream>
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
    default:
      return kExitRefused;
  }
}

void print_error(const std::string& message) {
  std::cerr << "signet: " << message << std::endl;
}

void setup_logging(const LogOptions& options) {
  auto err_sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
  auto out_sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  std::vector<spdlog::sink_ptr> log_sinks{err_sink};
  std::vector<spdlog::sink_ptr> message_sinks{out_sink};
  if (!options.file.empty()) {
    auto file_sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(options.file);
    log_sinks.push_back(file_sink);
    message_sinks.push_back(file_sink);
  }
  auto log = std::make_shared<spdlog::logger>("signet", log_sinks.begin(), log_sinks.end());
  auto messages =
      std::make_shared<spdlog::logger>("messages", message_sinks.begin(), message_sinks.end());
  log->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  messages->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %v");
  const auto level = options.verbosity < 0   ? spdlog::level::warn
                     : options.verbosity > 0 ? spdlog::level::debug
                                             : spdlog::level::info;
  log->set_level(level);
  messages->set_level(level);
  log->flush_on(spdlog::level::info);
  messages->flush_on(spdlog::level::info);
  spdlog::set_default_logger(log);
  spdlog::register_logger(messages);
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

void harden_process() {
  const rlimit none{0, 0};
  setrlimit(RLIMIT_CORE, &none);
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

Result<std::optional<std::shared_ptr<const crypto::SecretBytes>>> load_shared_key(
    const std::string& psk_file) {
  using Key = std::shared_ptr<const crypto::SecretBytes>;
  Key key;
  if (!psk_file.empty()) {
    // Bounded, and refused unless a regular file: /dev/zero or a FIFO given
    // by mistake must fail at once rather than exhaust memory or block.
    auto file = crypto::read_secret_file(psk_file, kMaxKeyFile);
    if (!file) {
      return Error(Errc::config, "cannot use the shared key file: " + file.error().detail);
    }
    const std::string shown = util::escape_for_display(psk_file);
    if ((file->mode & (S_IRWXG | S_IRWXO)) != 0) {
      spdlog::warn("shared key file {} is accessible by group or others; chmod 600 it", shown);
    }
    auto content = file->contents.span();
    // One trailing newline is an artefact of editors and echo, not key material.
    if (!content.empty() && content.back() == '\n') content = content.first(content.size() - 1);
    if (!content.empty() && content.back() == '\r') content = content.first(content.size() - 1);
    if (content.empty()) return Error(Errc::config, "shared key file " + shown + " is empty");
    key = std::make_shared<const crypto::SecretBytes>(content);
  } else {
    if (std::getenv("SHARED_SECRET_KEY") == nullptr) return std::optional<Key>{};
    // The library reads it, wipes it in place and removes it from the environment.
    auto taken = take_shared_key_from_environment();
    if (!taken) return Error(Errc::config, "SHARED_SECRET_KEY is set but empty");
    key = std::make_shared<const crypto::SecretBytes>(std::move(*taken));
  }
  if (key->size() < kMinRecommendedKey) {
    spdlog::warn("the shared key is only {} bytes; use at least {} random bytes", key->size(),
                 kMinRecommendedKey);
  }
  return std::optional<Key>(std::move(key));
}

}  // namespace signet::cli
