#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <iostream>
#include <thread>

#include <asio/io_context.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>

#include "api/audit_log.hpp"
#include "api/message_service.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/exec_handler.hpp"
#include "cli/mode.hpp"
#include "cli/systemd.hpp"
#include "util/encoding.hpp"

namespace signet::cli {
namespace {

struct ServerArgs {
  std::string listen = "127.0.0.1:7878";
  std::string log_messages = "auto";  // --log-messages: auto, yes or no
  ChannelOptions channel;
  double handshake_timeout = 10;
  double idle_timeout = 300;
  double frame_timeout = 30;
  std::size_t max_buffered_mib = 256;
  std::size_t max_connections = 16384;
  std::string max_startups = "256:30:1024";
  std::size_t max_startups_per_source = 128;
  unsigned threads = 0;
  std::string exec;   // --exec: answer each message with this command
  bool echo = false;  // --echo: answer each message with its own bytes
  double exec_timeout = 10;
  std::size_t exec_max_output = std::size_t{1} << 20;
  std::size_t exec_concurrency = 0;  // 0: four per core
  std::size_t exec_queue = 0;        // 0: sixteen per running command
  std::string files;                 // --files: the folder put, get and ls reach
  std::uint64_t max_file_size = 0;   // --max-file-size; 0: no limit
  std::uint64_t max_total = 0;       // --max-total; 0: no limit
  double stale_upload_hours = 24;    // --stale-uploads
  std::string audit_log;             // --audit-log: the hash-chained log of operations
  double audit_checkpoint = 10;      // --audit-checkpoint: seconds between signed checkpoints
};

// Warns when the descriptor limit cannot hold every connection
// --max-connections allows.
void check_descriptor_limit(std::size_t max_connections) {
  const std::uint64_t limit = raise_descriptor_limit();
  // A connection takes one descriptor; a --exec command three more while it runs.
  constexpr std::uint64_t kSpare = 64;
  const std::uint64_t room = limit > kSpare ? limit - kSpare : 0;
  spdlog::info("descriptor limit {}: room for {} connections (--max-connections {})",
               limit == UINT64_MAX ? std::string("unlimited") : std::to_string(limit),
               std::min<std::uint64_t>(room, max_connections), max_connections);
  if (limit < max_connections + kSpare) {
    spdlog::warn(
        "the descriptor limit ({}) is below --max-connections ({}): connections beyond about {} "
        "will wait in the listen queue; raise it (ulimit -n, LimitNOFILE=) or lower "
        "--max-connections",
        limit, max_connections, room);
  }
}

// --echo: the reply is the message itself (cut to what a reply can carry:
// the status byte leaves max_message - 1 bytes of text), for tests and
// benchmarks that check every reply belongs to its own message.
net::SyncHandler echo_handler(std::size_t room) {
  return [room](const net::PeerInfo&, util::ByteSpan message) {
    const auto text = util::as_chars(message);
    return wire::Reply{0, std::string(text.substr(0, std::min(text.size(), room)))};
  };
}

// The default handler: print one line per verified message, confirm it.
wire::Reply print_and_confirm(const net::PeerInfo& peer, util::ByteSpan message) {
  static const auto messages = spdlog::get("messages");
  // Escaping costs more than verifying; skip it when the line is not printed.
  if (messages->should_log(spdlog::level::info)) {
    messages->info("{} {} bytes verified ({}{}{}): {}", peer.address, message.size(), peer.mode,
                   peer.identity.fingerprint.empty() ? "" : ", ", peer.identity.fingerprint,
                   util::escape_for_display(util::as_chars(message)));
  }
  return wire::Reply{0, "verified " + std::to_string(message.size()) + " bytes"};
}

void remove_stale(const FileServiceShared& files, std::chrono::seconds age, double hours) {
  if (auto removed = files.folder.remove_stale_uploads(age); !removed) {
    spdlog::warn("--files: cannot clean up stale uploads: {}", removed.error().message());
  } else if (*removed > 0) {
    spdlog::info("--files: removed {} unfinished upload file(s) older than {} hours", *removed,
                 hours);
  }
}

// The hourly look at the folder: stale parts go, and --max-total's count
// catches up with files the operator added or removed.
void tidy(const FileServiceShared& files, std::chrono::seconds age, double hours) {
  remove_stale(files, age, hours);
  if (!files.usage) return;
  if (auto used = files.folder.total_size(); used) {
    files.usage->rescanned(*used);
  } else {
    spdlog::warn("--max-total: cannot count the folder: {}", used.error().message());
  }
}

int run_server(ServerArgs& args) {
  harden_process();
  if (!log_message_lines(args.log_messages)) spdlog::get("messages")->set_level(spdlog::level::off);
  auto listen = net::parse_host_port(args.listen);
  if (!listen) {
    print_error(listen.error().message());
    return kExitUsage;
  }
  auto mode = make_server_mode(args.channel);
  if (!mode) {
    print_error(mode.error().message());
    return exit_status_for(mode.error());
  }
  net::ServerOptions options;
  options.listen = *listen;
  options.handshake_timeout = seconds_option(args.handshake_timeout);
  options.idle_timeout = seconds_option(args.idle_timeout);
  options.frame_timeout = seconds_option(args.frame_timeout);
  options.max_buffered_bytes = args.max_buffered_mib << 20;
  options.max_connections = args.max_connections;
  auto startups = net::parse_startup_limits(args.max_startups);
  if (!startups) {
    print_error(startups.error().message());
    return kExitUsage;
  }
  options.startups = *startups;
  options.startups.per_source = args.max_startups_per_source;
  options.threads = args.threads;
  check_descriptor_limit(args.max_connections);
  net::Handler handler = net::SyncHandler(print_and_confirm);
  MessageServiceOptions service;
  service.receipt_key = mode->receipt_key;
  service.receipt_shared_key = mode->receipt_shared_key;
  if (args.echo)
    handler = echo_handler(std::size_t{wire::send_limit(args.channel.max_message)} - 1);
  if (!args.exec.empty()) {
    const std::size_t cores = std::max(1u, std::thread::hardware_concurrency());
    service.max_concurrent_handlers =
        args.exec_concurrency != 0 ? args.exec_concurrency : 4 * cores;
    service.max_queued_handlers =
        args.exec_queue != 0 ? args.exec_queue : 16 * service.max_concurrent_handlers;
    // The reply's status byte leaves max_message - 1 bytes for the text.
    const std::size_t room = std::size_t{wire::send_limit(args.channel.max_message)} - 1;
    handler = make_exec_handler(ExecOptions{args.exec, seconds_option(args.exec_timeout),
                                            std::min(args.exec_max_output, room)});
  }
  std::shared_ptr<const FileServiceShared> served;
  std::optional<std::chrono::seconds> stale_age;
  if (!args.files.empty()) {
    // A file size limit (RLIMIT_FSIZE) then fails the one write with EFBIG,
    // which ends that upload, instead of killing the server. --exec's
    // commands get the default action back (exec_handler.cpp).
    std::signal(SIGXFSZ, SIG_IGN);
    auto files = serve_files(FileServiceOptions{args.files, args.max_file_size, args.max_total});
    if (!files) {
      print_error("--files: " + files.error().message());
      return kExitUsage;
    }
    // Parts of uploads that were cut off and never resumed (and temporary
    // files a crash left), now and every hour while the server runs.
    stale_age = std::chrono::seconds(static_cast<std::int64_t>(args.stale_upload_hours * 3600));
    served = *files;
    remove_stale(*served, *stale_age, args.stale_upload_hours);
    spdlog::info("serving files in {}{}", util::escape_for_display(args.files),
                 args.max_file_size != 0
                     ? " (at most " + std::to_string(args.max_file_size) + " bytes a file)"
                     : std::string());
    if ((*files)->usage) {
      spdlog::info("--max-total: the folder holds {} of its {} bytes", (*files)->usage->used(),
                   args.max_total);
    }
    service.files = std::move(*files);
  }
  if (!args.audit_log.empty()) {
    auto audit = AuditLog::open(args.audit_log, mode->receipt_key,
                                std::chrono::milliseconds(static_cast<std::int64_t>(
                                    std::max(0.01, args.audit_checkpoint) * 1000)),
                                mode->audit_shared_key);
    if (!audit) {
      print_error("--audit-log: " + audit.error().message());
      return exit_status_for(audit.error());
    }
    spdlog::info("audit log {}: {} lines, {}", util::escape_for_display(args.audit_log),
                 (*audit)->lines(),
                 mode->receipt_key ? "checkpoints signed by the server's key"
                                   : "checkpoints authenticated by the shared key (a MAC)");
    service.audit = std::move(*audit);
  }
  const std::shared_ptr<AuditLog> audit = service.audit;
  if (audit) {
    options.on_refused_credentials = [audit](const std::string& address, const Error& why) {
      audit->refused_connection(address, why.message());
    };
  }
  net::Server server(options, mode->factory, message_service(std::move(handler), service));
  auto bound = server.listen();
  if (!bound) {
    print_error(bound.error().message());
    return kExitUsage;
  }
  asio::io_context signals_ctx(1);
  asio::signal_set signals(signals_ctx, SIGINT, SIGTERM, SIGHUP);
  // Handled from before the first line: a script (or systemd) may signal
  // as soon as it reads it. SIGHUP (systemctl reload) re-reads what can
  // change under a running server (ServerMode::reload); connections stay
  // open. Other options need a restart.
  std::function<void(const std::error_code&, int)> on_signal = [&](const std::error_code& ec,
                                                                   int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      notify_systemd("RELOADING=1");
      if (mode->reload) {
        mode->reload();
      } else {
        spdlog::info("SIGHUP: nothing to re-read; restart to change options");
      }
      notify_systemd("READY=1");
      signals.async_wait(on_signal);
      return;
    }
    spdlog::info("received {}; shutting down", sig == SIGINT ? "SIGINT" : "SIGTERM");
    notify_systemd("STOPPING=1");
    server.stop();
  };
  signals.async_wait(on_signal);
  // The hourly clean-up runs on the signal thread, away from connections.
  asio::steady_timer cleanup(signals_ctx);
  std::function<void(const std::error_code&)> on_cleanup = [&](const std::error_code& ec) {
    if (ec) return;
    tidy(*served, *stale_age, args.stale_upload_hours);
    cleanup.expires_after(std::chrono::hours(1));
    cleanup.async_wait(on_cleanup);
  };
  if (served) {
    cleanup.expires_after(std::chrono::hours(1));
    cleanup.async_wait(on_cleanup);
  }
  std::thread signal_thread([&] { signals_ctx.run(); });

  const auto addr = bound->address().is_v6() ? "[" + bound->address().to_string() + "]"
                                             : bound->address().to_string();
  // The first line says the mode; scripts read the port from it.
  std::cout << "signet server: " << mode->description << ", listening on " << addr << ":"
            << bound->port() << std::endl;
  // systemd (Type=notify) starts the units after this one only now.
  notify_systemd("READY=1");
  server.run();
  signals_ctx.stop();
  signal_thread.join();
  if (audit) audit->close();  // a stop line and a last checkpoint
  const auto& st = server.stats();
  spdlog::info("stopped: {} connection(s), {} message(s) verified, {} rejected",
               st.connections.load(), st.messages.load(), st.rejected.load());
  return kExitOk;
}

}  // namespace

void add_server_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<ServerArgs>();
  auto* cmd = app.add_subcommand(
      "server",
      "Serve clients: verify, print and confirm each message; with --files, serve a folder");
  cmd->add_option("--listen,-l", args->listen, "Address to listen on (default 127.0.0.1:7878)")
      ->type_name("HOST:PORT");
  cmd->add_option("--log-messages", args->log_messages,
                  "A line per verified message, its text included, on stdout and in --log-file: "
                  "yes, no, or auto (default): yes, but no when systemd runs the server "
                  "(INVOCATION_ID or JOURNAL_STREAM set) and stdout is not a terminal")
      ->check(CLI::IsMember({"auto", "yes", "no"}).description(""))
      ->type_name("auto|yes|no");
  add_channel_options(cmd, args->channel, true);
  add_seconds_option(cmd, "--handshake-timeout", args->handshake_timeout,
                     "Seconds a client has to finish the handshake (default 10)");
  add_seconds_option(cmd, "--idle-timeout", args->idle_timeout,
                     "Seconds without traffic before a connection is closed (default 300)");
  add_seconds_option(cmd, "--frame-timeout", args->frame_timeout,
                     "Seconds a started message has to arrive completely (default 30)");
  cmd->add_option("--max-buffered", args->max_buffered_mib,
                  "MiB of incoming messages held for all connections together (default 256)");
  cmd->add_option("--max-connections", args->max_connections,
                  "Connections served at once; more are refused as busy (default 16384)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24));
  cmd->add_option("--max-startups", args->max_startups,
                  "Connections still in their handshake: from BEGIN on, refuse new ones with "
                  "probability RATE percent, rising to 100 at FULL (default 256:30:1024)")
      ->type_name("BEGIN:RATE:FULL");
  cmd->add_option("--max-startups-per-source", args->max_startups_per_source,
                  "Connections in their handshake from one IPv4 address or IPv6 /64; "
                  "0: no limit (default 128)");
  cmd->add_option("--threads", args->threads, "Worker threads (default: one per core)");
  auto* echo = cmd->add_flag("--echo", args->echo,
                             "Answer each message with its own bytes (for tests and benchmarks; "
                             "nothing is printed per message)");
  cmd->add_option("--exec", args->exec,
                  "Answer each message by running CMD with /bin/sh -c: the message on its "
                  "stdin, its stdout as the reply text, its exit status as the reply status")
      ->type_name("CMD")
      ->excludes(echo);
  add_seconds_option(cmd, "--exec-timeout", args->exec_timeout,
                     "Seconds a --exec command may run before it is killed (default 10)");
  cmd->add_option("--exec-concurrency", args->exec_concurrency,
                  "--exec commands running at once (default: 4 per core)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 16));
  cmd->add_option("--exec-queue", args->exec_queue,
                  "Messages that may wait for a --exec slot; more are refused as busy "
                  "(default: 16 per --exec-concurrency)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  cmd->add_option("--exec-max-output", args->exec_max_output,
                  "Bytes of a --exec command's output kept for the reply (default and most: "
                  "--max-message minus 1)")
      ->check(CLI::Range(std::size_t{1}, std::size_t{64} << 20));
  cmd->add_option("--files", args->files,
                  "Serve this folder to signet put, get and ls (protocol version 2): nothing "
                  "outside it is reached, symbolic links are not followed")
      ->type_name("DIR");
  cmd->add_option("--max-file-size", args->max_file_size,
                  "Largest file put may upload, e.g. 10G (default: no limit but the free space)")
      ->transform(CLI::AsSizeValue(false))
      ->type_name("SIZE");
  cmd->add_option("--max-total", args->max_total,
                  "Most the served folder may hold in all, e.g. 100G: an upload that would go "
                  "beyond it is refused before any data moves (default: no limit but the free "
                  "space)")
      ->transform(CLI::AsSizeValue(false))
      ->type_name("SIZE");
  cmd->add_option("--stale-uploads", args->stale_upload_hours,
                  "Hours after which the part of an upload that was cut off and not resumed is "
                  "removed (checked at start and every hour; default 24)")
      ->check(CLI::Range(0.0, 24.0 * 365));
  cmd->add_option("--audit-log", args->audit_log,
                  "Append a line per operation (who, what, sizes, digests, outcome; never "
                  "contents) to FILE, each line holding the SHA-256 of the one before, with "
                  "checkpoints signed by the server's key; check it with signet audit verify")
      ->type_name("FILE");
  cmd->add_option("--audit-checkpoint", args->audit_checkpoint,
                  "Seconds between the audit log's signed checkpoints, each of which also makes "
                  "the log durable (fdatasync) (default 10)")
      ->check(CLI::Range(0.01, 86400.0));
  cmd->callback([args, &action] { action = [args] { return run_server(*args); }; });
}

}  // namespace signet::cli
