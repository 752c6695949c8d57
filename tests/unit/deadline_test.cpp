// net::Deadline: the one deadline helper the server's sessions and the
// client's connections share. Each test waits for events with generous
// bounds and asserts only orderings that hold on a loaded machine.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>

#include <asio/io_context.hpp>

#include "net/deadline.hpp"

namespace signet::net {
namespace {

using namespace std::chrono_literals;

// Runs ctx until `fired` or `limit` passes.
void run_until(asio::io_context& ctx, const int& fired, std::chrono::milliseconds limit) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (fired == 0 && std::chrono::steady_clock::now() < end) ctx.run_for(10ms);
}

TEST(Deadline, FiresOnceWhenArmedAndPassed) {
  asio::io_context ctx;
  int fired = 0;
  Deadline d(ctx.get_executor());
  d.arm(20ms);
  d.start([&] { ++fired; });
  run_until(ctx, fired, 5s);
  EXPECT_EQ(fired, 1);
  // Stopped after firing: arming again calls nothing.
  d.arm(1ms);
  ctx.run_for(100ms);
  EXPECT_EQ(fired, 1);
}

TEST(Deadline, MovedLaterItWaitsMovedEarlierItWakes) {
  asio::io_context ctx;
  int fired = 0;
  Deadline d(ctx.get_executor());
  d.arm(30ms);
  d.start([&] { ++fired; });
  d.arm(1h);  // activity: the watcher wakes at 30 ms, sees the later deadline, sleeps on
  ctx.run_for(300ms);
  EXPECT_EQ(fired, 0);
  d.arm(10ms);  // earlier than the hour it sleeps towards: woken now
  run_until(ctx, fired, 5s);
  EXPECT_EQ(fired, 1);
}

TEST(Deadline, DisarmedItNeverFires) {
  asio::io_context ctx;
  int fired = 0;
  Deadline d(ctx.get_executor());
  d.start([&] { ++fired; });  // started before any deadline, as the client's
  d.arm(10ms);
  d.disarm();
  ctx.run_for(300ms);
  EXPECT_EQ(fired, 0);
  EXPECT_FALSE(d.armed());
  d.arm(10ms);
  run_until(ctx, fired, 5s);
  EXPECT_EQ(fired, 1);
}

TEST(Deadline, StoppedOrDestroyedItNeverFiresAndLetsGoOfTheOwner) {
  asio::io_context ctx;
  int fired = 0;
  auto owner = std::make_shared<int>(0);
  {
    Deadline d(ctx.get_executor());
    d.arm(10ms);
    d.start([&, owner] { ++fired; });
    d.stop();
    EXPECT_EQ(owner.use_count(), 1) << "stop() must drop what on_expiry holds";
  }
  {
    Deadline d(ctx.get_executor());
    d.arm(10ms);
    d.start([&] { ++fired; });
  }  // destroyed while its watcher sleeps: the watcher must not touch it
  ctx.run_for(300ms);
  EXPECT_EQ(fired, 0);
}

}  // namespace
}  // namespace signet::net
