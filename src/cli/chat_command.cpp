// signet chat: two people talk over one authenticated connection
// (api/chat.hpp). One side listens (--listen), the other calls; the caller
// reconnects when the connection is lost, and lines not yet acknowledged
// are sent again.
//
// On a terminal (standard input and output both) the conversation runs in
// a ChatScreen; otherwise each line of standard input is a line of the
// conversation and each line the peer writes is printed, escaped, on
// standard output, with what happens to the connection on standard error.
#include <fcntl.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <csignal>
#include <cstring>
#include <ctime>
#include <iostream>
#include <map>
#include <thread>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/post.hpp>
#include <asio/signal_set.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "api/chat.hpp"
#include "api/message_service.hpp"  // serve_files
#include "cli/chat_screen.hpp"
#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/mode.hpp"
#include "net/server.hpp"
#include "util/encoding.hpp"
#include "util/file.hpp"

namespace signet::cli {
namespace {

using Mark = ChatScreen::Mark;

struct ChatArgs {
  std::string peer;    // HOST:PORT to call
  std::string listen;  // --listen HOST:PORT
  ChannelOptions channel;
  double timeout = 30;
  std::string log;    // --log FILE
  std::string files;  // --files DIR: where the files the peer sends go
};

// A receive limit bounds what follows the operation header: a line's seq
// and its text (docs/PROTOCOL.md, "Chat").
constexpr std::size_t kLineOverhead = proto::kChatMessageHeaderSize;
constexpr auto kMaxBackoff = std::chrono::seconds(10);

std::string clock_hhmm() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[8];
  std::strftime(buf, sizeof buf, "%H:%M", &tm);
  return buf;
}

std::string clock_iso() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Who the peer is, for the lines it writes.
std::string peer_label(const net::PeerInfo& peer) {
  if (!peer.identity.comment.empty()) return peer.identity.comment;
  if (!peer.identity.fingerprint.empty()) return peer.identity.fingerprint.substr(0, 19);
  return "peer";
}

std::string whois(const net::PeerInfo& peer) {
  std::string s = "peer " + peer.address + ", " + peer.mode;
  if (!peer.identity.fingerprint.empty()) {
    s += ", key " + peer.identity.fingerprint;
    if (!peer.identity.comment.empty()) s += " (" + peer.identity.comment + ")";
  }
  return s;
}

class Chat {
 public:
  Chat(ChatArgs& args, bool on_terminal) : args_(args), on_terminal_(on_terminal) {}

  int run();

 private:
  // What the user sees.
  void notice(const std::string& text);
  void error(const std::string& text);
  void log(const std::string& who, std::string_view text);
  void show_line(std::uint64_t seq, std::string_view text);
  void mark(std::uint64_t seq, Mark m);

  // Input.
  void typed(std::string line);
  void command(const std::string& line);
  void end_of_input();
  void read_stdin_lines();
  void watch_terminal();

  // The connection.
  ChatEvents events();
  asio::awaitable<void> call(bool first);
  void reconnect_later(const Error& why);
  void finish(int status);
  void check_done();

  ChatArgs& args_;
  bool on_terminal_;
  asio::io_context ctx_{1};
  std::unique_ptr<ChatScreen> screen_;
  std::shared_ptr<ChatEndpoint> endpoint_;
  std::unique_ptr<net::Server> server_;
  std::thread server_thread_;
  std::thread reader_;  // standard input, not on a terminal
  std::atomic<bool> stop_reading_{false};
  std::optional<ClientMode> client_mode_;
  std::optional<net::HostPort> peer_address_;
  util::UniqueFd log_fd_;
  std::map<std::uint64_t, std::size_t> screen_lines_;  // my seq -> ChatScreen line id
  std::map<std::uint64_t, std::string> files_sent_;    // send_file id -> the path
  std::size_t max_line_ = 0;
  std::chrono::milliseconds backoff_{500};
  asio::steady_timer reconnect_{ctx_};
  asio::steady_timer eof_timer_{ctx_};
  std::unique_ptr<asio::posix::stream_descriptor> terminal_;
  bool eof_ = false;
  bool done_ = false;
  bool first_join_done_ = false;
  int status_ = kExitOk;
};

void Chat::notice(const std::string& text) {
  if (screen_) {
    screen_->add_notice(text);
  } else {
    std::cerr << "signet chat: " << util::escape_for_display(text) << std::endl;
  }
  log("--", text);
}

void Chat::error(const std::string& text) {
  if (screen_) {
    screen_->add_notice("error: " + text);
  } else {
    print_error(util::escape_for_display(text));
  }
  log("--", "error: " + text);
}

void Chat::log(const std::string& who, std::string_view text) {
  if (!log_fd_) return;
  const std::string line = clock_iso() + " " + util::escape_for_display(who) + ": " +
                           util::escape_for_display(text) + "\n";
  // One write per line, O_APPEND: lines of two programs logging to one file do not mix.
  (void)!::write(log_fd_.get(), line.data(), line.size());
}

void Chat::show_line(std::uint64_t, std::string_view text) {
  const std::string who = endpoint_->peer() ? peer_label(*endpoint_->peer()) : "peer";
  if (screen_) {
    screen_->add_line(clock_hhmm(), who, text);
  } else {
    std::cout << util::escape_for_display(text) << std::endl;
  }
  log(who, text);
}

void Chat::mark(std::uint64_t seq, Mark m) {
  if (!screen_) return;
  const auto it = screen_lines_.find(seq);
  if (it == screen_lines_.end()) return;
  screen_->set_mark(it->second, m);
  if (m == Mark::delivered || m == Mark::failed) screen_lines_.erase(it);
}

void Chat::typed(std::string line) {
  if (done_) return;
  if (screen_ && !line.empty() && line[0] == '/') {
    if (line.size() < 2 || line[1] != '/') return command(line);
    line.erase(0, 1);  // "//..." sends "/..."
  }
  if (line.size() > max_line_) {
    error("line of " + std::to_string(line.size()) + " bytes is above the limit of " +
          std::to_string(max_line_) + "; not sent");
    return;
  }
  if (!util::is_utf8(line)) {
    error("line is not UTF-8; not sent");
    return;
  }
  const bool now = endpoint_->joined();
  log("you", line);
  const std::string shown = line;
  const std::uint64_t seq = endpoint_->say(std::move(line));
  if (screen_)
    screen_lines_[seq] =
        screen_->add_line(clock_hhmm(), "you", shown, now ? Mark::sent : Mark::queued);
}

void Chat::command(const std::string& line) {
  if (line == "/quit" || line == "/q") return end_of_input();
  if (line.rfind("/send ", 0) == 0) {
    const std::string path = line.substr(6);
    auto id = endpoint_->send_file(path);
    if (!id) return error("/send: " + id.error().message());
    files_sent_[*id] = path;
    notice("sending " + path + " …");
    return;
  }
  if (line == "/whois") {
    notice(endpoint_->peer() ? whois(*endpoint_->peer()) : "nobody has joined yet");
    return;
  }
  if (line == "/help") {
    notice(
        "type a line and press Enter to send it; /whois shows who the peer is; /send FILE "
        "sends a file (the peer must have started with --files DIR); /quit or Ctrl-D ends "
        "the conversation; a line starting with / is sent by typing //");
    notice(
        "marks: · sent, ✓ delivered (the peer's program verified and showed it), … waiting "
        "for a connection, ✗ not delivered");
    return;
  }
  error("unknown command " + line + " (/help lists them)");
}

void Chat::end_of_input() {
  if (eof_) return;
  eof_ = true;
  if (endpoint_->unacknowledged() == 0) return finish(kExitOk);
  notice("waiting up to " + std::to_string(std::lround(args_.timeout)) + " s for " +
         std::to_string(endpoint_->unacknowledged()) + " line(s) to be acknowledged");
  eof_timer_.expires_after(seconds_option(args_.timeout));
  eof_timer_.async_wait([this](const std::error_code& ec) {
    if (ec || done_) return;
    const auto n = endpoint_->unacknowledged();
    if (n == 0) return finish(kExitOk);
    error(std::to_string(n) + " line(s) not acknowledged by the peer");
    finish(kExitFailure);
  });
}

void Chat::check_done() {
  if (eof_ && !done_ && endpoint_->unacknowledged() == 0) finish(kExitOk);
}

void Chat::finish(int status) {
  if (done_) return;
  done_ = true;
  status_ = status;
  endpoint_->hang_up();
  reconnect_.cancel();
  eof_timer_.cancel();
  if (terminal_) terminal_->cancel();
  // Let the hang-up go out, then stop.
  asio::post(ctx_, [this] { ctx_.stop(); });
}

// Not a terminal: a thread reads lines (a file, a pipe: what epoll may not
// watch) and hands each to the chat's thread. It looks at stop_reading_
// between reads, so run() can join it before the chat is gone.
void Chat::read_stdin_lines() {
  reader_ = std::thread([this] {
    std::string pending;
    char buf[65536];
    for (;;) {
      pollfd p{STDIN_FILENO, POLLIN, 0};
      const int ready = ::poll(&p, 1, 200);
      if (stop_reading_) return;
      if (ready < 0 && errno != EINTR) break;
      if (ready <= 0) continue;
      const ssize_t n = ::read(STDIN_FILENO, buf, sizeof buf);
      if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
      if (n <= 0) break;
      pending.append(buf, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (auto nl = pending.find('\n'); nl != std::string::npos; nl = pending.find('\n', start)) {
        asio::post(
            ctx_, [this, l = pending.substr(start, nl - start)]() mutable { typed(std::move(l)); });
        start = nl + 1;
      }
      pending.erase(0, start);
    }
    if (!pending.empty()) {
      asio::post(ctx_, [this, l = std::move(pending)]() mutable { typed(std::move(l)); });
    }
    asio::post(ctx_, [this] { end_of_input(); });
  });
}

void Chat::watch_terminal() {
  terminal_->async_wait(asio::posix::stream_descriptor::wait_read,
                        [this](const std::error_code& ec) {
                          if (ec || done_) return;
                          auto input = screen_->read_keys();
                          for (auto& l : input.lines) typed(std::move(l));
                          if (input.eof) end_of_input();
                          if (!done_) watch_terminal();
                        });
}

ChatEvents Chat::events() {
  ChatEvents e;
  e.joined = [this](const net::PeerInfo& peer, bool resumed) {
    backoff_ = std::chrono::milliseconds(500);
    first_join_done_ = true;
    notice(std::string(resumed ? "rejoined by " : "joined by ") + whois(peer));
    if (screen_) {
      screen_->set_status("signet chat with " + whois(peer) + " · /help");
      for (const auto& [seq, id] : screen_lines_) screen_->set_mark(id, Mark::sent);
    }
  };
  e.message = [this](std::uint64_t seq, std::string_view text) { show_line(seq, text); };
  e.delivered = [this](std::uint64_t seq) {
    mark(seq, Mark::delivered);
    check_done();
  };
  e.disconnected = [this](const Error& why) {
    if (done_) return;
    if (screen_) screen_->set_status("signet chat · not connected · /help");
    if (peer_address_) {
      // Refused for its key (TLS 1.3 tells a client after its handshake),
      // or lost before it ever joined: calling again would end the same way.
      // A tampered frame later on (bad_tag) is the network's doing: the
      // next connection sends the lines again.
      const int s = exit_status_for(why);
      // So is a line the listener takes as too large (its --max-message is
      // smaller than ours): it would be refused again on every connection.
      if (!first_join_done_ || why.is(Errc::not_authorized) || why.is(Errc::host_key_changed) ||
          why.is(Errc::host_key_unknown) || why.is(Errc::too_large)) {
        error(client_error_message(why, *client_mode_));
        return finish(s == kExitOk ? kExitFailure : s);
      }
      reconnect_later(why);
    } else {
      notice("the connection ended (" + why.message() + "); waiting for the peer to call again");
    }
  };
  e.refused = [this](const Error& why) {
    error("the listener refused the conversation: " + why.message());
    finish(exit_status_for(why) == kExitAuth ? kExitAuth : kExitRefused);
  };
  e.turned_away = [this](const net::PeerInfo& peer, const Error& why) {
    notice("turned away a call from " + whois(peer) + ": " + why.message());
  };
  e.abandoned = [this](const std::vector<std::uint64_t>& seqs) {
    for (const auto s : seqs) mark(s, Mark::failed);
    error(std::to_string(seqs.size()) +
          " line(s) to the previous peer will not be delivered: a new conversation began");
  };
  e.error = [this](const Error& why) { error(why.message()); };
  e.file_sent = [this](std::uint64_t id, const Result<std::string>& sha256) {
    const auto it = files_sent_.find(id);
    const std::string path = it == files_sent_.end() ? "a file" : it->second;
    if (it != files_sent_.end()) files_sent_.erase(it);
    if (sha256) {
      notice("sent " + path + ": the peer verified and stored it, sha256 " + *sha256 + " ✓");
    } else {
      error(path + " was not sent: " + sha256.error().message());
    }
  };
  e.file_received = [this](const std::string& name, std::uint64_t size,
                           const Result<std::string>& sha256) {
    if (sha256) {
      notice("received " + name + " (" + std::to_string(size) + " bytes) into " + args_.files +
             ", sha256 " + *sha256);
    } else {
      error("the file " + name + " from the peer was not stored: " + sha256.error().message());
    }
  };
  return e;
}

void Chat::reconnect_later(const Error& why) {
  notice("connection lost (" + why.message() + "); reconnecting in " +
         std::to_string(backoff_.count()) + " ms");
  reconnect_.expires_after(backoff_);
  backoff_ = std::min<std::chrono::milliseconds>(backoff_ * 2, kMaxBackoff);
  reconnect_.async_wait([this](const std::error_code& ec) {
    if (ec || done_) return;
    asio::co_spawn(ctx_, call(false), asio::detached);
  });
}

// One connection attempt; the first one's failure ends the program.
asio::awaitable<void> Chat::call(bool first) {
  net::ClientOptions options;
  options.connect_timeout = options.handshake_timeout = options.reply_timeout =
      seconds_option(args_.timeout);
  auto c = co_await net::Connection::open(*peer_address_, client_mode_->make_channel, options);
  if (done_) co_return;
  if (c && (*c)->protocol_version() < proto::kVersion2) {
    (*c)->close();
    c = Error(Errc::unsupported_operation,
              "the listener speaks protocol version 1; chat needs version 2");
  }
  if (!c) {
    const Error& e = c.error();
    const int s = exit_status_for(e);
    if (first || s == kExitAuth || s == kExitUsage) {
      error(client_error_message(e, *client_mode_));
      co_return finish(s);
    }
    co_return reconnect_later(e);
  }
  endpoint_->attach(*c, seconds_option(args_.timeout));
}

int Chat::run() {
  if (!args_.log.empty()) {
    const int fd =
        ::open(args_.log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
      print_error("--log " + args_.log + ": " + std::strerror(errno));
      return kExitUsage;
    }
    log_fd_ = util::UniqueFd(fd);
  }
  max_line_ =
      args_.channel.max_message > kLineOverhead ? args_.channel.max_message - kLineOverhead : 0;
  // Before the screen: ncurses installs handlers of its own for signals
  // still at their default, which would end the program without a word.
  asio::signal_set signals(ctx_, SIGINT, SIGTERM);
  signals.async_wait([this](const std::error_code& ec, int) {
    if (!ec) finish(endpoint_->unacknowledged() == 0 ? kExitOk : kExitFailure);
  });
  std::shared_ptr<const FileServiceShared> folder;
  if (!args_.files.empty()) {
    auto f = serve_files({args_.files});
    if (!f) {
      print_error("--files " + args_.files + ": " + f.error().message());
      return kExitUsage;
    }
    folder = std::move(*f);
  }
  const bool listening = !args_.listen.empty();
  endpoint_ = ChatEndpoint::make(
      ctx_.get_executor(), listening ? ChatEndpoint::Side::listener : ChatEndpoint::Side::caller,
      events());
  if (folder) endpoint_->accept_files(std::move(folder));
  if (listening) {
    auto listen = net::parse_host_port(args_.listen);
    if (!listen) {
      print_error(listen.error().message());
      return kExitUsage;
    }
    auto mode = make_server_mode(args_.channel);
    if (!mode) {
      print_error(mode.error().message());
      return exit_status_for(mode.error());
    }
    net::ServerOptions options;
    options.listen = *listen;
    options.threads = 1;
    options.handshake_timeout = seconds_option(args_.timeout);
    // A quiet conversation's caller sends a keepalive every minute; a
    // caller that has gone frees the listener after this.
    options.idle_timeout = kChatListenerIdle;
    server_ = std::make_unique<net::Server>(options, mode->factory, endpoint_->application());
    auto bound = server_->listen();
    if (!bound) {
      print_error(bound.error().message());
      return exit_status_for(bound.error());
    }
    std::cerr << "signet chat: listening on "
              << net::HostPort{bound->address().to_string(), bound->port()}.to_string() << " ("
              << mode->description << "); waiting for the peer" << std::endl;
    server_thread_ = std::thread([this] { server_->run(); });
  } else {
    auto hp = net::parse_host_port(args_.peer);
    if (!hp) {
      print_error(hp.error().message());
      return kExitUsage;
    }
    peer_address_ = *hp;
    auto mode = make_client_mode(args_.channel, *hp);
    if (!mode) {
      print_error(mode.error().message());
      return exit_status_for(mode.error());
    }
    client_mode_ = std::move(*mode);
    std::cerr << "signet chat: calling " << hp->to_string() << " (" << client_mode_->description
              << ")" << std::endl;
    // The first call before the screen: a trust prompt for a new server key
    // reads the terminal.
    asio::co_spawn(ctx_, call(true), asio::detached);
    while (!done_ && !endpoint_->joined() && ctx_.run_one() > 0) {
    }
    if (done_) return status_;
  }
  if (on_terminal_) {
    auto screen = ChatScreen::open(max_line_);
    if (!screen) {
      print_error(screen.error().message());
      finish(kExitUsage);
    } else {
      screen_ = std::move(*screen);
      // Log lines on the terminal would break the screen.
      spdlog::set_level(spdlog::level::off);
      screen_->set_status(endpoint_->peer()
                              ? "signet chat with " + whois(*endpoint_->peer()) + " · /help"
                              : "signet chat · waiting for the peer · /help");
      if (endpoint_->peer()) notice("joined by " + whois(*endpoint_->peer()));
      terminal_ = std::make_unique<asio::posix::stream_descriptor>(ctx_, ::dup(STDIN_FILENO));
      watch_terminal();
    }
  } else {
    read_stdin_lines();
  }
  if (!done_) ctx_.run();
  stop_reading_ = true;
  if (reader_.joinable()) reader_.join();
  screen_.reset();  // the terminal as it was, before anything more is printed
  if (server_) {
    server_->stop();
    server_thread_.join();
  }
  return status_;
}

int run_chat(ChatArgs& args) {
  harden_process();
  if (args.listen.empty() == args.peer.empty()) {
    print_error("give either the HOST:PORT to call or --listen HOST:PORT");
    return kExitUsage;
  }
  const bool on_terminal = ::isatty(STDIN_FILENO) == 1 && ::isatty(STDOUT_FILENO) == 1;
  Chat chat(args, on_terminal);
  return chat.run();
}

}  // namespace

void add_chat_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<ChatArgs>();
  auto* c = app.add_subcommand("chat", "Talk with one other person: listen for them, or call them");
  c->add_option("peer", args->peer, "The listener to call")->type_name("HOST:PORT");
  c->add_option("--listen", args->listen, "Wait for the peer to call here instead")
      ->type_name("HOST:PORT");
  add_channel_options(c, args->channel, ChannelSide::both);
  add_seconds_option(c, "--timeout", args->timeout,
                     "Seconds to wait for the peer: to connect, for each acknowledgement, and at "
                     "the end for lines not yet acknowledged (default 30)");
  c->add_option("--log", args->log, "Append the conversation, with times, to FILE")
      ->type_name("FILE");
  c->add_option("--files", args->files,
                "Take the files the peer sends (/send FILE) into DIR: each verified, "
                "published whole, never replacing a file")
      ->type_name("DIR");
  c->callback([args, &action] { action = [args] { return run_chat(*args); }; });
}

}  // namespace signet::cli
