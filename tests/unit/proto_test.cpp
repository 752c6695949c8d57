// The application protocol (src/proto): version 2's frames (round trips,
// every truncation, reserved bits, canonical re-encoding, seeded garbage)
// and the session state machine of both roles and both versions (ids,
// reply matching, credit windows, cancellation races, refusals, version 1's
// direction rules and reply order).
#include <gtest/gtest.h>

#include <deque>
#include <random>
#include <string>
#include <vector>

#include "proto/frames.hpp"
#include "proto/session.hpp"

namespace signet::proto {
namespace {

using util::Bytes;
using util::ByteSpan;

struct SentFrame {
  std::uint8_t type = 0;
  Bytes payload;
};

// Records what a session sends.
class Recorder : public FrameSink {
 public:
  void send_frame(std::uint8_t type, std::initializer_list<ByteSpan> parts) override {
    SentFrame f{type, {}};
    for (auto p : parts) f.payload.insert(f.payload.end(), p.begin(), p.end());
    frames.push_back(std::move(f));
  }
  SentFrame take() {
    EXPECT_FALSE(frames.empty());
    SentFrame f = frames.front();
    frames.erase(frames.begin());
    return f;
  }
  std::vector<SentFrame> frames;
};

Bytes join(std::initializer_list<ByteSpan> parts) {
  Bytes out;
  for (auto p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

constexpr auto kOpen = static_cast<std::uint8_t>(FrameType::open);
constexpr auto kData = static_cast<std::uint8_t>(FrameType::data);
constexpr auto kWindow = static_cast<std::uint8_t>(FrameType::window);
constexpr auto kReply = static_cast<std::uint8_t>(FrameType::reply);
constexpr auto kCancel = static_cast<std::uint8_t>(FrameType::cancel);
constexpr auto kMessage = static_cast<std::uint8_t>(Kind::message);
constexpr auto kPut = static_cast<std::uint8_t>(Kind::put);
constexpr auto kGet = static_cast<std::uint8_t>(Kind::get);
constexpr auto kList = static_cast<std::uint8_t>(Kind::list);

// --- Frames ------------------------------------------------------------------

struct FrameCase {
  std::string name;
  std::uint8_t type;
  Bytes payload;
  std::size_t min_size;  // shorter payloads are truncated
};

std::vector<FrameCase> valid_frames() {
  const Bytes body = {'h', 'i'};
  return {
      {"OPEN", kOpen, join({open_header(7, kMessage, true), body}), kOpenHeaderSize},
      {"OPEN without body", kOpen, join({open_header(0xFFFFFFFF, 9, false)}), kOpenHeaderSize},
      {"DATA", kData, join({data_header(3, false), body}), kDataHeaderSize},
      {"DATA fin, empty", kData, join({data_header(3, true)}), kDataHeaderSize},
      {"WINDOW", kWindow, join({window_payload(5, kMaxWindow)}), kWindowSize},
      {"REPLY", kReply, join({reply_header(9, 4), body}), kReplyHeaderSize},
      {"REPLY empty text", kReply, join({reply_header(9, 0)}), kReplyHeaderSize},
      {"CANCEL", kCancel, cancel_payload(11, {wire::ErrorCode::cancelled, "stop"}), 5},
  };
}

// Decodes and re-encodes; the result must equal the input (one encoding per frame).
Result<Bytes> reencode(std::uint8_t type, ByteSpan p) {
  switch (static_cast<FrameType>(type)) {
    case FrameType::open: {
      auto f = decode_open(p);
      if (!f) return f.error();
      return join({open_header(f->op, f->kind, f->fin, f->receipt), f->body});
    }
    case FrameType::data: {
      auto f = decode_data(p);
      if (!f) return f.error();
      return join({data_header(f->op, f->fin), f->bytes});
    }
    case FrameType::window: {
      auto f = decode_window(p);
      if (!f) return f.error();
      return join({window_payload(f->op, f->increment)});
    }
    case FrameType::reply: {
      auto f = decode_reply(p);
      if (!f) return f.error();
      return join({reply_header(f->op, f->status), f->text});
    }
    case FrameType::cancel: {
      auto f = decode_cancel(p);
      if (!f) return f.error();
      return cancel_payload(f->op, f->error);
    }
  }
  return Error(Errc::malformed, "type");
}

TEST(ProtoFrames, RoundTripsAreByteExact) {
  for (const auto& c : valid_frames()) {
    auto r = reencode(c.type, c.payload);
    ASSERT_TRUE(r.ok()) << c.name << ": " << r.error().message();
    EXPECT_EQ(*r, c.payload) << c.name;
  }
  const auto frames = valid_frames();
  auto open = decode_open(frames[0].payload);
  ASSERT_TRUE(open.ok());
  EXPECT_EQ(open->op, 7u);
  EXPECT_EQ(open->kind, kMessage);
  EXPECT_TRUE(open->fin);
  EXPECT_EQ(util::as_chars(open->body), "hi");
  auto cancel = decode_cancel(frames[7].payload);
  ASSERT_TRUE(cancel.ok());
  EXPECT_EQ(cancel->op, 11u);
  EXPECT_EQ(cancel->error.code, wire::ErrorCode::cancelled);
  EXPECT_EQ(cancel->error.reason, "stop");
}

TEST(ProtoFrames, EveryTruncationOfTheFixedPartFails) {
  for (const auto& c : valid_frames()) {
    for (std::size_t n = 0; n < c.min_size; ++n) {
      auto r = reencode(c.type, ByteSpan(c.payload).first(n));
      ASSERT_FALSE(r.ok()) << c.name << " cut to " << n << " bytes decoded";
      EXPECT_TRUE(r.error().is(Errc::truncated))
          << c.name << " at " << n << ": " << r.error().message();
    }
  }
}

TEST(ProtoFrames, FieldRulesAreEnforced) {
  // Operation id 0, in every frame type.
  for (auto c : valid_frames()) {
    c.payload[0] = c.payload[1] = c.payload[2] = c.payload[3] = 0;
    auto r = reencode(c.type, c.payload);
    ASSERT_FALSE(r.ok()) << c.name;
    EXPECT_TRUE(r.error().is(Errc::malformed)) << c.name;
  }
  // Reserved flag bits.
  for (std::uint8_t bit = 1; bit != 0; bit = static_cast<std::uint8_t>(bit << 1)) {
    if (bit == kFin) continue;
    auto open = join({open_header(1, kMessage, true)});
    open[5] |= bit;
    if (bit == kReceipt) {
      // OPEN's RECEIPT (docs/PROTOCOL.md, "Receipts"), for OPEN only.
      auto f = decode_open(open);
      ASSERT_TRUE(f.ok());
      EXPECT_TRUE(f->receipt && f->fin);
      EXPECT_EQ(join({open_header(1, kMessage, true, true)}), open);
    } else {
      EXPECT_TRUE(decode_open(open).error().is(Errc::malformed));
    }
    auto data = join({data_header(1, false)});
    data[4] |= bit;
    EXPECT_TRUE(decode_data(data).error().is(Errc::malformed));
  }
  EXPECT_FALSE(decode_open(join({open_header(1, kMessage, true)}))->receipt);
  // Kind 0; WINDOW increments 0 and above 2^31-1, and trailing bytes.
  EXPECT_TRUE(decode_open(join({open_header(1, 0, true)})).error().is(Errc::malformed));
  auto w = join({window_payload(1, 1)});
  util::store_u32(w.data() + 4, 0);
  EXPECT_TRUE(decode_window(w).error().is(Errc::malformed));
  util::store_u32(w.data() + 4, 0x80000000u);
  EXPECT_TRUE(decode_window(w).error().is(Errc::malformed));
  w = join({window_payload(1, 1)});
  w.push_back(0);
  EXPECT_TRUE(decode_window(w).error().is(Errc::trailing_data));
  // CANCEL: code 0, an unsafe reason, a reason over 512 bytes.
  auto c = cancel_payload(1, {wire::ErrorCode::cancelled, ""});
  c[4] = 0;
  EXPECT_TRUE(decode_cancel(c).error().is(Errc::malformed));
  c = cancel_payload(1, {wire::ErrorCode::cancelled, ""});
  c.push_back(0x1B);
  EXPECT_TRUE(decode_cancel(c).error().is(Errc::malformed));
  c = cancel_payload(1, {wire::ErrorCode::cancelled, ""});
  c.insert(c.end(), 513, 'a');
  EXPECT_TRUE(decode_cancel(c).error().is(Errc::too_large));
}

TEST(ProtoFrames, RandomGarbageDecodesCanonicallyOrFailsCleanly) {
  std::mt19937 rng(20261201);
  std::size_t decoded = 0;
  for (int i = 0; i < 200000; ++i) {
    Bytes p(rng() % 24);
    for (auto& b : p) b = static_cast<std::uint8_t>(rng() % 4 == 0 ? 0 : rng());
    const auto type = static_cast<std::uint8_t>(0x10 + rng() % 5);
    auto r = reencode(type, p);
    if (r) {
      ++decoded;
      ASSERT_EQ(*r, p) << "type " << int(type) << ": not canonical";
    }
  }
  EXPECT_GT(decoded, 1000u);  // the generator reaches valid frames too
}

// --- Sessions ------------------------------------------------------------------

// A client and a server session joined back to back.
struct Pair {
  explicit Pair(int version = kVersion2, Authorizer authorize = {})
      : client(Role::client, version), server(Role::server, version, std::move(authorize)) {}

  // Delivers every frame one side has sent to the other; returns the events.
  std::vector<Event> to_server() { return deliver(to_server_, server, to_client_); }
  std::vector<Event> to_client() { return deliver(to_client_, client, to_server_); }

  // Events point into the frames' payloads, which stay in `delivered`.
  std::vector<Event> deliver(Recorder& from, Session& to, Recorder& back) {
    std::vector<Event> events;
    while (!from.frames.empty()) {
      const SentFrame& f = delivered.emplace_back(from.take());
      auto e = to.receive(f.type, f.payload, back);
      EXPECT_TRUE(e.ok()) << e.error().message();
      if (e && *e) events.push_back(**e);
    }
    return events;
  }

  Session client;
  Session server;
  std::deque<SentFrame> delivered;
  Recorder to_server_;  // what the client sent
  Recorder to_client_;  // what the server sent
};

TEST(ProtoSession, MessagesAreAnsweredByIdInAnyOrder) {
  Pair p;
  const Bytes a = {'a'}, b = {'b'};
  auto op1 = p.client.open(kMessage, a, true, p.to_server_);
  auto op2 = p.client.open(kMessage, b, true, p.to_server_);
  ASSERT_TRUE(op1.ok() && op2.ok());
  EXPECT_EQ(*op1, 1u);
  EXPECT_EQ(*op2, 3u);
  auto events = p.to_server();
  ASSERT_EQ(events.size(), 2u);
  const auto& o2 = std::get<Opened>(events[1]);
  EXPECT_EQ(o2.op, 3u);
  EXPECT_EQ(util::as_chars(o2.body), "b");
  EXPECT_EQ(p.server.open_operations(), 2u);

  // The second is answered first; the client matches by id.
  const Bytes t2 = {'2'}, t1 = {'1'};
  ASSERT_TRUE(p.server.reply(3, 0, t2, p.to_client_).ok());
  ASSERT_TRUE(p.server.reply(1, 7, t1, p.to_client_).ok());
  events = p.to_client();
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(std::get<Answered>(events[0]).op, 3u);
  EXPECT_EQ(std::get<Answered>(events[1]).op, 1u);
  EXPECT_EQ(std::get<Answered>(events[1]).status, 7);
  EXPECT_EQ(p.client.open_operations(), 0u);
  EXPECT_EQ(p.server.open_operations(), 0u);
}

TEST(ProtoSession, EitherSideOpensAndIdsDoNotCollide) {
  Pair p;
  auto s = p.server.open(kMessage, {}, true, p.to_client_);
  auto c = p.client.open(kMessage, {}, true, p.to_server_);
  ASSERT_TRUE(s.ok() && c.ok());
  EXPECT_EQ(*s, 2u);
  EXPECT_EQ(*c, 1u);
  ASSERT_EQ(p.to_client().size(), 1u);
  ASSERT_EQ(p.to_server().size(), 1u);
  ASSERT_TRUE(p.client.reply(2, 0, {}, p.to_server_).ok());
  ASSERT_TRUE(p.server.reply(1, 0, {}, p.to_client_).ok());
  EXPECT_EQ(p.to_client().size(), 1u);
  EXPECT_EQ(p.to_server().size(), 1u);
}

TEST(ProtoSession, DataIsBoundByTheCreditWindow) {
  Pair p;
  auto op = p.client.open(kMessage, {}, false, p.to_server_);
  ASSERT_TRUE(op.ok());
  p.to_server();
  EXPECT_EQ(p.client.send_window(*op), kInitialWindow);
  const Bytes chunk(kInitialWindow, 'x');
  ASSERT_TRUE(p.client.send_data(*op, chunk, false, p.to_server_).ok());
  EXPECT_EQ(p.client.send_window(*op), 0u);
  EXPECT_THROW((void)p.client.send_data(*op, Bytes(1, 'y'), false, p.to_server_), std::logic_error);
  ASSERT_EQ(p.to_server().size(), 1u);

  // The server grants more; the client may send that much again.
  ASSERT_TRUE(p.server.grant(*op, 1000, p.to_client_).ok());
  auto events = p.to_client();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_TRUE(std::holds_alternative<WindowGrown>(events[0]));
  EXPECT_EQ(p.client.send_window(*op), 1000u);
  ASSERT_TRUE(p.client.send_data(*op, Bytes(1000, 'z'), true, p.to_server_).ok());
  EXPECT_TRUE(std::get<Received>(p.to_server().at(0)).fin);
}

TEST(ProtoSession, APeerThatOverrunsItsWindowBreaksTheProtocol) {
  Session server(Role::server, kVersion2);
  Recorder out;
  ASSERT_TRUE(server.receive(kOpen, join({open_header(1, kMessage, false)}), out).ok());
  const Bytes over = join({data_header(1, false), Bytes(kInitialWindow + 1, 'x')});
  auto r = server.receive(kData, over, out);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().is(Errc::unexpected_frame));
  EXPECT_NE(r.error().message().find("credit window"), std::string::npos);
}

TEST(ProtoSession, WindowsCannotGrowPast2To31) {
  Session client(Role::client, kVersion2);
  Recorder out;
  auto op = client.open(kMessage, {}, false, out);
  ASSERT_TRUE(op.ok());
  auto r = client.receive(kWindow, join({window_payload(*op, kMaxWindow - kInitialWindow)}), out);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(client.send_window(*op), kMaxWindow);
  r = client.receive(kWindow, join({window_payload(*op, 1)}), out);
  EXPECT_FALSE(r.ok());
}

TEST(ProtoSession, IdsMustHaveThePeersParityAndIncrease) {
  Session server(Role::server, kVersion2);
  Recorder out;
  EXPECT_FALSE(server.receive(kOpen, join({open_header(2, kMessage, true)}), out).ok());
  Session s2(Role::server, kVersion2);
  ASSERT_TRUE(s2.receive(kOpen, join({open_header(5, kMessage, true)}), out).ok());
  EXPECT_FALSE(s2.receive(kOpen, join({open_header(5, kMessage, true)}), out).ok());
  Session s3(Role::server, kVersion2);
  ASSERT_TRUE(s3.receive(kOpen, join({open_header(5, kMessage, true)}), out).ok());
  EXPECT_FALSE(s3.receive(kOpen, join({open_header(3, kMessage, true)}), out).ok());
  // Gaps are allowed: ids only need to increase.
  ASSERT_TRUE(s3.receive(kOpen, join({open_header(101, kMessage, true)}), out).ok());
}

TEST(ProtoSession, FramesForOperationsNeverOpenedBreakTheProtocolFramesForEndedOnesAreDropped) {
  Session server(Role::server, kVersion2);
  Recorder out;
  // Never opened: 9 (the client's, above the last it opened) and 4 (the server's own).
  EXPECT_FALSE(server.receive(kData, join({data_header(9, false)}), out).ok());
  EXPECT_FALSE(server.receive(kWindow, join({window_payload(4, 1)}), out).ok());
  EXPECT_FALSE(
      server.receive(kCancel, cancel_payload(9, {wire::ErrorCode::cancelled, ""}), out).ok());
  // A REPLY from the client to an operation the client opened is a violation.
  ASSERT_TRUE(server.receive(kOpen, join({open_header(1, kMessage, false)}), out).ok());
  EXPECT_FALSE(server.receive(kReply, join({reply_header(1, 0)}), out).ok());

  // The server answers op 1; DATA the client sent before it saw the REPLY
  // arrives afterwards and is dropped without a word.
  Session s(Role::server, kVersion2);
  ASSERT_TRUE(s.receive(kOpen, join({open_header(1, kMessage, false)}), out).ok());
  ASSERT_TRUE(s.reply(1, 0, {}, out).ok());
  auto late = s.receive(kData, join({data_header(1, false), Bytes(10, 'x')}), out);
  ASSERT_TRUE(late.ok());
  EXPECT_FALSE(late->has_value());
  auto cancel = s.receive(kCancel, cancel_payload(1, {wire::ErrorCode::cancelled, ""}), out);
  ASSERT_TRUE(cancel.ok());
  EXPECT_FALSE(cancel->has_value());
}

TEST(ProtoSession, CancelEndsTheOperationOnBothSides) {
  Pair p;
  auto op = p.client.open(kMessage, {}, false, p.to_server_);
  ASSERT_TRUE(op.ok());
  p.to_server();
  ASSERT_TRUE(
      p.client.cancel(*op, {wire::ErrorCode::cancelled, "changed my mind"}, p.to_server_).ok());
  EXPECT_FALSE(p.client.is_open(*op));
  // The server replied before it saw the CANCEL: the reply crosses it and
  // the client drops it.
  ASSERT_TRUE(p.server.reply(*op, 0, {}, p.to_client_).ok());
  EXPECT_TRUE(p.to_client().empty());
  EXPECT_TRUE(p.to_server().empty());  // the CANCEL for an answered op: dropped
  EXPECT_EQ(p.server.open_operations(), 0u);

  // Cancelled while open on the other side: the peer sees Cancelled.
  auto op2 = p.client.open(kMessage, {}, false, p.to_server_);
  p.to_server();
  ASSERT_TRUE(p.server.cancel(*op2, {wire::ErrorCode::too_large, "no room"}, p.to_client_).ok());
  auto events = p.to_client();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(std::get<Cancelled>(events[0]).error.reason, "no room");
  EXPECT_EQ(p.client.open_operations(), 0u);
}

TEST(ProtoSession, RefusedOpensAreCancelledAndTheConnectionGoesOn) {
  Pair p(kVersion2, [](std::uint8_t kind) -> Result<void> {
    if (kind == kMessage) return Error(Errc::not_authorized, "operation message not allowed");
    return {};
  });
  auto op = p.client.open(kMessage, {}, true, p.to_server_);
  ASSERT_TRUE(op.ok());
  // The application sees only that it was refused (for its log), never
  // the operation itself.
  auto refused = p.to_server();
  ASSERT_EQ(refused.size(), 1u);
  EXPECT_EQ(std::get<Refused>(refused[0]).op, *op);
  EXPECT_TRUE(std::get<Refused>(refused[0]).why.is(Errc::not_authorized));
  EXPECT_EQ(p.server.open_operations(), 0u);
  auto events = p.to_client();
  ASSERT_EQ(events.size(), 1u);
  const auto& c = std::get<Cancelled>(events[0]);
  EXPECT_EQ(c.error.code, wire::ErrorCode::not_authorized);
  EXPECT_EQ(c.error.reason, "operation message not allowed");

  // An unknown kind.
  Session server(Role::server, kVersion2);
  Recorder out;
  auto r = server.receive(kOpen, join({open_header(1, 0x7F, true)}), out);
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_EQ(std::get<Refused>(**r).kind, 0x7F);
  EXPECT_EQ(server.open_operations(), 0u);
  auto cancel = decode_cancel(out.take().payload);
  ASSERT_TRUE(cancel.ok());
  EXPECT_EQ(cancel->error.code, wire::ErrorCode::unsupported_operation);
}

// observe_ends (the audit log's source) reports each operation the peer
// opened exactly once, however it ends, and none this side opened.
TEST(ProtoSession, EveryEndOfAPeersOperationIsReportedOnce) {
  Pair p(kVersion2, [](std::uint8_t kind) -> Result<void> {
    if (kind == kList) return Error(Errc::not_authorized, "operation list not allowed");
    return {};
  });
  std::vector<Ended> ends;
  std::vector<std::string> texts;
  p.server.observe_ends([&](const Ended& e) {
    ends.push_back(e);
    texts.emplace_back(util::as_chars(e.text));
  });
  const Bytes body = {'m'};
  auto answered = p.client.open(kMessage, body, true, p.to_server_);
  auto cancelled = p.client.open(kPut, {}, false, p.to_server_);
  auto by_peer = p.client.open(kGet, {}, false, p.to_server_);
  auto refused = p.client.open(kList, {}, true, p.to_server_);
  ASSERT_TRUE(answered && cancelled && by_peer && refused);
  p.to_server();
  const Bytes text = {'o', 'k'};
  ASSERT_TRUE(p.server.reply(*answered, 3, text, p.to_client_));
  ASSERT_TRUE(p.server.cancel(*cancelled, {wire::ErrorCode::too_large, "no room"}, p.to_client_));
  ASSERT_TRUE(p.client.cancel(*by_peer, {wire::ErrorCode::cancelled, "bye"}, p.to_server_));
  p.to_server();
  // Ended already: a second reply fails and reports nothing.
  EXPECT_FALSE(p.server.reply(*answered, 0, {}, p.to_client_));
  // An operation the server opened is not the peer's: not reported.
  auto mine = p.server.open(kMessage, body, true, p.to_client_);
  ASSERT_TRUE(mine);
  p.to_client();
  ASSERT_TRUE(p.client.reply(*mine, 0, {}, p.to_server_));
  p.to_server();

  ASSERT_EQ(ends.size(), 4u);
  EXPECT_EQ(ends[0].op, *refused);
  EXPECT_EQ(ends[0].how, Ended::How::refused);
  EXPECT_EQ(ends[0].kind, kList);
  EXPECT_EQ(texts[0], "operation list not allowed");
  EXPECT_EQ(ends[1].op, *answered);
  EXPECT_EQ(ends[1].how, Ended::How::replied);
  EXPECT_EQ(ends[1].status, 3);
  EXPECT_EQ(texts[1], "ok");
  EXPECT_EQ(ends[2].op, *cancelled);
  EXPECT_EQ(ends[2].how, Ended::How::cancelled);
  EXPECT_EQ(ends[2].kind, kPut);
  EXPECT_EQ(texts[2], "no room");
  EXPECT_EQ(ends[3].op, *by_peer);
  EXPECT_EQ(ends[3].how, Ended::How::cancelled_by_peer);
  EXPECT_EQ(texts[3], "bye");
}

TEST(ProtoSession, OpenOperationsAreBounded) {
  Session server(Role::server, kVersion2);
  Recorder out;
  for (std::uint32_t i = 0; i < kMaxOpenOperations; ++i) {
    auto r = server.receive(kOpen, join({open_header(2 * i + 1, kMessage, true)}), out);
    ASSERT_TRUE(r.ok() && r->has_value());
  }
  EXPECT_TRUE(out.frames.empty());
  auto r =
      server.receive(kOpen, join({open_header(2 * kMaxOpenOperations + 1, kMessage, true)}), out);
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_TRUE(std::get<Refused>(**r).why.is(Errc::busy));
  ASSERT_EQ(out.frames.size(), 1u);
  EXPECT_EQ(decode_cancel(out.take().payload)->error.code, wire::ErrorCode::server_busy);
  // Answering one makes room for the next.
  ASSERT_TRUE(server.reply(1, 0, {}, out).ok());
  r = server.receive(kOpen, join({open_header(2 * kMaxOpenOperations + 3, kMessage, true)}), out);
  ASSERT_TRUE(r.ok() && r->has_value());

  // The opener's own limit.
  Session client(Role::client, kVersion2);
  for (std::uint32_t i = 0; i < kMaxOpenOperations; ++i) {
    ASSERT_TRUE(client.open(kMessage, {}, true, out).ok());
  }
  auto full = client.open(kMessage, {}, true, out);
  ASSERT_FALSE(full.ok());
  EXPECT_TRUE(full.error().is(Errc::busy));
}

TEST(ProtoSession, Version1FramesAreRefusedInVersion2AndTheOtherWayRound) {
  Session v2(Role::server, kVersion2);
  Recorder out;
  EXPECT_FALSE(v2.receive(0x01, Bytes{'x'}, out).ok());
  EXPECT_FALSE(v2.receive(0x02, Bytes{0}, out).ok());
  EXPECT_FALSE(v2.receive(0x15, Bytes{}, out).ok());
  Session v1(Role::server, kVersion1);
  EXPECT_FALSE(v1.receive(kOpen, join({open_header(1, kMessage, true)}), out).ok());
  EXPECT_FALSE(v1.receive(0x02, Bytes{0}, out).ok());  // a client never sends REPLY
  Session v1c(Role::client, kVersion1);
  EXPECT_FALSE(v1c.receive(0x01, Bytes{'x'}, out).ok());  // a server never sends MESSAGE
  EXPECT_FALSE(v1c.receive(0x02, Bytes{0}, out).ok());    // a reply to no message
}

TEST(ProtoSession, Version1RepliesGoOutInMessageOrder) {
  Pair p(kVersion1);
  for (char c : std::string("abc")) {
    ASSERT_TRUE(
        p.client.open(kMessage, Bytes{static_cast<std::uint8_t>(c)}, true, p.to_server_).ok());
  }
  // Version 1 frames: MESSAGE payloads are the bare message.
  EXPECT_EQ(p.to_server_.frames[0].type, 0x01);
  EXPECT_EQ(p.to_server_.frames[0].payload, Bytes{'a'});
  auto events = p.to_server();
  ASSERT_EQ(events.size(), 3u);
  const auto op_of = [&](int i) { return std::get<Opened>(events[i]).op; };
  // Version 1 has no DATA: no credit on either side (found by the fuzzer:
  // the server side reported the initial window and send_data then threw).
  EXPECT_EQ(p.server.send_window(op_of(0)), 0u);
  EXPECT_EQ(p.client.send_window(op_of(0)), 0u);
  // Answered last to first: nothing goes out until the first is answered.
  ASSERT_TRUE(p.server.reply(op_of(2), 3, Bytes{'C'}, p.to_client_).ok());
  ASSERT_TRUE(p.server.reply(op_of(1), 2, Bytes{'B'}, p.to_client_).ok());
  EXPECT_TRUE(p.to_client_.frames.empty());
  ASSERT_TRUE(p.server.reply(op_of(0), 1, Bytes{'A'}, p.to_client_).ok());
  ASSERT_EQ(p.to_client_.frames.size(), 3u);
  EXPECT_EQ(p.to_client_.frames[0].payload, (Bytes{1, 'A'}));
  events = p.to_client();
  ASSERT_EQ(events.size(), 3u);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(std::get<Answered>(events[i]).status, i + 1);
  EXPECT_EQ(p.server.open_operations(), 0u);
  EXPECT_EQ(p.client.open_operations(), 0u);

  // Version 1 has no other operations and no cancel.
  EXPECT_TRUE(
      p.client.open(kMessage, {}, false, p.to_server_).error().is(Errc::unsupported_operation));
  EXPECT_TRUE(
      p.server.open(kMessage, {}, true, p.to_client_).error().is(Errc::unsupported_operation));
}

TEST(ProtoSession, Version1NotAuthorizedEndsTheConnection) {
  Session server(Role::server, kVersion1,
                 [](std::uint8_t) -> Result<void> { return Error(Errc::not_authorized, "no"); });
  Recorder out;
  auto r = server.receive(0x01, Bytes{'x'}, out);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.error().is(Errc::not_authorized));
}

}  // namespace
}  // namespace signet::proto
