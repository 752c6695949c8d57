// Reliability under load and faults, CI-sized (issue 12; the full-size
// figures come from bench/load.sh and bench/hostile.sh): many connections at
// once with every reply checked, a server killed in the middle of the
// traffic, and a restart on the same port.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <signal.h>

#include <regex>

#include "harness.hpp"

namespace signet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kKey = "integration-test shared key, 40 bytes ok";

class ReliabilityTest : public ::testing::Test {
 protected:
  using Env = std::map<std::string, std::optional<std::string>>;
  void SetUp() override {
    dir_ = make_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  Env shared_key_env() {
    return {{"SHARED_SECRET_KEY", std::string(kKey)}, {"XDG_CONFIG_HOME", dir_ + "/config"}};
  }
  Env key_mode_env(const std::string& role) {
    return {{"SHARED_SECRET_KEY", std::nullopt}, {"XDG_CONFIG_HOME", dir_ + "/" + role}};
  }
  std::string dir_;
};

// The counts line of `signet bench --connections`.
struct Counts {
  long sent = -1, confirmed = -1, lost = -1, duplicated = -1, mismatched = -1;
};
Counts counts_of(const std::string& out) {
  static const std::regex re(
      "sent (\\d+), confirmed (\\d+), lost (\\d+), duplicated (\\d+), mismatched (\\d+)");
  std::smatch m;
  Counts c;
  if (std::regex_search(out, m, re)) {
    c = {std::stol(m[1]), std::stol(m[2]), std::stol(m[3]), std::stol(m[4]), std::stol(m[5])};
  }
  return c;
}

TEST_F(ReliabilityTest, EchoAnswersEachMessageWithItsOwnBytes) {
  ServerProcess server(dir_, {"--echo"}, shared_key_env());
  Process send(dir_, "send", {"send", server.address(), "echo me, byte for byte"},
               shared_key_env());
  EXPECT_EQ(send.wait(), 0) << send.err();
  EXPECT_EQ(send.out(), "echo me, byte for byte\n");
  // --echo and --exec do not go together.
  Process both(dir_, "both", {"server", "--echo", "--exec", "cat"}, shared_key_env());
  EXPECT_EQ(both.wait(), 2);
}

TEST_F(ReliabilityTest, TwoHundredConnectionsAtOnceLoseNothingInSharedKeyMode) {
  // Past the server's per-source handshake limit (128): the extra connections
  // are refused as busy and retried, never silently dropped.
  ServerProcess server(dir_, {"--echo"}, shared_key_env());
  Process bench(
      dir_, "bench",
      {"bench", server.address(), "--connections", "200", "--messages", "200", "--inflight", "8"},
      shared_key_env());
  ASSERT_EQ(bench.wait(60s), 0) << bench.out() << bench.err();
  const Counts c = counts_of(bench.out());
  EXPECT_EQ(c.sent, 40000);
  EXPECT_EQ(c.confirmed, 40000);
  EXPECT_EQ(c.lost, 0);
  EXPECT_EQ(c.duplicated, 0);
  EXPECT_EQ(c.mismatched, 0);
}

TEST_F(ReliabilityTest, TwoHundredConnectionsAtOnceLoseNothingInKeyMode) {
  const std::string server_key = dir_ + "/server_id", client_key = dir_ + "/client_id";
  for (const auto& k : {server_key, client_key}) {
    Process keygen(dir_, "keygen", {"keygen", "-f", k}, key_mode_env("keygen"));
    ASSERT_EQ(keygen.wait(), 0) << keygen.err();
  }
  Process add(dir_, "add",
              {"keys", "add", client_key + ".pub", "--authorized-keys", dir_ + "/authorized_keys"},
              key_mode_env("keygen"));
  ASSERT_EQ(add.wait(), 0) << add.err();
  Process fp(dir_, "fp", {"fingerprint", server_key + ".pub"}, key_mode_env("keygen"));
  ASSERT_EQ(fp.wait(), 0);
  const std::string fingerprint = fp.out().substr(fp.out().find("SHA256:"), 50);
  ServerProcess server(
      dir_, {"--echo", "--identity", server_key, "--authorized-keys", dir_ + "/authorized_keys"},
      key_mode_env("server"));
  Process bench(dir_, "bench",
                {"bench", server.address(), "--connections", "200", "--messages", "200",
                 "--inflight", "8", "--identity", client_key, "--server-key", fingerprint},
                key_mode_env("client"));
  ASSERT_EQ(bench.wait(60s), 0) << bench.out() << bench.err();
  const Counts c = counts_of(bench.out());
  EXPECT_EQ(c.confirmed, 40000);
  EXPECT_EQ(c.lost + c.duplicated + c.mismatched, 0);
}

TEST_F(ReliabilityTest, ServerKilledUnderLoadLeavesNoClientHangingAndRestartsAtOnce) {
  auto server =
      std::make_unique<ServerProcess>(dir_, std::vector<std::string>{"--echo"}, shared_key_env());
  const std::string address = server->address();
  const std::uint16_t port = server->port();
  // Enough traffic to be in the middle of it when the server dies.
  Process bench(dir_, "bench",
                {"bench", address, "--connections", "50", "--messages", "100000", "--inflight", "8",
                 "--timeout", "5"},
                shared_key_env());
  std::this_thread::sleep_for(1s);
  ::kill(server->process().pid(), SIGKILL);
  const auto killed = std::chrono::steady_clock::now();
  // Every client ends with a clear error, well within its 5 s timeout.
  const int status = bench.wait(20s);
  EXPECT_EQ(status, 1) << bench.out() << bench.err();
  EXPECT_LT(std::chrono::steady_clock::now() - killed, 8s);
  const Counts c = counts_of(bench.out());
  EXPECT_GT(c.confirmed, 0);
  EXPECT_EQ(c.duplicated, 0);
  EXPECT_EQ(c.mismatched, 0);
  EXPECT_THAT(bench.err(), HasSubstr("first failure: "));
  EXPECT_THAT(bench.err(), HasSubstr("closed"));

  // A new server on the same port serves at once.
  Process again(dir_, "again",
                {"server", "--listen", "127.0.0.1:" + std::to_string(port), "--echo"},
                shared_key_env());
  ASSERT_TRUE(again.wait_for_output("listening on 127.0.0.1:" + std::to_string(port)))
      << again.err();
  Process send(dir_, "send", {"send", address, "after the restart"}, shared_key_env());
  EXPECT_EQ(send.wait(), 0) << send.err();
  EXPECT_EQ(send.out(), "after the restart\n");
}

}  // namespace
}  // namespace signet::testing
