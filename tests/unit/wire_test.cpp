// Wire format: round trips, every truncation of every valid record, bad
// headers (magic, TLS, version, type, length), trailing data, field limits,
// frame headers refused from their 5 bytes alone, and seeded random garbage.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <random>
#include <string>

#include "util/encoding.hpp"
#include "wire/wire.hpp"

namespace signet::wire {
namespace {

using util::Bytes;
using util::ByteSpan;

Nonce counting_nonce(std::uint8_t first) {
  Nonce n{};
  for (std::size_t i = 0; i < n.size(); ++i) n[i] = static_cast<std::uint8_t>(first + i);
  return n;
}

ClientHello sample_client_hello(std::size_t offers = 3) {
  ClientHello m;
  m.nonce = counting_nonce(0x00);
  for (std::size_t i = 0; i < offers; ++i) m.mac_ids.push_back(static_cast<std::uint8_t>(i + 1));
  return m;
}

ServerHello sample_server_hello(std::size_t proof_size) {
  ServerHello m;
  m.mac_id = proof_size == 64 ? 0x02 : 0x01;
  m.nonce = counting_nonce(0x20);
  m.proof.assign(proof_size, 0xAB);
  return m;
}

ClientFinish sample_client_finish(std::size_t proof_size) {
  return ClientFinish{Bytes(proof_size, 0xCD)};
}

ErrorRecord sample_error() {
  return ErrorRecord{ErrorCode::key_mismatch, "shared key mismatch"};
}

// Expects r to have failed with e (and prints the detail when it did not).
template <class T>
void expect_error(const Result<T>& r, Errc e, const std::string& what) {
  ASSERT_FALSE(r.ok()) << what << ": decoded although it should fail";
  EXPECT_TRUE(r.error().is(e)) << what << ": got \"" << r.error().message() << "\"";
}

// Each valid record together with the decoder that takes it.
struct RecordCase {
  std::string name;
  Bytes record;
  std::function<bool(ByteSpan, Error&)> decode;  // true on success
};

template <class F>
std::function<bool(ByteSpan, Error&)> decoder(F f) {
  return [f](ByteSpan in, Error& err) {
    auto r = f(in);
    if (!r) err = r.error();
    return r.ok();
  };
}

std::vector<RecordCase> valid_records() {
  return {
      {"client hello (1 offer)", encode(sample_client_hello(1)),
       decoder([](ByteSpan b) { return decode_client_hello(b); })},
      {"client hello (8 offers)", encode(sample_client_hello(8)),
       decoder([](ByteSpan b) { return decode_client_hello(b); })},
      {"server hello (32)", encode(sample_server_hello(32)),
       decoder([](ByteSpan b) { return decode_server_hello(b, 32); })},
      {"server hello (64)", encode(sample_server_hello(64)),
       decoder([](ByteSpan b) { return decode_server_hello(b, 64); })},
      {"client finish (32)", encode(sample_client_finish(32)),
       decoder([](ByteSpan b) { return decode_client_finish(b, 32); })},
      {"client finish (64)", encode(sample_client_finish(64)),
       decoder([](ByteSpan b) { return decode_client_finish(b, 64); })},
      {"error record", encode(sample_error()),
       decoder([](ByteSpan b) { return decode_error_record(b); })},
      {"error record (empty reason)", encode(ErrorRecord{ErrorCode::timeout, ""}),
       decoder([](ByteSpan b) { return decode_error_record(b); })},
  };
}

// --- Round trips and exact layouts -------------------------------------------------

TEST(WireRecords, ClientHelloLayoutAndRoundTrip) {
  const Bytes rec = encode(sample_client_hello(3));
  ASSERT_EQ(rec.size(), kRecordHeaderSize + 34 + 3);
  EXPECT_EQ(util::to_hex(ByteSpan(rec).first(kRecordHeaderSize)), "53474e5401010025");
  EXPECT_EQ(rec[8], 0x01);  // mode
  EXPECT_EQ(rec[41], 3);    // number of offers
  auto m = decode_client_hello(rec);
  ASSERT_TRUE(m.ok()) << m.error().message();
  EXPECT_EQ(m->mode, Mode::shared_key);
  EXPECT_EQ(m->nonce, counting_nonce(0x00));
  EXPECT_EQ(m->mac_ids, (std::vector<std::uint8_t>{1, 2, 3}));
}

TEST(WireRecords, ServerHelloRoundTrip) {
  for (std::size_t proof : {32u, 64u}) {
    const Bytes rec = encode(sample_server_hello(proof));
    ASSERT_EQ(rec.size(), kRecordHeaderSize + 33 + proof);
    auto mac = peek_server_hello_mac(rec);
    ASSERT_TRUE(mac.ok());
    EXPECT_EQ(*mac, proof == 64 ? 0x02 : 0x01);
    auto m = decode_server_hello(rec, proof);
    ASSERT_TRUE(m.ok()) << m.error().message();
    EXPECT_EQ(m->nonce, counting_nonce(0x20));
    EXPECT_EQ(m->proof, Bytes(proof, 0xAB));
    EXPECT_EQ(encode(*m), rec);
  }
}

TEST(WireRecords, ClientFinishAndErrorRoundTrip) {
  auto f = decode_client_finish(encode(sample_client_finish(32)), 32);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->proof, Bytes(32, 0xCD));

  const Bytes rec = encode(sample_error());
  // "SGNT" 01 0f, length 1 + 19, code 05, then the reason.
  EXPECT_EQ(util::to_hex(ByteSpan(rec).first(9)), "53474e54010f001405");
  auto e = decode_error_record(rec);
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(e->code, ErrorCode::key_mismatch);
  EXPECT_EQ(e->reason, "shared key mismatch");
}

TEST(WireRecords, ProofSizeMustMatchTheChosenMac) {
  // A 32-byte proof read as a 64-byte one is short; the reverse leaves bytes over.
  expect_error(decode_server_hello(encode(sample_server_hello(32)), 64), Errc::truncated,
               "server hello 32 as 64");
  expect_error(decode_server_hello(encode(sample_server_hello(64)), 32), Errc::trailing_data,
               "server hello 64 as 32");
  expect_error(decode_client_finish(encode(sample_client_finish(32)), 64), Errc::truncated,
               "client finish 32 as 64");
  expect_error(decode_client_finish(encode(sample_client_finish(64)), 32), Errc::trailing_data,
               "client finish 64 as 32");
}

// --- Truncation, trailing data ---------------------------------------------------

TEST(WireRecords, EveryTruncationFailsCleanly) {
  for (const auto& c : valid_records()) {
    Error err;
    ASSERT_TRUE(c.decode(c.record, err)) << c.name << ": " << err.message();
    for (std::size_t len = 0; len < c.record.size(); ++len) {
      Error e;
      ASSERT_FALSE(c.decode(ByteSpan(c.record).first(len), e)) << c.name << " cut at " << len;
      EXPECT_TRUE(e.is(Errc::truncated)) << c.name << " cut at " << len << ": " << e.message();
    }
  }
}

TEST(WireRecords, HeaderTruncationFailsCleanly) {
  const Bytes rec = encode(sample_client_hello());
  for (std::size_t len = 0; len < kRecordHeaderSize; ++len) {
    expect_error(decode_record_header(ByteSpan(rec).first(len)), Errc::truncated,
                 "header cut at " + std::to_string(len));
  }
  expect_error(peek_server_hello_mac(ByteSpan(rec).first(kRecordHeaderSize)), Errc::truncated,
               "peek without a body");
}

TEST(WireRecords, TrailingBytesAfterTheRecordAreRefused) {
  for (const auto& c : valid_records()) {
    Bytes longer = c.record;
    longer.push_back(0x00);
    Error e;
    ASSERT_FALSE(c.decode(longer, e)) << c.name;
    EXPECT_TRUE(e.is(Errc::trailing_data)) << c.name << ": " << e.message();
  }
}

TEST(WireRecords, BodyLongerThanItsFieldsIsRefused) {
  // The length field counts one byte more than the fields need.
  const auto grow = [](Bytes rec) {
    rec.push_back(0x00);
    util::store_u16(rec.data() + 6, static_cast<std::uint16_t>(rec.size() - kRecordHeaderSize));
    return rec;
  };
  expect_error(decode_client_hello(grow(encode(sample_client_hello()))), Errc::trailing_data,
               "client hello");
  expect_error(decode_server_hello(grow(encode(sample_server_hello(32))), 32), Errc::trailing_data,
               "server hello");
  expect_error(decode_client_finish(grow(encode(sample_client_finish(32))), 32),
               Errc::trailing_data, "client finish");
}

// --- Headers: magic, TLS, version, type, length -----------------------------------------

TEST(WireRecords, BadMagicIsRefused) {
  Bytes rec = encode(sample_client_hello());
  rec[3] = 'X';
  expect_error(decode_record_header(rec), Errc::bad_magic, "SGNX");
  expect_error(decode_client_hello(rec), Errc::bad_magic, "SGNX hello");
  const std::string http = "GET / HTTP/1.1\r\n";
  expect_error(decode_record_header(util::as_bytes(http)), Errc::bad_magic, "HTTP");
  EXPECT_EQ(error_code_for(decode_record_header(rec).error()), ErrorCode::protocol_violation);
}

TEST(WireRecords, TlsFirstBytesAreWrongMode) {
  // A TLS 1.3 ClientHello starts 16 03 01 <len> 01 (RFC 8446 section 5.1).
  const Bytes tls = {0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03};
  auto h = decode_record_header(tls);
  expect_error(h, Errc::wrong_mode, "TLS record");
  EXPECT_EQ(error_code_for(h.error()), ErrorCode::wrong_mode);
  expect_error(decode_client_hello(tls), Errc::wrong_mode, "TLS as client hello");
}

TEST(WireRecords, OtherVersionIsRefused) {
  for (const std::uint8_t v : std::initializer_list<std::uint8_t>{0x00, 0x02, 0xFF}) {
    Bytes rec = encode(sample_client_hello());
    rec[4] = v;
    auto h = decode_record_header(rec);
    expect_error(h, Errc::bad_version, "version " + std::to_string(v));
    EXPECT_EQ(error_code_for(h.error()), ErrorCode::unsupported_version);
  }
}

TEST(WireRecords, UnknownOrUnexpectedTypeIsRefused) {
  for (const std::uint8_t t : std::initializer_list<std::uint8_t>{0x00, 0x04, 0x0E, 0x10, 0xFF}) {
    Bytes rec = encode(sample_client_hello());
    rec[5] = t;
    expect_error(decode_record_header(rec), Errc::malformed, "type " + std::to_string(t));
  }
  // A well-formed record of another type.
  expect_error(decode_client_hello(encode(sample_client_finish(32))), Errc::unexpected_frame,
               "finish as hello");
  expect_error(decode_server_hello(encode(sample_client_hello()), 32), Errc::unexpected_frame,
               "hello as server hello");
  expect_error(decode_client_finish(encode(sample_error()), 32), Errc::unexpected_frame,
               "error as finish");
  expect_error(decode_error_record(encode(sample_client_hello())), Errc::unexpected_frame,
               "hello as error");
}

TEST(WireRecords, BodyAboveTheLimitIsRefusedFromTheHeader) {
  Bytes header = {'S', 'G', 'N', 'T', kVersion, 0x01, 0, 0};
  util::store_u16(header.data() + 6, kMaxRecordBody);
  EXPECT_TRUE(decode_record_header(header).ok());
  util::store_u16(header.data() + 6, kMaxRecordBody + 1);
  auto h = decode_record_header(header);
  expect_error(h, Errc::too_large, "1025");
  EXPECT_EQ(error_code_for(h.error()), ErrorCode::too_large);
  util::store_u16(header.data() + 6, 0xFFFF);
  expect_error(decode_record_header(header), Errc::too_large, "65535");
  // Refused from the 8 header bytes alone, before the body exists.
  expect_error(decode_client_hello(header), Errc::too_large, "client hello header only");
}

// --- Field limits ------------------------------------------------------------------

TEST(WireRecords, ClientHelloFieldLimits) {
  Bytes rec = encode(sample_client_hello());
  rec[8] = 0x02;  // mode
  expect_error(decode_client_hello(rec), Errc::wrong_mode, "mode 2");

  ClientHello none = sample_client_hello(0);
  expect_error(decode_client_hello(encode(none)), Errc::malformed, "no offers");
  ClientHello nine = sample_client_hello(9);
  expect_error(decode_client_hello(encode(nine)), Errc::malformed, "nine offers");
  EXPECT_TRUE(decode_client_hello(encode(sample_client_hello(kMaxMacOffers))).ok());
}

TEST(WireRecords, ErrorRecordFieldLimits) {
  const auto with_body = [](Bytes body) {
    Bytes rec(8 + body.size());
    const std::uint8_t header[] = {'S', 'G', 'N', 'T', kVersion, 0x0F};
    std::copy(std::begin(header), std::end(header), rec.begin());
    util::store_u16(rec.data() + 6, static_cast<std::uint16_t>(body.size()));
    std::copy(body.begin(), body.end(), rec.begin() + 8);
    return rec;
  };
  expect_error(decode_error_record(with_body({})), Errc::truncated, "no code");
  expect_error(decode_error_record(with_body({0x00})), Errc::malformed, "code 0");
  // A code from a later version: kept, named as unknown, mapped to peer_error.
  auto future = decode_error_record(with_body({0x0E, 'n', 'e', 'w'}));
  ASSERT_TRUE(future.ok());
  EXPECT_EQ(error_code_name(future->code), "unknown error");
  EXPECT_EQ(errc_for(future->code), Errc::peer_error);
  EXPECT_EQ(future->reason, "new");
  for (std::uint8_t c = 0x01; c <= 0x0D; ++c) {
    auto e = decode_error_record(with_body({c}));
    ASSERT_TRUE(e.ok()) << int{c};
    EXPECT_NE(error_code_name(e->code), "unknown error");
  }
  expect_error(decode_error_record(with_body({0x01, 'a', '\n'})), Errc::malformed, "newline");
  expect_error(decode_error_record(with_body({0x01, 0x7F})), Errc::malformed, "DEL");
  EXPECT_TRUE(decode_error_record(with_body({0x01, 'a', '\t', 'b'})).ok());

  Bytes long_body(1 + kMaxReasonSize + 1, 'x');
  long_body[0] = 0x01;
  expect_error(decode_error_record(with_body(long_body)), Errc::too_large, "513-byte reason");
  long_body.pop_back();
  EXPECT_TRUE(decode_error_record(with_body(long_body)).ok());

  // The encoder cuts the reason to the limit, so what it sends always decodes.
  const Bytes rec = encode(ErrorRecord{ErrorCode::internal, std::string(2000, 'y')});
  auto e = decode_error_record(rec);
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(e->reason.size(), kMaxReasonSize);
}

TEST(WireRecords, ErrorReasonMustBeSafeUtf8Text) {
  const auto record_with_reason = [](const std::string& reason) {
    Bytes rec = {'S', 'G', 'N', 'T', kVersion, 0x0F, 0, 0, 0x01};
    rec.insert(rec.end(), reason.begin(), reason.end());
    util::store_u16(rec.data() + 6, static_cast<std::uint16_t>(rec.size() - 8));
    return rec;
  };
  const std::pair<const char*, std::string> bad[] = {
      {"C1 CSI as UTF-8",
       "a\xc2\x9b"
       "2J"},
      {"raw 8-bit CSI",
       "a\x9b"
       "2J"},
      {"U+202E",
       "a\xe2\x80\xae"
       "b"},
      {"U+2066",
       "a\xe2\x81\xa6"
       "b"},
      {"U+200F", "\xe2\x80\x8f"},
      {"U+061C", "\xd8\x9c"},
      {"invalid UTF-8", "a\xff"},
      {"overlong", "\xc0\xaf"},
      {"surrogate", "\xed\xa0\x80"},
      {"cut sequence", "caf\xc3"},
      {"ESC", "\x1b[2J"},
  };
  for (const auto& [what, reason] : bad) {
    expect_error(decode_error_record(record_with_reason(reason)), Errc::malformed, what);
    Bytes payload = {0x01};
    payload.insert(payload.end(), reason.begin(), reason.end());
    expect_error(decode_error_payload(payload), Errc::malformed, std::string(what) + " (frame)");
  }
  const std::string good = "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80\tok";
  auto e = decode_error_record(record_with_reason(good));
  ASSERT_TRUE(e.ok()) << e.error().message();
  EXPECT_EQ(e->reason, good);
}

TEST(WireRecords, EncodedReasonsAlwaysDecode) {
  // A local error's text is escaped where it breaks the rules...
  auto escaped = decode_error_record(encode(ErrorRecord{ErrorCode::internal, "a\nb\xc2\x9b"}));
  ASSERT_TRUE(escaped.ok()) << escaped.error().message();
  EXPECT_EQ(escaped->reason, "a\\nb\\xc2\\x9b");
  // ... and cut at the limit without splitting a character.
  std::string long_reason = "x";
  while (long_reason.size() < 2 * kMaxReasonSize) long_reason += "\xc3\xa9";
  auto cut = decode_error_record(encode(ErrorRecord{ErrorCode::internal, long_reason}));
  ASSERT_TRUE(cut.ok()) << cut.error().message();
  EXPECT_EQ(cut->reason.size(), kMaxReasonSize - 1);
  EXPECT_EQ(cut->reason, long_reason.substr(0, kMaxReasonSize - 1));
}

TEST(WireRecords, ErrorCodesMapBothWays) {
  for (Errc e : {Errc::bad_version, Errc::wrong_mode, Errc::unsupported_mac, Errc::key_mismatch,
                 Errc::bad_tag, Errc::too_large, Errc::not_authorized}) {
    EXPECT_EQ(errc_for(error_code_for(Error(e))), e) << Error(e).message();
  }
  EXPECT_EQ(error_code_for(Error(Errc::malformed)), ErrorCode::protocol_violation);
  EXPECT_EQ(error_code_for(Error(Errc::unexpected_frame)), ErrorCode::protocol_violation);
  EXPECT_EQ(error_code_for(Error(Errc::handshake_timeout)), ErrorCode::timeout);
  EXPECT_EQ(error_code_for(Error(Errc::idle_timeout)), ErrorCode::timeout);
  EXPECT_EQ(error_code_for(Error(std::make_error_code(std::errc::io_error))), ErrorCode::internal);
}

// --- Frame headers and payloads -------------------------------------------------------

TEST(WireFrames, HeaderLayoutAndLimits) {
  std::uint8_t h[kFrameHeaderSize];
  encode_frame_header(FrameType::reply, 0x01020304, h);
  EXPECT_EQ(util::to_hex(ByteSpan(h)), "0201020304");

  encode_frame_header(FrameType::message, kDefaultMaxPayload, h);
  auto ok = decode_frame_header(h, kDefaultMaxPayload);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->type, FrameType::message);
  EXPECT_EQ(ok->length, kDefaultMaxPayload);

  // Refused from the 5 header bytes alone: no payload follows.
  for (std::uint32_t len : {kDefaultMaxPayload + 1, 0xFFFFFFFFu}) {
    encode_frame_header(FrameType::message, len, h);
    expect_error(decode_frame_header(h, kDefaultMaxPayload), Errc::too_large,
                 "length " + std::to_string(len));
  }
  // Version 2's types pass (src/proto judges them); no other does.
  for (std::uint8_t t = 0x10; t <= 0x14; ++t) {
    const std::uint8_t v2[kFrameHeaderSize] = {t, 0, 0, 0, 1};
    EXPECT_TRUE(decode_frame_header(v2, kDefaultMaxPayload).ok()) << int{t};
  }
  // The limit bounds what follows a version 2 frame's operation header, so
  // it means the same number of message bytes in both versions; the
  // largest 32-bit limit does not overflow.
  for (std::uint8_t t = 0x10; t <= 0x14; ++t) {
    const std::uint32_t header = operation_header_size(t);
    EXPECT_GE(header, 5u) << int{t};
    std::uint8_t v2[kFrameHeaderSize];
    encode_frame_header(static_cast<FrameType>(t), 1000 + header, v2);
    EXPECT_TRUE(decode_frame_header(v2, 1000).ok()) << int{t};
    encode_frame_header(static_cast<FrameType>(t), 1001 + header, v2);
    expect_error(decode_frame_header(v2, 1000), Errc::too_large, "type " + std::to_string(t));
    EXPECT_NE(
        decode_frame_header(v2, 1000).error().detail.find(
            "1001 after its " + std::to_string(header) + "-byte operation header, limit 1000"),
        std::string::npos);
    encode_frame_header(static_cast<FrameType>(t), 0xFFFFFFFFu, v2);
    EXPECT_TRUE(decode_frame_header(v2, 0xFFFFFFFFu).ok()) << int{t};
  }
  for (const std::uint8_t t : std::initializer_list<std::uint8_t>{0x01, 0x02, 0x03})
    EXPECT_EQ(operation_header_size(t), 0u);
  for (const std::uint8_t t :
       std::initializer_list<std::uint8_t>{0x00, 0x04, 0x0F, 0x15, 0x43, 0x53, 0xFF}) {
    const std::uint8_t bad[kFrameHeaderSize] = {t, 0, 0, 0, 1};
    expect_error(decode_frame_header(bad, kDefaultMaxPayload), Errc::malformed,
                 "type " + std::to_string(t));
  }
  for (std::size_t len = 0; len < kFrameHeaderSize; ++len) {
    expect_error(decode_frame_header(ByteSpan(h).first(len), kDefaultMaxPayload), Errc::truncated,
                 "header cut at " + std::to_string(len));
  }
}

TEST(WireFrames, ReplyAndErrorPayloads) {
  const Bytes reply = encode_reply_payload({0, "verified 13 bytes"});
  EXPECT_EQ(reply[0], 0);
  auto r = decode_reply_payload(reply);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->status, 0);
  EXPECT_EQ(r->text, "verified 13 bytes");
  expect_error(decode_reply_payload({}), Errc::truncated, "empty reply");
  auto status_only = decode_reply_payload(Bytes{7});
  ASSERT_TRUE(status_only.ok());
  EXPECT_EQ(status_only->status, 7);
  EXPECT_TRUE(status_only->text.empty());

  const Bytes err = encode_error_payload({ErrorCode::bad_tag, "authentication failed"});
  auto e = decode_error_payload(err);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->code, ErrorCode::bad_tag);
  expect_error(decode_error_payload({}), Errc::truncated, "empty error payload");
}

// --- Random garbage --------------------------------------------------------------------

// Any input a decoder accepts must re-encode to exactly the same bytes, so no
// garbage is ever taken for something other than what it says.
TEST(WireGarbage, RandomInputNeverCrashesAndOnlyCanonicalInputDecodes) {
  std::mt19937 rng(20260101);
  const Bytes prefixes[] = {
      {},
      {'S', 'G', 'N', 'T', kVersion},
      {'S', 'G', 'N', 'T', kVersion, 0x01},
      {'S', 'G', 'N', 'T', kVersion, 0x0F, 0x00},
  };
  const auto records = valid_records();
  int decoded = 0;
  for (int i = 0; i < 6000; ++i) {
    Bytes in;
    if (i % 2 == 0) {
      // Random bytes after a plausible prefix.
      in = prefixes[static_cast<std::size_t>(i / 2) % std::size(prefixes)];
      const std::size_t n = rng() % 160;
      for (std::size_t j = 0; j < n; ++j) in.push_back(static_cast<std::uint8_t>(rng()));
    } else {
      // A valid record with a few random bytes changed, cut or added.
      in = records[rng() % records.size()].record;
      for (std::size_t k = 1 + rng() % 4; k > 0; --k) {
        switch (rng() % 3) {
          case 0:
            in[rng() % in.size()] = static_cast<std::uint8_t>(rng());
            break;
          case 1:
            in.resize(in.size() - std::min<std::size_t>(in.size() - 1, rng() % 8));
            break;
          default:
            in.push_back(static_cast<std::uint8_t>(rng()));
        }
      }
    }
    // Sometimes make the length field match, to get past the header checks.
    if (in.size() >= kRecordHeaderSize && rng() % 2 == 0) {
      util::store_u16(in.data() + 6, static_cast<std::uint16_t>(in.size() - kRecordHeaderSize));
    }
    (void)decode_record_header(in);
    (void)peek_server_hello_mac(in);
    if (auto m = decode_client_hello(in)) {
      EXPECT_EQ(encode(*m), in);
      ++decoded;
    }
    for (std::size_t proof : {32u, 64u}) {
      if (auto m = decode_server_hello(in, proof)) {
        EXPECT_EQ(encode(*m), in);
      }
      if (auto m = decode_client_finish(in, proof)) {
        EXPECT_EQ(encode(*m), in);
      }
    }
    if (auto m = decode_error_record(in)) {
      EXPECT_EQ(encode(*m), in);
      ++decoded;
    }
    if (in.size() >= kFrameHeaderSize) {
      if (auto h = decode_frame_header(in, 4096)) {
        EXPECT_LE(h->length, 4096u);
      }
    }
    if (auto r = decode_reply_payload(in)) {
      EXPECT_EQ(encode_reply_payload(*r), in);
    }
    if (auto e = decode_error_payload(in)) {
      EXPECT_EQ(encode_error_payload(*e), in);
    }
  }
  // Some mutated records (a changed nonce byte, say) are still valid: the
  // round-trip checks above did run.
  EXPECT_GT(decoded, 0);
}

}  // namespace
}  // namespace signet::wire
