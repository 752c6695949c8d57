// Checks the worked example in docs/PROTOCOL.md against the real code.
//
// Every block marked "<!-- example: NAME -->" in the document is recomputed
// here from the example's inputs (PSK, fixed nonces, MAC, message and reply)
// with the real handshake, key schedule and frame codec, and must match byte
// for byte; the set of marked blocks must be exactly the expected one. A
// change to the protocol or to a byte of the document fails this test.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>

#include "channel/frame_codec.hpp"
#include "channel/psk_handshake.hpp"
#include "crypto/aead.hpp"
#include "crypto/mac.hpp"
#include "crypto/primitives.hpp"
#include "crypto/suite.hpp"
#include "proto/frames.hpp"
#include "util/encoding.hpp"
#include "wire/wire.hpp"

namespace signet::channel {
namespace {

using util::Bytes;
using util::ByteSpan;

constexpr const char* kDocPath = SIGNET_SOURCE_DIR "/docs/PROTOCOL.md";

std::string read_doc() {
  std::ifstream f(kDocPath, std::ios::binary);
  std::ostringstream s;
  s << f.rdbuf();
  return s.str();
}

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r");
  if (b == std::string::npos) return {};
  const auto e = s.find_last_not_of(" \t\r");
  return s.substr(b, e - b + 1);
}

// The marked blocks of the document: marker name -> bytes. A malformed block
// (no ```hex fence right after the marker, no closing fence, bad hex, a
// marker used twice) is reported as a test failure.
std::map<std::string, Bytes> marked_blocks(const std::string& doc) {
  static const std::string kOpen = "<!-- example: ";
  static const std::string kClose = " -->";
  std::map<std::string, Bytes> out;
  std::istringstream lines(doc);
  std::string line;
  while (std::getline(lines, line)) {
    line = trim(line);
    if (line.rfind(kOpen, 0) != 0) continue;
    if (line.size() < kOpen.size() + kClose.size() ||
        line.compare(line.size() - kClose.size(), kClose.size(), kClose) != 0) {
      ADD_FAILURE() << "malformed marker line: " << line;
      continue;
    }
    const std::string name = line.substr(kOpen.size(), line.size() - kOpen.size() - kClose.size());
    std::string fence;
    if (!std::getline(lines, fence) || trim(fence) != "```hex") {
      ADD_FAILURE() << "marker " << name << " is not followed by a ```hex block";
      continue;
    }
    std::string hex;
    bool closed = false;
    while (std::getline(lines, line)) {
      if (trim(line) == "```") {
        closed = true;
        break;
      }
      hex += line + "\n";
    }
    EXPECT_TRUE(closed) << "block " << name << " is not closed";
    auto bytes = util::from_hex(hex);
    EXPECT_TRUE(bytes.has_value()) << "block " << name << " is not hex";
    EXPECT_TRUE(out.emplace(name, bytes.value_or(Bytes{})).second)
        << "marker " << name << " appears twice";
  }
  return out;
}

Bytes cat(std::initializer_list<ByteSpan> parts) {
  Bytes out;
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes bytes_of(ByteSpan s) {
  return Bytes(s.begin(), s.end());
}

wire::Nonce counting_nonce(std::uint8_t first) {
  wire::Nonce n{};
  for (std::size_t i = 0; i < n.size(); ++i) n[i] = static_cast<std::uint8_t>(first + i);
  return n;
}

Bytes tag_input(Direction d, std::uint64_t seq, ByteSpan frame_without_tag) {
  Bytes out;
  out.reserve(9 +
              frame_without_tag.size());  // also sidesteps a GCC 12 -Warray-bounds false positive
  util::Writer w(out);
  w.u8(static_cast<std::uint8_t>(d));
  w.u64(seq);
  w.bytes(frame_without_tag);
  return out;
}

// The three handshake records, the server having checked the last; nullopt
// (after a test failure) if either side refused.
struct Flights {
  Bytes client_hello, server_hello, client_finish;
};
std::optional<Flights> run_handshake(PskClientHandshake& client, PskServerHandshake& server) {
  Flights f{client.client_hello(), {}, {}};
  auto server_hello = server.on_client_hello(f.client_hello);
  EXPECT_TRUE(server_hello.ok());
  if (!server_hello) return std::nullopt;
  f.server_hello = std::move(*server_hello);
  auto client_finish = client.on_server_hello(f.server_hello);
  EXPECT_TRUE(client_finish.ok());
  if (!client_finish) return std::nullopt;
  f.client_finish = std::move(*client_finish);
  EXPECT_TRUE(server.on_client_finish(f.client_finish).ok());
  return f;
}

// Runs the worked example with the real code and returns every value the
// document shows, by marker name.
std::map<std::string, Bytes> compute_example() {
  const auto mac = crypto::MacAlgorithm::hmac_sha256;
  const auto suite = crypto::Suite::hmac_sha256;
  const crypto::SecretBytes psk(util::as_bytes("correct horse battery staple 2026"));
  EXPECT_EQ(psk.size(), 33u);
  const wire::Nonce cn = counting_nonce(0x00);
  const wire::Nonce sn = counting_nonce(0x20);

  // Protocol version 1: the client does not offer version 2 (see the
  // version 2 example for what changes).
  PskClientHandshake client(psk, {suite}, cn, 1);
  PskServerHandshake server(psk, {suite}, sn, 1);
  const auto flights = run_handshake(client, server);
  if (!flights) return {};
  const Bytes& client_hello = flights->client_hello;
  const Bytes& server_hello = flights->server_hello;
  const Bytes& client_finish = flights->client_finish;

  const std::size_t tag = crypto::mac_tag_size(mac);
  const ByteSpan sh(server_hello);
  const ByteSpan sh_without_proof = sh.first(sh.size() - tag);

  // The key schedule step by step, checked against derive_session_keys.
  const auto transcript = crypto::sha256({client_hello, sh_without_proof});
  const Bytes salt = cat({cn, sn});
  const Bytes info = cat({util::as_bytes("signet/1 shared-key"), transcript});
  const std::size_t k = crypto::mac_key_size(mac);
  Bytes okm(4 * k);
  crypto::hkdf_sha256(salt, psk.span(), info, okm);
  const SessionKeys keys = derive_session_keys(psk, suite, cn, sn, client_hello, sh_without_proof);
  EXPECT_EQ(bytes_of(okm), cat({keys.client_proof_key.span(), keys.server_proof_key.span(),
                                keys.client_to_server.span(), keys.server_to_client.span()}));

  // The session value (what receipts are bound to): HKDF again, another label.
  const Bytes session_info = cat({util::as_bytes("signet/1 session"), transcript});
  Bytes session(32);
  crypto::hkdf_sha256(salt, psk.span(), session_info, session);
  EXPECT_EQ(session, keys.session);
  EXPECT_EQ(session, client.session());
  EXPECT_EQ(session, server.session());
  // The key shared-key receipts are authenticated with: from the PSK alone.
  Bytes receipt_key(32);
  crypto::hkdf_sha256(Bytes(32, 0), psk.span(), util::as_bytes("signet receipt v1"), receipt_key);
  // ... and a shared-key server's audit log checkpoints.
  Bytes audit_key(32);
  crypto::hkdf_sha256(Bytes(32, 0), psk.span(), util::as_bytes("signet audit v1"), audit_key);

  // Proofs: MAC(proof key, ASCII label), as carried in the records.
  const auto label_mac = [&](const crypto::SecretBytes& key, std::string_view label) {
    crypto::Mac m(mac, key.span());
    Bytes out(m.tag_size());
    m.compute({util::as_bytes(label)}, out);
    return out;
  };
  const Bytes server_proof = label_mac(keys.server_proof_key, kServerProofLabel);
  const Bytes client_proof = label_mac(keys.client_proof_key, kClientProofLabel);
  EXPECT_EQ(server_proof, bytes_of(sh.last(tag)));
  EXPECT_EQ(client_proof, bytes_of(ByteSpan(client_finish).last(tag)));

  // One message and its reply, each the first frame of its direction.
  FrameCodec client_codec = client.make_codec(wire::kDefaultMaxPayload);
  FrameCodec server_codec = server.make_codec(wire::kDefaultMaxPayload);
  Bytes message;
  client_codec.seal(wire::FrameType::message, {util::as_bytes("hello, signet")}, message);
  auto opened = server_codec.open(message);
  EXPECT_TRUE(opened.ok() && opened->has_value());
  const wire::Reply reply{0, "verified 13 bytes"};
  Bytes reply_frame;
  server_codec.seal(wire::FrameType::reply, {wire::encode_reply_payload(reply)}, reply_frame);
  auto opened_reply = client_codec.open(reply_frame);
  EXPECT_TRUE(opened_reply.ok() && opened_reply->has_value());

  // The tag input as the document defines it, and the tag recomputed over it.
  const Bytes message_tag_input =
      tag_input(Direction::client_to_server, 0, ByteSpan(message).first(message.size() - tag));
  const Bytes reply_tag_input = tag_input(Direction::server_to_client, 0,
                                          ByteSpan(reply_frame).first(reply_frame.size() - tag));
  const auto frame_mac = [&](const crypto::SecretBytes& key, const Bytes& input) {
    crypto::Mac m(mac, key.span());
    Bytes out(m.tag_size());
    m.compute({input}, out);
    return out;
  };
  EXPECT_EQ(frame_mac(keys.client_to_server, message_tag_input),
            bytes_of(ByteSpan(message).last(tag)));
  EXPECT_EQ(frame_mac(keys.server_to_client, reply_tag_input),
            bytes_of(ByteSpan(reply_frame).last(tag)));

  return {
      {"psk", bytes_of(psk.span())},
      {"client_hello", client_hello},
      {"server_hello_without_proof", bytes_of(sh_without_proof)},
      {"transcript_hash", bytes_of(transcript)},
      {"hkdf_salt", salt},
      {"hkdf_info", info},
      {"hkdf_okm", okm},
      {"client_proof_key", bytes_of(keys.client_proof_key.span())},
      {"server_proof_key", bytes_of(keys.server_proof_key.span())},
      {"client_to_server_key", bytes_of(keys.client_to_server.span())},
      {"server_to_client_key", bytes_of(keys.server_to_client.span())},
      {"session_value", session},
      {"receipt_mac_key", receipt_key},
      {"audit_mac_key", audit_key},
      {"server_proof", server_proof},
      {"server_hello", server_hello},
      {"client_proof", client_proof},
      {"client_finish", client_finish},
      {"message_tag_input", message_tag_input},
      {"message_frame", message},
      {"reply_tag_input", reply_tag_input},
      {"reply_frame", reply_frame},
  };
}

// The encrypted variant: the same PSK and nonces, the client offering
// signet's default suites (aes-256-gcm, chacha20-poly1305, hmac-sha256) and
// the server choosing aes-256-gcm. Markers start with "aead_".
std::map<std::string, Bytes> compute_aead_example() {
  const crypto::SecretBytes psk(util::as_bytes("correct horse battery staple 2026"));
  const wire::Nonce cn = counting_nonce(0x00);
  const wire::Nonce sn = counting_nonce(0x20);
  const std::vector<crypto::Suite> offer(std::begin(crypto::kDefaultSuites),
                                         std::end(crypto::kDefaultSuites));
  PskClientHandshake client(psk, offer, cn, 1);
  PskServerHandshake server(psk, offer, sn, 1);
  const auto flights = run_handshake(client, server);
  if (!flights) return {};
  const Bytes& client_hello = flights->client_hello;
  const Bytes& server_hello = flights->server_hello;
  const Bytes& client_finish = flights->client_finish;
  EXPECT_EQ(server.suite(), crypto::Suite::aes_256_gcm);

  // Proofs are HMAC-SHA256 (32 bytes) for an AEAD suite.
  const std::size_t proof = 32;
  const ByteSpan sh(server_hello);
  const ByteSpan sh_without_proof = sh.first(sh.size() - proof);
  const auto transcript = crypto::sha256({client_hello, sh_without_proof});
  const Bytes salt = cat({cn, sn});
  const Bytes info = cat({util::as_bytes("signet/1 shared-key"), transcript});
  Bytes okm(4 * 32 + 2 * 12);
  crypto::hkdf_sha256(salt, psk.span(), info, okm);
  const SessionKeys keys =
      derive_session_keys(psk, crypto::Suite::aes_256_gcm, cn, sn, client_hello, sh_without_proof);
  EXPECT_EQ(bytes_of(okm), cat({keys.client_proof_key.span(), keys.server_proof_key.span(),
                                keys.client_to_server.span(), keys.server_to_client.span(),
                                keys.client_to_server_iv.span(), keys.server_to_client_iv.span()}));

  FrameCodec client_codec = client.make_codec(wire::kDefaultMaxPayload);
  FrameCodec server_codec = server.make_codec(wire::kDefaultMaxPayload);
  Bytes message;
  client_codec.seal(wire::FrameType::message, {util::as_bytes("hello, signet")}, message);
  const Bytes reply_payload = wire::encode_reply_payload(wire::Reply{0, "verified 13 bytes"});
  Bytes reply_frame;
  server_codec.seal(wire::FrameType::reply, {reply_payload}, reply_frame);

  // The document's construction, step by step with the AEAD primitive: the
  // nonce is the IV with the sequence number XORed into its last 8 bytes, the
  // associated data is direction || sequence || header.
  const auto nonce_of = [](const crypto::SecretBytes& iv, std::uint64_t seq) {
    Bytes n(iv.span().begin(), iv.span().end());
    for (int i = 0; i < 8; ++i) n[4 + i] ^= static_cast<std::uint8_t>(seq >> (56 - 8 * i));
    return n;
  };
  const auto seal_by_hand = [&](const crypto::SecretBytes& key, const Bytes& nonce,
                                const Bytes& aad, ByteSpan plaintext) {
    crypto::Aead aead(crypto::AeadAlgorithm::aes_256_gcm, key.span(), crypto::Aead::Role::seal);
    Bytes out(plaintext.size() + crypto::kAeadTagSize);
    aead.seal(nonce, aad, {plaintext}, std::span<std::uint8_t>(out).first(plaintext.size()),
              std::span<std::uint8_t>(out).subspan(plaintext.size()));
    return out;
  };
  const Bytes message_nonce = nonce_of(keys.client_to_server_iv, 0);
  const Bytes message_aad =
      tag_input(Direction::client_to_server, 0, ByteSpan(message).first(wire::kFrameHeaderSize));
  const Bytes reply_nonce = nonce_of(keys.server_to_client_iv, 0);
  const Bytes reply_aad = tag_input(Direction::server_to_client, 0,
                                    ByteSpan(reply_frame).first(wire::kFrameHeaderSize));
  EXPECT_EQ(message, cat({ByteSpan(message).first(wire::kFrameHeaderSize),
                          seal_by_hand(keys.client_to_server, message_nonce, message_aad,
                                       util::as_bytes("hello, signet"))}));
  EXPECT_EQ(reply_frame,
            cat({ByteSpan(reply_frame).first(wire::kFrameHeaderSize),
                 seal_by_hand(keys.server_to_client, reply_nonce, reply_aad, reply_payload)}));
  // A second MESSAGE: sequence number 1, so a nonce that differs from the IV.
  Bytes message2;
  client_codec.seal(wire::FrameType::message, {util::as_bytes("again")}, message2);
  const Bytes message2_nonce = nonce_of(keys.client_to_server_iv, 1);
  const Bytes message2_aad =
      tag_input(Direction::client_to_server, 1, ByteSpan(message2).first(wire::kFrameHeaderSize));
  EXPECT_EQ(message2, cat({ByteSpan(message2).first(wire::kFrameHeaderSize),
                           seal_by_hand(keys.client_to_server, message2_nonce, message2_aad,
                                        util::as_bytes("again"))}));
  // And the receivers take them.
  Bytes message_copy = cat({message, message2}), reply_copy = reply_frame;
  auto opened = server_codec.open(message_copy);
  EXPECT_TRUE(opened.ok() && opened->has_value() &&
              util::as_chars((*opened)->payload) == "hello, signet");
  auto opened2 = server_codec.open(std::span<std::uint8_t>(message_copy).subspan(message.size()));
  EXPECT_TRUE(opened2.ok() && opened2->has_value() &&
              util::as_chars((*opened2)->payload) == "again");
  auto opened_reply = client_codec.open(reply_copy);
  EXPECT_TRUE(opened_reply.ok() && opened_reply->has_value());

  return {
      {"aead_client_hello", client_hello},
      {"aead_server_hello", server_hello},
      {"aead_hkdf_okm", okm},
      {"aead_client_to_server_key", bytes_of(keys.client_to_server.span())},
      {"aead_server_to_client_key", bytes_of(keys.server_to_client.span())},
      {"aead_client_to_server_iv", bytes_of(keys.client_to_server_iv.span())},
      {"aead_server_to_client_iv", bytes_of(keys.server_to_client_iv.span())},
      {"aead_client_finish", client_finish},
      {"aead_message_nonce", message_nonce},
      {"aead_message_aad", message_aad},
      {"aead_message_frame", message},
      {"aead_message2_nonce", message2_nonce},
      {"aead_message2_aad", message2_aad},
      {"aead_message2_frame", message2},
      {"aead_reply_nonce", reply_nonce},
      {"aead_reply_aad", reply_aad},
      {"aead_reply_frame", reply_frame},
  };
}

// Protocol version 2: the same PSK and nonces, the client offering
// hmac-sha256 and the version 2 capability (0xF2), the server choosing both.
// The client opens operation 1, a message "hello, signet"; the server
// answers it. Then the payloads of the other frame types, as the encoders
// write them. Markers start with "v2_".
std::map<std::string, Bytes> compute_v2_example() {
  const crypto::SecretBytes psk(util::as_bytes("correct horse battery staple 2026"));
  const wire::Nonce cn = counting_nonce(0x00);
  const wire::Nonce sn = counting_nonce(0x20);
  PskClientHandshake client(psk, {crypto::Suite::hmac_sha256}, cn, 2);
  PskServerHandshake server(psk, {crypto::Suite::hmac_sha256}, sn, 2);
  const auto flights = run_handshake(client, server);
  if (!flights) return {};
  const Bytes& client_hello = flights->client_hello;
  const Bytes& server_hello = flights->server_hello;
  EXPECT_EQ(client.protocol(), 2);
  EXPECT_EQ(server.protocol(), 2);

  const ByteSpan sh(server_hello);
  const auto transcript = crypto::sha256({client_hello, sh.first(sh.size() - 32)});

  FrameCodec client_codec = client.make_codec(wire::kDefaultMaxPayload);
  FrameCodec server_codec = server.make_codec(wire::kDefaultMaxPayload);
  Bytes open_frame;
  const auto open_h = proto::open_header(1, static_cast<std::uint8_t>(proto::Kind::message), true);
  client_codec.seal(static_cast<wire::FrameType>(proto::FrameType::open),
                    {open_h, util::as_bytes("hello, signet")}, open_frame);
  Bytes reply_frame;
  const auto reply_h = proto::reply_header(1, 0);
  server_codec.seal(static_cast<wire::FrameType>(proto::FrameType::reply),
                    {reply_h, util::as_bytes("verified 13 bytes")}, reply_frame);
  // The receivers take them, and the decoders read back what was written.
  Bytes open_copy = open_frame, reply_copy = reply_frame;
  auto opened = server_codec.open(open_copy);
  EXPECT_TRUE(opened.ok() && opened->has_value());
  if (opened.ok() && opened->has_value()) {
    auto f = proto::decode_open((*opened)->payload);
    EXPECT_TRUE(f.ok() && f->op == 1 && f->fin && util::as_chars(f->body) == "hello, signet");
  }
  auto replied = client_codec.open(reply_copy);
  EXPECT_TRUE(replied.ok() && replied->has_value());
  if (replied.ok() && replied->has_value()) {
    auto f = proto::decode_reply((*replied)->payload);
    EXPECT_TRUE(f.ok() && f->op == 1 && f->status == 0 &&
                util::as_chars(f->text) == "verified 13 bytes");
  }

  const auto data_h = proto::data_header(3, true);
  const Bytes data_payload = cat({data_h, util::as_bytes("abc")});
  const auto window = proto::window_payload(3, 65536);
  const Bytes cancel =
      proto::cancel_payload(3, wire::ErrorRecord{wire::ErrorCode::cancelled, "stopped"});
  EXPECT_TRUE(proto::decode_data(data_payload).ok());
  EXPECT_TRUE(proto::decode_window(window).ok());
  EXPECT_TRUE(proto::decode_cancel(cancel).ok());

  return {
      {"v2_client_hello", client_hello},
      {"v2_server_hello", server_hello},
      {"v2_transcript_hash", bytes_of(transcript)},
      {"v2_open_frame", open_frame},
      {"v2_reply_frame", reply_frame},
      {"v2_data_payload", data_payload},
      {"v2_window_payload", bytes_of(window)},
      {"v2_cancel_payload", cancel},
  };
}

TEST(ProtocolExample, DocumentMatchesTheCode) {
  const std::string doc = read_doc();
  ASSERT_FALSE(doc.empty()) << "cannot read " << kDocPath;
  const auto documented = marked_blocks(doc);
  auto computed = compute_example();
  ASSERT_FALSE(computed.empty());
  const auto aead = compute_aead_example();
  ASSERT_FALSE(aead.empty());
  computed.insert(aead.begin(), aead.end());
  const auto v2 = compute_v2_example();
  ASSERT_FALSE(v2.empty());
  computed.insert(v2.begin(), v2.end());

  std::set<std::string> want, got;
  for (const auto& [name, value] : computed) want.insert(name);
  for (const auto& [name, value] : documented) got.insert(name);
  EXPECT_EQ(got, want) << "the document's example markers differ from the expected set";

  for (const auto& [name, value] : computed) {
    const auto it = documented.find(name);
    if (it == documented.end()) {
      ADD_FAILURE() << "missing <!-- example: " << name << " -->, expected:\n"
                    << util::to_hex(value);
      continue;
    }
    EXPECT_EQ(util::to_hex(it->second), util::to_hex(value)) << "example block " << name;
  }
}

// The marker parser itself: a changed byte or a missing block must be noticed.
TEST(ProtocolExample, ParserReadsBlocksExactly) {
  const auto blocks = marked_blocks(
      "text\n<!-- example: a -->\n```hex\n01 02\n0a0B\n```\n<!-- example: b -->\n```hex\n```\n");
  ASSERT_EQ(blocks.size(), 2u);
  EXPECT_EQ(blocks.at("a"), (Bytes{0x01, 0x02, 0x0a, 0x0b}));
  EXPECT_TRUE(blocks.at("b").empty());
}

}  // namespace
}  // namespace signet::channel
