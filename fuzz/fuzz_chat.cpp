// libFuzzer target: chat's codecs and one side's conversation state
// (proto/chat.hpp).
//
// Input: one selector byte, then the bytes to use. Selector % 4 picks the
// CHAT body, CHAT's answer, a CHAT-MESSAGE body (each decoded), or a run of
// conversation events, two bytes each: what happens (write a line, send the
// next, lose the connection, the peer shows up to a seq, a line of the
// peer's arrives) and a number for it.
//
// Oracles beyond "no crash": whatever decodes re-encodes to the same bytes;
// the conversation delivers each line it wrote at most once and in order,
// never counts as unacknowledged a line it delivered, shows the peer's lines
// once each and in order, and sends nothing twice on one connection.
#include <cstddef>
#include <cstdint>
#include <set>

#include "fuzz_common.hpp"
#include "proto/chat.hpp"

namespace {

using namespace signet;
using util::Bytes;
using util::ByteSpan;

void conversation(ByteSpan in) {
  proto::Conversation c;
  std::uint64_t written = 0, delivered = 0, shown = 0;
  std::set<std::uint64_t> sent;  // on this connection
  for (std::size_t i = 0; i + 1 < in.size(); i += 2) {
    const std::uint8_t n = in[i + 1];
    switch (in[i] % 5) {
      case 0:
        fuzz::require(c.add(std::string(n % 4, 'x')) == ++written);
        break;
      case 1:
        if (const auto* o = c.next_unsent()) {
          fuzz::require(o->seq > delivered && o->seq <= written);
          fuzz::require(sent.insert(o->seq).second);
          c.mark_sent(o->seq);
        }
        break;
      case 2:
        c.connection_lost();
        sent.clear();
        break;
      case 3: {
        auto d = c.shown_by_peer(n);
        fuzz::require(d.ok() == (n <= written));
        if (!d) break;
        for (const auto s : *d) fuzz::require(s == ++delivered);
        break;
      }
      default: {
        auto r = c.receive(n);
        if (n != 0 && n <= shown) {
          fuzz::require(r.ok() && *r == proto::Conversation::Incoming::duplicate);
        } else if (n == shown + 1) {
          fuzz::require(r.ok() && *r == proto::Conversation::Incoming::show);
          ++shown;
        } else if (n != 0) {
          fuzz::require(!r.ok());
        }
      }
    }
    fuzz::require(c.unacknowledged() == written - delivered);
    fuzz::require(c.shown() == shown);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ByteSpan in(data + 1, size - 1);
  switch (data[0] % 4) {
    case 0:
      if (auto j = proto::decode_chat_join(in); j.ok()) {
        const auto again = proto::encode_chat_join(*j);
        fuzz::require(Bytes(again.begin(), again.end()) == Bytes(in.begin(), in.end()));
      }
      break;
    case 1:
      if (auto s = proto::decode_chat_joined(in); s.ok()) {
        const auto again = proto::encode_chat_joined(*s);
        fuzz::require(Bytes(again.begin(), again.end()) == Bytes(in.begin(), in.end()));
      }
      break;
    case 2:
      if (auto m = proto::decode_chat_message(in); m.ok()) {
        fuzz::require(m->seq != 0);
        const auto h = proto::chat_message_header(m->seq);
        Bytes again(h.begin(), h.end());
        again.insert(again.end(), m->text.begin(), m->text.end());
        fuzz::require(again == Bytes(in.begin(), in.end()));
      }
      break;
    default:
      conversation(in);
  }
  return 0;
}
