// Shared-key handshake and frame codec: success for each MAC, MAC choice,
// wrong keys and replayed handshakes, and every way a frame can be altered,
// cut, replayed, dropped, reordered or reflected; seeded random garbage.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <random>
#include <stdexcept>
#include <string>

#include "channel/frame_codec.hpp"
#include "channel/psk_channel.hpp"
#include "channel/psk_handshake.hpp"
#include "crypto/mac.hpp"
#include "util/encoding.hpp"
#include "wire/wire.hpp"

namespace signet::channel {
namespace {

using crypto::Suite;
using MutableSpan = std::span<std::uint8_t>;
using util::Bytes;
using util::ByteSpan;

const std::vector<Suite> kAllSuites(std::begin(crypto::kAllSuites), std::end(crypto::kAllSuites));

crypto::SecretBytes key_of(std::string_view s) {
  return crypto::SecretBytes(util::as_bytes(s));
}

wire::Nonce counting_nonce(std::uint8_t first) {
  wire::Nonce n{};
  for (std::size_t i = 0; i < n.size(); ++i) n[i] = static_cast<std::uint8_t>(first + i);
  return n;
}

template <class T>
void expect_error(const Result<T>& r, Errc e, const std::string& what) {
  ASSERT_FALSE(r.ok()) << what << ": succeeded although it should fail";
  EXPECT_TRUE(r.error().is(e)) << what << ": got \"" << r.error().message() << "\"";
}

// Expects open() to refuse the input outright (not "need more", not a frame).
// Opens a copy of `in`: an AEAD frame is decrypted where it lies, and the
// callers' frames are often reused.
void expect_refused(FrameCodec& rx, ByteSpan in, Errc e, const std::string& what) {
  Bytes copy(in.begin(), in.end());
  auto f = rx.open(copy);
  ASSERT_FALSE(f.ok()) << what << ": accepted (" << (f->has_value() ? "a frame" : "need more")
                       << ")";
  EXPECT_TRUE(f.error().is(e)) << what << ": got \"" << f.error().message() << "\"";
}

// Opens one complete frame and returns its payload as a string.
std::string open_text(FrameCodec& rx, ByteSpan in, wire::FrameType want_type) {
  Bytes copy(in.begin(), in.end());
  auto f = rx.open(copy);
  if (!f) {
    ADD_FAILURE() << "open failed: " << f.error().message();
    return {};
  }
  if (!f->has_value()) {
    ADD_FAILURE() << "open wants more bytes";
    return {};
  }
  EXPECT_EQ((*f)->type, want_type);
  EXPECT_EQ((*f)->consumed, in.size());
  return std::string(util::as_chars((*f)->payload));
}

Bytes seal_text(FrameCodec& tx, wire::FrameType type, std::string_view text) {
  Bytes out;
  tx.seal(type, {util::as_bytes(text)}, out);
  return out;
}

// A completed handshake between a client and a server.
struct Session {
  crypto::SecretBytes client_psk;
  crypto::SecretBytes server_psk;
  PskClientHandshake client;
  PskServerHandshake server;
  Bytes client_hello, server_hello, client_finish;

  Session(std::string_view psk, std::vector<Suite> offer, std::vector<Suite> accept,
          std::optional<wire::Nonce> cn = std::nullopt,
          std::optional<wire::Nonce> sn = std::nullopt)
      : client_psk(key_of(psk)),
        server_psk(key_of(psk)),
        client(client_psk, std::move(offer), cn),
        server(server_psk, std::move(accept), sn) {}

  // Runs the three records; returns the first failure.
  Result<void> run() {
    client_hello = client.client_hello();
    auto sh = server.on_client_hello(client_hello);
    if (!sh) return sh.error();
    server_hello = *sh;
    auto fin = client.on_server_hello(server_hello);
    if (!fin) return fin.error();
    client_finish = *fin;
    return server.on_client_finish(client_finish);
  }
};

constexpr std::string_view kPsk = "correct horse battery staple 2026";
constexpr std::uint32_t kMax = 64 * 1024;

// --- Handshake ---------------------------------------------------------------------

TEST(PskHandshake, NegotiatesTheProtocolVersionAndAuthenticatesTheChoice) {
  const auto psk = key_of(kPsk);
  const std::vector<Suite> suites = {Suite::aes_256_gcm};
  const std::size_t t = crypto::mac_tag_size(crypto::proof_mac(Suite::aes_256_gcm));
  struct Case {
    int client_max, server_max, expected;
  };
  for (const auto c : {Case{2, 2, 2}, Case{2, 1, 1}, Case{1, 2, 1}, Case{1, 1, 1}}) {
    SCOPED_TRACE("client " + std::to_string(c.client_max) + ", server " +
                 std::to_string(c.server_max));
    PskClientHandshake client(psk, suites, std::nullopt, c.client_max);
    PskServerHandshake server(psk, suites, std::nullopt, c.server_max);
    // The capability is the last id of the offer, only when offered.
    const Bytes& hello = client.client_hello();
    EXPECT_EQ(hello.back() == wire::kProtocol2Capability, c.client_max == 2);
    auto sh = server.on_client_hello(hello);
    ASSERT_TRUE(sh.ok()) << sh.error().message();
    EXPECT_EQ(sh->size(), wire::kRecordHeaderSize + 33 + (c.expected == 2 ? 1 : 0) + t);
    auto fin = client.on_server_hello(*sh);
    ASSERT_TRUE(fin.ok()) << fin.error().message();
    ASSERT_TRUE(server.on_client_finish(*fin).ok());
    EXPECT_EQ(client.protocol(), c.expected);
    EXPECT_EQ(server.protocol(), c.expected);
  }

  // A man in the middle who strips the capability (to force version 1)
  // changes the transcript: the client's check of the server's proof fails.
  {
    PskClientHandshake client(psk, suites);
    PskServerHandshake server(psk, suites);
    auto hello = wire::decode_client_hello(client.client_hello());
    ASSERT_TRUE(hello.ok());
    hello->mac_ids.pop_back();
    auto sh = server.on_client_hello(wire::encode(*hello));
    ASSERT_TRUE(sh.ok());
    EXPECT_EQ(server.protocol(), 1);
    auto fin = client.on_server_hello(*sh);
    ASSERT_FALSE(fin.ok());
    EXPECT_TRUE(fin.error().is(Errc::key_mismatch)) << fin.error().message();
  }
  // Nor can one add the protocol byte to a version 1 server's answer, or
  // remove it from a version 2 server's.
  for (int server_max : {1, 2}) {
    PskClientHandshake client(psk, suites);
    PskServerHandshake server(psk, suites, std::nullopt, server_max);
    auto sh = server.on_client_hello(client.client_hello());
    ASSERT_TRUE(sh.ok());
    Bytes forged = *sh;
    const std::size_t at = wire::kRecordHeaderSize + 33;
    if (server_max == 1) {
      forged.insert(forged.begin() + static_cast<std::ptrdiff_t>(at), 2);
    } else {
      forged.erase(forged.begin() + static_cast<std::ptrdiff_t>(at));
    }
    util::store_u16(forged.data() + 6,
                    static_cast<std::uint16_t>(forged.size() - wire::kRecordHeaderSize));
    auto fin = client.on_server_hello(forged);
    ASSERT_FALSE(fin.ok());
    EXPECT_TRUE(fin.error().is(Errc::key_mismatch)) << fin.error().message();
  }
}

TEST(PskHandshake, SucceedsForEachMac) {
  for (auto alg : kAllSuites) {
    SCOPED_TRACE(std::string(crypto::suite_name(alg)));
    Session s(kPsk, {alg}, {alg});
    auto r = s.run();
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(s.client.suite(), alg);
    EXPECT_EQ(s.server.suite(), alg);
    // Proofs are the suite's MAC, HMAC-SHA256 for an AEAD suite.
    const std::size_t t = crypto::mac_tag_size(crypto::proof_mac(alg));
    // Suite, nonce, the protocol byte (the client offered version 2), proof.
    EXPECT_EQ(s.server_hello.size(), wire::kRecordHeaderSize + 34 + t);
    EXPECT_EQ(s.client_finish.size(), wire::kRecordHeaderSize + t);
    // The ServerHello length field counts the proof.
    EXPECT_EQ(util::load_u16(s.server_hello.data() + 6), 34 + t);
    EXPECT_EQ(s.client.protocol(), 2);
    EXPECT_EQ(s.server.protocol(), 2);

    // Frames flow both ways with the derived keys.
    FrameCodec c = s.client.make_codec(kMax);
    FrameCodec srv = s.server.make_codec(kMax);
    EXPECT_EQ(c.suite(), alg);
    EXPECT_EQ(c.tag_size(), crypto::suite_tag_size(alg));
    EXPECT_EQ(
        open_text(srv, seal_text(c, wire::FrameType::message, "ping"), wire::FrameType::message),
        "ping");
    EXPECT_EQ(open_text(c, seal_text(srv, wire::FrameType::reply, "pong"), wire::FrameType::reply),
              "pong");
  }
}

TEST(PskHandshake, FreshNoncesGiveFreshKeys) {
  Session a(kPsk, {Suite::hmac_sha256}, {Suite::hmac_sha256});
  Session b(kPsk, {Suite::hmac_sha256}, {Suite::hmac_sha256});
  ASSERT_TRUE(a.run().ok());
  ASSERT_TRUE(b.run().ok());
  EXPECT_NE(a.client_hello, b.client_hello);
  EXPECT_NE(a.server_hello, b.server_hello);
  EXPECT_NE(a.client_finish, b.client_finish);
}

// The session value (what a shared-key receipt is bound to): both ends
// agree on it, it is 32 bytes, and another session has another.
TEST(PskHandshake, BothEndsShareASessionValueNoOtherSessionHas) {
  Session a(kPsk, {Suite::hmac_sha256}, {Suite::hmac_sha256});
  Session b(kPsk, {Suite::hmac_sha256}, {Suite::hmac_sha256});
  ASSERT_TRUE(a.run().ok());
  ASSERT_TRUE(b.run().ok());
  EXPECT_EQ(a.client.session().size(), 32u);
  EXPECT_EQ(a.client.session(), a.server.session());
  EXPECT_EQ(b.client.session(), b.server.session());
  EXPECT_NE(a.client.session(), b.client.session());
}

TEST(PskHandshake, ServerPreferenceWinsAmongClientOffers) {
  struct Case {
    std::vector<Suite> offer, accept;
    Suite chosen;
  };
  const Case cases[] = {
      {kAllSuites, {Suite::blake2b_256, Suite::hmac_sha512}, Suite::blake2b_256},
      {{Suite::hmac_sha512, Suite::hmac_sha256},
       {Suite::hmac_sha256, Suite::hmac_sha512},
       Suite::hmac_sha256},
      {{Suite::hmac_sha256, Suite::hmac_sha512},
       {Suite::blake2b_256, Suite::hmac_sha512, Suite::hmac_sha256},
       Suite::hmac_sha512},
  };
  for (const auto& c : cases) {
    Session s(kPsk, c.offer, c.accept);
    auto r = s.run();
    ASSERT_TRUE(r.ok()) << r.error().message();
    EXPECT_EQ(s.server.suite(), c.chosen);
    EXPECT_EQ(s.client.suite(), c.chosen);
    EXPECT_EQ(s.server_hello[wire::kRecordHeaderSize], static_cast<std::uint8_t>(c.chosen));
  }
}

TEST(PskHandshake, ServerIgnoresUnknownOffers) {
  // A ClientHello offering ids 0x7f and 0x03 (blake2b-256).
  wire::ClientHello hello;
  hello.nonce = counting_nonce(0);
  hello.mac_ids = {0x7f, 0x03};
  const auto psk = key_of(kPsk);
  PskServerHandshake server(psk, kAllSuites);
  ASSERT_TRUE(server.on_client_hello(wire::encode(hello)).ok());
  EXPECT_EQ(server.suite(), Suite::blake2b_256);
}

TEST(PskHandshake, NoCommonMacIsUnsupportedMac) {
  Session s(kPsk, {Suite::hmac_sha512}, {Suite::hmac_sha256, Suite::blake2b_256});
  auto r = s.run();
  expect_error(r, Errc::unsupported_mac, "no common MAC");
  EXPECT_EQ(wire::error_code_for(r.error()), wire::ErrorCode::unsupported_mac);
}

TEST(PskHandshake, ClientRefusesAMacItDidNotOffer) {
  const auto psk = key_of(kPsk);
  PskClientHandshake client(psk, {Suite::hmac_sha256}, counting_nonce(0));
  for (std::uint8_t id :
       {std::uint8_t{0x02}, std::uint8_t{0x03}, std::uint8_t{0x00}, std::uint8_t{0x7f}}) {
    wire::ServerHello sh;
    sh.mac_id = id;
    sh.nonce = counting_nonce(0x20);
    sh.proof.assign(id == 0x02 ? 64 : 32, 0);
    expect_error(client.on_server_hello(wire::encode(sh)), Errc::unsupported_mac,
                 "MAC id " + std::to_string(id));
  }
}

TEST(PskHandshake, WrongKeyIsKeyMismatchOnTheClient) {
  for (auto alg : kAllSuites) {
    const auto client_psk = key_of(kPsk);
    const auto server_psk = key_of("correct horse battery staple 2025");
    PskClientHandshake client(client_psk, {alg});
    PskServerHandshake server(server_psk, {alg});
    auto sh = server.on_client_hello(client.client_hello());
    ASSERT_TRUE(sh.ok());
    auto fin = client.on_server_hello(*sh);
    expect_error(fin, Errc::key_mismatch, std::string(crypto::suite_name(alg)));
    EXPECT_EQ(wire::error_code_for(fin.error()), wire::ErrorCode::key_mismatch);
  }
}

TEST(PskHandshake, WrongKeyIsKeyMismatchOnTheServer) {
  // A client holding key A answers a ServerHello made with key A; the real
  // server holds key B (same nonces, so only the key differs).
  for (auto alg : kAllSuites) {
    const auto key_a = key_of(kPsk);
    const auto key_b = key_of("another key entirely");
    PskClientHandshake client(key_a, {alg}, counting_nonce(0));
    PskServerHandshake server_a(key_a, {alg}, counting_nonce(0x20));
    PskServerHandshake server_b(key_b, {alg}, counting_nonce(0x20));
    auto sh_a = server_a.on_client_hello(client.client_hello());
    auto sh_b = server_b.on_client_hello(client.client_hello());
    ASSERT_TRUE(sh_a.ok() && sh_b.ok());
    auto fin = client.on_server_hello(*sh_a);
    ASSERT_TRUE(fin.ok());
    ASSERT_TRUE(server_a.on_client_finish(*fin).ok());
    expect_error(server_b.on_client_finish(*fin), Errc::key_mismatch,
                 std::string(crypto::suite_name(alg)));
  }
}

TEST(PskHandshake, AlteredProofsAreKeyMismatch) {
  Session s(kPsk, {Suite::hmac_sha256}, {Suite::hmac_sha256}, counting_nonce(0),
            counting_nonce(0x20));
  ASSERT_TRUE(s.run().ok());
  {
    Bytes sh = s.server_hello;
    sh.back() ^= 0x01;
    const auto psk = key_of(kPsk);
    PskClientHandshake client(psk, {Suite::hmac_sha256}, counting_nonce(0));
    expect_error(client.on_server_hello(sh), Errc::key_mismatch, "server proof");
  }
  {
    Bytes fin = s.client_finish;
    fin.back() ^= 0x80;
    const auto psk = key_of(kPsk);
    PskServerHandshake server(psk, {Suite::hmac_sha256}, counting_nonce(0x20));
    ASSERT_TRUE(server.on_client_hello(s.client_hello).ok());
    expect_error(server.on_client_finish(fin), Errc::key_mismatch, "client proof");
  }
}

TEST(PskHandshake, DowngradedOfferIsKeyMismatch) {
  // An attacker strips the client's offer down to hmac-sha256; the server's
  // transcript differs from the client's, so the client rejects the proof.
  const auto psk = key_of(kPsk);
  PskClientHandshake client(psk, {Suite::hmac_sha512, Suite::hmac_sha256});
  PskServerHandshake server(psk, kAllSuites);
  auto hello = wire::decode_client_hello(client.client_hello());
  ASSERT_TRUE(hello.ok());
  hello->mac_ids = {static_cast<std::uint8_t>(Suite::hmac_sha256)};
  auto sh = server.on_client_hello(wire::encode(*hello));
  ASSERT_TRUE(sh.ok());
  expect_error(client.on_server_hello(*sh), Errc::key_mismatch, "downgraded offer");
}

TEST(PskHandshake, ReplayedHandshakeFailsOnAFreshServer) {
  for (auto alg : kAllSuites) {
    Session recorded(kPsk, {alg}, {alg});
    ASSERT_TRUE(recorded.run().ok());
    // A new connection: the server picks a new nonce.
    const auto psk = key_of(kPsk);
    PskServerHandshake fresh(psk, {alg});
    auto sh = fresh.on_client_hello(recorded.client_hello);
    ASSERT_TRUE(sh.ok());
    EXPECT_NE(*sh, recorded.server_hello);
    expect_error(fresh.on_client_finish(recorded.client_finish), Errc::key_mismatch,
                 "replayed " + std::string(crypto::suite_name(alg)));
  }
}

TEST(PskHandshake, ReplayedServerHelloFailsOnAFreshClient) {
  Session recorded(kPsk, {Suite::hmac_sha256}, {Suite::hmac_sha256});
  ASSERT_TRUE(recorded.run().ok());
  const auto psk = key_of(kPsk);
  PskClientHandshake fresh(psk, {Suite::hmac_sha256});
  expect_error(fresh.on_server_hello(recorded.server_hello), Errc::key_mismatch,
               "replayed server hello");
}

TEST(PskHandshake, TruncatedRecordsFailCleanly) {
  for (auto alg : kAllSuites) {
    SCOPED_TRACE(std::string(crypto::suite_name(alg)));
    Session s(kPsk, {alg}, {alg}, counting_nonce(0), counting_nonce(0x20));
    ASSERT_TRUE(s.run().ok());
    const auto psk = key_of(kPsk);
    for (std::size_t len = 0; len < s.client_hello.size(); ++len) {
      PskServerHandshake server(psk, {alg}, counting_nonce(0x20));
      EXPECT_FALSE(server.on_client_hello(ByteSpan(s.client_hello).first(len)).ok()) << len;
    }
    for (std::size_t len = 0; len < s.server_hello.size(); ++len) {
      PskClientHandshake client(psk, {alg}, counting_nonce(0));
      auto r = client.on_server_hello(ByteSpan(s.server_hello).first(len));
      ASSERT_FALSE(r.ok()) << len;
      EXPECT_TRUE(r.error().is(Errc::truncated)) << len << ": " << r.error().message();
    }
    PskServerHandshake server(psk, {alg}, counting_nonce(0x20));
    ASSERT_TRUE(server.on_client_hello(s.client_hello).ok());
    for (std::size_t len = 0; len < s.client_finish.size(); ++len) {
      auto r = server.on_client_finish(ByteSpan(s.client_finish).first(len));
      ASSERT_FALSE(r.ok()) << len;
      EXPECT_TRUE(r.error().is(Errc::truncated)) << len << ": " << r.error().message();
    }
    // The server is still waiting for the real ClientFinish.
    EXPECT_TRUE(server.on_client_finish(s.client_finish).ok());
  }
}

TEST(PskHandshake, WrongRecordsAreRefused) {
  Session s(kPsk, {Suite::hmac_sha256}, {Suite::hmac_sha256}, counting_nonce(0),
            counting_nonce(0x20));
  ASSERT_TRUE(s.run().ok());
  const auto psk = key_of(kPsk);
  PskServerHandshake server(psk, {Suite::hmac_sha256});
  expect_error(server.on_client_hello(s.server_hello), Errc::unexpected_frame, "server hello");
  const Bytes tls = {0x16, 0x03, 0x01, 0x00, 0x40, 0x01, 0x00, 0x00, 0x3c, 0x03, 0x03};
  expect_error(server.on_client_hello(tls), Errc::wrong_mode, "TLS");
  Bytes hello = s.client_hello;
  hello[4] = 2;
  expect_error(server.on_client_hello(hello), Errc::bad_version, "version 2");
  hello = s.client_hello;
  hello[0] = 'X';
  expect_error(server.on_client_hello(hello), Errc::bad_magic, "magic");
  hello = s.client_hello;
  hello.push_back(0);
  expect_error(server.on_client_hello(hello), Errc::trailing_data, "trailing byte");
}

// --- Frames ------------------------------------------------------------------------

// Both codecs of one completed session.
struct Codecs {
  Session session;
  FrameCodec client;
  FrameCodec server;

  explicit Codecs(Suite alg, std::optional<wire::Nonce> sn = std::nullopt)
      : session(kPsk, {alg}, {alg}, std::nullopt, sn),
        client(establish(session, kMax)),
        server(session.server.make_codec(kMax)) {}

  // A fresh receiver for client frames, at sequence 0.
  FrameCodec new_server() const { return session.server.make_codec(kMax); }

 private:
  static FrameCodec establish(Session& s, std::uint32_t max) {
    auto r = s.run();
    if (!r) throw std::runtime_error(r.error().message());
    return s.client.make_codec(max);
  }
};

TEST(FrameCodecTest, PipelinedFramesOpenInOrder) {
  for (auto alg : kAllSuites) {
    SCOPED_TRACE(std::string(crypto::suite_name(alg)));
    Codecs c(alg);
    Bytes stream;
    const std::vector<std::string> texts = {"one", "", "three", std::string(1000, 'x')};
    for (const auto& t : texts)
      c.client.seal(wire::FrameType::message, {util::as_bytes(t)}, stream);
    EXPECT_EQ(c.client.frames_sent(), texts.size());
    MutableSpan in(stream);
    for (const auto& t : texts) {
      auto f = c.server.open(in);
      ASSERT_TRUE(f.ok() && f->has_value());
      EXPECT_EQ(util::as_chars((*f)->payload), t);
      EXPECT_EQ((*f)->consumed, wire::kFrameHeaderSize + t.size() + c.server.tag_size());
      in = in.subspan((*f)->consumed);
    }
    EXPECT_TRUE(in.empty());
    EXPECT_EQ(c.server.frames_received(), texts.size());
  }
}

TEST(FrameCodecTest, PayloadInSeveralPartsEqualsOnePart) {
  Codecs a(Suite::hmac_sha256);
  Bytes one, two;
  const auto hello = util::as_bytes("hello, signet");
  a.client.seal(wire::FrameType::message, {hello}, one);
  FrameCodec again = a.session.client.make_codec(kMax);
  // A second codec for the same keys starts at sequence 0 too.
  again.seal(wire::FrameType::message, {hello.first(5), hello.subspan(5)}, two);
  EXPECT_EQ(one, two);
}

TEST(FrameCodecTest, EveryTruncationWaitsThenCompletes) {
  for (auto alg : kAllSuites) {
    SCOPED_TRACE(std::string(crypto::suite_name(alg)));
    Codecs c(alg);
    Bytes frame = seal_text(c.client, wire::FrameType::message, "hello, signet");
    for (std::size_t len = 0; len < frame.size(); ++len) {
      auto f = c.server.open(MutableSpan(frame).first(len));
      ASSERT_TRUE(f.ok()) << len << ": " << f.error().message();
      EXPECT_FALSE(f->has_value()) << len;
    }
    EXPECT_EQ(c.server.frames_received(), 0u);
    // Feeding the rest completes it.
    EXPECT_EQ(open_text(c.server, frame, wire::FrameType::message), "hello, signet");
    // And the reply direction.
    Bytes reply = seal_text(c.server, wire::FrameType::reply, "ok");
    for (std::size_t len = 0; len < reply.size(); ++len) {
      auto f = c.client.open(MutableSpan(reply).first(len));
      ASSERT_TRUE(f.ok() && !f->has_value()) << len;
    }
    EXPECT_EQ(open_text(c.client, reply, wire::FrameType::reply), "ok");
  }
}

TEST(FrameCodecTest, OversizeLengthRefusedFromTheHeaderAlone) {
  Codecs c(Suite::hmac_sha256);
  for (std::uint32_t len : {kMax + 1, 0xFFFFFFFFu}) {
    std::uint8_t header[wire::kFrameHeaderSize];
    wire::encode_frame_header(wire::FrameType::message, len, header);
    FrameCodec tagged = c.new_server();
    expect_refused(tagged, header, Errc::too_large, "tagged " + std::to_string(len));
    FrameCodec plain(kMax);
    expect_refused(plain, header, Errc::too_large, "plain " + std::to_string(len));
  }
  // Exactly the limit is fine (waits for the payload).
  std::uint8_t header[wire::kFrameHeaderSize];
  wire::encode_frame_header(wire::FrameType::message, kMax, header);
  FrameCodec plain(kMax);
  auto f = plain.open(header);
  ASSERT_TRUE(f.ok());
  EXPECT_FALSE(f->has_value());
}

TEST(FrameCodecTest, UnknownTypeRefused) {
  Codecs c(Suite::hmac_sha256);
  Bytes frame = seal_text(c.client, wire::FrameType::message, "x");
  for (std::uint8_t t : {std::uint8_t{0x00}, std::uint8_t{0x04}, std::uint8_t{0x0F},
                         std::uint8_t{0x15}, std::uint8_t{0x53}}) {
    frame[0] = t;
    FrameCodec rx = c.new_server();
    expect_refused(rx, frame, Errc::malformed, "type " + std::to_string(t));
    // Refused from the type byte even before the rest has arrived.
    FrameCodec rx2 = c.new_server();
    expect_refused(rx2, ByteSpan(frame).first(wire::kFrameHeaderSize), Errc::malformed,
                   "header only, type " + std::to_string(t));
  }
}

TEST(FrameCodecTest, EverySingleBitFlipIsRejected) {
  for (auto alg : kAllSuites) {
    SCOPED_TRACE(std::string(crypto::suite_name(alg)));
    Codecs c(alg);
    const Bytes frame = seal_text(c.client, wire::FrameType::message, "hello, signet");
    for (std::size_t bit = 0; bit < frame.size() * 8; ++bit) {
      Bytes bad = frame;
      bad[bit / 8] ^= static_cast<std::uint8_t>(1u << (bit % 8));
      FrameCodec rx = c.new_server();
      auto f = rx.open(bad);
      if (f.ok() && !f->has_value()) {
        // A longer length: give it the bytes it waits for; the tag must fail.
        const std::size_t want =
            wire::kFrameHeaderSize + util::load_u32(bad.data() + 1) + rx.tag_size();
        ASSERT_GT(want, bad.size());
        bad.resize(want, 0);
        f = rx.open(bad);
      }
      ASSERT_FALSE(f.ok()) << "bit " << bit << " flipped and the frame was accepted";
      const auto& e = f.error();
      EXPECT_TRUE(e.is(Errc::bad_tag) || e.is(Errc::malformed) || e.is(Errc::too_large))
          << "bit " << bit << ": " << e.message();
      // Only the header can fail before the tag is checked.
      if (bit >= wire::kFrameHeaderSize * 8) {
        EXPECT_TRUE(e.is(Errc::bad_tag)) << "bit " << bit;
      }
    }
    // The unaltered frame still opens.
    FrameCodec rx = c.new_server();
    EXPECT_EQ(open_text(rx, frame, wire::FrameType::message), "hello, signet");
  }
}

TEST(FrameCodecTest, ReplayedFrameIsBadTag) {
  for (auto alg : kAllSuites) {
    Codecs c(alg);
    const Bytes f0 = seal_text(c.client, wire::FrameType::message, "pay 10");
    EXPECT_EQ(open_text(c.server, f0, wire::FrameType::message), "pay 10");
    expect_refused(c.server, f0, Errc::bad_tag, "replay");
  }
}

TEST(FrameCodecTest, DroppedFrameIsBadTag) {
  for (auto alg : kAllSuites) {
    Codecs c(alg);
    (void)seal_text(c.client, wire::FrameType::message, "first");
    const Bytes f1 = seal_text(c.client, wire::FrameType::message, "second");
    expect_refused(c.server, f1, Errc::bad_tag, "frame 0 dropped");
  }
}

TEST(FrameCodecTest, SwappedFramesAreBadTag) {
  for (auto alg : kAllSuites) {
    Codecs c(alg);
    const Bytes f0 = seal_text(c.client, wire::FrameType::message, "first");
    const Bytes f1 = seal_text(c.client, wire::FrameType::message, "second");
    Bytes swapped = f1;
    swapped.insert(swapped.end(), f0.begin(), f0.end());
    expect_refused(c.server, swapped, Errc::bad_tag, "frames 1, 0");
  }
}

TEST(FrameCodecTest, ReflectedFrameIsBadTag) {
  for (auto alg : kAllSuites) {
    Codecs c(alg);
    // The server's own frame fed back to it.
    const Bytes s0 = seal_text(c.server, wire::FrameType::reply, "verified 4 bytes");
    expect_refused(c.server, s0, Errc::bad_tag, "server frame to server");
    // And the client's own frame fed back to it.
    const Bytes c0 = seal_text(c.client, wire::FrameType::message, "ping");
    expect_refused(c.client, c0, Errc::bad_tag, "client frame to client");
  }
}

TEST(FrameCodecTest, AeadFramesCarryNoPlaintext) {
  for (auto alg : {Suite::aes_256_gcm, Suite::chacha20_poly1305}) {
    SCOPED_TRACE(std::string(crypto::suite_name(alg)));
    Codecs c(alg);
    const std::string secret = "the launch code is 0000, tell nobody";
    const Bytes frame = seal_text(c.client, wire::FrameType::message, secret);
    EXPECT_EQ(frame.size(), wire::kFrameHeaderSize + secret.size() + crypto::kAeadTagSize);
    const std::string on_the_wire(util::as_chars(frame));
    EXPECT_EQ(on_the_wire.find("launch"), std::string::npos);
    EXPECT_EQ(on_the_wire.find(secret.substr(0, 4)), std::string::npos);
    EXPECT_EQ(open_text(c.server, frame, wire::FrameType::message), secret);
    // A MAC suite, by contrast, sends it as it is.
    Codecs clear(Suite::hmac_sha256);
    const Bytes plain = seal_text(clear.client, wire::FrameType::message, secret);
    EXPECT_NE(std::string(util::as_chars(plain)).find(secret), std::string::npos);
  }
}

TEST(FrameCodecTest, AeadNoncesNeverRepeatOverAMillionFrames) {
  // The same plaintext under the same key gives the same tag only if the
  // nonce repeats: 2^20 frames, 2^20 different tags, and each opens in turn.
  for (auto alg : {Suite::aes_256_gcm, Suite::chacha20_poly1305}) {
    SCOPED_TRACE(std::string(crypto::suite_name(alg)));
    Codecs c(alg);
    constexpr std::size_t kFrames = std::size_t{1} << 20;
    std::vector<std::array<std::uint8_t, crypto::kAeadTagSize>> tags(kFrames);
    const Bytes payload(8, 0x5a);
    Bytes frame;
    for (std::size_t i = 0; i < kFrames; ++i) {
      frame.clear();
      c.client.seal(wire::FrameType::message, {payload}, frame);
      std::copy(frame.end() - crypto::kAeadTagSize, frame.end(), tags[i].begin());
      auto f = c.server.open(frame);
      ASSERT_TRUE(f.ok() && f->has_value()) << "frame " << i;
      ASSERT_TRUE(std::equal(payload.begin(), payload.end(), (*f)->payload.begin()));
    }
    std::sort(tags.begin(), tags.end());
    EXPECT_EQ(std::adjacent_find(tags.begin(), tags.end()), tags.end());
    EXPECT_EQ(c.server.frames_received(), kFrames);
  }
}

TEST(FrameCodecTest, AesGcmStopsAtItsLimitOnBothSides) {
  Codecs c(Suite::aes_256_gcm);
  c.client.limit_gcm_blocks(10);
  c.server.limit_gcm_blocks(10);
  const Bytes payload(16, 1);  // 1 block and 1 per frame: 2 blocks a frame
  Bytes stream;
  for (int i = 0; i < 5; ++i) c.client.seal(wire::FrameType::message, {payload}, stream);
  Bytes sixth;
  EXPECT_THROW(c.client.seal(wire::FrameType::message, {payload}, sixth), std::length_error);
  // A peer that goes on anyway is refused by the receiver.
  Codecs unlimited_sender(Suite::aes_256_gcm);
  unlimited_sender.server.limit_gcm_blocks(10);
  Bytes many;
  for (int i = 0; i < 6; ++i)
    unlimited_sender.client.seal(wire::FrameType::message, {payload}, many);
  std::span<std::uint8_t> in(many);
  for (int i = 0; i < 5; ++i) {
    auto f = unlimited_sender.server.open(in);
    ASSERT_TRUE(f.ok() && f->has_value()) << i;
    in = in.subspan((*f)->consumed);
  }
  auto refused = unlimited_sender.server.open(in);
  ASSERT_FALSE(refused.ok());
  EXPECT_TRUE(refused.error().is(Errc::too_large)) << refused.error().message();
}

TEST(FrameCodecTest, FrameFromAnotherSessionIsBadTag) {
  for (auto alg : kAllSuites) {
    Codecs a(alg);
    Codecs b(alg);
    const Bytes f = seal_text(a.client, wire::FrameType::message, "hello");
    expect_refused(b.server, f, Errc::bad_tag, "cross-session replay");
  }
}

TEST(FrameCodecTest, ErrorFramesAreTaggedToo) {
  Codecs c(Suite::hmac_sha256);
  Bytes out;
  c.server.seal(wire::FrameType::error,
                {wire::encode_error_payload({wire::ErrorCode::bad_tag, "authentication failed"})},
                out);
  auto f = c.client.open(out);
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->type, wire::FrameType::error);
  auto e = wire::decode_error_payload((*f)->payload);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->code, wire::ErrorCode::bad_tag);
  out.back() ^= 1;
  FrameCodec fresh = c.session.client.make_codec(kMax);
  expect_refused(fresh, out, Errc::bad_tag, "forged error frame");
}

TEST(FrameCodecTest, SealAboveTheSendLimitIsABug) {
  // The send limit is the default (1 MiB) or the own receive limit if larger.
  FrameCodec small(16);
  Bytes out;
  EXPECT_NO_THROW(small.seal(wire::FrameType::reply, {Bytes(1000, 0)}, out));
  const Bytes too_big(wire::kDefaultMaxPayload + 1, 0);
  EXPECT_THROW(small.seal(wire::FrameType::message, {too_big}, out), std::logic_error);
  FrameCodec large(wire::kDefaultMaxPayload * 2);
  EXPECT_NO_THROW(large.seal(wire::FrameType::message, {too_big}, out));
  // What it accepts is still its own limit.
  FrameCodec rx(16);
  Bytes frame;
  FrameCodec(kMax).seal(wire::FrameType::message, {Bytes(17, 0)}, frame);
  expect_refused(rx, frame, Errc::too_large, "17 bytes to a 16-byte receiver");
}

TEST(FrameCodecTest, PlainCodecRoundTrips) {
  FrameCodec tx(kMax);
  FrameCodec rx(kMax);
  EXPECT_EQ(tx.tag_size(), 0u);
  EXPECT_EQ(tx.overhead(), wire::kFrameHeaderSize);
  EXPECT_FALSE(tx.suite().has_value());
  Bytes stream;
  tx.seal(wire::FrameType::message, {util::as_bytes("hello, signet")}, stream);
  tx.seal(wire::FrameType::reply, {wire::encode_reply_payload({0, "verified 13 bytes"})}, stream);
  tx.seal(wire::FrameType::message, {}, stream);
  EXPECT_EQ(util::to_hex(ByteSpan(stream).first(18)), "010000000d68656c6c6f2c207369676e6574");

  // Every truncation of the first frame waits.
  for (std::size_t len = 0; len < 18; ++len) {
    auto f = rx.open(MutableSpan(stream).first(len));
    ASSERT_TRUE(f.ok() && !f->has_value()) << len;
  }
  MutableSpan in(stream);
  EXPECT_EQ(open_text(rx, in.first(18), wire::FrameType::message), "hello, signet");
  in = in.subspan(18);
  auto f = rx.open(in);
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_EQ((*f)->type, wire::FrameType::reply);
  auto reply = wire::decode_reply_payload((*f)->payload);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(reply->text, "verified 13 bytes");
  in = in.subspan((*f)->consumed);
  f = rx.open(in);
  ASSERT_TRUE(f.ok() && f->has_value());
  EXPECT_TRUE((*f)->payload.empty());
  EXPECT_EQ((*f)->consumed, in.size());
  EXPECT_EQ(rx.frames_received(), 3u);
}

// --- The peer's error reasons -------------------------------------------------------------

TEST(PeerError, AnUnreadableErrorFromThePeerIsNotAnswered) {
  // The receiver of an ERROR frame closes without answering, also when the
  // frame cannot be read (code 0, a control character, a reason over 512
  // bytes): answering would only start a ping-pong of errors.
  const PskSettings settings{std::make_shared<const crypto::SecretBytes>(key_of(kPsk))};
  const std::vector<Bytes> unreadable = {Bytes{0x00, 'x'}, Bytes{0x01, 'a', 0x07, 'b'}, [] {
                                           Bytes b{0x01};
                                           b.insert(b.end(), 600, 'r');
                                           return b;
                                         }()};
  for (const auto& payload : unreadable) {
    PskClientChannel client(settings);
    PskServerChannel server(settings);
    Bytes to_server, to_client;
    client.start(to_server);
    ASSERT_TRUE(server.receive(to_server, to_client));
    to_server.clear();
    ASSERT_TRUE(client.receive(to_client, to_server));
    to_client.clear();
    client.send(wire::FrameType::error, {payload}, to_server);
    ASSERT_TRUE(server.receive(to_server, to_client));
    auto f = server.next_frame(to_client);
    ASSERT_FALSE(f.ok());
    EXPECT_TRUE(f.error().is(Errc::peer_error)) << f.error().message();
    EXPECT_TRUE(reported_by_peer(f.error()));
    EXPECT_THAT(f.error().message(), ::testing::HasSubstr("unreadable"));
    EXPECT_TRUE(to_client.empty()) << "the server answered an error frame";
  }
}

TEST(PeerError, ReasonIsEscapedWhereItEntersTheError) {
  // Whatever a decoder lets through, the Error's detail is safe to print.
  const Error e =
      peer_error(wire::ErrorRecord{wire::ErrorCode::protocol_violation,
                                   "tab\there, back\\slash, esc \x1b[2J, bidi \xe2\x80\xae"
                                   "x, c1 \xc2\x9b, bad \xff"});
  EXPECT_TRUE(e.is(Errc::peer_error));
  EXPECT_TRUE(reported_by_peer(e));
  EXPECT_EQ(e.detail,
            "peer says: tab\\there, back\\\\slash, esc \\x1b[2J, bidi \\xe2\\x80\\xaex, "
            "c1 \\xc2\\x9b, bad \\xff");
  EXPECT_TRUE(util::is_display_safe_utf8(e.message()));
  // The code's own text is said once.
  EXPECT_EQ(peer_error({wire::ErrorCode::key_mismatch, "shared key mismatch: proof wrong"}).detail,
            "peer says: proof wrong");
}

TEST(PeerError, HostileErrorRecordBeforeTheHandshakeIsUnreadableAndUnanswered) {
  PskClientChannel client(PskSettings{std::make_shared<const crypto::SecretBytes>(key_of(kPsk))});
  Bytes out;
  client.start(out);
  const std::string reason =
      "c1 \xc2\x9b"
      "2J, bidi \xe2\x80\xae"
      "x";
  Bytes record = {'S', 'G', 'N', 'T', wire::kVersion, 0x0F, 0, 0, 0x01};
  record.insert(record.end(), reason.begin(), reason.end());
  util::store_u16(record.data() + 6, static_cast<std::uint16_t>(record.size() - 8));
  out.clear();
  auto r = client.receive(record, out);
  expect_error(r, Errc::peer_error, "C1 and bidi in a pre-handshake reason");
  EXPECT_NE(r.error().message().find("unreadable: malformed"), std::string::npos)
      << r.error().message();
  EXPECT_TRUE(util::is_display_safe_utf8(r.error().message())) << r.error().message();
  EXPECT_TRUE(out.empty()) << "an error record was answered";
}

// --- Random garbage --------------------------------------------------------------------

TEST(ChannelGarbage, RandomBytesNeverYieldAVerifiedFrame) {
  for (auto alg : kAllSuites) {
    SCOPED_TRACE(std::string(crypto::suite_name(alg)));
    std::mt19937 rng(4242);
    Codecs c(alg);
    const Bytes valid = seal_text(c.client, wire::FrameType::message, "hello, signet");
    for (int i = 0; i < 4000; ++i) {
      Bytes in;
      if (i % 2 == 0) {
        const std::size_t n = rng() % 128;
        for (std::size_t j = 0; j < n; ++j) in.push_back(static_cast<std::uint8_t>(rng()));
        // A plausible header now and then, so the tag check is reached.
        if (in.size() >= wire::kFrameHeaderSize && rng() % 2 == 0) {
          in[0] = static_cast<std::uint8_t>(1 + rng() % 3);
          util::store_u32(in.data() + 1, static_cast<std::uint32_t>(
                                             rng() % (in.size() - wire::kFrameHeaderSize + 1)));
        }
      } else {
        in = valid;
        for (std::size_t k = 1 + rng() % 3; k > 0; --k) {
          in[rng() % in.size()] ^= static_cast<std::uint8_t>(1 + rng() % 255);
        }
      }
      FrameCodec tagged = c.new_server();
      auto f = tagged.open(in);
      ASSERT_TRUE(!f.ok() || !f->has_value()) << "garbage input " << i << " verified";

      // The plain codec has no tag to check; it must stay within the input.
      FrameCodec plain(kMax);
      MutableSpan rest(in);
      while (true) {
        auto p = plain.open(rest);
        if (!p || !p->has_value()) break;
        ASSERT_LE((*p)->consumed, rest.size());
        ASSERT_GE((*p)->consumed, wire::kFrameHeaderSize);
        rest = rest.subspan((*p)->consumed);
      }
    }
  }
}

TEST(ChannelGarbage, RandomRecordsNeverCompleteAHandshake) {
  std::mt19937 rng(777);
  const auto psk = key_of(kPsk);
  PskClientHandshake client(psk, kAllSuites, counting_nonce(0));
  const std::uint8_t prefix[] = {'S', 'G', 'N', 'T', wire::kVersion, 0x02};
  for (int i = 0; i < 3000; ++i) {
    Bytes in;
    const std::size_t n = 1 + rng() % 120;
    if (i % 2 == 0) {
      in.assign(std::begin(prefix), std::end(prefix));
      in.push_back(0);
      in.push_back(0);
    }
    for (std::size_t j = 0; j < n; ++j) in.push_back(static_cast<std::uint8_t>(rng()));
    if (i % 2 == 0) {
      in[wire::kRecordHeaderSize] = static_cast<std::uint8_t>(1 + rng() % 3);
      util::store_u16(in.data() + 6, static_cast<std::uint16_t>(in.size() - 8));
    }
    // A client never accepts a ServerHello it cannot verify.
    EXPECT_FALSE(client.on_server_hello(in).ok()) << i;
    // A server may accept a well-formed ClientHello, but never a made-up finish.
    PskServerHandshake server(psk, kAllSuites);
    Bytes hello = in;
    if (i % 2 == 0) hello[5] = 0x01;
    if (server.on_client_hello(hello).ok()) {
      Bytes fin = {'S', 'G', 'N', 'T', wire::kVersion, 0x03, 0, 0};
      const std::size_t t = server.proof_size();
      util::store_u16(fin.data() + 6, static_cast<std::uint16_t>(t));
      for (std::size_t j = 0; j < t; ++j) fin.push_back(static_cast<std::uint8_t>(rng()));
      EXPECT_TRUE(server.on_client_finish(fin).error().is(Errc::key_mismatch));
    }
  }
}

}  // namespace
}  // namespace signet::channel
