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

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "api/file_client.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/mode.hpp"
#include "cli/receipt_file.hpp"
#include "files/names.hpp"
#include "net/blocking.hpp"
#include "util/encoding.hpp"
#include "util/file.hpp"

namespace signet::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct FileArgs {
  std::string server;
  std::vector<std::string> names;  // put: local files; get: remote names; ls: the folder
  std::string as;                  // put --as
  std::string output;              // get -o
  std::string to;                  // put: the remote folder; get: the local folder
  bool recursive = false;          // -r
  bool force = false;
  bool quiet = false;
  bool progress = false;
  ChannelOptions channel;
  double timeout = 30;
  std::string receipt;            // put, get --receipt FILE
  double stale_part_hours = 168;  // get --stale-parts
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

  // Many files: "x of y files" leads the line, and done/total count bytes of all.
  void files(std::size_t done, std::size_t total) {
    files_done_ = done;
    files_total_ = total;
  }
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
  // Bytes a resumed transfer did not send again: part of what is done, not
  // of the rate.
  void skip(std::uint64_t bytes) { skipped_ += bytes; }
  // A line of its own on stderr (unless quiet), clear of the bar.
  void note(const std::string& text) {
    if (quiet_) return;
    if (enabled_ && shown_ && tty_) std::fprintf(stderr, "\r\x1b[K");
    std::fprintf(stderr, "signet: %s\n", text.c_str());
    std::fflush(stderr);
  }
  void set_quiet(bool quiet) { quiet_ = quiet; }

 private:
  std::string line(std::uint64_t done, std::uint64_t total) const {
    const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
    const std::uint64_t moved = done > skipped_ ? done - skipped_ : 0;
    const double rate = secs > 0 ? static_cast<double>(moved) / secs : 0;
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
    if (files_total_ > 1) {
      return std::to_string(files_done_) + " of " + std::to_string(files_total_) + " files  " + buf;
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
  std::size_t files_done_ = 0;
  std::size_t files_total_ = 0;
  std::uint64_t skipped_ = 0;
  bool quiet_ = false;
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
  s.client->set_shared_receipt_key(s.mode.receipt_shared_key);
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

// One file to move: where it is on this side and its name on the server's.
struct Job {
  std::string local;
  std::string remote;
  std::uint64_t size = 0;
};

// Transfers at once on one connection when there are many files: enough to
// keep it busy with small files, each bounded by its credit window.
constexpr std::size_t kInFlight = 64;

// Runs transfer(job) for every job, at most kInFlight at once, on the
// connection's executor; prints each file's sha256sum line in the order
// they finish. Returns the exit status of the last failure (0: none).
// After a failure of the connection itself the rest are not tried.
template <typename Transfer>
asio::awaitable<int> run_jobs(Session& s, const std::vector<Job>& jobs, const std::string& verb,
                              ProgressLine& bar, Transfer transfer) {
  std::size_t next = 0, running = 0, finished = 0;
  std::uint64_t total = 0, done = 0;
  for (const auto& j : jobs) total += j.size;
  int status = kExitOk;
  bool broken = false;
  auto ex = co_await asio::this_coro::executor;
  asio::steady_timer all_done(ex, Clock::time_point::max());
  auto worker = [&]() -> asio::awaitable<void> {
    while (next < jobs.size() && !broken) {
      const Job& job = jobs[next++];
      std::uint64_t counted = 0;
      std::uint64_t known = job.size;  // a download's size is known once it starts
      bool first = true;
      auto r = co_await transfer(job, [&](std::uint64_t d, std::uint64_t t) {
        if (t > known) {
          total += t - known;
          known = t;
        }
        // The first call says where the transfer starts: a resumed one's
        // bytes already there are not part of the rate.
        if (std::exchange(first, false) && d > counted) bar.skip(d - counted);
        done += d - counted;
        counted = d;
        bar.update(done, total);
      });
      ++finished;
      bar.files(finished, jobs.size());
      if (!r) {
        status = fail(s, verb + " " + util::escape_for_display(job.local), r.error());
        if (r.error().is(Errc::peer_closed) || !s.client) broken = true;
        continue;
      }
      const std::string shown = util::escape_for_display(job.local);
      if (r->started_over) {
        bar.note(shown + ": the receiver held part of another version of it; sent it whole");
      } else if (r->resumed_from > 0) {
        bar.note(shown + ": resumed; " + std::to_string(r->resumed_from) + " of " +
                 std::to_string(r->size) + " bytes were there already");
      }
      std::cout << sha256sum_line(r->digest, job.local) << '\n';
    }
    if (--running == 0) all_done.cancel();
  };
  const std::size_t workers = std::min(kInFlight, jobs.size());
  running = workers;
  for (std::size_t i = 0; i < workers; ++i) asio::co_spawn(ex, worker(), asio::detached);
  // co_spawn runs a worker at once up to its first wait: one that fails
  // before any (a local error) may be done already.
  while (running > 0) {
    co_await all_done.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
    all_done.expires_at(Clock::time_point::max());
  }
  bar.update(total, total);
  std::cout << std::flush;
  co_return status;
}

// Joins remote name parts, skipping empty ones ("" and "a" -> "a").
std::string join(const std::string& a, const std::string& b) {
  if (a.empty()) return b;
  if (b.empty()) return a;
  return a.back() == '/' ? a + b : a + "/" + b;
}

// The files put uploads: each FILE as --to/its name (or --as), each folder
// (with -r) as its files below --to, or below the folder's own name.
Result<std::vector<Job>> put_jobs(const FileArgs& args) {
  std::vector<Job> jobs;
  for (const auto& local : args.names) {
    std::error_code ec;
    const auto st = std::filesystem::symlink_status(local, ec);
    if (std::filesystem::is_directory(st)) {
      if (!args.recursive) {
        return Error(Errc::config,
                     util::escape_for_display(local) + " is a folder; put -r sends one");
      }
      std::string base = args.to;
      if (base.empty()) {
        base = std::filesystem::path(local).lexically_normal().filename().string();
        if (base.empty() || base == ".")
          base = std::filesystem::path(local).lexically_normal().parent_path().filename().string();
      }
      std::filesystem::recursive_directory_iterator it(local, ec), end;
      for (; !ec && it != end; it.increment(ec)) {
        const auto& e = *it;
        const auto ls = e.symlink_status(ec);
        if (std::filesystem::is_directory(ls)) continue;
        if (!std::filesystem::is_regular_file(ls)) {
          std::cerr << "signet: skipped " << util::escape_for_display(e.path().string())
                    << ": not a regular file" << std::endl;
          continue;
        }
        // Lexically: relative() would resolve links (a readlink per component).
        const auto rel = e.path().lexically_relative(local).generic_string();
        jobs.push_back(
            Job{e.path().string(), join(base, rel), static_cast<std::uint64_t>(e.file_size(ec))});
      }
      if (ec)
        return Error(Errc::io, "cannot read the folder " + util::escape_for_display(local) + ": " +
                                   ec.message());
      continue;
    }
    const std::string name = args.as.empty() ? base_name(local) : args.as;
    jobs.push_back(
        Job{local, join(args.to, name),
            std::filesystem::is_regular_file(st) ? std::filesystem::file_size(local, ec) : 0});
  }
  return jobs;
}

int run_put(FileArgs& args) {
  harden_process();
  if (!args.as.empty() && (args.names.size() != 1 || args.recursive)) {
    print_error("--as names one file; give one file or use --to");
    return kExitUsage;
  }
  auto jobs = put_jobs(args);
  if (!jobs) {
    print_error(jobs.error().message());
    return exit_status_for(jobs.error());
  }
  if (!args.receipt.empty() && (jobs->size() != 1 || args.recursive)) {
    print_error("--receipt is for one file; give one file");
    return kExitUsage;
  }
  Session s;
  if (int rc = open_session(args, s); rc != kExitOk) return rc;
  std::shared_ptr<const Receipt> receipt;
  ProgressLine bar(jobs->size() == 1 ? jobs->front().local : std::string(), progress_enabled(args));
  bar.set_quiet(args.quiet);
  bar.files(0, jobs->size());
  const int status = net::run_blocking(
      s.ctx,
      run_jobs(s, *jobs, "put", bar,
               [&](const Job& job, ProgressFn progress) -> asio::awaitable<Result<TransferResult>> {
                 auto r = co_await s.client->put(job.local, job.remote, args.force,
                                                 std::move(progress), !args.receipt.empty());
                 if (r && r->receipt) receipt = r->receipt;
                 co_return r;
               }));
  bar.done();
  s.client->close();
  if (status == kExitOk && receipt) return write_receipt(*receipt, args.receipt, s.mode);
  return status;
}

int run_get(FileArgs& args) {
  harden_process();
  std::signal(SIGXFSZ, SIG_IGN);  // a file size limit fails the write (EFBIG), cleanly
  if (!args.output.empty() && (args.names.size() != 1 || args.recursive)) {
    print_error("-o names one file; for several, or with -r, use --to FOLDER");
    return kExitUsage;
  }
  if (!args.receipt.empty() && (args.names.size() != 1 || args.recursive)) {
    print_error("--receipt is for one file; give one name");
    return kExitUsage;
  }
  Session s;
  if (int rc = open_session(args, s); rc != kExitOk) return rc;
  // Where each file goes: a folder held open, and its name inside it.
  struct Target {
    files::ServedFolder folder;
    std::vector<Job> jobs;
    std::vector<std::string> folders;  // -r: the folders below, empty ones included
  };
  std::vector<Target> targets;
  for (const auto& remote : args.names) {
    std::filesystem::path into =
        args.to.empty() ? std::filesystem::path(".") : std::filesystem::path(args.to);
    std::vector<Job> jobs;
    std::vector<std::string> folders;
    if (args.recursive) {
      auto entries = net::run_blocking(s.ctx, s.client->list(remote, true));
      if (!entries) return fail(s, "get -r " + util::escape_for_display(remote), entries.error());
      if (args.to.empty()) into = base_name(remote).empty() ? "." : base_name(remote);
      std::error_code ec;
      std::filesystem::create_directory(into, ec);
      for (const auto& e : *entries) {
        if (e.type != proto::EntryType::file && e.type != proto::EntryType::directory) continue;
        // The names are the server's: only a relative name without "..",
        // inside the folder asked for, is written (scp's CVE-2019-6111).
        if (auto ok = files::split_name(e.name); !ok) {
          std::cerr << "signet: skipped a name the server sent: " << ok.error().message()
                    << std::endl;
          continue;
        }
        if (e.type == proto::EntryType::directory) {
          folders.push_back(e.name);
        } else {
          jobs.push_back(Job{(into / e.name).string(), join(remote, e.name), e.size});
        }
      }
    } else {
      std::string local = base_name(remote);
      if (!args.output.empty()) {
        struct stat st {};
        local = ::stat(args.output.c_str(), &st) == 0 && S_ISDIR(st.st_mode)
                    ? (std::filesystem::path(args.output) / base_name(remote)).string()
                    : args.output;
      } else if (!args.to.empty()) {
        local = (into / base_name(remote)).string();
      }
      into = util::parent_dir(local);
      jobs.push_back(Job{local, remote, 0});
    }
    auto folder = files::ServedFolder::open(into);
    if (!folder) return fail(s, "get " + util::escape_for_display(remote), folder.error());
    targets.push_back(Target{std::move(*folder), std::move(jobs), std::move(folders)});
  }
  // Parts of downloads that were cut off and never resumed, in the folders
  // this one writes into (with -r, below them), go once they are old.
  if (args.stale_part_hours > 0) {
    const auto age = std::chrono::seconds(static_cast<std::int64_t>(args.stale_part_hours * 3600));
    for (const auto& t : targets) {
      auto removed = t.folder.remove_stale_uploads(age, args.recursive);
      if (!removed) {
        std::cerr << "signet: cannot clean up old parts: " << removed.error().message()
                  << std::endl;
      } else if (*removed > 0) {
        std::cerr << "signet: removed " << *removed << " part file(s) of downloads cut off more "
                  << "than " << args.stale_part_hours << " hours ago from "
                  << util::escape_for_display(t.folder.root().string()) << std::endl;
      }
    }
  }
  int status = kExitOk;
  // -r: every folder below, so that empty ones come too (made inside the
  // folder written into, never through a symbolic link).
  for (const auto& t : targets) {
    for (const auto& name : t.folders) {
      if (auto made = t.folder.subfolder(name); !made) {
        std::cerr << "signet: cannot create the folder " << util::escape_for_display(name) << ": "
                  << made.error().message() << std::endl;
        status = kExitFailure;
      }
    }
  }
  std::shared_ptr<const Receipt> receipt;
  for (auto& t : targets) {
    ProgressLine bar(t.jobs.size() == 1 ? t.jobs.front().local : std::string(),
                     progress_enabled(args));
    bar.files(0, t.jobs.size());
    bar.set_quiet(args.quiet);
    const std::filesystem::path root = t.folder.root();
    const int st = net::run_blocking(
        s.ctx,
        run_jobs(
            s, t.jobs, "get", bar,
            [&](const Job& job, ProgressFn progress) -> asio::awaitable<Result<TransferResult>> {
              // The name inside the folder: what follows the folder's path.
              const std::string name =
                  std::filesystem::path(job.local).lexically_relative(root).generic_string();
              auto r = co_await s.client->get_into(job.remote, t.folder, name, args.force,
                                                   std::move(progress), !args.receipt.empty());
              if (r && r->receipt) receipt = r->receipt;
              co_return r;
            }));
    bar.done();
    if (st != kExitOk) status = st;
  }
  s.client->close();
  if (status == kExitOk && receipt) return write_receipt(*receipt, args.receipt, s.mode);
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
  p->add_option("--to", put->to,
                "The folder in the server's folder to put the files (and -r folders' contents) in")
      ->type_name("FOLDER");
  p->add_flag("--recursive,-r", put->recursive, "Folders too, with everything below them");
  p->add_option("--receipt", put->receipt,
                "One file: ask the server for a signed receipt of the file it "
                "published and write it to FILE and FILE.sig (see signet verify-receipt)")
      ->type_name("FILE");
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
  g->add_option("--to", get->to,
                "The local folder to write into (with -r: default the name's last part)")
      ->type_name("FOLDER");
  g->add_flag("--recursive,-r", get->recursive,
              "NAME is a folder: everything below it (names checked, never written outside --to)");
  g->add_option("--stale-parts", get->stale_part_hours,
                "Hours after which the hidden part of a download that was cut off and not "
                "resumed is removed from the folder written into (with -r, from below it); "
                "0: never (default 168)")
      ->check(CLI::Range(0.0, 24.0 * 3650));
  g->add_option("--receipt", get->receipt,
                "One file: ask the server for a signed receipt of the file it sent "
                "and write it to FILE and FILE.sig (see signet verify-receipt)")
      ->type_name("FILE");
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
