// Shared-key mode end to end: the real `signet` processes on loopback.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>

#include "channel/psk_channel.hpp"
#include "harness.hpp"
#include "wire/wire.hpp"

namespace signet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kKey = "integration-test shared key, 40 bytes ok";
constexpr const char* kOtherKey = "a different key that is long enough too";

// Byte offsets in the client's stream (docs/PROTOCOL.md): ClientHello with the
// default offer of three algorithms and the protocol 2 capability is
// 8+1+32+1+4 = 46 bytes, ClientFinish
// (HMAC-SHA256 proof) is 8+32 = 40.
constexpr std::size_t kFirstFrameOffset = 46 + 40;
// In the server's stream: ServerHello (protocol 2 chosen) is 8+1+32+1+32 = 74 bytes.
constexpr std::size_t kFirstReplyOffset = 74;

class SharedKeyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }

  // Every process gets a config directory of its own test: nothing is read
  // from or written to the real user's ~/.config.
  std::map<std::string, std::optional<std::string>> env(const char* key = kKey) {
    return {{"SHARED_SECRET_KEY", std::string(key)}, {"XDG_CONFIG_HOME", dir_ + "/config"}};
  }
  std::map<std::string, std::optional<std::string>> env_without_key() {
    return {{"SHARED_SECRET_KEY", std::nullopt}, {"XDG_CONFIG_HOME", dir_ + "/config"}};
  }

  std::unique_ptr<ServerProcess> start_server(std::vector<std::string> extra = {}) {
    return std::make_unique<ServerProcess>(dir_, std::move(extra), env());
  }

  // Runs `signet send` and returns its exit status.
  int send(const std::string& address, const std::string& message, const char* key = kKey,
           std::vector<std::string> extra = {}, std::string* out = nullptr,
           std::string* err = nullptr) {
    std::vector<std::string> args = {"send", address, message};
    args.insert(args.end(), extra.begin(), extra.end());
    Process p(dir_, "send" + std::to_string(sends_++), args, env(key));
    const int status = p.wait();
    if (out) *out = p.out();
    if (err) *err = p.err();
    return status;
  }

  // The server still serves a well-behaved client.
  void expect_server_still_works(ServerProcess& server) {
    std::string out;
    EXPECT_EQ(send(server.address(), "still alive", kKey, {}, &out), 0);
    EXPECT_THAT(out, HasSubstr("verified 11 bytes"));
    EXPECT_TRUE(server.process().running());
  }

  std::string dir_;
  int sends_ = 0;
};

TEST_F(SharedKeyTest, VerifiedMessageArrivesAndIsConfirmed) {
  auto server = start_server();
  EXPECT_THAT(server->process().out(),
              HasSubstr("shared-key mode (aes-256-gcm, chacha20-poly1305, hmac-sha256; encrypted "
                        "unless the client offers only hmac-sha256)"));
  std::string out, err;
  ASSERT_EQ(send(server->address(), "deploy done", kKey, {}, &out, &err), 0) << err;
  EXPECT_EQ(out, "verified 11 bytes\n");
  EXPECT_THAT(err, HasSubstr("connected (shared-key aes-256-gcm, encrypted)"));
  ASSERT_TRUE(server->process().wait_for_output("deploy done"));
  const auto lines = server->verified_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr("127.0.0.1:"));
  EXPECT_THAT(lines[0], HasSubstr("11 bytes verified (shared-key aes-256-gcm, encrypted)"));
  EXPECT_THAT(server->process().err(), Not(HasSubstr(kKey)));
}

// Version 2 when both sides offer it (the capability in the ClientHello,
// the choice in the ServerHello); a side that speaks only version 1
// (--protocol 1, as the first release) is served as before. The interactive
// client sends several messages on one connection in each version.
TEST_F(SharedKeyTest, ProtocolVersionIsNegotiatedAndVersion1PeersAreServed) {
  auto server = start_server();
  std::string out, err;
  ASSERT_EQ(send(server->address(), "two", kKey, {}, &out, &err), 0) << err;
  EXPECT_THAT(err, HasSubstr("encrypted), protocol 2"));
  ASSERT_TRUE(server->process().wait_for_output("two"));
  EXPECT_THAT(server->process().err(), HasSubstr("encrypted, protocol 2)"));
  ASSERT_EQ(send(server->address(), "one", kKey, {"--protocol", "1"}, &out, &err), 0) << err;
  EXPECT_EQ(out, "verified 3 bytes\n");
  EXPECT_THAT(err, HasSubstr("encrypted), protocol 1"));
  ASSERT_TRUE(server->process().wait_for_output("one"));
  EXPECT_THAT(server->process().err(), HasSubstr("encrypted, protocol 1)"));

  auto old_server = start_server({"--protocol", "1"});
  for (const char* version : {"1", "2"}) {
    Process client(dir_, std::string("client-v") + version,
                   {"client", old_server->address(), "--protocol", version}, env(), true);
    client.write_stdin("first line\nsecond\n");
    ASSERT_TRUE(client.wait_for_output("verified 6 bytes")) << client.err();
    client.close_stdin();
    EXPECT_EQ(client.wait(), 0) << client.err();
    EXPECT_THAT(client.out(), HasSubstr("server: verified 10 bytes"));
    EXPECT_THAT(client.err(), HasSubstr("), protocol 1"));
  }
  EXPECT_EQ(old_server->verified_lines().size(), 4u);
  EXPECT_THAT(old_server->process().err(), Not(HasSubstr("protocol 2")));
  expect_server_still_works(*old_server);
}

TEST_F(SharedKeyTest, ControlCharactersAreEscapedInTheServerLine) {
  auto server = start_server();
  ASSERT_EQ(send(server->address(), "line1\nline2\x1b[31m", kKey), 0);
  ASSERT_TRUE(server->process().wait_for_output("line2"));
  EXPECT_THAT(server->process().out(), HasSubstr("line1\\nline2\\x1b[31m"));
}

TEST_F(SharedKeyTest, EachAlgorithmWorks) {
  auto server = start_server(
      {"--algorithms", "chacha20-poly1305,aes-256-gcm,blake2b-256,hmac-sha512,hmac-sha256"});
  for (const char* alg :
       {"aes-256-gcm", "chacha20-poly1305", "hmac-sha256", "hmac-sha512", "blake2b-256"}) {
    std::string out, err;
    EXPECT_EQ(send(server->address(), "hi", kKey, {"--algorithms", alg}, &out, &err), 0) << alg;
    EXPECT_EQ(out, "verified 2 bytes\n");
    const bool aead = std::string(alg).find("hmac") == std::string::npos &&
                      std::string(alg).find("blake") == std::string::npos;
    EXPECT_THAT(err, HasSubstr(std::string("connected (shared-key ") + alg +
                               (aead ? ", encrypted)" : ", not encrypted)")));
  }
  ASSERT_TRUE(server->process().wait_for_output("(shared-key blake2b-256, not encrypted)"));
  EXPECT_THAT(server->process().out(), HasSubstr("(shared-key chacha20-poly1305, encrypted)"));
  // --mac is the old name of --algorithms.
  std::string out;
  EXPECT_EQ(send(server->address(), "hi", kKey, {"--mac", "hmac-sha512"}, &out), 0);
}

TEST_F(SharedKeyTest, EncryptedSessionRecordingHoldsNeitherMessageNorReply) {
  auto server = start_server();
  Proxy recorder(server->port(), {});
  std::string out, err;
  ASSERT_EQ(send(recorder.address(), "the launch code is 0000", kKey, {}, &out, &err), 0) << err;
  EXPECT_EQ(out, "verified 23 bytes\n");
  const std::string up = recorder.recorded_client_bytes(), down = recorder.recorded_server_bytes();
  EXPECT_FALSE(up.empty());
  EXPECT_EQ(up.find("launch code"), std::string::npos);
  EXPECT_EQ(down.find("verified"), std::string::npos);
  // With a MAC suite the same exchange is readable on the wire.
  Proxy clear(server->port(), {});
  ASSERT_EQ(send(clear.address(), "the launch code is 0000", kKey, {"--mac", "hmac-sha256"}), 0);
  EXPECT_NE(clear.recorded_client_bytes().find("launch code"), std::string::npos);
  EXPECT_NE(clear.recorded_server_bytes().find("verified 23 bytes"), std::string::npos);
}

TEST_F(SharedKeyTest, PeersThatKnowOnlyMacsAreServedInClearAndSaySo) {
  // A client or server from before the AEADs offers or allows hmac-sha256
  // only: exactly what --algorithms hmac-sha256 sends and accepts.
  auto old_server = start_server({"--algorithms", "hmac-sha256"});
  EXPECT_THAT(old_server->process().out(), HasSubstr("(hmac-sha256; not encrypted)"));
  std::string out, err;
  ASSERT_EQ(send(old_server->address(), "to an old server", kKey, {}, &out, &err), 0) << err;
  EXPECT_THAT(err, HasSubstr("encrypted unless the server allows only hmac-sha256"));
  EXPECT_THAT(err, HasSubstr("connected (shared-key hmac-sha256, not encrypted)"));

  auto new_server = start_server();
  ASSERT_EQ(send(new_server->address(), "from an old client", kKey, {"--mac", "hmac-sha256"}), 0);
  ASSERT_TRUE(new_server->process().wait_for_output("from an old client"));
  EXPECT_THAT(new_server->verified_lines().at(0),
              HasSubstr("(shared-key hmac-sha256, not encrypted)"));
}

TEST_F(SharedKeyTest, AServerThatRequiresEncryptionRefusesMacOnlyClients) {
  auto server = start_server({"--algorithms", "aes-256-gcm,chacha20-poly1305"});
  std::string err;
  EXPECT_EQ(send(server->address(), "in clear?", kKey, {"--mac", "hmac-sha256"}, nullptr, &err), 5);
  EXPECT_THAT(err, HasSubstr("none of the client's algorithms is enabled"));
  EXPECT_TRUE(server->verified_lines().empty());
  expect_server_still_works(*server);
}

TEST_F(SharedKeyTest, ASmallReceiveLimitDoesNotCutRepliesAndRefusesLargerMessagesClearly) {
  // --max-message is what the server accepts; its replies and ERROR frames
  // may still be as large as a default peer accepts.
  auto server = start_server({"--max-message", "10"});
  std::string out, err;
  ASSERT_EQ(send(server->address(), "hi", kKey, {}, &out, &err), 0) << err;
  EXPECT_EQ(out, "verified 2 bytes\n");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(send(server->address(), "deploy done", kKey, {}, &out, &err), 5);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);  // not held until a timeout
  EXPECT_THAT(err, HasSubstr("length above limit: peer says: frame of 17 bytes: 11 after its "
                             "6-byte operation header, limit 10"));
  std::this_thread::sleep_for(200ms);
  EXPECT_THAT(server->process().err(), Not(HasSubstr("connection task failed")));
  EXPECT_EQ(send(server->address(), "ok", kKey, {}, &out), 0);
  EXPECT_EQ(out, "verified 2 bytes\n");
}

TEST_F(SharedKeyTest, WrongKeyIsRefusedOnBothSidesAndNothingIsDelivered) {
  auto server = start_server();
  std::string err;
  EXPECT_EQ(send(server->address(), "should not arrive", kOtherKey, {}, nullptr, &err), 4);
  EXPECT_THAT(err, HasSubstr("shared key mismatch"));
  std::this_thread::sleep_for(200ms);
  EXPECT_THAT(server->process().err(), HasSubstr("shared key mismatch"));
  EXPECT_TRUE(server->verified_lines().empty());
  EXPECT_THAT(server->process().out(), Not(HasSubstr("should not arrive")));
  expect_server_still_works(*server);
}

TEST_F(SharedKeyTest, FlippedByteInAMessageIsRejectedAndNothingIsDelivered) {
  auto server = start_server();
  // Flip a byte of the message payload (frame header is 5 bytes).
  Proxy proxy(server->port(), {.flip_client_to_server = kFirstFrameOffset + 5 + 2});
  std::string err;
  EXPECT_EQ(send(proxy.address(), "tamper with me", kKey, {}, nullptr, &err), 4);
  EXPECT_THAT(err, HasSubstr("authentication tag mismatch"));
  std::this_thread::sleep_for(200ms);
  EXPECT_THAT(server->process().err(), HasSubstr("authentication tag mismatch"));
  EXPECT_TRUE(server->verified_lines().empty());
  expect_server_still_works(*server);
}

TEST_F(SharedKeyTest, FlippedByteInTheConfirmationIsDetectedByTheClient) {
  auto server = start_server();
  Proxy proxy(server->port(), {.flip_server_to_client = kFirstReplyOffset + 5 + 3});
  std::string out, err;
  EXPECT_EQ(send(proxy.address(), "confirm me", kKey, {}, &out, &err), 4);
  EXPECT_THAT(err, HasSubstr("authentication tag mismatch"));
  EXPECT_EQ(out, "");
}

TEST_F(SharedKeyTest, FlippedByteInTheHandshakeIsRejected) {
  auto server = start_server();
  Proxy proxy(server->port(), {.flip_client_to_server = 20});  // inside the client nonce
  EXPECT_EQ(send(proxy.address(), "x", kKey), 4);
  EXPECT_TRUE(server->verified_lines().empty());
}

TEST_F(SharedKeyTest, RecordedSessionReplayedOnANewConnectionIsRejected) {
  auto server = start_server();
  std::string recorded;
  {
    Proxy proxy(server->port(), {});
    ASSERT_EQ(send(proxy.address(), "pay alice 10", kKey), 0);
    recorded = proxy.recorded_client_bytes();
  }
  ASSERT_GT(recorded.size(), kFirstFrameOffset);
  ASSERT_TRUE(server->process().wait_for_output("pay alice 10"));

  RawConnection replay(server->port());
  replay.send(recorded);
  const std::string answer = replay.read_all(3s);
  // A fresh ServerHello (new nonce, so the recorded proof cannot match), then
  // an error record (magic, version 1, type 0x0F) with code key_mismatch.
  ASSERT_GE(answer.size(), kFirstReplyOffset + wire::kRecordHeaderSize + 1) << "no error record";
  EXPECT_EQ(static_cast<std::uint8_t>(answer[5]), 0x02);
  const std::string error = answer.substr(kFirstReplyOffset);
  EXPECT_EQ(error.substr(0, 4), "SGNT");
  EXPECT_EQ(static_cast<std::uint8_t>(error[5]), 0x0F);
  EXPECT_EQ(static_cast<std::uint8_t>(error[8]),
            static_cast<std::uint8_t>(wire::ErrorCode::key_mismatch));
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(server->verified_lines().size(), 1u) << "the replay must not deliver again";
  expect_server_still_works(*server);
}

TEST_F(SharedKeyTest, OversizeMessageIsRefusedBeforeItIsRead) {
  auto server = start_server({"--max-message", "1024"});
  std::string err;
  const std::string big(4096, 'B');
  EXPECT_EQ(send(server->address(), big, kKey, {"--max-message", "1048576"}, nullptr, &err), 5);
  EXPECT_THAT(err, HasSubstr("length above limit"));
  std::this_thread::sleep_for(200ms);
  EXPECT_THAT(server->process().err(),
              HasSubstr("frame of 4102 bytes: 4096 after its 6-byte operation header, limit 1024"));
  EXPECT_TRUE(server->verified_lines().empty());
  expect_server_still_works(*server);
}

TEST_F(SharedKeyTest, GarbageUnknownVersionAndTlsAreRefusedClearly) {
  auto server = start_server();
  {
    RawConnection garbage(server->port());
    garbage.send(std::string("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    EXPECT_TRUE(garbage.closed_by_peer(3s));
  }
  {
    RawConnection future(server->port());
    future.send(std::string("SGNT\x02\x01\x00\x00", 8));
    const std::string answer = future.read_all(3s);
    ASSERT_GE(answer.size(), 9u);
    EXPECT_EQ(static_cast<std::uint8_t>(answer[8]),
              static_cast<std::uint8_t>(wire::ErrorCode::unsupported_version));
    EXPECT_THAT(answer, HasSubstr("version 2"));
  }
  {
    RawConnection tls(server->port());
    tls.send(std::string("\x16\x03\x01\x00\x10", 5));
    EXPECT_TRUE(tls.closed_by_peer(3s));
  }
  std::this_thread::sleep_for(200ms);
  const auto log = server->process().err();
  EXPECT_THAT(log, HasSubstr("does not speak the signet protocol"));
  EXPECT_THAT(log, HasSubstr("unsupported protocol version"));
  EXPECT_THAT(log, HasSubstr("speaks TLS"));
  expect_server_still_works(*server);
}

TEST_F(SharedKeyTest, StalledClientTimesOutWithoutBlockingOthers) {
  auto server = start_server({"--handshake-timeout", "1"});
  RawConnection stalled(server->port());
  stalled.send("SGNT");  // half a header, then nothing
  expect_server_still_works(*server);
  EXPECT_TRUE(stalled.closed_by_peer(5s));
  EXPECT_THAT(server->process().err(), HasSubstr("handshake timed out"));
}

TEST_F(SharedKeyTest, TricklingAMessageDoesNotHoldTheServerPastTheFrameTimeout) {
  auto server = start_server({"--frame-timeout", "1", "--idle-timeout", "60"});
  HandshakenConnection slow(server->port(), kKey);
  slow.start_frame(1000, 10);
  const auto start = std::chrono::steady_clock::now();
  bool closed = false;
  // One byte every 200 ms would keep an idle timer alive forever.
  for (int i = 0; i < 25 && !closed; ++i) {
    try {
      slow.raw.send("p");
    } catch (const std::exception&) {
      closed = true;
      break;
    }
    closed = slow.raw.closed_by_peer(200ms);
  }
  EXPECT_TRUE(closed);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 3s);
  EXPECT_THAT(server->process().err(), HasSubstr("a message did not arrive in time"));
  expect_server_still_works(*server);
}

TEST_F(SharedKeyTest, BufferedInputIsBoundedAcrossConnections) {
  auto server = start_server({"--max-buffered", "1"});  // 1 MiB for everyone together
  HandshakenConnection first(server->port(), kKey);
  first.start_frame(900000, 700000);
  std::this_thread::sleep_for(300ms);
  HandshakenConnection second(server->port(), kKey);
  second.start_frame(900000, 500000);
  // The second connection is refused with an authenticated "server busy" frame.
  const std::string answer = second.raw.read_all(2s);
  util::Bytes out;
  ASSERT_TRUE(second.channel.receive(util::as_bytes(answer), out));
  auto frame = second.channel.next_frame(out);
  ASSERT_FALSE(frame.ok());
  EXPECT_TRUE(frame.error().is(Errc::busy)) << frame.error().message();
  EXPECT_THAT(server->process().err(), HasSubstr("memory limit of 1048576 bytes reached"));
  expect_server_still_works(*server);
}

TEST_F(SharedKeyTest, EmptyKeyIsAConfigurationErrorAndNoKeyMeansKeyMode) {
  // Without a shared key signet runs key mode, creating an identity on first use.
  Process none(dir_, "nokey", {"send", "127.0.0.1:9", "x"}, env_without_key());
  EXPECT_EQ(none.wait(), 3);  // port 9: nothing listens
  EXPECT_THAT(none.err(), HasSubstr("created a new identity"));
  EXPECT_THAT(none.err(), HasSubstr("key mode"));
  // A shared key file that is empty is an error, not a fallback to key mode.
  const std::string empty_file = dir_ + "/empty-psk";
  std::ofstream(empty_file).close();
  ::chmod(empty_file.c_str(), 0600);
  Process empty_psk(dir_, "emptypsk", {"send", "127.0.0.1:9", "x", "--psk-file", empty_file},
                    env_without_key());
  EXPECT_EQ(empty_psk.wait(), 2);
  EXPECT_THAT(empty_psk.err(), HasSubstr("is empty"));
  Process empty(dir_, "empty", {"server", "--listen", "127.0.0.1:0"}, env(""));
  EXPECT_EQ(empty.wait(), 2);
  EXPECT_THAT(empty.err(), HasSubstr("empty"));
  Process weak(dir_, "weak", {"send", "127.0.0.1:1", "x"}, env("short"));
  EXPECT_EQ(weak.wait(), 3);  // port 1: nothing listens
  EXPECT_THAT(weak.err(), HasSubstr("only 5 bytes"));
}

TEST_F(SharedKeyTest, InteractiveClientConfirmsEachLineAndReconnects) {
  auto server = start_server();
  const auto port = server->port();
  Process client(dir_, "client", {"client", server->address()}, env(), true);
  client.write_stdin("first line\n");
  ASSERT_TRUE(client.wait_for_output("verified 10 bytes")) << client.err();

  // Restart the server on the same port; the client must reconnect and resend.
  server->process().terminate();
  auto again = std::make_unique<Process>(
      dir_, "server2",
      std::vector<std::string>{"server", "--listen", "127.0.0.1:" + std::to_string(port)}, env());
  ASSERT_TRUE(again->wait_for_output("listening on")) << again->err();
  client.write_stdin("second line\n");
  ASSERT_TRUE(client.wait_for_output("verified 11 bytes")) << client.err();
  EXPECT_THAT(client.err(), HasSubstr("reconnect"));
  client.close_stdin();
  EXPECT_EQ(client.wait(), 0);
  EXPECT_THAT(client.err(), HasSubstr("shared-key mode"));
  ASSERT_TRUE(again->wait_for_output("second line"));
}

TEST_F(SharedKeyTest, SendReadsTheMessageFromStdinWithDash) {
  auto server = start_server();
  Process p(dir_, "stdin", {"send", server->address(), "-"}, env(), true);
  p.write_stdin("from stdin");
  p.close_stdin();
  EXPECT_EQ(p.wait(), 0);
  EXPECT_EQ(p.out(), "verified 10 bytes\n");
}

TEST_F(SharedKeyTest, PskFileWorksAndTheKeyIsNotInArgv) {
  const std::string key_file = dir_ + "/psk";
  { std::ofstream(key_file) << kKey << "\n"; }
  ::chmod(key_file.c_str(), 0600);
  Process server(dir_, "server", {"server", "--listen", "127.0.0.1:0", "--psk-file", key_file},
                 env_without_key());
  ASSERT_TRUE(server.wait_for_output("listening on 127.0.0.1:"));
  const auto out = server.out();
  const auto port = out.substr(out.find("listening on 127.0.0.1:") + 23);
  // The client takes the key from the environment: same key, no trailing newline.
  EXPECT_EQ(send("127.0.0.1:" + std::to_string(std::stoi(port)), "via file", kKey), 0);
}

TEST_F(SharedKeyTest, SigtermStopsTheServerCleanly) {
  auto server = start_server();
  server->process().terminate();
  EXPECT_EQ(server->process().wait(), 0);
  EXPECT_THAT(server->process().err(), HasSubstr("shutting down"));
}

}  // namespace
}  // namespace signet::testing
