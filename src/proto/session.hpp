// proto::Session: one connection's application protocol, for either role and
// either version, without I/O.
//
// The network layer hands it every verified frame the channel delivers and
// gets back what the frame means for the application (an Event), nothing (a
// frame it answered itself, or one for an operation already over), or an
// Error: the peer broke the protocol, and the connection ends with an ERROR
// frame carrying it. The application's own actions (open an operation, send
// data, reply, cancel, grant credit) go through the session too, which
// checks them against the same state and writes the frames to a FrameSink.
//
// The session is where "who may send what, when" lives: in version 1 a
// client sends only MESSAGE and a server only REPLY, answered in order; in
// version 2 operations carry ids, either side opens them, each has a credit
// window per direction, and each OPEN is authorized against the peer's
// rights before the application sees it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <variant>
#include <vector>

#include "proto/frames.hpp"

namespace signet::proto {

enum class Role { client, server };

// Where the session writes frames: the connection's channel.
class FrameSink {
 public:
  virtual ~FrameSink() = default;
  virtual void send_frame(std::uint8_t type, std::initializer_list<ByteSpan> parts) = 0;
};

// Decides whether the peer may open an operation of this kind. Key mode:
// the allow= option of the peer's authorized_keys line. Returns an Error
// (normally not_authorized) whose message the peer gets in the CANCEL.
using Authorizer = std::function<Result<void>(std::uint8_t kind)>;

// The peer opened an operation (already authorized).
struct Opened {
  std::uint32_t op = 0;
  std::uint8_t kind = 0;
  bool fin = false;      // the peer sends no DATA on op
  ByteSpan body;         // valid until the next call on the session
  bool receipt = false;  // the peer asks for a signed receipt (kReceipt)
};
// DATA arrived on op; the application grants credit (grant()) as it consumes it.
struct Received {
  std::uint32_t op = 0;
  bool fin = false;
  ByteSpan bytes;
};
// The answer to an operation this side opened; op is over.
struct Answered {
  std::uint32_t op = 0;
  std::uint8_t status = 0;
  ByteSpan text;
};
// The peer cancelled op; op is over.
struct Cancelled {
  std::uint32_t op = 0;
  wire::ErrorRecord error;
};
// The peer granted credit on op: send_window(op) has grown.
struct WindowGrown {
  std::uint32_t op = 0;
};
// The session refused an operation the peer opened (unknown kind, not
// authorized, too many open) and has already answered it with CANCEL; for
// the application's log.
struct Refused {
  std::uint32_t op = 0;
  std::uint8_t kind = 0;
  Error why;
};
using Event = std::variant<Opened, Received, Answered, Cancelled, WindowGrown, Refused>;

// How an operation the peer opened ended, for the application's audit log
// (Session::observe_ends): answered with a REPLY, cancelled by this side or
// by the peer, or refused by the session itself before the application saw
// it.
struct Ended {
  enum class How { replied, cancelled, cancelled_by_peer, refused };
  std::uint32_t op = 0;
  std::uint8_t kind = 0;
  How how = How::replied;
  std::uint8_t status = 0;  // replied
  // replied: the reply's text; otherwise the reason the CANCEL carries.
  // Valid during the call only.
  ByteSpan text;
};
using EndObserver = std::function<void(const Ended&)>;

class Session {
 public:
  // version: kVersion1 or kVersion2, as the handshake negotiated.
  // authorize: checked for every operation the peer opens (none: all allowed).
  Session(Role role, int version, Authorizer authorize = {});

  int version() const noexcept { return version_; }
  Role role() const noexcept { return role_; }

  // A verified frame from the channel. An OPEN the session refuses itself
  // (unknown kind, not authorized, too many open) gives Refused, already
  // answered; frames for operations that are already over (a race with
  // REPLY or CANCEL, which the protocol allows) give nullopt. An Error is the peer's
  // violation: the caller sends it in an ERROR frame and closes.
  Result<std::optional<Event>> receive(std::uint8_t type, ByteSpan payload, FrameSink& out);

  // Opens an operation; returns its id. Version 1 supports only a message
  // with fin (MESSAGE); fails with unsupported_operation otherwise. Fails
  // with busy when this side already has kMaxOpenOperations open.
  // receipt: ask for a signed receipt (version 2 only: unsupported_operation
  // in version 1).
  Result<std::uint32_t> open(std::uint8_t kind, ByteSpan body, bool fin, FrameSink& out,
                             bool receipt = false);
  // Sends DATA on an open operation this side has not finished sending on.
  // bytes.size() must be within send_window(op) (a logic_error otherwise).
  Result<void> send_data(std::uint32_t op, ByteSpan bytes, bool fin, FrameSink& out);
  // Credit this side may still spend on op (0 for an operation not open,
  // after this side's FIN, and always in version 1, which has no DATA).
  std::uint32_t send_window(std::uint32_t op) const noexcept;
  // Lets the peer send increment more bytes on op (WINDOW).
  Result<void> grant(std::uint32_t op, std::uint32_t increment, FrameSink& out);
  // Answers an operation the peer opened; the operation is over. In version
  // 1 replies go out in the order of the messages: a reply to a later
  // message waits (copied) until the earlier ones are answered (at most
  // one per message the peer has in flight, which back-pressure bounds).
  Result<void> reply(std::uint32_t op, std::uint8_t status, ByteSpan text, FrameSink& out);
  // Ends an open operation at once (version 2 only; version 1 has no way to
  // cancel one message, so it fails with unsupported_operation there).
  Result<void> cancel(std::uint32_t op, const wire::ErrorRecord& why, FrameSink& out);

  bool is_open(std::uint32_t op) const noexcept { return ops_.contains(op); }
  // Calls f once for every operation the peer opens, when it ends (however
  // it ends), before the frame that ends it is written. Operations still
  // open when the connection ends are not reported (the application knows
  // which they are).
  void observe_ends(EndObserver f) { observe_ = std::move(f); }
  // Operations open at once, in all.
  std::size_t open_operations() const noexcept { return ops_.size(); }

 private:
  struct Operation {
    std::uint8_t kind = 0;
    bool mine = false;  // this side opened it
    std::uint32_t send_window = kInitialWindow;
    std::uint32_t receive_window = kInitialWindow;
    bool sent_fin = false;
    bool received_fin = false;
  };
  bool mine(std::uint32_t op) const noexcept {
    return (op & 1u) == (role_ == Role::client ? 1u : 0u);
  }
  // Whether op was ever opened (by its parity's side): a frame for an
  // operation never opened is a violation, one for an operation over is not.
  bool was_opened(std::uint32_t op) const noexcept;
  using Operations = std::unordered_map<std::uint32_t, Operation>;
  void add(std::uint32_t op, const Operation& o);
  void remove(Operations::iterator it);
  // The operation a peer's frame names: end() for one that is over (the
  // frame is ignored), a violation for one never opened. `frame` starts the
  // message, e.g. "DATA for ".
  Result<Operations::iterator> find_for_frame(std::uint32_t op, std::string_view frame);
  Result<std::optional<Event>> receive_v1(std::uint8_t type, ByteSpan payload);
  Result<std::optional<Event>> receive_open(ByteSpan payload, FrameSink& out);
  Refused refuse(std::uint32_t op, std::uint8_t kind, Error why, FrameSink& out);

  Role role_;
  int version_;
  Authorizer authorize_;
  EndObserver observe_;
  Operations ops_;
  static constexpr std::size_t kSpareNodes = 64;
  std::vector<Operations::node_type> spare_;
  std::uint32_t my_last_ = 0;    // the highest id this side opened
  std::uint32_t peer_last_ = 0;  // the highest id the peer opened
  std::uint32_t my_open_ = 0;    // operations open that this side opened (add/remove)
  std::uint32_t peer_open_ = 0;  // operations open that the peer opened (add/remove)
  // Version 1: the order of messages, for replies (client: the ops awaiting
  // a REPLY; server: the ops not yet answered) and replies held back.
  std::deque<std::uint32_t> v1_order_;
  std::unordered_map<std::uint32_t, std::pair<std::uint8_t, Bytes>> v1_held_;
};

}  // namespace signet::proto
