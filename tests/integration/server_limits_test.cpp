// The server's resource limits against peers that would exhaust them: unread
// replies, --exec floods, stalled handshakes (in all, per source, in memory),
// descriptor exhaustion, a full server, and logging under attack. Each
// refusal must be a clear server_busy, never a silent close, and must not
// stop the server serving others.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include "harness.hpp"
#include "wire/wire.hpp"

namespace signet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kKey = "integration-test shared key, 40 bytes ok";

// A field of /proc/PID/status in kB ("VmHWM": peak resident memory).
long status_kb(pid_t pid, const std::string& field) {
  std::istringstream in(read_file("/proc/" + std::to_string(pid) + "/status"));
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

std::size_t count(const std::string& text, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++n;
  return n;
}

// The Error record a refused connection receives before the server closes it.
Result<wire::ErrorRecord> refusal(RawConnection& c) {
  const std::string got = c.read_all(2s);
  return wire::decode_error_record(util::as_bytes(got));
}

class ServerLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  std::map<std::string, std::optional<std::string>> env() {
    return {{"SHARED_SECRET_KEY", std::string(kKey)}, {"XDG_CONFIG_HOME", dir_ + "/config"}};
  }

  std::unique_ptr<ServerProcess> start_server(std::vector<std::string> extra,
                                              std::vector<std::string> wrapper = {}) {
    return std::make_unique<ServerProcess>(dir_, std::move(extra), env(), std::move(wrapper));
  }

  struct Run {
    int status = -1;
    std::string out, err;
  };
  Run send(const std::string& address, const std::string& message) {
    Process p(dir_, "send" + std::to_string(sends_++), {"send", address, message}, env());
    Run r;
    r.status = p.wait();
    r.out = p.out();
    r.err = p.err();
    return r;
  }

  void expect_served(ServerProcess& server) {
    const Run r = send(server.address(), "still served");
    EXPECT_EQ(r.status, 0) << r.err;
    EXPECT_TRUE(server.process().running());
  }

  std::string dir_;
  int sends_ = 0;
};

// --- Finding 4: output is bounded ---------------------------------------------------

TEST_F(ServerLimitsTest, RepliesAClientDoesNotReadDoNotPileUpInMemory) {
  // Each message is answered with 1 MB. The client sends 150 in one write
  // and never reads: without back-pressure the server took all 150 and held
  // 150 MB of replies.
  auto server = start_server({"--exec", "head -c 1000000 /dev/zero"});
  const long before = status_kb(server->process().pid(), "VmRSS");
  HandshakenConnection greedy(server->port(), kKey);
  std::string pipelined;
  for (int i = 0; i < 150; ++i) greedy.seal_message("", pipelined);
  greedy.raw.send(pipelined);
  std::this_thread::sleep_for(4s);
  const long peak = status_kb(server->process().pid(), "VmHWM");
  std::cout << "server RSS " << before << " kB before, peak " << peak << " kB\n";
  EXPECT_LT(peak - before, 48 * 1024) << "peak " << peak << " kB, before " << before << " kB";
  expect_served(*server);
}

// --- Finding 5: --exec concurrency --------------------------------------------------------

TEST_F(ServerLimitsTest, ExecCommandsRunTwoAtATimeTwoWaitAndTheRestAreRefusedAsBusy) {
  const std::string log = dir_ + "/exec.log";
  auto server = start_server({"--exec", "echo start >> " + log + "; sleep 2; echo end >> " + log,
                              "--exec-concurrency", "2", "--exec-queue", "2"});
  std::vector<std::unique_ptr<Process>> sends;
  for (int i = 0; i < 6; ++i) {
    sends.push_back(std::make_unique<Process>(
        dir_, "send" + std::to_string(i),
        std::vector<std::string>{"send", server->address(), "job " + std::to_string(i)}, env()));
    std::this_thread::sleep_for(50ms);
  }
  int ok = 0, busy = 0;
  for (auto& p : sends) {
    const int status = p->wait(30s);
    if (status == 0) ++ok;
    if (status == 5 && p->err().find("server busy") != std::string::npos) ++busy;
  }
  EXPECT_EQ(ok, 4);
  EXPECT_EQ(busy, 2);
  // Never more than two commands at once.
  std::istringstream in(read_file(log));
  int running = 0, most = 0, started = 0;
  for (std::string line; std::getline(in, line);) {
    if (line == "start") {
      ++started;
      most = std::max(most, ++running);
    } else if (line == "end") {
      --running;
    }
  }
  EXPECT_EQ(started, 4);
  EXPECT_EQ(most, 2);
  expect_served(*server);
}

// --- Finding 7: connections in their handshake -----------------------------------------------

TEST_F(ServerLimitsTest, StalledHandshakesBeyondMaxStartupsGetServerBusy) {
  auto server = start_server({"--max-startups", "3", "--max-startups-per-source", "0"});
  std::vector<std::unique_ptr<RawConnection>> stalled;
  for (int i = 0; i < 3; ++i) stalled.push_back(std::make_unique<RawConnection>(server->port()));
  std::this_thread::sleep_for(300ms);
  RawConnection fourth(server->port());
  auto e = refusal(fourth);
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->code, wire::ErrorCode::server_busy);
  EXPECT_THAT(e->reason, HasSubstr("too many connections in the handshake"));
  const Run r = send(server->address(), "x");
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("server busy"));
  stalled.clear();
  std::this_thread::sleep_for(300ms);
  expect_served(*server);
}

TEST_F(ServerLimitsTest, OneSourceCannotTakeEveryHandshakeSlot) {
  auto server = start_server({"--max-startups-per-source", "2"});
  RawConnection a(server->port(), "127.0.0.1"), b(server->port(), "127.0.0.1");
  std::this_thread::sleep_for(300ms);
  RawConnection third(server->port(), "127.0.0.1");
  auto e = refusal(third);
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->code, wire::ErrorCode::server_busy);
  EXPECT_THAT(e->reason, HasSubstr("from your address"));
  // Another address is another source: admitted (nothing is sent to it).
  RawConnection other(server->port(), "127.0.0.2");
  EXPECT_FALSE(other.closed_by_peer(500ms));
}

TEST_F(ServerLimitsTest, ConnectionsInTheHandshakeCountInTheMemoryBudget) {
  // 1 MiB holds 16 handshake reserves of 64 KiB.
  auto server = start_server({"--max-buffered", "1", "--max-startups-per-source", "0"});
  std::vector<std::unique_ptr<RawConnection>> stalled;
  for (int i = 0; i < 16; ++i) stalled.push_back(std::make_unique<RawConnection>(server->port()));
  std::this_thread::sleep_for(300ms);
  RawConnection seventeenth(server->port());
  auto e = refusal(seventeenth);
  ASSERT_TRUE(e) << e.error().message();
  EXPECT_EQ(e->code, wire::ErrorCode::server_busy);
  EXPECT_THAT(e->reason, HasSubstr("out of memory"));
  stalled.clear();
  std::this_thread::sleep_for(300ms);
  expect_served(*server);
}

TEST_F(ServerLimitsTest, RunningOutOfDescriptorsIsLoggedOnceAndServingResumes) {
#if defined(__SANITIZE_ADDRESS__)
  // UBSan's vptr check probes memory through a pipe; in a process with no
  // descriptor left it cannot, and reports every virtual call it has not
  // seen before as an invalid object. The release build runs this test.
  GTEST_SKIP() << "needs a server built without the sanitizers";
#endif
  // 40 descriptors: the server's own take about 12, stalled connections the rest.
  auto server = start_server({"--max-startups-per-source", "0"},
                             {"/usr/bin/prlimit", "--nofile=40:40", "--"});
  std::vector<std::unique_ptr<RawConnection>> stalled;
  for (int i = 0; i < 40; ++i) stalled.push_back(std::make_unique<RawConnection>(server->port()));
  std::this_thread::sleep_for(3s);
  const std::string log = server->process().err();
  EXPECT_THAT(log, HasSubstr("accept failed: Too many open files"));
  EXPECT_THAT(log, HasSubstr("ulimit -n"));
  EXPECT_EQ(count(log, "accept failed"), 1u) << log;
  stalled.clear();
  expect_served(*server);
}

// --- Finding 8: a full server says so -----------------------------------------------------

TEST_F(ServerLimitsTest, AFullServerAnswersServerBusyInSharedKeyMode) {
  auto server = start_server({"--max-connections", "2"});
  HandshakenConnection a(server->port(), kKey), b(server->port(), kKey);
  const Run r = send(server->address(), "x");
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("server busy"));
  EXPECT_THAT(r.err, HasSubstr("the server is full (2 connections)"));
}

// --- Finding 9: logging under attack ---------------------------------------------------------

TEST_F(ServerLimitsTest, RefusalsAreLoggedAFewPerSecondAndSummarised) {
  auto server = start_server({"--max-connections", "1"});
  HandshakenConnection holder(server->port(), kKey);
  for (int i = 0; i < 200; ++i) {
    RawConnection c(server->port());
    (void)c.closed_by_peer(1s);
  }
  std::this_thread::sleep_for(1500ms);  // the summary of the last second
  const std::string log = server->process().err();
  EXPECT_LE(count(log, "the server is full"), 20u) << log;
  EXPECT_THAT(log, HasSubstr("more refused connections not logged"));
}

}  // namespace
}  // namespace signet::testing
