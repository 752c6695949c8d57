// signet bench: messages per second and round-trip latency against a server.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <thread>

#include <asio/io_context.hpp>

#include "cli/commands.hpp"
#include "cli/common.hpp"
#include "cli/load_bench.hpp"
#include "cli/mode.hpp"
#include "crypto/primitives.hpp"
#include "net/blocking.hpp"

namespace signet::cli {
namespace {

using Clock = std::chrono::steady_clock;

struct BenchArgs {
  std::string server;
  ChannelOptions channel;
  std::vector<std::size_t> sizes = {64};
  std::size_t messages = 200000;
  std::size_t rr_messages = 20000;
  std::vector<std::size_t> inflight = {1, 128};
  std::size_t idle_connections = 0;
  double hold_seconds = 10;
  std::size_t connections = 0;  // --connections: the load test
  unsigned threads = 2;
  double timeout = 30;
  bool receipt = false;  // --receipt: every message asks for a signed receipt, checked
};

struct Row {
  std::string mode;
  std::size_t size = 0;
  std::size_t messages = 0;
  double seconds = 0;
  std::vector<double> latencies_us;
  std::size_t receipts_failed = 0;  // --receipt: receipts that did not check
  std::optional<Error> first_receipt_failure;
};

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const auto i = static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1));
  return sorted[i];
}

// Keeps up to `inflight` messages outstanding; inflight 1 is request-response.
// With receipt, every message asks for a signed receipt and each is checked
// as it arrives (MessageClient::check_message_receipt); one that does not
// check is counted, not fatal.
asio::awaitable<Result<Row>> run_one(std::shared_ptr<MessageClient> conn, std::size_t size,
                                     std::size_t count, std::size_t inflight, bool receipt) {
  Row row;
  row.size = size;
  row.messages = count;
  row.mode = inflight == 1 ? "request-response" : "pipelined x" + std::to_string(inflight);
  if (receipt) row.mode += " +receipts";
  const util::Bytes message(size, 'x');
  const crypto::Sha256Digest digest = crypto::sha256({message});
  std::vector<Clock::time_point> sent_at(count);
  row.latencies_us.resize(count);
  std::size_t sent = 0, received = 0;
  const auto start = Clock::now();
  const auto take = [&](const MessageClient::Answer& a) -> Result<void> {
    const wire::Reply& r = a.reply;
    if (r.status != 0) return Error(Errc::refused, "status " + std::to_string(r.status));
    if (receipt) {
      if (auto c = conn->check_message_receipt(a.receipt, size, digest, r); !c) {
        if (row.receipts_failed++ == 0) row.first_receipt_failure = c.error();
      }
    }
    row.latencies_us[received] =
        std::chrono::duration<double, std::micro>(Clock::now() - sent_at[received]).count();
    ++received;
    return {};
  };
  while (received < count) {
    const auto now = Clock::now();
    while (sent < count && sent - received < inflight) {
      sent_at[sent++] = now;
      if (auto q = conn->queue(message, receipt); !q) co_return q.error();
    }
    if (auto w = co_await conn->flush(); !w) co_return w.error();
    auto first = co_await conn->next_answer();
    if (!first) co_return first.error();
    if (auto t = take(*first); !t) co_return t.error();
    for (;;) {
      auto more = conn->poll_answer();
      if (!more) co_return more.error();
      if (!more->has_value()) break;
      if (auto t = take(**more); !t) co_return t.error();
    }
  }
  row.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  std::sort(row.latencies_us.begin(), row.latencies_us.end());
  co_return row;
}

// Opens many connections, each completing the handshake and one message, then
// keeps them open and silent so the server's memory per connection can be read.
int hold_idle_connections(asio::io_context& ctx, const BenchArgs& args, const net::HostPort& hp,
                          const ClientMode& mode) {
  std::vector<std::shared_ptr<MessageClient>> held;
  held.reserve(args.idle_connections);
  const util::Bytes hello = {'i', 'd', 'l', 'e'};
  const auto start = Clock::now();
  for (std::size_t i = 0; i < args.idle_connections; ++i) {
    auto conn = net::run_blocking(ctx, MessageClient::open(hp, mode.make_channel));
    if (!conn) {
      print_error("connection " + std::to_string(i + 1) + ": " +
                  client_error_message(conn.error(), mode));
      return exit_status_for(conn.error());
    }
    auto reply = net::run_blocking(ctx, (*conn)->request(hello));
    if (!reply || reply->status != 0) {
      print_error("connection " + std::to_string(i + 1) + ": no confirmation");
      return kExitRefused;
    }
    held.push_back(std::move(*conn));
  }
  const double setup = std::chrono::duration<double>(Clock::now() - start).count();
  std::printf(
      "%zu connections open (handshake and one message each, %.0f handshakes/s); "
      "holding them idle for %.0f s\n",
      held.size(), static_cast<double>(held.size()) / setup, args.hold_seconds);
  std::fflush(stdout);
  std::this_thread::sleep_for(seconds_option(args.hold_seconds));
  for (auto& c : held) c->close();
  return kExitOk;
}

int run_bench(BenchArgs& args) {
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
  if (args.receipt && !mode->key_mode) {
    print_error(
        "bench --receipt measures signed receipts, which need key mode (give --identity, or "
        "run without a shared key)");
    return kExitUsage;
  }
  if (args.receipt && args.idle_connections > 0) {
    print_error("--receipt does not apply to --idle-connections");
    return kExitUsage;
  }
  std::cout << "signet bench: " << mode->description << ", server " << hp->to_string()
            << (args.receipt ? ", receipts on (every message asks for one; each is checked)" : "")
            << std::endl;
  asio::io_context ctx(1);
  if (args.idle_connections > 0) return hold_idle_connections(ctx, args, *hp, *mode);
  if (args.connections > 0) {
    LoadOptions load;
    load.connections = args.connections;
    load.messages = args.messages;
    load.size = args.sizes.empty() ? 64 : args.sizes.front();
    load.window = std::max<std::size_t>(
        1,
        args.inflight.empty() ? 1 : *std::max_element(args.inflight.begin(), args.inflight.end()));
    load.threads = args.threads;
    load.timeout = seconds_option(args.timeout);
    load.receipt = args.receipt;
    return run_load_bench(*hp, *mode, load);
  }
  auto conn = net::run_blocking(ctx, MessageClient::open(*hp, mode->make_channel));
  if (!conn) {
    print_error(client_error_message(conn.error(), *mode));
    return exit_status_for(conn.error());
  }
  // "request-response +receipts" is wider than the column without receipts.
  const int mode_width = args.receipt ? 26 : 18;
  std::printf("%-*s %8s %9s %8s %11s %9s %9s %9s %9s %9s\n", mode_width, "mode", "size", "messages",
              "seconds", "msg/s", "MiB/s", "p50 us", "p90 us", "p99 us", "max us");
  int status = kExitOk;
  for (const std::size_t size : args.sizes) {
    if (size > (*conn)->max_payload()) {
      print_error("size " + std::to_string(size) + " is above --max-message");
      return kExitUsage;
    }
    for (const std::size_t k : args.inflight) {
      const std::size_t count = k == 1 ? args.rr_messages : args.messages;
      auto row = net::run_blocking(
          ctx, run_one(*conn, size, count, std::max<std::size_t>(k, 1), args.receipt));
      if (!row) {
        print_error(client_error_message(row.error(), *mode));
        return exit_status_for(row.error());
      }
      const double rate = static_cast<double>(row->messages) / row->seconds;
      std::printf("%-*s %8zu %9zu %8.3f %11.0f %9.1f %9.1f %9.1f %9.1f %9.1f\n", mode_width,
                  row->mode.c_str(), row->size, row->messages, row->seconds, rate,
                  rate * static_cast<double>(size) / (1024.0 * 1024.0),
                  percentile(row->latencies_us, 0.5), percentile(row->latencies_us, 0.9),
                  percentile(row->latencies_us, 0.99), row->latencies_us.back());
      std::fflush(stdout);
      if (row->receipts_failed > 0) {
        print_error(row->mode + ", size " + std::to_string(size) + ": " +
                    std::to_string(row->receipts_failed) + " of " + std::to_string(row->messages) +
                    " receipts did not check; the first: " + row->first_receipt_failure->message());
        if (status == kExitOk) status = exit_status_for(*row->first_receipt_failure);
      }
    }
  }
  (*conn)->close();
  return status;
}

}  // namespace

void add_bench_command(CLI::App& app, Action& action) {
  auto args = std::make_shared<BenchArgs>();
  auto* cmd = app.add_subcommand("bench", "Measure messages per second and round-trip latency");
  cmd->add_option("server", args->server, "Server address")->required()->type_name("HOST:PORT");
  add_channel_options(cmd, args->channel, false);
  cmd->add_option("--size", args->sizes, "Message sizes in bytes (default 64)")
      ->delimiter(',')
      ->type_name("LIST");
  cmd->add_option("--messages", args->messages, "Messages per pipelined run (default 200000)");
  cmd->add_option("--rr-messages", args->rr_messages,
                  "Messages per request-response run (default 20000)");
  cmd->add_option("--inflight", args->inflight,
                  "Messages in flight per run; 1 is request-response (default 1,128)")
      ->delimiter(',')
      ->type_name("LIST");
  cmd->add_option("--idle-connections", args->idle_connections,
                  "Instead of measuring rates: open N connections (handshake and one message "
                  "each) and hold them idle, to measure the server's memory");
  add_seconds_option(cmd, "--hold", args->hold_seconds,
                     "Seconds to hold --idle-connections open (default 10)");
  cmd->add_option("--connections", args->connections,
                  "Load test against a server run with --echo: N connections at once, each "
                  "sending --messages distinct messages (--size bytes, the largest --inflight "
                  "in flight) and checking every reply; reports sent, confirmed, lost, "
                  "duplicated and mismatched, and exits 1 unless all were confirmed once")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
  cmd->add_option("--threads", args->threads, "Client threads for --connections (default 2)")
      ->check(CLI::Range(1u, 256u));
  add_seconds_option(cmd, "--timeout", args->timeout,
                     "Seconds to wait for the server, per step (default 30)");
  cmd->add_flag("--receipt", args->receipt,
                "Key mode: every message asks the server for a signed receipt and each is "
                "checked; one that does not check is a failure (exit status not 0)");
  cmd->callback([args, &action] { action = [args] { return run_bench(*args); }; });
}

}  // namespace signet::cli
