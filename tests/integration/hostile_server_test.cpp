// The client against a hostile or broken server: hand-written servers
// (FakeServer) that stay silent, or complete the handshake and then drip a
// reply, must not keep `signet send` past its --timeout.
#include <functional>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include "channel/psk_channel.hpp"
#include "harness.hpp"
#include "wire/wire.hpp"

namespace signet::testing {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

constexpr const char* kKey = "integration-test shared key, 40 bytes ok";

struct SendRun {
  int status = 0;
  std::chrono::milliseconds took{};
  std::string err;
};

class HostileServerTest : public ::testing::Test {
 protected:
  using Run = SendRun;
  void SetUp() override {
    dir_ = make_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  std::map<std::string, std::optional<std::string>> env() {
    return {{"SHARED_SECRET_KEY", std::string(kKey)}, {"XDG_CONFIG_HOME", dir_ + "/config"}};
  }

  // `signet send` with --timeout; the harness kills it after `limit`.
  Run send(const std::string& address, const std::string& timeout,
           std::chrono::milliseconds limit) {
    const auto start = Clock::now();
    Process p(dir_, "send" + std::to_string(sends_++),
              {"send", address, "hello", "--timeout", timeout}, env());
    Run r;
    r.status = p.wait(limit);
    r.took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    r.err = p.err();
    return r;
  }

  std::string dir_;
  int sends_ = 0;
};

// Plays the server side of the shared-key handshake with the real channel,
// then returns the channel once the client's first message has arrived.
// max_protocol 1 plays a server of the first release.
std::unique_ptr<channel::PskServerChannel> accept_handshake(int fd, const std::atomic<bool>& stop,
                                                            int max_protocol = 2) {
  auto key = std::make_shared<const crypto::SecretBytes>(util::as_bytes(std::string_view(kKey)));
  channel::PskSettings settings{key};
  settings.max_protocol = max_protocol;
  auto ch = std::make_unique<channel::PskServerChannel>(settings);
  util::Bytes out;
  while (!stop) {
    const std::string in = FakeServer::read_some(fd, 65536, stop, 200ms);
    if (in.empty()) continue;
    if (!ch->receive(util::as_bytes(in), out)) return nullptr;
    if (!out.empty()) {
      FakeServer::write_all(fd, std::string(out.begin(), out.end()));
      out.clear();
    }
    if (!ch->established()) continue;
    auto f = ch->next_frame(out);
    if (!f) return nullptr;
    if (f->has_value()) return ch;
  }
  return nullptr;
}

TEST_F(HostileServerTest, SendGivesUpOnASilentServer) {
  // Accepts the connection and never says a word.
  FakeServer silent([](int, const std::atomic<bool>& stop) { FakeServer::idle(stop); });
  const Run r = send(silent.address(), "2", 30s);
  EXPECT_NE(r.status, -1) << "still waiting after 30 s";
  EXPECT_NE(r.status, 0);
  // The bound that matters: far below the 120 s the server would stay silent.
  EXPECT_LT(r.took, 15s);
  EXPECT_THAT(r.err, HasSubstr("no answer from the server"));
}

TEST_F(HostileServerTest, SendGivesUpOnAReplyThatDrips) {
  // Completes the handshake, announces a 1 MiB reply and sends 100 bytes of
  // it every 50 ms: 2 KB/s, so the whole reply would take over 8 minutes.
  FakeServer dripping([](int fd, const std::atomic<bool>& stop) {
    if (!accept_handshake(fd, stop)) return;
    std::uint8_t header[wire::kFrameHeaderSize];
    wire::encode_frame_header(wire::FrameType::reply, wire::kDefaultMaxPayload, header);
    if (!FakeServer::write_all(fd, std::string(header, header + sizeof header))) return;
    while (!stop && FakeServer::write_all(fd, std::string(100, 'x'))) {
      std::this_thread::sleep_for(50ms);
    }
  });
  const Run r = send(dripping.address(), "3", 60s);
  EXPECT_NE(r.status, -1) << "still reading the reply after 60 s";
  EXPECT_NE(r.status, 0);
  EXPECT_LT(r.took, 20s);
  EXPECT_THAT(r.err, HasSubstr("no answer from the server while waiting for a reply"));
  EXPECT_EQ(dripping.accepted(), 1);
}

// After the handshake every failure is reported to the peer with an ERROR
// frame (docs/PROTOCOL.md); a REPLY cut short is one. `payload` is the
// REPLY's whole payload; the server speaks protocol `version`.
void expect_short_reply_reported(int version, wire::FrameType type, const util::Bytes& payload,
                                 const std::string& expected,
                                 const std::function<SendRun(const std::string&)>& send) {
  std::atomic<bool> told{false};
  std::string told_what;
  FakeServer short_reply([&](int fd, const std::atomic<bool>& stop) {
    auto ch = accept_handshake(fd, stop, version);
    if (!ch) return;
    util::Bytes out;
    ch->send(type, {payload}, out);
    FakeServer::write_all(fd, std::string(out.begin(), out.end()));
    out.clear();
    const std::string answer = FakeServer::read_some(fd, 4096, stop, 5s);
    if (!ch->receive(util::as_bytes(answer), out)) return;
    auto f = ch->next_frame(out);
    if (!f) {
      told_what = f.error().message();
      told = true;
    }
  });
  const auto r = send(short_reply.address());
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr(expected));
  for (int i = 0; i < 100 && !told; ++i) std::this_thread::sleep_for(20ms);
  EXPECT_TRUE(told) << "no ERROR frame reached the server";
  EXPECT_THAT(told_what, HasSubstr(expected));
}

TEST_F(HostileServerTest, AReplyWithoutItsStatusByteIsAnsweredWithAnErrorFrame) {
  // Version 1: a REPLY frame with an empty payload.
  expect_short_reply_reported(1, wire::FrameType::reply, {}, "reply status",
                              [&](const std::string& a) { return send(a, "10", 20s); });
}

TEST_F(HostileServerTest, AVersion2ReplyCutShortIsAnsweredWithAnErrorFrame) {
  // Version 2: the operation id of the client's message (1), then nothing.
  expect_short_reply_reported(2, static_cast<wire::FrameType>(0x13), {0, 0, 0, 1}, "REPLY status",
                              [&](const std::string& a) { return send(a, "10", 20s); });
}

TEST_F(HostileServerTest, SendGivesUpOnAHandshakeThatDrips) {
  // Answers the ClientHello with a ServerHello header announcing the 65-byte
  // body (docs/PROTOCOL.md), then sends the body a byte every 500 ms.
  FakeServer slow([](int fd, const std::atomic<bool>& stop) {
    (void)FakeServer::read_some(fd, 1, stop);
    if (!FakeServer::write_all(fd, std::string("SGNT\x01\x02\x00\x41", 8))) return;
    while (!stop && FakeServer::write_all(fd, std::string(1, '\x01'))) {
      std::this_thread::sleep_for(500ms);
    }
  });
  const Run r = send(slow.address(), "2", 30s);
  EXPECT_NE(r.status, -1);
  EXPECT_NE(r.status, 0);
  EXPECT_LT(r.took, 15s);
}

}  // namespace
}  // namespace signet::testing
