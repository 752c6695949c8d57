#include "cli/load_bench.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

#include "cli/common.hpp"
#include "crypto/primitives.hpp"

namespace signet::cli {
namespace {

using Clock = std::chrono::steady_clock;

// A server refusing new handshakes for a moment (busy) is asked again, up to
// this many times, backing off from 10 ms to 640 ms.
constexpr int kConnectAttempts = 40;

struct ConnectionResult {
  std::size_t sent = 0;
  std::size_t confirmed = 0;
  std::size_t duplicated = 0;
  std::size_t mismatched = 0;
  std::size_t connect_retries = 0;
  std::size_t receipts_failed = 0;  // LoadOptions::receipt: receipts that did not check
  std::string receipt_error;        // why the first of them did not
  bool connected = false;
  std::string error;  // why the connection ended early, if it did
  std::vector<float> latencies_us;
};

std::string message_for(std::size_t connection, std::size_t seq, std::size_t size) {
  std::string m = "c" + std::to_string(connection) + ":m" + std::to_string(seq) + ":";
  if (m.size() < size) m.append(size - m.size(), 'x');
  return m;
}

// The message number an echo names, if it names this connection.
std::optional<std::size_t> seq_of(std::string_view text, std::size_t connection) {
  const std::string prefix = "c" + std::to_string(connection) + ":m";
  if (!text.starts_with(prefix)) return std::nullopt;
  text.remove_prefix(prefix.size());
  std::size_t seq = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seq);
  if (ec != std::errc() || end == text.data() + text.size() || *end != ':') return std::nullopt;
  return seq;
}

asio::awaitable<void> drive(std::size_t id, const net::HostPort& server, const ClientMode& mode,
                            const LoadOptions& o, ConnectionResult& r) {
  net::ClientOptions copts;
  copts.connect_timeout = copts.handshake_timeout = copts.reply_timeout = o.timeout;
  std::shared_ptr<MessageClient> conn;
  for (int attempt = 0;; ++attempt) {
    auto c = co_await MessageClient::open(server, mode.make_channel, copts);
    if (c) {
      conn = std::move(*c);
      break;
    }
    if (!c.error().is(Errc::busy) || attempt + 1 >= kConnectAttempts) {
      r.error = client_error_message(c.error(), mode);
      co_return;
    }
    ++r.connect_retries;
    asio::steady_timer wait(co_await asio::this_coro::executor,
                            std::chrono::milliseconds(10 << std::min(attempt, 6)));
    co_await wait.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
  }
  r.connected = true;
  // At most `window` messages are unanswered, and answers come in order: a
  // ring of send times is enough.
  std::vector<Clock::time_point> sent_at(o.window);
  std::vector<bool> confirmed(o.messages, false);
  std::size_t answered = 0;  // replies so far; each answers the oldest unanswered message
  const auto take = [&](const MessageClient::Answer& a) {
    const wire::Reply& reply = a.reply;
    if (o.receipt) {
      // Against the message this reply answers, whatever the reply says.
      const std::string sent = message_for(id, answered, o.size);
      if (auto c = conn->check_message_receipt(a.receipt, sent.size(),
                                               crypto::sha256({util::as_bytes(sent)}), reply);
          !c) {
        if (r.receipts_failed++ == 0) r.receipt_error = c.error().message();
      }
    }
    const auto seq = seq_of(reply.text, id);
    if (reply.status != 0 || !seq || *seq >= o.messages) {
      ++r.mismatched;
    } else if (confirmed[*seq]) {
      ++r.duplicated;
    } else if (*seq == answered && reply.text == message_for(id, *seq, o.size)) {
      confirmed[*seq] = true;
      ++r.confirmed;
      r.latencies_us.push_back(
          std::chrono::duration<float, std::micro>(Clock::now() - sent_at[*seq % o.window])
              .count());
    } else {
      ++r.mismatched;
    }
    ++answered;
  };
  while (answered < o.messages) {
    const auto now = Clock::now();
    while (r.sent < o.messages && r.sent - answered < o.window) {
      sent_at[r.sent % o.window] = now;
      if (auto q = conn->queue(util::as_bytes(message_for(id, r.sent, o.size)), o.receipt); !q) {
        r.error = client_error_message(q.error(), mode);
        break;
      }
      ++r.sent;
    }
    if (!r.error.empty()) break;
    if (auto w = co_await conn->flush(); !w) {
      r.error = client_error_message(w.error(), mode);
      break;
    }
    auto first = co_await conn->next_answer();
    if (!first) {
      r.error = client_error_message(first.error(), mode);
      break;
    }
    take(*first);
    bool failed = false;
    for (;;) {
      auto more = conn->poll_answer();
      if (!more) {
        r.error = client_error_message(more.error(), mode);
        failed = true;
        break;
      }
      if (!more->has_value()) break;
      take(**more);
    }
    if (failed) break;
  }
  conn->close();
}

double percentile(const std::vector<float>& sorted, double p) {
  if (sorted.empty()) return 0;
  return sorted[static_cast<std::size_t>(p * static_cast<double>(sorted.size() - 1))];
}

}  // namespace

int run_load_bench(const net::HostPort& server, const ClientMode& mode, const LoadOptions& o) {
  // Each connection holds a descriptor of this process too.
  const std::uint64_t fds = raise_descriptor_limit();
  if (fds < o.connections + 16) {
    print_error("the descriptor limit (" + std::to_string(fds) + ") is below --connections " +
                std::to_string(o.connections) + "; raise it with ulimit -n");
    return kExitUsage;
  }
  const unsigned threads = std::max(1u, o.threads);
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  for (unsigned t = 0; t < threads; ++t) contexts.push_back(std::make_unique<asio::io_context>(1));
  std::vector<ConnectionResult> results(o.connections);
  for (std::size_t i = 0; i < o.connections; ++i) {
    asio::co_spawn(*contexts[i % threads], drive(i, server, mode, o, results[i]), asio::detached);
  }
  const auto start = Clock::now();
  std::vector<std::thread> workers;
  for (auto& c : contexts) workers.emplace_back([ctx = c.get()] { ctx->run(); });
  for (auto& w : workers) w.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  ConnectionResult total;
  std::size_t failed_connections = 0;
  std::string first_error;
  std::vector<float> latencies;
  for (auto& r : results) {
    total.sent += r.sent;
    total.confirmed += r.confirmed;
    total.duplicated += r.duplicated;
    total.mismatched += r.mismatched;
    total.connect_retries += r.connect_retries;
    total.receipts_failed += r.receipts_failed;
    if (!r.receipt_error.empty() && total.receipt_error.empty())
      total.receipt_error = r.receipt_error;
    if (!r.connected) ++failed_connections;
    if (!r.error.empty() && first_error.empty()) first_error = r.error;
    latencies.insert(latencies.end(), r.latencies_us.begin(), r.latencies_us.end());
  }
  std::sort(latencies.begin(), latencies.end());
  const std::size_t expected = o.connections * o.messages;
  const std::size_t lost = total.sent - std::min(total.sent, total.confirmed);
  std::printf("connections %zu (failed %zu, connect retries after busy %zu), messages %zu each%s\n",
              o.connections, failed_connections, total.connect_retries, o.messages,
              o.receipt ? ", receipts on (each checked)" : "");
  std::printf("sent %zu, confirmed %zu, lost %zu, duplicated %zu, mismatched %zu, not sent %zu\n",
              total.sent, total.confirmed, lost, total.duplicated, total.mismatched,
              expected - total.sent);
  if (o.receipt) {
    std::printf("receipts checked %zu, failed %zu\n",
                total.confirmed + total.mismatched + total.duplicated, total.receipts_failed);
  }
  std::printf(
      "%.3f s, %.0f msg/s%s; round trip p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n",
      seconds, static_cast<double>(total.confirmed) / seconds, o.receipt ? " with receipts" : "",
      percentile(latencies, 0.5), percentile(latencies, 0.99), percentile(latencies, 0.999),
      latencies.empty() ? 0.0 : static_cast<double>(latencies.back()));
  std::fflush(stdout);
  if (!first_error.empty()) print_error("first failure: " + first_error);
  if (total.receipts_failed > 0) {
    print_error(std::to_string(total.receipts_failed) +
                " receipts did not check; the first: " + total.receipt_error);
  }
  const bool perfect = total.confirmed == expected && total.duplicated == 0 &&
                       total.mismatched == 0 && failed_connections == 0 &&
                       total.receipts_failed == 0;
  return perfect ? kExitOk : kExitFailure;
}

}  // namespace signet::cli
