// libFuzzer target: the application protocol's session state machine
// (proto::Session) driven by random sequences of peer frames and local
// actions, for both roles and both versions.
//
// Input: one byte of set-up (bit 0: role server, bit 1: version 2, bit 2: the
// authorizer refuses messages), then steps until the input ends. A step is
// an action byte; a peer frame step takes a type, a one-byte length and
// that many payload bytes. A frame the session refuses ends the run, as it
// ends a connection.
//
// Oracles beyond "no crash": the session's count of open operations equals
// the model's (ops opened here, plus Opened events, less those answered,
// cancelled or replied to); an event never names an operation the model does
// not hold open (Received, WindowGrown, Answered, Cancelled); every version
// 2 frame the session writes decodes and re-encodes to the same bytes; a
// local action never needs more credit than send_window() reports.
#include <cstddef>
#include <cstdint>
#include <set>
#include <vector>

#include "fuzz_common.hpp"
#include "proto/frames.hpp"
#include "proto/session.hpp"

namespace {

using namespace signet;
using util::Bytes;
using util::ByteSpan;

class CheckingSink : public proto::FrameSink {
 public:
  void send_frame(std::uint8_t type, std::initializer_list<ByteSpan> parts) override {
    Bytes p;
    for (auto part : parts) p.insert(p.end(), part.begin(), part.end());
    if (!proto::is_v2_frame_type(type)) return;
    Bytes again;
    switch (static_cast<proto::FrameType>(type)) {
      case proto::FrameType::open: {
        auto f = proto::decode_open(p);
        fuzz::require(f.ok());
        auto h = proto::open_header(f->op, f->kind, f->fin, f->receipt);
        again.assign(h.begin(), h.end());
        again.insert(again.end(), f->body.begin(), f->body.end());
        break;
      }
      case proto::FrameType::data: {
        auto f = proto::decode_data(p);
        fuzz::require(f.ok());
        auto h = proto::data_header(f->op, f->fin);
        again.assign(h.begin(), h.end());
        again.insert(again.end(), f->bytes.begin(), f->bytes.end());
        break;
      }
      case proto::FrameType::window: {
        auto f = proto::decode_window(p);
        fuzz::require(f.ok());
        auto h = proto::window_payload(f->op, f->increment);
        again.assign(h.begin(), h.end());
        break;
      }
      case proto::FrameType::reply: {
        auto f = proto::decode_reply(p);
        fuzz::require(f.ok());
        auto h = proto::reply_header(f->op, f->status);
        again.assign(h.begin(), h.end());
        again.insert(again.end(), f->text.begin(), f->text.end());
        break;
      }
      case proto::FrameType::cancel: {
        auto f = proto::decode_cancel(p);
        fuzz::require(f.ok());
        again = proto::cancel_payload(f->op, f->error);
        break;
      }
    }
    fuzz::require(again == p);
  }
};

constexpr std::uint8_t kTypes[] = {0x01, 0x02, 0x03, 0x10, 0x11, 0x12, 0x13, 0x14};

std::uint32_t pick(const std::set<std::uint32_t>& s, std::uint8_t b) {
  if (s.empty()) return 1u + b;  // an id nobody opened, or one that is over
  auto it = s.begin();
  std::advance(it, b % s.size());
  return *it;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  util::Reader in(ByteSpan(data, size));
  std::uint8_t setup = 0;
  (void)in.read_u8(setup);
  const auto role = (setup & 1) ? proto::Role::server : proto::Role::client;
  const int version = (setup & 2) ? proto::kVersion2 : proto::kVersion1;
  proto::Authorizer authorize;
  if (setup & 4) {
    authorize = [](std::uint8_t) -> Result<void> { return Error(Errc::not_authorized, "no"); };
  }
  proto::Session session(role, version, authorize);
  CheckingSink sink;
  std::set<std::uint32_t> mine, theirs;  // the model: operations open
  const Bytes payload_bytes(300, 0x5A);

  std::uint8_t action = 0;
  while (in.read_u8(action)) {
    std::uint8_t arg = 0;
    (void)in.read_u8(arg);
    switch (action % 6) {
      case 0: {  // a frame from the peer
        std::uint8_t len = 0;
        ByteSpan payload;
        if (!in.read_u8(len) || !in.read_bytes(len, payload)) return 0;
        auto e = session.receive(kTypes[arg % 8], payload, sink);
        if (!e) return 0;  // the connection would end here
        if (!*e) break;
        std::visit(
            [&](const auto& ev) {
              using T = std::decay_t<decltype(ev)>;
              if constexpr (std::is_same_v<T, proto::Opened>) {
                fuzz::require(!mine.contains(ev.op) && !theirs.contains(ev.op));
                theirs.insert(ev.op);
              } else if constexpr (std::is_same_v<T, proto::Answered>) {
                fuzz::require(mine.erase(ev.op) == 1);
              } else if constexpr (std::is_same_v<T, proto::Cancelled>) {
                fuzz::require(mine.erase(ev.op) + theirs.erase(ev.op) == 1);
              } else if constexpr (std::is_same_v<T, proto::Refused>) {
                // Refused and answered at once: never open.
                fuzz::require(!mine.contains(ev.op) && !theirs.contains(ev.op) &&
                              !session.is_open(ev.op));
              } else {
                fuzz::require(mine.contains(ev.op) || theirs.contains(ev.op));
              }
            },
            **e);
        break;
      }
      case 1: {  // open an operation
        auto op = session.open(arg & 0x7F ? arg & 0x7F : 1, ByteSpan(payload_bytes).first(arg % 7),
                               (arg & 0x80) != 0, sink);
        if (op) {
          fuzz::require(mine.insert(*op).second && !theirs.contains(*op));
        }
        break;
      }
      case 2: {  // reply to one the peer opened
        const auto op = pick(theirs, arg);
        if (mine.contains(op)) break;  // replying to one's own: a caller's bug (logic_error)
        const bool open = theirs.contains(op);
        auto r = session.reply(op, arg, ByteSpan(payload_bytes).first(arg % 5), sink);
        fuzz::require(r.ok() == open);
        theirs.erase(op);
        break;
      }
      case 3: {  // send data within the credit
        const auto op = pick(mine.empty() ? theirs : mine, arg);
        const std::uint32_t w = session.send_window(op);
        if (w == 0) break;
        const std::size_t n = std::min<std::size_t>(w, payload_bytes.size()) % (arg + 1u);
        (void)session.send_data(op, ByteSpan(payload_bytes).first(n), (arg & 1) != 0, sink);
        break;
      }
      case 4: {  // grant credit
        const auto op = pick(theirs.empty() ? mine : theirs, arg);
        if (session.is_open(op) && version == proto::kVersion2) {
          try {
            (void)session.grant(op, 1u + arg * 1000u, sink);
          } catch (const std::logic_error&) {
            // a window at its maximum: a bug in the caller, not the session
          }
        }
        break;
      }
      case 5: {  // cancel
        const bool own = (arg & 1) != 0;
        const auto op = pick(own ? mine : theirs, arg);
        // (With the chosen set empty, pick() may name an open operation of
        // the other set: cancelling it is just as legal.)
        const bool open = mine.contains(op) || theirs.contains(op);
        const bool cancelled = session.cancel(op, {wire::ErrorCode::cancelled, "fuzz"}, sink).ok();
        fuzz::require(cancelled == (open && version == proto::kVersion2));
        if (cancelled) fuzz::require(mine.erase(op) + theirs.erase(op) == 1);
        break;
      }
    }
    fuzz::require(session.open_operations() == mine.size() + theirs.size());
  }
  return 0;
}
