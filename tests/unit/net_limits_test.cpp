// The server's limits, without sockets: the handshake admission (MaxStartups
// and per source), the handler gate, and the log limiter.
#include <gtest/gtest.h>

#include <optional>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>
#include <asio/steady_timer.hpp>
#include <asio/this_coro.hpp>
#include <asio/use_awaitable.hpp>

#include "net/admission.hpp"
#include "net/handler_gate.hpp"
#include "net/log_limiter.hpp"

namespace signet::net {
namespace {

using namespace std::chrono_literals;

StartupAdmission::Source source(const char* ip) {
  return StartupAdmission::source_of(asio::ip::make_address(ip));
}

TEST(StartupLimits, ParsesBeginRateFullAndOneNumber) {
  auto l = parse_startup_limits("10:30:100");
  ASSERT_TRUE(l);
  EXPECT_EQ(l->begin, 10u);
  EXPECT_EQ(l->rate, 30u);
  EXPECT_EQ(l->full, 100u);
  auto one = parse_startup_limits("5");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->begin, 5u);
  EXPECT_EQ(one->full, 5u);
  for (const char* bad : {"", "x", "10:30", "10:30:100:1", "0:30:100", "10:101:100", "10:30:5",
                          "10::100", "-1:30:100", "10:30:100 "}) {
    auto r = parse_startup_limits(bad);
    ASSERT_FALSE(r) << bad;
    EXPECT_TRUE(r.error().is(Errc::config));
    EXPECT_NE(r.error().message().find("--max-startups"), std::string::npos);
  }
}

TEST(StartupAdmission, BelowBeginEveryoneIsAdmittedAtFullNobody) {
  StartupAdmission a({.begin = 3, .rate = 30, .full = 6, .per_source = 0});
  const auto s = source("10.0.0.1");
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(a.admit(s, 0)) << i;  // roll 0 would drop if dropping
  // Between begin and full: dropped when the roll is below the probability.
  EXPECT_FALSE(a.admit(s, 29));  // 30% at begin
  EXPECT_TRUE(a.admit(s, 30));   // 4 in the handshake now
  EXPECT_FALSE(a.admit(s, 52));  // 30 + 70 * 1/3 = 53%
  EXPECT_TRUE(a.admit(s, 53));
  EXPECT_FALSE(a.admit(s, 75));  // 30 + 70 * 2/3 = 76%
  EXPECT_TRUE(a.admit(s, 99));
  EXPECT_EQ(a.in_handshake(), 6u);
  auto full = a.admit(s, 99);
  ASSERT_FALSE(full);
  EXPECT_TRUE(full.error().is(Errc::busy));
  a.done(s);
  EXPECT_TRUE(a.admit(s, 99));
}

TEST(StartupAdmission, PerSourceLimitCountsIpv4AndIpv6Slash64) {
  StartupAdmission a({.begin = 100, .rate = 30, .full = 100, .per_source = 2});
  EXPECT_TRUE(a.admit(source("192.0.2.1"), 0));
  // The same address arriving IPv4-mapped is the same source.
  EXPECT_TRUE(a.admit(source("::ffff:192.0.2.1"), 0));
  auto third = a.admit(source("192.0.2.1"), 0);
  ASSERT_FALSE(third);
  EXPECT_NE(third.error().message().find("from your address"), std::string::npos);
  EXPECT_TRUE(a.admit(source("192.0.2.2"), 0));
  // One /64 is one source; another /64 is another.
  EXPECT_TRUE(a.admit(source("2001:db8:0:1::1"), 0));
  EXPECT_TRUE(a.admit(source("2001:db8:0:1::2"), 0));
  EXPECT_FALSE(a.admit(source("2001:db8:0:1:ffff::3"), 0));
  EXPECT_TRUE(a.admit(source("2001:db8:0:2::1"), 0));
  a.done(source("192.0.2.1"));
  EXPECT_TRUE(a.admit(source("192.0.2.1"), 0));
  EXPECT_EQ(a.in_handshake(), 6u);
}

// Runs `n` coroutines that each take a turn through the gate, hold it for
// `hold`, and record how many held one at once.
struct GateRun {
  int most = 0, running = 0, done = 0, busy = 0;
};

asio::awaitable<void> take_turn(HandlerGate& gate, GateRun& run, std::chrono::milliseconds hold) {
  auto permit = co_await gate.acquire();
  if (!permit) {
    ++run.busy;
    co_return;
  }
  run.most = std::max(run.most, ++run.running);
  asio::steady_timer t(co_await asio::this_coro::executor, hold);
  co_await t.async_wait(asio::use_awaitable);
  --run.running;
  ++run.done;
}

TEST(HandlerGate, RunsAtMostConcurrencyQueuesTheNextAndRefusesTheRest) {
  asio::io_context ctx;
  HandlerGate gate(2, 3);
  GateRun run;
  for (int i = 0; i < 8; ++i) asio::co_spawn(ctx, take_turn(gate, run, 20ms), asio::detached);
  ctx.run();
  EXPECT_EQ(run.most, 2);
  EXPECT_EQ(run.done, 5);  // 2 at once, 3 waited
  EXPECT_EQ(run.busy, 3);
  EXPECT_EQ(gate.running(), 0u);
  EXPECT_EQ(gate.waiting(), 0u);
}

TEST(HandlerGate, TurnsPassAcrossThreadsAndAbandonedWaitersGiveTheirsBack) {
  HandlerGate gate(1, 100);
  asio::io_context a, b;
  GateRun run_a, run_b;
  for (int i = 0; i < 20; ++i) {
    asio::co_spawn(a, take_turn(gate, run_a, 1ms), asio::detached);
    asio::co_spawn(b, take_turn(gate, run_b, 1ms), asio::detached);
  }
  std::thread ta([&] { a.run(); });
  std::thread tb([&] { b.run(); });
  ta.join();
  tb.join();
  EXPECT_EQ(run_a.done + run_b.done, 40);
  EXPECT_EQ(run_a.busy + run_b.busy, 0);
  EXPECT_EQ(gate.running(), 0u);

  // Waiters whose coroutines are destroyed (their connection closed) leave
  // the queue; the turn goes on to the next live one.
  {
    asio::io_context c;
    GateRun held, gone;
    asio::co_spawn(c, take_turn(gate, held, 50ms), asio::detached);
    for (int i = 0; i < 3; ++i) asio::co_spawn(c, take_turn(gate, gone, 0ms), asio::detached);
    c.run_for(10ms);  // the first holds the turn, three wait
    EXPECT_EQ(gate.waiting(), 3u);
  }  // destroying the context destroys the waiting coroutines
  EXPECT_EQ(gate.waiting(), 0u);
  EXPECT_EQ(gate.running(), 0u);
  asio::io_context d;
  GateRun later;
  asio::co_spawn(d, take_turn(gate, later, 0ms), asio::detached);
  d.run();
  EXPECT_EQ(later.done, 1);
}

TEST(LogLimiter, AdmitsABurstPerIntervalAndCountsTheRest) {
  LogLimiter limiter("test events", 3, 1000ms);
  const auto t0 = LogLimiter::Clock::now();
  int admitted = 0;
  for (int i = 0; i < 100; ++i) admitted += limiter.admit(t0 + std::chrono::milliseconds(i));
  EXPECT_EQ(admitted, 3);
  EXPECT_EQ(limiter.suppressed_total(), 97u);
  // A new interval admits a new burst.
  EXPECT_TRUE(limiter.admit(t0 + 1500ms));
  limiter.flush(t0 + 5000ms);
  EXPECT_EQ(limiter.suppressed_total(), 97u);
}

}  // namespace
}  // namespace signet::net
