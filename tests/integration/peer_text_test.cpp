// Text chosen by the peer (reply text, error reasons) on the user's terminal
// and in the server's log: escaped wherever a person reads it, raw only where
// a program asked for the bytes.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <stdexcept>

#include "harness.hpp"

namespace signet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kKey = "integration-test shared key, 40 bytes ok";

// Window title, clear screen, then U+202E (RIGHT-TO-LEFT OVERRIDE).
const std::string kHostileReply =
    "\x1b]0;title\x07\x1b[2J\xe2\x80\xae"
    "evil";
const std::string kHostileReplyShown =
    "\\x1b]0;title\\x07\\x1b[2J\\xe2\\x80\\xae"
    "evil";
// The same bytes as printf(1) octal escapes, for --exec.
constexpr const char* kHostileExec = "printf '\\033]0;title\\007\\033[2J\\342\\200\\256evil'";

// Bytes that must never reach a terminal or a log from a peer: ESC, 8-bit
// CSI alone and as UTF-8 (U+009B), and the bidirectional overrides.
void expect_nothing_raw(const std::string& text) {
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_EQ(text.find('\x9b'), std::string::npos) << text;
  EXPECT_EQ(text.find("\xe2\x80\xae"), std::string::npos) << text;
  EXPECT_EQ(text.find("\xe2\x81\xa6"), std::string::npos) << text;
}

// A hand-made Error record (docs/PROTOCOL.md, "Error record"): header
// "SGNT" 01 0f with the body length, code protocol_violation, the reason.
std::string error_record(const std::string& reason) {
  const std::size_t body = 1 + reason.size();
  std::string r = "SGNT\x01\x0f";
  r.push_back(static_cast<char>(body >> 8));
  r.push_back(static_cast<char>(body & 0xff));
  r.push_back('\x01');
  return r + reason;
}

// Reasons a hostile peer may try. All but the last break the reason's rules.
const std::vector<std::string> kHostileReasons = {
    "c1 \xc2\x9b"
    "2J as UTF-8",
    "raw \x9b"
    "2J byte",
    "bidi \xe2\x80\xae"
    "txt.exe",
    "isolate \xe2\x81\xa6"
    "x",
    "esc \x1b[2J",
    "bad utf-8 \xc0\xaf \xed\xa0\x80",
};

// A server that answers every connection with one hand-made record and closes.
class FakeServer {
 public:
  explicit FakeServer(std::string answer) : answer_(std::move(answer)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) != 0 || ::listen(fd_, 4) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      throw std::runtime_error("fake server cannot listen");
    }
    port_ = ntohs(a.sin_port);
    thread_ = std::thread([this] { serve(); });
  }
  ~FakeServer() {
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (c < 0) continue;
      // Wait for the ClientHello, so the answer comes where a ServerHello would.
      pollfd in{c, POLLIN, 0};
      char buf[512];
      if (::poll(&in, 1, 2000) > 0) (void)::read(c, buf, sizeof buf);
      (void)::send(c, answer_.data(), answer_.size(), MSG_NOSIGNAL);
      ::close(c);
    }
  }

  std::string answer_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

class PeerTextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  std::map<std::string, std::optional<std::string>> env() {
    return {{"SHARED_SECRET_KEY", std::string(kKey)}, {"XDG_CONFIG_HOME", dir_ + "/config"}};
  }
  std::unique_ptr<ServerProcess> start_hostile_server() {
    return std::make_unique<ServerProcess>(dir_, std::vector<std::string>{"--exec", kHostileExec},
                                           env());
  }

  std::string dir_;
};

TEST_F(PeerTextTest, SendEscapesTheReplyOnATerminal) {
  auto server = start_hostile_server();
  const auto run = run_on_tty(dir_, "send", {"send", server->address(), "hi"}, env());
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.tty, kHostileReplyShown + "\n");
  expect_nothing_raw(run.tty);
}

TEST_F(PeerTextTest, SendKeepsLineBreaksOfAnEscapedReply) {
  auto server = std::make_unique<ServerProcess>(
      dir_, std::vector<std::string>{"--exec", "printf 'one\\ntwo\\r\\n'"}, env());
  const auto run = run_on_tty(dir_, "send", {"send", server->address(), "hi"}, env());
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.tty, "one\ntwo\\r\n\n");
}

TEST_F(PeerTextTest, SendWritesTheRawReplyWhenStdoutIsNotATerminal) {
  auto server = start_hostile_server();
  Process send(dir_, "send", {"send", server->address(), "hi"}, env());
  EXPECT_EQ(send.wait(), 0) << send.err();
  EXPECT_EQ(send.out(), kHostileReply + "\n");
}

TEST_F(PeerTextTest, SendWithRawWritesTheBytesToATerminal) {
  auto server = start_hostile_server();
  const auto run = run_on_tty(dir_, "send", {"send", "--raw", server->address(), "hi"}, env());
  EXPECT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.tty, kHostileReply + "\n");
}

TEST_F(PeerTextTest, HostileErrorRecordsStayOutOfTheServerLog) {
  auto server = std::make_unique<ServerProcess>(dir_, std::vector<std::string>{}, env());
  for (const auto& reason : kHostileReasons) {
    RawConnection peer(server->port());
    peer.send(error_record(reason));
    EXPECT_TRUE(peer.closed_by_peer(3s)) << reason;
  }
  // A reason within the rules is shown, its backslash and tab escaped.
  {
    RawConnection peer(server->port());
    peer.send(error_record("tab\there, back\\slash"));
    EXPECT_TRUE(peer.closed_by_peer(3s));
  }
  std::this_thread::sleep_for(200ms);
  const std::string log = server->process().err();
  EXPECT_THAT(log, HasSubstr("error reason is not UTF-8 text"));
  EXPECT_THAT(log, HasSubstr("peer says: tab\\there, back\\\\slash"));
  expect_nothing_raw(log);
  EXPECT_TRUE(server->process().running());
}

TEST_F(PeerTextTest, HostileErrorRecordFromAServerIsNotPrintedRaw) {
  for (const auto& reason : kHostileReasons) {
    FakeServer fake(error_record(reason));
    Process send(dir_, "send", {"send", fake.address(), "hi"}, env());
    EXPECT_EQ(send.wait(), 5) << reason;
    EXPECT_THAT(send.err(), HasSubstr("error reason is not UTF-8 text")) << reason;
    expect_nothing_raw(send.err());
    expect_nothing_raw(send.out());
  }
  FakeServer fake(error_record("tab\there"));
  const auto run = run_on_tty(dir_, "tty", {"send", fake.address(), "hi"}, env());
  EXPECT_EQ(run.status, 5);
  EXPECT_THAT(run.err, HasSubstr("peer says: tab\\there"));
}

}  // namespace
}  // namespace signet::testing
