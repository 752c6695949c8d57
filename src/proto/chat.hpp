// Protocol version 2's chat (docs/PROTOCOL.md, "Chat"): the bodies of its
// two operations, and one side's state of a conversation. No I/O.
//
//   CHAT          (kind 0x05)  connecting side -> listener, with FIN:
//                              OPEN body = conversation (16) | shown (8)
//                              REPLY status 0, text = shown (8): joined;
//                              CANCEL: refused (another conversation is on).
//   CHAT-MESSAGE  (kind 0x06)  either side, once the CHAT is answered, with FIN:
//                              OPEN body = seq (8) | text (UTF-8)
//                              REPLY status 0, empty text: shown (the acknowledgement).
//
// A conversation is named by 16 random bytes the connecting side picks when
// it starts; it joins again with the same name after a connection is lost.
// Each side numbers its messages 1, 2, 3, ... (seq) and sends them in that
// order; "shown" is the highest seq of the peer's that this side has shown,
// so a side that joins again resends only what the other has not shown, and
// a message resent after a lost acknowledgement is acknowledged again but
// not shown twice. Integers are big-endian.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "proto/frames.hpp"

namespace signet::proto {

inline constexpr std::size_t kConversationIdSize = 16;
using ConversationId = std::array<std::uint8_t, kConversationIdSize>;

inline constexpr std::size_t kChatJoinSize = kConversationIdSize + 8;
inline constexpr std::size_t kChatJoinedSize = 8;
inline constexpr std::size_t kChatMessageHeaderSize = 8;

struct ChatJoin {
  ConversationId conversation{};
  std::uint64_t shown = 0;
};

struct ChatMessage {
  std::uint64_t seq = 0;  // never 0
  ByteSpan text;          // well-formed UTF-8 (it may hold control characters: shown escaped)
};

// Decoders fail with truncated, trailing_data or malformed (a seq of 0, text
// that is not UTF-8).
std::array<std::uint8_t, kChatJoinSize> encode_chat_join(const ChatJoin& join);
Result<ChatJoin> decode_chat_join(ByteSpan body);
std::array<std::uint8_t, kChatJoinedSize> encode_chat_joined(std::uint64_t shown);
Result<std::uint64_t> decode_chat_joined(ByteSpan text);
std::array<std::uint8_t, kChatMessageHeaderSize> chat_message_header(std::uint64_t seq);
Result<ChatMessage> decode_chat_message(ByteSpan body);

// One side's state of a conversation, across its connections: the messages
// this side has written and the peer has not yet shown (each sent at most
// once per connection), and the highest of the peer's it has shown.
class Conversation {
 public:
  struct Outgoing {
    std::uint64_t seq = 0;
    std::string text;
    bool sent = false;  // on the current connection
  };

  // A message written here; returns its seq. Not sent yet (next_unsent()).
  std::uint64_t add(std::string text);
  // The oldest message not yet sent on this connection, or null.
  const Outgoing* next_unsent() const noexcept;
  void mark_sent(std::uint64_t seq) noexcept;
  // A connection ended: every message not yet shown is to be sent again.
  void connection_lost() noexcept;
  // The peer has shown every message up to seq (its acknowledgement of
  // seq, or the shown of its CHAT): they are done. Returns the seqs newly
  // delivered, in order (none for a seq already delivered); fails with
  // malformed for a seq this side has not written.
  Result<std::vector<std::uint64_t>> shown_by_peer(std::uint64_t seq);

  // What to do with the peer's message seq.
  enum class Incoming {
    show,       // the next one: show it (shown() is now seq)
    duplicate,  // shown already (resent after a lost acknowledgement): acknowledge only
  };
  // Fails with malformed for a seq beyond the next one (a gap).
  Result<Incoming> receive(std::uint64_t seq);
  std::uint64_t shown() const noexcept { return shown_; }

  // Messages written and not yet shown by the peer.
  std::size_t unacknowledged() const noexcept { return outgoing_.size(); }
  const std::deque<Outgoing>& outgoing() const noexcept { return outgoing_; }

 private:
  std::deque<Outgoing> outgoing_;
  std::uint64_t next_seq_ = 1;
  std::uint64_t shown_ = 0;
};

}  // namespace signet::proto
