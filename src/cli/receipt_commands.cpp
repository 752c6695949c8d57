// signet verify-receipt: checks a receipt written by `send --receipt`, with
// nothing but the receipt, its signature and the server's key.
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iostream>

#include <spdlog/spdlog.h>

#include "api/receipt.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/receipt_file.hpp"
#include "crypto/primitives.hpp"
#include "keys/known_hosts.hpp"
#include "keys/paths.hpp"
#include "util/encoding.hpp"
#include "util/file.hpp"

namespace signet::cli {
namespace {

struct VerifyArgs {
  std::string file;
  std::string server_key;   // --server-key SHA256:...
  std::string server;       // --server HOST:PORT: the key pinned for it
  std::string known_hosts;  // --known-hosts FILE
  std::string message;      // --message TEXT
  std::string data_file;    // --file PATH
  bool has_message = false;
  std::string psk_file;  // --psk-file: the shared key a shared-key receipt is checked with
};

// A receipt and its signature are small; anything larger is not one.
constexpr std::size_t kMaxReceiptFile = 128 * 1024;

int failed(const std::string& what) {
  print_error("receipt not verified: " + what);
  return kExitAuth;
}

// The SHA-256 and size of a local file, read in pieces.
Result<std::pair<std::string, std::uint64_t>> file_digest(const std::string& path) {
  util::UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (!fd) {
    return Error(Errc::io,
                 "cannot open " + util::escape_for_display(path) + ": " + std::strerror(errno));
  }
  crypto::Sha256 h;
  util::Bytes buf(1 << 20);
  std::uint64_t size = 0;
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      return Error(Errc::io,
                   "cannot read " + util::escape_for_display(path) + ": " + std::strerror(errno));
    }
    if (n == 0) break;
    h.update(util::ByteSpan(buf.data(), static_cast<std::size_t>(n)));
    size += static_cast<std::uint64_t>(n);
  }
  return std::make_pair(util::to_hex(h.finish()), size);
}

int run_verify(const VerifyArgs& args) {
  Receipt receipt;
  for (auto [path, into] : {std::pair{args.file, &receipt.statement},
                            std::pair{args.file + ".sig", &receipt.signature}}) {
    auto text = util::read_file(path, kMaxReceiptFile);
    if (!text || !*text) {
      print_error(text ? "no such file: " + util::escape_for_display(path)
                       : text.error().message());
      return kExitUsage;
    }
    *into = std::move(**text);
  }
  const bool shared = is_shared_key_receipt(receipt.signature);
  if (shared && (!args.server_key.empty() || !args.server.empty())) {
    print_error(
        "a shared-key receipt names no server key: give the shared key instead "
        "(SHARED_SECRET_KEY or --psk-file)");
    return kExitUsage;
  }
  if (!shared && args.server_key.empty() == args.server.empty()) {
    print_error("give the server's key: --server-key SHA256:... or --server HOST:PORT (pinned)");
    return kExitUsage;
  }
  std::unique_ptr<SharedReceiptKey> shared_key;
  if (shared) {
    SharedKeySources sources{args.psk_file, {}, {}};
    auto psk = load_shared_key(sources);
    if (!psk) {
      print_error(psk.error().message());
      return exit_status_for(psk.error());
    }
    if (!*psk) {
      print_error(
          "a shared-key receipt is checked with the shared key: set SHARED_SECRET_KEY "
          "or give --psk-file");
      return kExitUsage;
    }
    shared_key = std::make_unique<SharedReceiptKey>(***psk);
  }
  auto facts = check_receipt(receipt, shared_key.get());
  if (!facts) return failed((shared ? "MAC: " : "signature: ") + facts.error().message());

  std::string expected = shared ? facts->server_key : args.server_key;
  if (!args.server.empty()) {
    Result<std::filesystem::path> path = std::filesystem::path(args.known_hosts);
    if (args.known_hosts.empty()) {
      path = keys::config_dir_path();
      if (path) path = keys::known_hosts_path(*path);
    }
    if (!path) {
      print_error(path.error().message());
      return kExitUsage;
    }
    auto pinned = keys::KnownHosts(*path).lookup(args.server);
    if (!pinned) {
      print_error(pinned.error().message());
      return kExitUsage;
    }
    if (!*pinned) {
      return failed("no key is pinned for " + util::escape_for_display(args.server) + " in " +
                    util::escape_for_display(path->string()));
    }
    expected = (*pinned)->fingerprint();
  }
  if (facts->server_key != expected) {
    return failed("signed by " + facts->server_key + ", not by the server key " +
                  util::escape_for_display(expected));
  }
  if (args.has_message) {
    const auto digest = util::to_hex(crypto::sha256({util::as_bytes(args.message)}));
    if (digest != facts->sha256 || args.message.size() != facts->size) {
      return failed("the receipt is for another message");
    }
  }
  if (!args.data_file.empty()) {
    auto d = file_digest(args.data_file);
    if (!d) {
      print_error(d.error().message());
      return kExitUsage;
    }
    if (d->first != facts->sha256 || d->second != facts->size) {
      return failed("the receipt is for other data than " +
                    util::escape_for_display(args.data_file));
    }
  }
  std::cout << "receipt verified: " << facts->operation << " of " << facts->size
            << " bytes (sha256 " << facts->sha256 << "), status " << facts->status << ", at "
            << facts->time << ", server " << facts->server_key << ", client " << facts->client_key
            << std::endl;
  return kExitOk;
}

}  // namespace

int write_receipt(const Receipt& receipt, const std::string& file, const ClientMode& mode) {
  auto facts = parse_receipt(receipt.statement);
  const std::string own = mode.key_mode ? mode.fingerprint : std::string(kSharedKeyName);
  if (!facts || facts->client_key != own) {
    print_error("--receipt: the receipt names another client key than this one, " + own);
    return kExitNotVerified;
  }
  std::filesystem::path sig = file;
  sig += ".sig";
  for (const auto& [path, text] : {std::pair{std::filesystem::path(file), receipt.statement},
                                   std::pair{sig, receipt.signature}}) {
    if (auto w = util::write_file_atomic(path, util::as_bytes(text), 0644, util::Overwrite::yes);
        !w) {
      print_error("--receipt: cannot write " + util::escape_for_display(path.string()) + ": " +
                  w.error().message());
      return kExitUsage;
    }
  }
  spdlog::info("receipt written to {} and {}", util::escape_for_display(file),
               util::escape_for_display(sig.string()));
  return kExitOk;
}

void add_receipt_commands(CLI::App& app, Action& action) {
  auto args = std::make_shared<VerifyArgs>();
  auto* v = app.add_subcommand(
      "verify-receipt",
      "Check a receipt written by send, put or get --receipt (FILE and FILE.sig): its "
      "signature by the server's key (shared-key mode: its MAC, with the shared key) and, if "
      "given, the message or file it is for; exit 4 if any part fails");
  v->add_option("file", args->file, "The receipt (its signature is FILE.sig)")
      ->required()
      ->type_name("FILE");
  v->add_option("--server-key", args->server_key, "The server's key fingerprint")
      ->type_name("SHA256:...");
  v->add_option("--server", args->server,
                "Check against the key pinned for this server in known_hosts")
      ->type_name("HOST:PORT");
  v->add_option("--known-hosts", args->known_hosts, "known_hosts file for --server")
      ->type_name("FILE");
  auto* m = v->add_option("--message", args->message, "The message the receipt must be for")
                ->type_name("TEXT");
  v->add_option("--file", args->data_file, "The file whose content the receipt must be for")
      ->type_name("PATH")
      ->excludes(m);
  v->add_option("--psk-file", args->psk_file,
                "A shared-key receipt: read the shared key from FILE (default: "
                "SHARED_SECRET_KEY)")
      ->type_name("FILE");
  v->callback([args, m, &action] {
    args->has_message = m->count() > 0;
    action = [args] { return run_verify(*args); };
  });
}

}  // namespace signet::cli
