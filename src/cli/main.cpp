// The signet program: one binary, one subcommand per job.
#include <iostream>

#include <CLI/CLI.hpp>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/key_commands.hpp"
#include "crypto/primitives.hpp"
#include "proto/frames.hpp"

namespace {

// `signet --version`: the program, the OpenSSL it runs with (which may be
// newer than the one it was built against), and the protocol versions it
// speaks, so that a bug report says all three.
std::string version_text() {
  return "signet " SIGNET_VERSION "\n" + std::string(signet::crypto::openssl_version()) +
         "\nprotocol versions " + std::to_string(signet::proto::kVersion1) + ", " +
         std::to_string(signet::proto::kVersion2);
}

constexpr const char* kFooter =
    R"(Modes:
  Key mode (TLS 1.3), the default: each machine has an identity key (created
    on first use in ~/.config/signet, or `signet keygen`). The server admits
    the keys in its authorized_keys (`signet keys add KEY.pub`); the client
    pins the server's key in known_hosts (--accept-new, --server-key or a
    prompt the first time).
  Shared-key mode: set SHARED_SECRET_KEY (or --psk-file FILE) on both ends;
    frames are encrypted (AES-256-GCM or ChaCha20-Poly1305) unless a peer
    knows only MACs (--algorithms chooses; programs say which is in use).
    Adding --identity uses key mode and the shared key together; a server
    given both serves both modes on one port (--require-psk: key mode only,
    with the shared key required as well).

Exit status:
  0  success (message confirmed by the server)
  1  other failure (chat: lines the peer never acknowledged)
  2  usage or configuration error
  3  cannot connect to the server
  4  authentication failed (wrong shared key, tampered reply, key not
     authorized, server key changed or not trusted); verify-receipt and
     audit verify: the receipt or the log did not verify
  5  refused by the server (a non-zero status, or server busy; for put, get
     and ls: no such file, the file exists, no room, a name not allowed, or
     an operation the key may not use; chat: the listener is in another
     conversation), or protocol error
  6  a file transfer did not verify (its SHA-256 did not match); nothing was
     written under the file's name

Documentation: README.md and docs/PROTOCOL.md.)";

}  // namespace

int main(int argc, char** argv) {
  using namespace signet::cli;
  CLI::App app("signet: authenticated messages between machines", "signet");
  app.footer(kFooter);
  app.require_subcommand(1);
  app.set_version_flag("--version", version_text,
                       "Print the version (with OpenSSL's and the protocol versions) and exit");

  // Options from a file, CLI11's TOML/INI format: a [server] section for
  // `signet server`'s options, [send] and [client] for the clients'
  // defaults, top-level keys for the options before the command. The
  // command line takes precedence over the file.
  app.set_config("--config", kDefaultConfigFile,
                 std::string("Read options from FILE (default ") + kDefaultConfigFile +
                     " if it exists; see signet(1))")
      ->type_name("FILE");
  // A misspelt key must not be dropped silently (CLI11 ignores extras by default).
  app.allow_config_extras(CLI::config_extras_mode::error);

  LogOptions log;
  app.add_flag_function(
      "-v,--verbose", [&](std::int64_t) { log.verbosity = 1; },
      "Log more (handshakes, every tag computed and verified)");
  app.add_flag_function(
      "-q,--quiet", [&](std::int64_t) { log.verbosity = -1; },
      "Log only warnings and errors (the server then prints no per-message lines)");
  app.add_option("--log-file", log.file,
                 "Also write the log to FILE (created with mode 0600; not a symbolic link)")
      ->type_name("FILE");

  Action action;
  int key_exit = 0;
  add_server_command(app, action);
  add_client_commands(app, action);
  add_file_commands(app, action);
  add_chat_command(app, action);
  add_receipt_commands(app, action);
  add_audit_command(app, action);
  add_bench_command(app, action);
  signet::cli::add_key_commands(app, key_exit);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    return rc == 0 ? 0 : kExitUsage;
  }
  bool psk_given = false;
  for (const auto* sub : app.get_subcommands()) {
    const auto* psk = sub->get_option_no_throw("--psk");
    psk_given = psk_given || (psk != nullptr && psk->count() > 0);
  }
  if (auto ok = check_config_secrets(app, psk_given, argc, argv); !ok) {
    print_error(ok.error().message());
    return kExitUsage;
  }
  try {
    if (auto ok = setup_logging(log); !ok) {
      print_error(ok.error().message());
      return kExitUsage;
    }
  } catch (const std::exception& e) {
    print_error(std::string("cannot set up logging: ") + e.what());
    return kExitUsage;
  }
  if (!action) return key_exit;
  return action();
}
