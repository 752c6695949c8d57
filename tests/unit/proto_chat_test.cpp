// Chat in the application protocol (proto/chat.hpp): the CHAT and
// CHAT-MESSAGE bodies (round trips, every truncation, trailing bytes, seq 0,
// text that is not UTF-8) and one side's conversation state (order,
// duplicates after a lost acknowledgement, gaps, resending after a lost
// connection, acknowledgements of lines never written).
#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "proto/chat.hpp"
#include "util/encoding.hpp"

namespace signet::proto {
namespace {

using util::Bytes;
using util::ByteSpan;

ConversationId id_of(std::uint8_t b) {
  ConversationId id{};
  id.fill(b);
  return id;
}

Bytes message_body(std::uint64_t seq, std::string_view text) {
  Bytes b(8 + text.size());
  util::store_u64(b.data(), seq);
  std::copy(text.begin(), text.end(), b.begin() + 8);
  return b;
}

TEST(ProtoChat, JoinRoundTripsAndIsExactlyTwentyFourBytes) {
  const ChatJoin j{id_of(0xAB), 0x0102030405060708ull};
  const auto body = encode_chat_join(j);
  ASSERT_EQ(body.size(), 24u);
  EXPECT_EQ(body[16], 0x01);
  EXPECT_EQ(body[23], 0x08);
  auto d = decode_chat_join(body);
  ASSERT_TRUE(d) << d.error().message();
  EXPECT_EQ(d->conversation, j.conversation);
  EXPECT_EQ(d->shown, j.shown);
  const auto again = encode_chat_join(*d);
  EXPECT_EQ(Bytes(again.begin(), again.end()), Bytes(body.begin(), body.end()));
}

TEST(ProtoChat, EveryTruncatedJoinIsRefusedAndSoIsOneByteMore) {
  const auto body = encode_chat_join({id_of(1), 7});
  for (std::size_t n = 0; n < body.size(); ++n) {
    auto d = decode_chat_join(ByteSpan(body.data(), n));
    ASSERT_FALSE(d) << n;
    EXPECT_TRUE(d.error().is(Errc::truncated)) << n;
  }
  Bytes longer(body.begin(), body.end());
  longer.push_back(0);
  auto d = decode_chat_join(longer);
  ASSERT_FALSE(d);
  EXPECT_TRUE(d.error().is(Errc::trailing_data));
}

TEST(ProtoChat, JoinedAnswerIsEightBytesExactly) {
  const auto text = encode_chat_joined(42);
  auto d = decode_chat_joined(text);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, 42u);
  EXPECT_FALSE(decode_chat_joined(ByteSpan(text.data(), 7)));
  Bytes longer(text.begin(), text.end());
  longer.push_back(1);
  EXPECT_FALSE(decode_chat_joined(longer));
  EXPECT_FALSE(decode_chat_joined({}));
}

TEST(ProtoChat, MessageRoundTripsWithAnyUtf8IncludingControls) {
  for (std::string_view text :
       {std::string_view(""), std::string_view("hello"),
        std::string_view("caf\xC3\xA9 \xE4\xB8\xAD"), std::string_view("bell\x07 and \x1B[2J")}) {
    const Bytes body = message_body(9, text);
    auto m = decode_chat_message(body);
    ASSERT_TRUE(m) << m.error().message();
    EXPECT_EQ(m->seq, 9u);
    EXPECT_EQ(util::as_chars(m->text), text);
  }
}

TEST(ProtoChat, MessageWithSeqZeroOrInvalidUtf8OrTruncatedIsRefused) {
  auto zero = decode_chat_message(message_body(0, "x"));
  ASSERT_FALSE(zero);
  EXPECT_TRUE(zero.error().is(Errc::malformed));
  auto bad = decode_chat_message(message_body(1, "\xC3("));
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(Errc::malformed));
  const Bytes body = message_body(3, "");
  for (std::size_t n = 0; n < body.size(); ++n) {
    auto d = decode_chat_message(ByteSpan(body.data(), n));
    ASSERT_FALSE(d) << n;
    EXPECT_TRUE(d.error().is(Errc::truncated)) << n;
  }
}

TEST(ProtoChat, DecodersSurviveRandomBytes) {
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    Bytes b(rng() % 40);
    for (auto& x : b) x = static_cast<std::uint8_t>(rng());
    auto j = decode_chat_join(b);
    EXPECT_EQ(static_cast<bool>(j), b.size() == kChatJoinSize);
    auto m = decode_chat_message(b);
    if (m) {
      EXPECT_NE(m->seq, 0u);
      EXPECT_EQ(m->text.size(), b.size() - 8);
    }
    (void)decode_chat_joined(b);
  }
}

TEST(ProtoChat, ConversationNumbersLinesAndSendsEachOncePerConnection) {
  Conversation c;
  EXPECT_EQ(c.add("a"), 1u);
  EXPECT_EQ(c.add("b"), 2u);
  ASSERT_NE(c.next_unsent(), nullptr);
  EXPECT_EQ(c.next_unsent()->seq, 1u);
  c.mark_sent(1);
  EXPECT_EQ(c.next_unsent()->seq, 2u);
  c.mark_sent(2);
  EXPECT_EQ(c.next_unsent(), nullptr);
  EXPECT_EQ(c.unacknowledged(), 2u);

  auto d = c.shown_by_peer(1);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, std::vector<std::uint64_t>{1});
  EXPECT_EQ(c.unacknowledged(), 1u);

  // The connection is lost before line 2's acknowledgement: it goes again.
  c.connection_lost();
  ASSERT_NE(c.next_unsent(), nullptr);
  EXPECT_EQ(c.next_unsent()->seq, 2u);
  EXPECT_EQ(c.next_unsent()->text, "b");
}

TEST(ProtoChat, ShownByPeerDeliversEverythingUpToItOnceAndRefusesUnwrittenLines) {
  Conversation c;
  for (int i = 0; i < 5; ++i) c.add("x");
  auto d = c.shown_by_peer(3);
  ASSERT_TRUE(d);
  EXPECT_EQ(*d, (std::vector<std::uint64_t>{1, 2, 3}));
  auto again = c.shown_by_peer(2);  // an old acknowledgement: nothing new
  ASSERT_TRUE(again);
  EXPECT_TRUE(again->empty());
  auto bad = c.shown_by_peer(6);
  ASSERT_FALSE(bad);
  EXPECT_TRUE(bad.error().is(Errc::malformed));
  EXPECT_EQ(c.unacknowledged(), 2u);
  auto none = Conversation().shown_by_peer(0);
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

TEST(ProtoChat, ReceiveShowsInOrderOnceAndRefusesAGap) {
  Conversation c;
  auto r = c.receive(1);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, Conversation::Incoming::show);
  r = c.receive(2);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, Conversation::Incoming::show);
  // Line 2 again (its acknowledgement was lost with the connection).
  r = c.receive(2);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, Conversation::Incoming::duplicate);
  r = c.receive(1);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, Conversation::Incoming::duplicate);
  EXPECT_EQ(c.shown(), 2u);
  auto gap = c.receive(4);
  ASSERT_FALSE(gap);
  EXPECT_TRUE(gap.error().is(Errc::malformed));
  EXPECT_EQ(c.shown(), 2u);
  r = c.receive(3);
  ASSERT_TRUE(r);
  EXPECT_EQ(*r, Conversation::Incoming::show);
}

TEST(ProtoChat, ChatKindsAreKnownAndNamed) {
  EXPECT_TRUE(is_known_kind(static_cast<std::uint8_t>(Kind::chat)));
  EXPECT_TRUE(is_known_kind(static_cast<std::uint8_t>(Kind::chat_message)));
  EXPECT_FALSE(is_known_kind(0x07));
  EXPECT_EQ(kind_name(0x05), "chat");
  EXPECT_EQ(kind_name(0x06), "chat-message");
}

// docs/PROTOCOL.md, "Chat", the example: the bodies and the caller's OPEN payloads.
TEST(ProtoChat, TheDocumentsExampleBytes) {
  ConversationId id{};
  for (std::size_t i = 0; i < id.size(); ++i) id[i] = static_cast<std::uint8_t>(i);
  const auto join = encode_chat_join({id, 0});
  EXPECT_EQ(util::to_hex(join), "000102030405060708090a0b0c0d0e0f0000000000000000");
  EXPECT_EQ(util::to_hex(encode_chat_joined(0)), "0000000000000000");
  EXPECT_EQ(util::to_hex(message_body(1, "hi")), "00000000000000016869");
  EXPECT_EQ(util::to_hex(open_header(1, static_cast<std::uint8_t>(Kind::chat), true)),
            "000000010501");
  EXPECT_EQ(util::to_hex(open_header(3, static_cast<std::uint8_t>(Kind::chat_message), true)),
            "000000030601");
  EXPECT_EQ(kOpenHeaderSize + join.size(), 0x1eu);
  EXPECT_EQ(kOpenHeaderSize + message_body(1, "hi").size(), 0x10u);
}

}  // namespace
}  // namespace signet::proto
