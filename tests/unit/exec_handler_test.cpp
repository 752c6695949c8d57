// The --exec handler: each test runs real /bin/sh commands through the handler
// on an io_context, as the server would, and checks the reply.
#include <gtest/gtest.h>

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <asio/co_spawn.hpp>
#include <asio/detached.hpp>
#include <asio/io_context.hpp>

#include "cli/exec_handler.hpp"
#include "net/blocking.hpp"

namespace signet::cli {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

net::PeerInfo test_peer() {
  net::PeerInfo p;
  p.address = "127.0.0.1:40000";
  p.mode = "shared-key hmac-sha256";
  p.identity.fingerprint = "SHA256:abc";
  p.identity.comment = "alice@laptop";
  return p;
}

wire::Reply run(const ExecOptions& options, std::string_view message,
                const net::PeerInfo& peer = test_peer()) {
  asio::io_context ctx;
  auto handler = make_exec_handler(options);
  return net::run_blocking(ctx, handler(peer, util::as_bytes(message)));
}

// Alive and not a zombie (a container's init may not reap orphans).
bool alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  const char state = stat[paren + 2];
  return state != 'Z' && state != 'X';
}

ExecOptions command(std::string cmd) {
  ExecOptions o;
  o.command = std::move(cmd);
  o.timeout = 3s;
  return o;
}

TEST(ExecHandler, MessageGoesToStdinAndStdoutComesBack) {
  const auto r = run(command("tr a-z A-Z"), "hello, world");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.text, "HELLO, WORLD");
}

TEST(ExecHandler, MessageIsNeverPartOfTheCommandLine) {
  // Shell syntax in the message stays data.
  const auto r = run(command("cat"), "$(echo injected); exit 7");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.text, "$(echo injected); exit 7");
}

TEST(ExecHandler, ExitStatusBecomesTheReplyStatus) {
  EXPECT_EQ(run(command("exit 3"), "").status, 3);
  EXPECT_EQ(run(command("exit 255"), "").status, 255);
  const auto r = run(command("echo partial; exit 42"), "");
  EXPECT_EQ(r.status, 42);
  EXPECT_EQ(r.text, "partial\n");
}

TEST(ExecHandler, KilledBySignalIsReportedAsFailure) {
  const auto r = run(command("echo before; kill -TERM $$"), "");
  EXPECT_EQ(r.status, kExecFailedStatus);
  EXPECT_NE(r.text.find("before\n"), std::string::npos) << r.text;
  EXPECT_NE(r.text.find("signet: the command was killed by signal 15 (SIGTERM)"), std::string::npos)
      << r.text;
}

TEST(ExecHandler, PeerIdentityIsInTheEnvironment) {
  const auto r =
      run(command("printf '%s|%s|%s|%s' \"$SIGNET_PEER_ADDRESS\" "
                  "\"$SIGNET_PEER_FINGERPRINT\" \"$SIGNET_PEER_COMMENT\" \"$SIGNET_MODE\""),
          "");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.text, "127.0.0.1:40000|SHA256:abc|alice@laptop|shared-key hmac-sha256");
}

TEST(ExecHandler, SharedSecretKeyIsNotPassedOn) {
  ::setenv("SHARED_SECRET_KEY", "do-not-leak", 1);
  ::setenv("SIGNET_EXEC_TEST_VISIBLE", "yes", 1);
  ::setenv("SIGNET_PEER_COMMENT", "stale value from the server's environment", 1);
  const auto r =
      run(command("echo \"${SHARED_SECRET_KEY-absent}\"; "
                  "echo \"$SIGNET_EXEC_TEST_VISIBLE\"; env | grep -c '^SIGNET_PEER_COMMENT='; "
                  "env | grep -c SHARED_SECRET_KEY"),
          "");
  ::unsetenv("SHARED_SECRET_KEY");
  ::unsetenv("SIGNET_EXEC_TEST_VISIBLE");
  ::unsetenv("SIGNET_PEER_COMMENT");
  EXPECT_EQ(r.status, 1);  // grep -c found nothing
  EXPECT_EQ(r.text, "absent\nyes\n1\n0\n");
}

TEST(ExecHandler, ServerFileDescriptorsAreNotInherited) {
  // Only 0, 1, 2 (and the descriptor ls itself opens for /proc/self/fd).
  const auto r = run(command("ls /proc/self/fd | wc -l"), "");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.text, "4\n");
}

TEST(ExecHandler, TimeoutKillsTheProcessGroupAndRepliesQuickly) {
  auto o = command("sleep 5; echo never");
  o.timeout = 200ms;
  const auto start = Clock::now();
  const auto r = run(o, "");
  const auto elapsed = Clock::now() - start;
  EXPECT_EQ(r.status, kExecTimeoutStatus);
  EXPECT_EQ(r.text, "signet: the command timed out after 200 ms and was killed");
  EXPECT_LT(elapsed, 2s);
  EXPECT_GE(elapsed, 190ms);
}

TEST(ExecHandler, StrayProcessOutsideTheGroupDoesNotHoldTheReply) {
  // setsid leaves the group, so the sweep at the shell's exit misses it; it
  // keeps stdout open. The reply comes at the timeout, with the shell's status.
  auto o = command("setsid sleep 2 & sleep 0.1; echo started");
  o.timeout = 300ms;
  const auto start = Clock::now();
  const auto r = run(o, "");
  const auto elapsed = Clock::now() - start;
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, 1500ms);
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.text, "started\n");
}

TEST(ExecHandler, OutputIsCappedWithANote) {
  auto o = command("head -c 100000 /dev/zero | tr '\\0' a; exit 5");
  o.max_output = 1000;
  const auto r = run(o, "");
  EXPECT_EQ(r.status, 5);  // drained, not killed: the status still counts
  EXPECT_LE(r.text.size(), 1000u);
  const std::string note = "\nsignet: output truncated (100000 bytes, limit 1000)";
  ASSERT_GT(r.text.size(), note.size());
  EXPECT_EQ(r.text.substr(r.text.size() - note.size()), note);
  EXPECT_EQ(r.text.find_first_not_of('a'), r.text.size() - note.size());
}

TEST(ExecHandler, TinyCapKeepsTheNoteWithinTheCap) {
  auto o = command("echo 0123456789");
  o.max_output = 10;
  const auto r = run(o, "");
  EXPECT_EQ(r.status, 0);
  EXPECT_EQ(r.text, "signet: ou");
}

TEST(ExecHandler, LargeStdinDoesNotDeadlock) {
  // cat writes its output while we still write its input: both pipes fill
  // up unless input and output are served at once.
  std::string big(1 << 20, 'x');
  for (std::size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + i % 26);
  auto o = command("cat");
  o.max_output = 2 << 20;
  const auto r = run(o, big);
  EXPECT_EQ(r.status, 0);
  EXPECT_TRUE(r.text == big) << "got " << r.text.size() << " bytes";
}

TEST(ExecHandler, CommandThatIgnoresItsInputIsNotAnError) {
  // The child exits without reading 1 MiB: our write gets EPIPE, and the
  // server must not die of SIGPIPE.
  const auto r = run(command("exit 3"), std::string(1 << 20, 'x'));
  EXPECT_EQ(r.status, 3);
  EXPECT_EQ(r.text, "");
}

TEST(ExecHandler, LeftoverBackgroundProcessesAreKilledWhenTheShellExits) {
  auto o = command("sleep 5 & echo $!");
  const auto r = run(o, "");
  ASSERT_EQ(r.status, 0);
  const pid_t bg = static_cast<pid_t>(std::stol(r.text));
  // Killed before the shell was reaped.
  bool gone = false;
  for (int i = 0; i < 100 && !gone; ++i) {
    gone = !alive(bg);
    if (!gone) std::this_thread::sleep_for(10ms);
  }
  EXPECT_TRUE(gone);
}

TEST(ExecHandler, OtherWorkRunsWhileACommandRuns) {
  asio::io_context ctx;
  auto slow = make_exec_handler(command("sleep 0.5; echo slow"));
  auto quick = make_exec_handler(command("tr a-z A-Z"));
  const auto peer = test_peer();
  std::vector<std::string> order;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto r = co_await slow(peer, util::as_bytes(""));
        order.push_back(r.text);
      },
      asio::detached);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        auto r = co_await quick(peer, util::as_bytes("quick"));
        order.push_back(r.text);
      },
      asio::detached);
  const auto start = Clock::now();
  ctx.run();
  EXPECT_LT(Clock::now() - start, 2s);
  ASSERT_EQ(order.size(), 2u);
  EXPECT_EQ(order[0], "QUICK");
  EXPECT_EQ(order[1], "slow\n");
}

TEST(ExecHandler, CommandNotFoundIsTheShellsStatus) {
  const auto r = run(command("/nonexistent/signet-test-command"), "");
  EXPECT_EQ(r.status, 127);
}

}  // namespace
}  // namespace signet::cli
