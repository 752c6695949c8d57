// signet audit verify LOG: checks a server's audit log (api/audit_log.hpp).
#include <algorithm>
#include <iostream>
#include <memory>
#include <string>

#include "api/audit_log.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "util/encoding.hpp"

namespace signet::cli {
namespace {

struct AuditVerifyArgs {
  std::string log;
  std::string server_key;  // "SHA256:..."; empty: any signer, named in the report
  std::string psk_file;    // --psk-file: checks a shared-key server's checkpoints
};

int run_audit_verify(const AuditVerifyArgs& args) {
  if (!args.server_key.empty() && args.server_key.rfind("SHA256:", 0) != 0) {
    print_error("--server-key takes a key fingerprint, SHA256:...");
    return kExitUsage;
  }
  // A shared-key server's checkpoints are checked with the shared key,
  // when there is one (SHARED_SECRET_KEY or --psk-file).
  SharedKeySources sources{args.psk_file, {}, {}};
  auto psk = load_shared_key(sources);
  if (!psk) {
    print_error(psk.error().message());
    return exit_status_for(psk.error());
  }
  const auto shared = *psk ? audit_shared_key(***psk) : nullptr;
  auto report = verify_audit_log(args.log, args.server_key, shared.get());
  if (!report) {
    print_error(report.error().message());
    return exit_status_for(report.error());
  }
  const auto& r = *report;
  if (r.broken_line != 0) {
    std::cout << "audit log " << util::escape_for_display(args.log) << ": NOT intact: " << r.broken
              << "\n"
              << "lines 1 to " << r.lines << " chain"
              << (r.last_checkpoint != 0 ? ", and lines 1 to " + std::to_string(r.last_checkpoint) +
                                               " are covered by a verified checkpoint"
                                         : std::string())
              << std::endl;
    return kExitAuth;
  }
  std::cout << "audit log " << util::escape_for_display(args.log) << ": intact, " << r.lines
            << " lines, " << r.checkpoints << " signed checkpoint(s)";
  if (!r.signers.empty()) {
    std::cout << " by";
    for (const auto& s : r.signers) std::cout << " " << util::escape_for_display(s);
  }
  std::cout << std::endl;
  if (r.last_checkpoint == 0) {
    std::cout << "no line is covered by a checkpoint" << std::endl;
  } else if (r.last_checkpoint < r.lines) {
    std::cout << "lines " << r.last_checkpoint + 1 << " to " << r.lines
              << " come after the last checkpoint: they chain, but no signature covers them yet"
              << std::endl;
  }
  const bool signed_by_key = std::any_of(r.signers.begin(), r.signers.end(),
                                         [](const auto& s) { return s.rfind("SHA256:", 0) == 0; });
  if (args.server_key.empty() && signed_by_key) {
    std::cout << "compare the signer with the server's key (signet fingerprint on the server), "
                 "or give --server-key"
              << std::endl;
  }
  return kExitOk;
}

}  // namespace

void add_audit_command(CLI::App& app, Action& action) {
  auto* audit =
      app.add_subcommand("audit", "Check a server's audit log (signet server --audit-log)");
  audit->require_subcommand(1);
  auto args = std::make_shared<AuditVerifyArgs>();
  auto* v = audit->add_subcommand(
      "verify",
      "Check that no line of an audit log was changed, removed, added or moved, and every signed "
      "checkpoint in it; exit 4 naming the first line where it breaks");
  v->add_option("log", args->log, "The audit log")->required()->type_name("FILE");
  v->add_option("--server-key", args->server_key,
                "The key every checkpoint must be signed by (the server's identity)")
      ->type_name("SHA256:...");
  v->add_option("--psk-file", args->psk_file,
                "A shared-key server's log: read the shared key that checks its checkpoints "
                "from FILE (default: SHARED_SECRET_KEY)")
      ->type_name("FILE");
  v->callback([args, &action] { action = [args] { return run_audit_verify(*args); }; });
}

}  // namespace signet::cli
