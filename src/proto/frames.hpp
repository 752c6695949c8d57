// Protocol version 2's application frames (docs/PROTOCOL.md, "Version 2"):
// encode and decode, no I/O.
//
// A version 2 connection carries many operations at once. Each frame names
// its operation by a 32-bit id; the side that opens an operation picks the
// id (the client odd ids, the server even ones, each side's strictly
// increasing), so either side may open one without asking. The frames ride
// in the channel's frames (type byte, length, payload, and in shared-key mode
// a tag over direction and sequence number) exactly as version 1's do.
//
//   OPEN    op (4) | kind (1) | flags (1) | body        opens op; body is its request
//   DATA    op (4) | flags (1) | bytes                  stream data, within the credit window
//   WINDOW  op (4) | increment (4)                      the sender may send increment more bytes
//   REPLY   op (4) | status (1) | text                  the responder's answer; ends op
//   CANCEL  op (4) | code (1) | reason                  either side ends op at once
//
// Every decoder checks lengths before reading, requires the reserved flag
// bits to be zero, and leaves nothing over (the body and text run to the end
// of the payload).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "util/bytes.hpp"
#include "util/error.hpp"
#include "wire/wire.hpp"

namespace signet::proto {

using util::Bytes;
using util::ByteSpan;

// Protocol versions, as negotiated by the handshake (ALPN "signet/2" in key
// mode, capability kVersion2Capability in shared-key mode).
inline constexpr int kVersion1 = 1;
inline constexpr int kVersion2 = 2;

enum class FrameType : std::uint8_t {
  open = 0x10,
  data = 0x11,
  window = 0x12,
  reply = 0x13,
  cancel = 0x14,
};

bool is_v2_frame_type(std::uint8_t t) noexcept;
std::string_view frame_type_name(std::uint8_t t) noexcept;

// Operation kinds. A receiver that does not know a kind cancels the
// operation with unsupported_operation (the connection goes on).
enum class Kind : std::uint8_t {
  message = 0x01,  // body: the message; the reply: status and text, as version 1's REPLY
  put = 0x02,      // upload a file (proto/file_frames.hpp)
  get = 0x03,      // download a file
  list = 0x04,     // list a folder
  chat = 0x05,          // join a conversation (proto/chat.hpp)
  chat_message = 0x06,  // one line of a conversation, either side
};
bool is_known_kind(std::uint8_t kind) noexcept;
std::string_view kind_name(std::uint8_t kind) noexcept;

// Flag bits. Bits not defined for a frame type must be zero.
inline constexpr std::uint8_t kFin = 0x01;  // OPEN, DATA: the sender sends no more DATA on op
// OPEN: the opener asks for a signed receipt of the operation
// (docs/PROTOCOL.md, "Receipts").
inline constexpr std::uint8_t kReceipt = 0x02;

// Each side's credit for DATA on a new operation, in each direction
// (docs/PROTOCOL.md, "Flow control"); raised by WINDOW frames.
inline constexpr std::uint32_t kInitialWindow = 64 * 1024;
// A window can never exceed this (RFC 9113 section 6.9.1 uses the same bound).
inline constexpr std::uint32_t kMaxWindow = 0x7FFFFFFF;
// Operations one side may have open at once that it opened itself.
inline constexpr std::uint32_t kMaxOpenOperations = 1024;

inline constexpr std::size_t kOpenHeaderSize = 6;
inline constexpr std::size_t kDataHeaderSize = 5;
inline constexpr std::size_t kWindowSize = 8;
inline constexpr std::size_t kReplyHeaderSize = 5;
inline constexpr std::size_t kCancelHeaderSize = 5;
// Receive limits bound what follows these headers (the channel checks them
// with wire::operation_header_size, which must agree).
static_assert(wire::operation_header_size(0x10) == kOpenHeaderSize);
static_assert(wire::operation_header_size(0x11) == kDataHeaderSize);
static_assert(wire::operation_header_size(0x12) == kWindowSize);
static_assert(wire::operation_header_size(0x13) == kReplyHeaderSize);
static_assert(wire::operation_header_size(0x14) == kCancelHeaderSize);

struct OpenFrame {
  std::uint32_t op = 0;
  std::uint8_t kind = 0;
  bool fin = false;
  ByteSpan body;
  bool receipt = false;
};
struct DataFrame {
  std::uint32_t op = 0;
  bool fin = false;
  ByteSpan bytes;
};
struct WindowFrame {
  std::uint32_t op = 0;
  std::uint32_t increment = 0;
};
struct ReplyFrame {
  std::uint32_t op = 0;
  std::uint8_t status = 0;
  ByteSpan text;
};
struct CancelFrame {
  std::uint32_t op = 0;
  wire::ErrorRecord error;  // code (never 0) and reason, as an ERROR frame's
};

// Decoders take a frame's payload. They fail with truncated, malformed (an
// op id of 0, reserved flag bits, a window increment of 0 or above
// kMaxWindow, an error code 0, a reason that is not safe UTF-8) or too_large
// (a reason over 512 bytes).
Result<OpenFrame> decode_open(ByteSpan payload);
Result<DataFrame> decode_data(ByteSpan payload);
Result<WindowFrame> decode_window(ByteSpan payload);
Result<ReplyFrame> decode_reply(ByteSpan payload);
Result<CancelFrame> decode_cancel(ByteSpan payload);

// Encoders write the fixed part of a frame's payload; the variable part
// (body, bytes, text) follows it unchanged, so it need not be copied.
std::array<std::uint8_t, kOpenHeaderSize> open_header(std::uint32_t op, std::uint8_t kind, bool fin,
                                                      bool receipt = false);
std::array<std::uint8_t, kDataHeaderSize> data_header(std::uint32_t op, bool fin);
std::array<std::uint8_t, kWindowSize> window_payload(std::uint32_t op, std::uint32_t increment);
std::array<std::uint8_t, kReplyHeaderSize> reply_header(std::uint32_t op, std::uint8_t status);
Bytes cancel_payload(std::uint32_t op, const wire::ErrorRecord& error);

}  // namespace signet::proto
