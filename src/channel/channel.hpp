// Channel: one connection's secure channel, without I/O.
//
// The network layer feeds it the bytes it reads and writes out the bytes it
// appends; in between, the channel runs its handshake, then turns bytes into
// verified application frames and frames into protected bytes. A channel is
// blind to the application protocol: it handles its own ERROR frames (and
// key mode's binding frame) and hands every other verified frame up as it
// came; which frames may arrive when is src/proto's business. Shared-key mode
// (PskServerChannel, PskClientChannel) and key mode (TLS 1.3) implement it, so
// the server and client loops are the same for both.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>

#include "util/bytes.hpp"
#include "util/error.hpp"
#include "wire/wire.hpp"

namespace signet::channel {

using util::Bytes;
using util::ByteSpan;

struct Frame {
  wire::FrameType type{};
  ByteSpan payload;  // valid until the next call on the channel
};

// Decides whether the peer may open an operation of this kind. The kind is
// the application protocol's (proto::Kind), which a channel does not
// interpret: whoever admitted the peer built the check and knows the kinds.
// Fails (normally with not_authorized) with the reason the peer is told.
using OperationCheck = std::function<Result<void>(std::uint8_t kind)>;

// Who is on the other end, once the handshake has proved it.
struct PeerIdentity {
  std::string fingerprint;  // key mode: "SHA256:..."; shared-key mode: empty
  // key mode: what the server's ClientKeyCheck named the key by (signet:
  // the authorized_keys comment)
  std::string comment;
  // The peer's rights, checked on every request it makes (as OpenSSH keeps a
  // key's options after authentication): in key mode, what the server's
  // ClientKeyCheck returned (signet: the options of the authorized_keys line
  // that admitted the key, allow=, expiry-time= and from=, as they were at
  // the handshake). Empty: every operation is allowed (shared-key mode,
  // clients).
  OperationCheck authorize;
  // The folder below a server's served folder that the peer's file
  // operations are confined to (signet: dir= of its authorized_keys line);
  // empty: the whole served folder.
  std::string folder;
  // A value both ends of this connection share and no other connection
  // has, for binding a statement to it (a signed receipt): in key mode the
  // TLS exporter value with label "EXPORTER-signet-session", no context,
  // 32 bytes (RFC 8446 section 7.5); empty in shared-key mode.
  util::Bytes session{};
};

class Channel {
 public:
  virtual ~Channel() = default;

  // A short description for logs, e.g. "shared-key hmac-sha256".
  virtual std::string description() const = 0;

  // Client side: appends the first handshake flight. Server side: nothing.
  virtual void start(Bytes& out) = 0;

  // Takes bytes read from the peer. Handshake replies, if any, are appended to
  // out. On Error the channel has appended whatever tells the peer why (an
  // error record or frame) and the connection should be written out and closed.
  // An error the peer reported comes back with the peer's code and reason.
  virtual Result<void> receive(ByteSpan in, Bytes& out) = 0;

  virtual bool established() const = 0;
  virtual PeerIdentity peer() const { return {}; }
  // The application protocol version the handshake settled on (1 or 2);
  // meaningful once established().
  virtual int protocol_version() const { return 1; }

  // Client side, once established() and the handshake's last bytes have been
  // written: settles a trust decision the handshake left open (a server key
  // seen for the first time is pinned only now, after the server proved it
  // holds it). May block, for a prompt. An Error means: close the connection;
  // until this succeeds no application frame is delivered.
  virtual Result<void> confirm_peer() { return {}; }

  // The next complete, verified application frame, or nullopt until more bytes
  // arrive. On Error, as for receive().
  virtual Result<std::optional<Frame>> next_frame(Bytes& out) = 0;

  // Appends one protected frame (payload = concatenation of parts, within
  // max_send_payload()).
  virtual void send(wire::FrameType type, std::initializer_list<ByteSpan> parts, Bytes& out) = 0;

  // Appends to out whatever send() has queued but not yet protected. The
  // network layer calls it right before each write, so a channel may batch
  // the frames of one write into one record (TLS does).
  virtual void flush(Bytes& out) { (void)out; }

  // Appends a notice of e for the peer: an error record during the handshake,
  // an authenticated error frame after it.
  virtual void send_error(const Error& e, Bytes& out) = 0;

  // The largest payload this side accepts (its configured limit).
  virtual std::uint32_t max_payload() const = 0;
  // The largest payload it sends: wire::send_limit(max_payload()).
  std::uint32_t max_send_payload() const { return wire::send_limit(max_payload()); }

  // Bytes received but not yet consumed: a frame (or record) still arriving.
  // The server bounds how long and how much of this it holds.
  virtual std::size_t buffered() const { return 0; }
};

}  // namespace signet::channel
