#include "proto/chat.hpp"

#include <algorithm>

#include "util/encoding.hpp"

namespace signet::proto {
namespace {

using util::Reader;

Result<void> done(const Reader& r, std::string_view what) {
  if (!r.empty()) return Error(Errc::trailing_data, "after " + std::string(what));
  return {};
}

}  // namespace

std::array<std::uint8_t, kChatJoinSize> encode_chat_join(const ChatJoin& join) {
  std::array<std::uint8_t, kChatJoinSize> out{};
  std::copy(join.conversation.begin(), join.conversation.end(), out.begin());
  util::store_u64(out.data() + kConversationIdSize, join.shown);
  return out;
}

Result<ChatJoin> decode_chat_join(ByteSpan body) {
  Reader r(body);
  ChatJoin join;
  ByteSpan id;
  if (!r.read_bytes(kConversationIdSize, id)) return Error(Errc::truncated, "CHAT conversation");
  std::copy(id.begin(), id.end(), join.conversation.begin());
  if (!r.read_u64(join.shown)) return Error(Errc::truncated, "CHAT shown");
  if (auto d = done(r, "a CHAT body"); !d) return d.error();
  return join;
}

std::array<std::uint8_t, kChatJoinedSize> encode_chat_joined(std::uint64_t shown) {
  std::array<std::uint8_t, kChatJoinedSize> out{};
  util::store_u64(out.data(), shown);
  return out;
}

Result<std::uint64_t> decode_chat_joined(ByteSpan text) {
  Reader r(text);
  std::uint64_t shown = 0;
  if (!r.read_u64(shown)) return Error(Errc::truncated, "the answer to CHAT");
  if (auto d = done(r, "the answer to CHAT"); !d) return d.error();
  return shown;
}

std::array<std::uint8_t, kChatMessageHeaderSize> chat_message_header(std::uint64_t seq) {
  std::array<std::uint8_t, kChatMessageHeaderSize> out{};
  util::store_u64(out.data(), seq);
  return out;
}

Result<ChatMessage> decode_chat_message(ByteSpan body) {
  Reader r(body);
  ChatMessage m;
  if (!r.read_u64(m.seq)) return Error(Errc::truncated, "CHAT-MESSAGE seq");
  if (m.seq == 0) return Error(Errc::malformed, "CHAT-MESSAGE with seq 0");
  m.text = r.rest();
  if (!util::is_utf8(util::as_chars(m.text))) {
    return Error(Errc::malformed, "CHAT-MESSAGE " + std::to_string(m.seq) + " is not UTF-8");
  }
  return m;
}

std::uint64_t Conversation::add(std::string text) {
  const std::uint64_t seq = next_seq_++;
  outgoing_.push_back({seq, std::move(text), false});
  return seq;
}

const Conversation::Outgoing* Conversation::next_unsent() const noexcept {
  // Sent ones come first: messages go out in order.
  const auto it =
      std::find_if(outgoing_.begin(), outgoing_.end(), [](const Outgoing& o) { return !o.sent; });
  return it == outgoing_.end() ? nullptr : &*it;
}

void Conversation::mark_sent(std::uint64_t seq) noexcept {
  for (auto& o : outgoing_) {
    if (o.seq == seq) o.sent = true;
  }
}

void Conversation::connection_lost() noexcept {
  for (auto& o : outgoing_) o.sent = false;
}

Result<std::vector<std::uint64_t>> Conversation::shown_by_peer(std::uint64_t seq) {
  if (seq >= next_seq_) {
    return Error(Errc::malformed,
                 "the peer acknowledges message " + std::to_string(seq) + ", which was never sent");
  }
  std::vector<std::uint64_t> done;
  while (!outgoing_.empty() && outgoing_.front().seq <= seq) {
    done.push_back(outgoing_.front().seq);
    outgoing_.pop_front();
  }
  return done;
}

Result<Conversation::Incoming> Conversation::receive(std::uint64_t seq) {
  if (seq <= shown_) return Incoming::duplicate;
  if (seq != shown_ + 1) {
    return Error(Errc::malformed, "message " + std::to_string(seq) + " came before message " +
                                      std::to_string(shown_ + 1));
  }
  shown_ = seq;
  return Incoming::show;
}

}  // namespace signet::proto
