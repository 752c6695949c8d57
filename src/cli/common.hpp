// Pieces every signet subcommand shares: exit statuses, logging, the shared key.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "crypto/secret.hpp"
#include "util/error.hpp"

namespace CLI {
class App;
class Option;
}  // namespace CLI

namespace signet::cli {

// Exit statuses, documented in `signet --help` and the README.
enum ExitStatus : int {
  kExitOk = 0,
  kExitFailure = 1,      // anything else (a local file could not be written, ...)
  kExitUsage = 2,        // usage or configuration error
  kExitConnect = 3,      // cannot connect
  kExitAuth = 4,         // authentication failed: wrong key, tampered reply, key refused
  kExitRefused = 5,      // refused by the server, or protocol error
  kExitNotVerified = 6,  // a transfer's data did not match its SHA-256 (nothing was published)
};

int exit_status_for(const Error& e);

// Prints "signet: <message>" to stderr.
void print_error(const std::string& message);

struct LogOptions {
  int verbosity = 0;  // -1 quiet, 0 normal, 1 verbose
  std::string file;   // --log-file
};
// Sets the default logger (stderr, timestamps) and the "messages" logger
// (stdout, one line per verified message); both also go to --log-file, which
// is created with mode 0600 (a warning if it exists and others may read it).
// Fails with config if --log-file cannot be opened or is a symbolic link.
Result<void> setup_logging(const LogOptions& options);

// The server's --log-messages: "yes", "no", or "auto": yes, except when
// systemd started the process (INVOCATION_ID or JOURNAL_STREAM set) and stdout
// is not a terminal, where every message body would land in the journal.
bool log_message_lines(const std::string& setting);

// Options in seconds (timeouts, --hold) take a finite number above 0 and at
// most one day: a longer wait is a mistake, and a value near 1e30 would
// overflow the conversion to milliseconds and time out at once.
inline constexpr double kMaxSeconds = 86400;

// Adds the option `name` in seconds to cmd. Anything outside (0, kMaxSeconds]
// (negative, zero, NaN, infinity, not a number) is refused with a message
// naming the option and the range, and exit status 2.
CLI::Option* add_seconds_option(CLI::App* cmd, const std::string& name, double& seconds,
                                const std::string& description);

// s as milliseconds, rounded up to at least 1 ms. Defined for every double:
// whatever slipped past the check above is clamped into (0, kMaxSeconds].
std::chrono::milliseconds seconds_option(double s);

// "user@host", the comment of a new identity (as ssh-keygen's default).
std::string default_comment();

// Lifts the soft limit on open descriptors to the hard one (as nginx's
// worker_rlimit_nofile) and returns the soft limit now in force
// (UINT64_MAX when unlimited).
std::uint64_t raise_descriptor_limit();

// Makes the process unable to dump core or be traced, so key material cannot
// leak into a core file.
void harden_process();

// Where a command's shared key may come from (the first one set wins):
// --psk-file FILE; --psk-credential NAME, the file NAME in systemd's
// $CREDENTIALS_DIRECTORY (LoadCredential=, systemd.exec(5)); `psk = ...` in
// the configuration file (allowed only in a file of mode 0600, see
// check_config_secrets); then SHARED_SECRET_KEY.
struct SharedKeySources {
  std::string file;        // --psk-file
  std::string credential;  // --psk-credential
  std::string config;      // psk from the configuration file; wiped once read
};

// The shared key from the first source set (the variable SHARED_SECRET_KEY
// is wiped and removed once read). nullopt when none is set. An empty key,
// a file that cannot be read, is not a regular file (a FIFO, a directory,
// /dev/zero) or is larger than 64 KiB, --psk-credential without
// $CREDENTIALS_DIRECTORY, or a credential name with a slash, is a config
// error. Warns (to the log) on a key under 16 bytes or a key file that
// others can read.
Result<std::optional<std::shared_ptr<const crypto::SecretBytes>>> load_shared_key(
    SharedKeySources& sources);

// The configuration file (--config, default /etc/signet/server.conf) may hold
// the shared key in clear (`psk = ...` in a command's section) only if nobody
// but its owner may read it. Call after parsing: fails with config, naming the
// file and its mode, if some command's psk came from a file whose mode
// allows group or others anything; and if psk was given on the command line
// (--psk is for the configuration file: a command line is visible to every
// user in ps). psk_given: whether a psk option was set at all.
Result<void> check_config_secrets(const CLI::App& app, bool psk_given, int argc,
                                  const char* const* argv);

// The default --config file.
inline constexpr const char* kDefaultConfigFile = "/etc/signet/server.conf";

}  // namespace signet::cli
