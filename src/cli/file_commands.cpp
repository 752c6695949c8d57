// signet put, get and ls: file transfer with a server's served folder
// (signet server --files DIR).
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <iostream>

#include <asio/io_context.hpp>

#include "api/file_client.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/mode.hpp"
#include "net/blocking.hpp"
#include "util/encoding.hpp"

namespace signet::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct FileArgs {
  std::string server;
  std::vector<std::string> names;  // put: local files; get: remote names; ls: the folder
  std::string as;                  // put --as
  std::string output;              // get -o
  bool force = false;
  bool quiet = false;
  bool progress = false;
  ChannelOptions channel;
  double timeout = 30;
};

// Progress on standard error: on a terminal one line per file redrawn in
// place (bytes, rate, ETA); elsewhere only with --progress, a line a second.
class ProgressLine {
 public:
  ProgressLine(std::string name, bool enabled)
      : name_(util::escape_for_display(name)),
        tty_(::isatty(STDERR_FILENO) == 1),
        enabled_(enabled),
        start_(Clock::now()) {}

  void update(std::uint64_t done, std::uint64_t total) {
    if (!enabled_) return;
    const auto now = Clock::now();
    const auto every = tty_ ? std::chrono::milliseconds(100) : std::chrono::milliseconds(1000);
    if (done < total && now - last_ < every) return;
    last_ = now;
    shown_ = true;
    // A terminal's line is redrawn in place; a log gets whole lines.
    std::fprintf(stderr, tty_ ? "\r\x1b[K%s" : "%s\n", line(done, total).c_str());
    std::fflush(stderr);
  }
  void done() {
    if (enabled_ && shown_ && tty_) std::fprintf(stderr, "\n");
  }

 private:
  std::string line(std::uint64_t done, std::uint64_t total) const {
    const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
    const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    const int pct =
        total == 0
            ? 100
            : static_cast<int>(100.0 * static_cast<double>(done) / static_cast<double>(total));
    char buf[160];
    if (rate > 0 && done < total) {
      const auto eta = static_cast<long>(static_cast<double>(total - done) / rate);
      std::snprintf(buf, sizeof buf, "%3d%%  %s of %s  %s/s  ETA %ld:%02ld", pct,
                    human(done).c_str(), human(total).c_str(), human(rate).c_str(), eta / 60,
                    eta % 60);
    } else {
      std::snprintf(buf, sizeof buf, "%3d%%  %s of %s  %s/s", pct, human(done).c_str(),
                    human(total).c_str(), human(rate).c_str());
    }
    return name_ + "  " + buf;
  }
  static std::string human(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) {
      bytes /= 1024;
      ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
    return buf;
  }
  static std::string human(std::uint64_t bytes) { return human(static_cast<double>(bytes)); }

  std::string name_;
  bool tty_;
  bool enabled_;
  bool shown_ = false;
  Clock::time_point start_;
  Clock::time_point last_{};
};

bool progress_enabled(const FileArgs& args) {
  if (args.quiet) return false;
  return args.progress || ::isatty(STDERR_FILENO) == 1;
}

// The line sha256sum prints for a file, so the output can be checked with
// `sha256sum -c`. A name with a backslash or a line break gets sha256sum's
// escaped form (a leading backslash, \\ and \n).
std::string sha256sum_line(const crypto::Sha256Digest& digest, const std::string& name) {
  std::string escaped;
  bool escape = false;
  for (char c : name) {
    if (c == '\\') {
      escaped += "\\\\";
      escape = true;
    } else if (c == '\n') {
      escaped += "\\n";
      escape = true;
    } else {
      escaped += c;
    }
  }
  return (escape ? "\\" : "") + util::to_hex(digest) + "  " + escaped;
}

struct Session {
  asio::io_context ctx{1};
  std::shared_ptr<FileClient> client;
  ClientMode mode;
};

// Connects and starts file transfer; prints the error and returns its exit
// status on failure.
int open_session(FileArgs& args, Session& s) {
  auto hp = net::parse_host_port(args.server);
  if (!hp) {
    print_error(hp.error().message());
    return kExitUsage;
  }
  auto mode = make_client_mode(args.channel, *hp);
  if (!mode) {
    print_error(mode.error().message());
    return exit_status_for(mode.error());
  }
  s.mode = std::move(*mode);
  net::ClientOptions o;
  const auto t = seconds_option(args.timeout);
  o.connect_timeout = t;
  o.handshake_timeout = t;
  o.reply_timeout = t;
  auto conn = net::run_blocking(s.ctx, net::Connection::open(*hp, s.mode.make_channel, o));
  if (!conn) {
    print_error(client_error_message(conn.error(), s.mode));
    return exit_status_for(conn.error());
  }
  spdlog::info("connected ({}), protocol {}", (*conn)->description(), (*conn)->protocol_version());
  auto client = FileClient::over(*conn);
  if (!client) {
    (*conn)->close();
    print_error(client.error().message());
    return exit_status_for(client.error());
  }
  s.client = *client;
  return kExitOk;
}

int fail(Session& s, const std::string& what, const Error& e) {
  print_error(what + ": " + client_error_message(e, s.mode));
  return exit_status_for(e);
}

// The last component of a name ("in/r.pdf" -> "r.pdf").
std::string base_name(const std::string& name) {
  const auto slash = name.find_last_of('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

int run_put(FileArgs& args) {
  harden_process();
  if (!args.as.empty() && args.names.size() != 1) {
    print_error("--as names one file; give one file or leave --as out");
    return kExitUsage;
  }
  Session s;
  if (int rc = open_session(args, s); rc != kExitOk) return rc;
  int status = kExitOk;
  for (const auto& local : args.names) {
    const std::string remote = args.as.empty() ? base_name(local) : args.as;
    ProgressLine bar(local, progress_enabled(args));
    auto r = net::run_blocking(
        s.ctx, s.client->put(local, remote, args.force,
                             [&bar](std::uint64_t d, std::uint64_t t) { bar.update(d, t); }));
    bar.done();
    if (!r) {
      status = fail(s, "put " + util::escape_for_display(local), r.error());
      if (!s.client || r.error().is(Errc::peer_closed)) break;
      continue;
    }
    std::cout << sha256sum_line(r->digest, local) << std::endl;
  }
  s.client->close();
  return status;
}

int run_get(FileArgs& args) {
  harden_process();
  std::signal(SIGXFSZ, SIG_IGN);  // a file size limit fails the write (EFBIG), cleanly
  if (!args.output.empty() && args.names.size() != 1) {
    struct stat st {};
    if (::stat(args.output.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      print_error("-o names one file, or a folder for several; " +
                  util::escape_for_display(args.output) + " is no folder");
      return kExitUsage;
    }
  }
  Session s;
  if (int rc = open_session(args, s); rc != kExitOk) return rc;
  int status = kExitOk;
  for (const auto& remote : args.names) {
    std::string local = base_name(remote);
    if (!args.output.empty()) {
      struct stat st {};
      local = ::stat(args.output.c_str(), &st) == 0 && S_ISDIR(st.st_mode)
                  ? (std::filesystem::path(args.output) / base_name(remote)).string()
                  : args.output;
    }
    ProgressLine bar(local, progress_enabled(args));
    auto r = net::run_blocking(
        s.ctx, s.client->get(remote, local, args.force,
                             [&bar](std::uint64_t d, std::uint64_t t) { bar.update(d, t); }));
    bar.done();
    if (!r) {
      status = fail(s, "get " + util::escape_for_display(remote), r.error());
      if (r.error().is(Errc::peer_closed)) break;
      continue;
    }
    std::cout << sha256sum_line(r->digest, local) << std::endl;
  }
  s.client->close();
  return status;
}

std::string mode_string(const proto::ListEntry& e) {
  std::string m(10, '-');
  m[0] = e.type == proto::EntryType::directory ? 'd'
         : e.type == proto::EntryType::symlink ? 'l'
         : e.type == proto::EntryType::file    ? '-'
                                               : '?';
  const char* rwx = "rwxrwxrwx";
  for (int i = 0; i < 9; ++i) {
    if ((e.mode & (0400u >> i)) != 0) m[static_cast<std::size_t>(i) + 1] = rwx[i];
  }
  return m;
}

int run_ls(FileArgs& args) {
  harden_process();
  const std::string folder = args.names.empty() ? std::string() : args.names.front();
  Session s;
  if (int rc = open_session(args, s); rc != kExitOk) return rc;
  auto r = net::run_blocking(s.ctx, s.client->list(folder));
  s.client->close();
  if (!r) return fail(s, "ls " + util::escape_for_display(folder), r.error());
  for (const auto& e : *r) {
    char when[32] = "?";
    const std::time_t t = static_cast<std::time_t>(e.mtime);
    std::tm tm{};
    if (::localtime_r(&t, &tm) != nullptr) std::strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    char size[32];
    std::snprintf(size, sizeof size, "%12llu", static_cast<unsigned long long>(e.size));
    std::cout << mode_string(e) << ' ' << size << "  " << when << "  "
              << util::escape_for_display(e.name)
              << (e.type == proto::EntryType::directory ? "/" : "") << '\n';
  }
  std::cout << std::flush;
  return kExitOk;
}

void add_common(CLI::App* cmd, FileArgs& args) {
  cmd->add_option("server", args.server, "Server address")->required()->type_name("HOST:PORT");
  add_channel_options(cmd, args.channel, false);
  add_seconds_option(cmd, "--timeout", args.timeout,
                     "Seconds to wait for the server to make progress (default 30)");
}

void add_transfer_flags(CLI::App* cmd, FileArgs& args) {
  cmd->add_flag("--force,-f", args.force, "Replace a file that exists");
  cmd->add_flag("--quiet,-q", args.quiet, "No progress on stderr");
  cmd->add_flag("--progress", args.progress,
                "Progress on stderr even when it is not a terminal (a line a second)");
}

}  // namespace

void add_file_commands(CLI::App& app, Action& action) {
  auto put = std::make_shared<FileArgs>();
  auto* p = app.add_subcommand(
      "put", "Upload files to a server's folder (signet server --files); prints sha256sum lines");
  add_common(p, *put);
  p->add_option("files", put->names, "Local files to upload")->required()->type_name("FILE...");
  p->add_option("--as", put->as, "The name in the server's folder (default: the file's own name)")
      ->type_name("NAME");
  add_transfer_flags(p, *put);
  p->callback([put, &action] { action = [put] { return run_put(*put); }; });

  auto get = std::make_shared<FileArgs>();
  auto* g =
      app.add_subcommand("get", "Download files from a server's folder; prints sha256sum lines");
  add_common(g, *get);
  g->add_option("names", get->names, "Names in the server's folder")
      ->required()
      ->type_name("NAME...");
  g->add_option("--output,-o", get->output,
                "Where to write (default: the name's last part, here); a folder for several")
      ->type_name("PATH");
  add_transfer_flags(g, *get);
  g->callback([get, &action] { action = [get] { return run_get(*get); }; });

  auto ls = std::make_shared<FileArgs>();
  auto* l = app.add_subcommand("ls", "List a folder of a server's served folder");
  add_common(l, *ls);
  l->add_option("folder", ls->names, "The folder (default: the served folder itself)")
      ->type_name("FOLDER")
      ->expected(0, 1);
  l->callback([ls, &action] { action = [ls] { return run_ls(*ls); }; });
}

}  // namespace signet::cli
