#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>
#include <iterator>
#include <thread>

#include <asio/io_context.hpp>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/mode.hpp"
#include "cli/receipt_file.hpp"
#include "net/blocking.hpp"
#include "util/encoding.hpp"
#include "util/file.hpp"

namespace signet::cli {
namespace {

struct ClientArgs {
  std::string server;
  std::string message;
  ChannelOptions channel;
  double timeout = 30;
  bool raw = false;     // send: print the reply's bytes even to a terminal
  std::string receipt;  // send --receipt FILE: where the signed receipt goes
};

net::ClientOptions client_options(const ClientArgs& args) {
  net::ClientOptions o;
  const auto t = seconds_option(args.timeout);
  o.connect_timeout = t;
  o.handshake_timeout = t;
  o.reply_timeout = t;
  return o;
}

// One connection attempt: connect and handshake.
Result<std::shared_ptr<MessageClient>> connect(asio::io_context& ctx, const net::HostPort& hp,
                                               const ClientMode& mode,
                                               const net::ClientOptions& options) {
  auto c = net::run_blocking(ctx, MessageClient::open(hp, mode.make_channel, options));
  if (c) (*c)->set_shared_receipt_key(mode.receipt_shared_key);
  return c;
}

// The reply for a terminal: the server (or its --exec command) chose these
// bytes, and escape sequences in them could retitle the window, clear the
// screen or reverse text. Line breaks are kept, since they cannot.
std::string for_terminal(std::string_view text) {
  std::string out;
  for (;;) {
    const auto nl = text.find('\n');
    out += util::escape_for_display(text.substr(0, nl));
    if (nl == std::string_view::npos) return out;
    out += '\n';
    text.remove_prefix(nl + 1);
  }
}

// Prints the server's reply, as it is only for --raw or when stdout is not a
// terminal; a refusal is an error.
int show_reply(const wire::Reply& reply, bool raw, std::ostream& out) {
  out << (raw || ::isatty(STDOUT_FILENO) != 1 ? reply.text : for_terminal(reply.text)) << std::endl;
  if (reply.status != 0) {
    print_error("refused by the server (status " + std::to_string(reply.status) + ")");
    return kExitRefused;
  }
  return kExitOk;
}

// send --receipt FILE: the message goes with a request for a signed
// receipt, which is checked (MessageClient::request_with_receipt, and
// write_receipt) and written to FILE and FILE.sig.
int send_with_receipt(asio::io_context& ctx, MessageClient& conn, const std::string& message,
                      const ClientArgs& args, const ClientMode& mode) {
  auto r = net::run_blocking(ctx, conn.request_with_receipt(util::as_bytes(message)));
  conn.close();
  if (!r) {
    print_error("--receipt: " + client_error_message(r.error(), mode));
    return exit_status_for(r.error());
  }
  auto& [reply, receipt] = *r;
  if (int w = write_receipt(receipt, args.receipt, mode); w != kExitOk) return w;
  return show_reply(reply, args.raw, std::cout);
}

int run_send(ClientArgs& args) {
  harden_process();
  auto hp = net::parse_host_port(args.server);
  if (!hp) {
    print_error(hp.error().message());
    return kExitUsage;
  }
  std::string message = args.message;
  if (message == "-") {
    message.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  }
  if (message.size() > args.channel.max_message) {
    print_error("message of " + std::to_string(message.size()) + " bytes is above --max-message " +
                std::to_string(args.channel.max_message));
    return kExitUsage;
  }
  auto mode = make_client_mode(args.channel, *hp);
  if (!mode) {
    print_error(mode.error().message());
    return exit_status_for(mode.error());
  }
  spdlog::info("signet send: {}, server {}", mode->description, hp->to_string());
  asio::io_context ctx(1);
  auto conn = connect(ctx, *hp, *mode, client_options(args));
  if (!conn) {
    print_error(client_error_message(conn.error(), *mode));
    return exit_status_for(conn.error());
  }
  // What the handshake settled on: in shared-key mode, whether it encrypts.
  spdlog::info("connected ({}), protocol {}", (*conn)->description(), (*conn)->protocol_version());
  if (!args.receipt.empty()) return send_with_receipt(ctx, **conn, message, args, *mode);
  auto reply = net::run_blocking(ctx, (*conn)->request(util::as_bytes(message)));
  (*conn)->close();
  if (!reply) {
    print_error(client_error_message(reply.error(), *mode));
    return exit_status_for(reply.error());
  }
  return show_reply(*reply, args.raw, std::cout);
}

// Errors after which reconnecting cannot help.
bool is_final(const Error& e) {
  const int s = exit_status_for(e);
  return s == kExitAuth || s == kExitUsage || e.is(Errc::too_large) || e.is(Errc::bad_version) ||
         e.is(Errc::wrong_mode) || e.is(Errc::unsupported_mac);
}

int run_client(ClientArgs& args) {
  harden_process();
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
  std::cerr << "signet client: " << mode->description << ", server " << hp->to_string()
            << std::endl;
  asio::io_context ctx(1);
  const auto options = client_options(args);
  std::shared_ptr<MessageClient> conn;

  constexpr int kAttempts = 5;
  const auto reconnect = [&](bool first) -> Result<void> {
    Error last;
    for (int attempt = 1; attempt <= kAttempts; ++attempt) {
      auto c = connect(ctx, *hp, *mode, options);
      if (c) {
        conn = *c;
        std::cerr << (first ? "connected (" : "reconnected (") << conn->description()
                  << "), protocol " << conn->protocol_version()
                  << "; type a message and press Enter, Ctrl-D to quit" << std::endl;
        return {};
      }
      last = c.error();
      if (is_final(last) || first) return last;
      std::cerr << "reconnect attempt " << attempt << " failed: " << last.message() << std::endl;
      std::this_thread::sleep_for(std::chrono::milliseconds(200 * attempt));
    }
    return last;
  };

  if (auto r = reconnect(true); !r) {
    print_error(client_error_message(r.error(), *mode));
    return exit_status_for(r.error());
  }
  std::string line;
  for (;;) {
    std::cout << "message> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    if (line.size() > conn->max_payload()) {
      std::cerr << "message of " << line.size() << " bytes is above the limit of "
                << conn->max_payload() << "; not sent" << std::endl;
      continue;
    }
    auto reply = net::run_blocking(ctx, conn->request(util::as_bytes(line)));
    if (!reply && !is_final(reply.error())) {
      // The message may or may not have arrived; send it again on a new
      // connection (at-least-once) and say so.
      std::cerr << "connection lost (" << reply.error().message()
                << "); reconnecting and sending the message again" << std::endl;
      conn->close();
      if (auto r = reconnect(false); !r) {
        print_error(client_error_message(r.error(), *mode));
        return exit_status_for(r.error());
      }
      reply = net::run_blocking(ctx, conn->request(util::as_bytes(line)));
    }
    if (!reply) {
      print_error(client_error_message(reply.error(), *mode));
      return exit_status_for(reply.error());
    }
    std::cout << "server: " << util::escape_for_display(reply->text);
    if (reply->status != 0) std::cout << " (refused, status " << int{reply->status} << ")";
    std::cout << std::endl;
  }
  std::cout << std::endl;
  conn->close();
  return kExitOk;
}

}  // namespace

void add_client_commands(CLI::App& app, Action& action) {
  auto client = std::make_shared<ClientArgs>();
  auto* c = app.add_subcommand("client", "Interactive console: send each line you type");
  c->add_option("server", client->server, "Server address")->required()->type_name("HOST:PORT");
  add_channel_options(c, client->channel, false);
  add_seconds_option(c, "--timeout", client->timeout,
                     "Seconds to wait for the server (default 30)");
  c->callback([client, &action] { action = [client] { return run_client(*client); }; });

  auto send = std::make_shared<ClientArgs>();
  auto* s = app.add_subcommand("send", "Send one message and print the server's response");
  s->add_option("server", send->server, "Server address")->required()->type_name("HOST:PORT");
  s->add_option("message", send->message, "The message, or - to read it from stdin")
      ->required()
      ->type_name("MESSAGE|-");
  add_channel_options(s, send->channel, false);
  add_seconds_option(s, "--timeout", send->timeout, "Seconds to wait for the server (default 30)");
  s->add_flag("--raw", send->raw,
              "Print the reply's bytes as they are even to a terminal (where control "
              "characters, bidirectional controls and invalid UTF-8 are otherwise escaped)");
  s->add_option("--receipt", send->receipt,
                "Ask the server for a signed receipt (shared-key mode: a MAC only the shared key "
                "checks) and write it to FILE and "
                "FILE.sig (check it later with signet verify-receipt or ssh-keygen -Y verify)")
      ->type_name("FILE");
  s->callback([send, &action] { action = [send] { return run_send(*send); }; });
}

}  // namespace signet::cli
