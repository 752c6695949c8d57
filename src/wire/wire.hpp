// signet wire format: handshake records and application frames (docs/PROTOCOL.md).
//
// Pure encoding and decoding: bytes in, a struct or an Error out, no I/O.
// Every decoder rejects short input, over-long lengths and leftover bytes.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "util/bytes.hpp"
#include "util/error.hpp"

namespace signet::wire {

using util::Bytes;
using util::ByteSpan;

// --- Handshake records -------------------------------------------------------
//   magic "SGNT" (4) | version (1) | type (1) | body length (2, big-endian) | body

inline constexpr std::array<std::uint8_t, 4> kMagic = {'S', 'G', 'N', 'T'};
inline constexpr std::uint8_t kVersion = 1;
inline constexpr std::size_t kRecordHeaderSize = 8;
inline constexpr std::size_t kMaxRecordBody = 1024;
inline constexpr std::size_t kNonceSize = 32;
inline constexpr std::size_t kMaxMacOffers = 8;
inline constexpr std::size_t kMaxReasonSize = 512;

enum class RecordType : std::uint8_t {
  client_hello = 0x01,
  server_hello = 0x02,
  client_finish = 0x03,
  error = 0x0F,
};

enum class Mode : std::uint8_t {
  shared_key = 0x01,
};

// Error codes carried by error records and error frames.
enum class ErrorCode : std::uint8_t {
  protocol_violation = 0x01,
  unsupported_version = 0x02,
  wrong_mode = 0x03,
  unsupported_mac = 0x04,
  key_mismatch = 0x05,
  bad_tag = 0x06,
  too_large = 0x07,
  timeout = 0x08,
  not_authorized = 0x09,
  server_busy = 0x0A,
  internal = 0x0B,
  // Version 2 only, in CANCEL frames: the receiver does not serve this
  // kind of operation; the operation was cancelled by its sender.
  unsupported_operation = 0x0C,
  cancelled = 0x0D,
};

ErrorCode error_code_for(const Error& e) noexcept;
Errc errc_for(ErrorCode c) noexcept;
std::string_view error_code_name(ErrorCode c) noexcept;

struct RecordHeader {
  std::uint8_t version = 0;
  RecordType type{};
  std::uint16_t length = 0;
};

using Nonce = std::array<std::uint8_t, kNonceSize>;

struct ClientHello {
  Mode mode = Mode::shared_key;
  Nonce nonce{};
  std::vector<std::uint8_t> mac_ids;  // client's preference order, 1..8 entries
};

// Offered in the ClientHello's algorithm list, this id is not an algorithm
// but a capability (as TLS's signalling cipher suite values are): the client
// speaks application protocol version 2. A server that does not know it
// ignores it, as it ignores any id it does not know; one that speaks version
// 2 answers with a ServerHello carrying the protocol byte.
inline constexpr std::uint8_t kProtocol2Capability = 0xF2;

struct ServerHello {
  std::uint8_t mac_id = 0;
  Nonce nonce{};
  // The application protocol version the server chose, present only when
  // the client offered kProtocol2Capability; 0: absent (version 1).
  std::uint8_t protocol = 0;
  Bytes proof;  // tag-sized, length implied by the chosen MAC
};

struct ClientFinish {
  Bytes proof;
};

struct ErrorRecord {
  ErrorCode code = ErrorCode::protocol_violation;
  std::string reason;  // UTF-8, at most kMaxReasonSize bytes
};

// Decodes the 8-byte header. bad_magic if the first four bytes are not "SGNT"
// (the detail says "TLS" when they look like a TLS record), bad_version if the
// version is not kVersion, too_large if the body exceeds kMaxRecordBody.
Result<RecordHeader> decode_record_header(ByteSpan header);

// Encoders return a whole record, header included.
Bytes encode(const ClientHello& m);
Bytes encode(const ServerHello& m);
Bytes encode(const ClientFinish& m);
Bytes encode(const ErrorRecord& m);

// Decoders take a whole record (header and body), check the header and type,
// and require that nothing is left over. proof_size is the chosen MAC's tag size.
Result<ClientHello> decode_client_hello(ByteSpan record);
// may_carry_protocol: the client offered kProtocol2Capability, so the body
// may hold the protocol byte (which must then be 2).
Result<ServerHello> decode_server_hello(ByteSpan record, std::size_t proof_size,
                                        bool may_carry_protocol = false);
Result<ClientFinish> decode_client_finish(ByteSpan record, std::size_t proof_size);
Result<ErrorRecord> decode_error_record(ByteSpan record);
// The mac_id of a server hello, needed to know proof_size before decoding it.
Result<std::uint8_t> peek_server_hello_mac(ByteSpan record);

// --- Application frames ----------------------------------------------------------
//   type (1) | payload length (4, big-endian) | payload | tag (shared-key mode only)

inline constexpr std::size_t kFrameHeaderSize = 5;
inline constexpr std::uint32_t kDefaultMaxPayload = 1u << 20;  // 1 MiB

// A payload limit is what a side accepts (docs/PROTOCOL.md, "Limits and
// timeouts"); what it sends may be as large as what a peer accepts by
// default. So a side configured to accept less than the default still sends
// replies and ERROR frames up to the default size.
inline constexpr std::uint32_t send_limit(std::uint32_t receive_limit) noexcept {
  return receive_limit > kDefaultMaxPayload ? receive_limit : kDefaultMaxPayload;
}

// The channel's frame types. ERROR is the channel's own; MESSAGE and REPLY
// are version 1's application frames, 0x10-0x14 version 2's (proto/frames.hpp).
// (Key mode's binding frame, 0x04, is read by the TLS channel before any
// other and is not a frame type here.) Channels pass every type but ERROR up
// unchanged: which may arrive when is the application protocol's business.
enum class FrameType : std::uint8_t {
  message = 0x01,  // version 1, client -> server: payload is the message
  reply = 0x02,    // version 1, server -> client: status (1) | text
  error = 0x03,    // either way: code (1) | reason; the sender then closes
};

bool is_frame_type(std::uint8_t t) noexcept;

// The fixed operation header at the start of a version 2 frame's payload
// (proto/frames.hpp: 6 for OPEN, 5 for DATA, REPLY and CANCEL, 8 for
// WINDOW); 0 for version 1's types and ERROR. A receive limit bounds what
// follows this header, so a limit means the same number of message bytes in
// both versions.
constexpr std::uint32_t operation_header_size(std::uint8_t type) noexcept {
  switch (type) {
    case 0x10:  // OPEN: op, kind, flags
      return 6;
    case 0x11:  // DATA: op, flags
    case 0x13:  // REPLY: op, status
    case 0x14:  // CANCEL: op, code
      return 5;
    case 0x12:  // WINDOW: op, increment
      return 8;
    default:
      return 0;
  }
}

struct FrameHeader {
  FrameType type{};
  std::uint32_t length = 0;
};

// Decodes a frame header from at least kFrameHeaderSize bytes. malformed for a
// type no version defines; too_large when length > max_payload +
// operation_header_size(type) (checked before anything is allocated for the
// payload).
Result<FrameHeader> decode_frame_header(ByteSpan in, std::uint32_t max_payload);
void encode_frame_header(FrameType type, std::uint32_t length, std::uint8_t out[kFrameHeaderSize]);

struct Reply {
  std::uint8_t status = 0;  // 0: accepted; otherwise the handler's refusal status
  std::string text;
};

Bytes encode_reply_payload(const Reply& r);
Result<Reply> decode_reply_payload(ByteSpan payload);
Bytes encode_error_payload(const ErrorRecord& e);
Result<ErrorRecord> decode_error_payload(ByteSpan payload);

}  // namespace signet::wire
