#include "proto/frames.hpp"

namespace signet::proto {
namespace {

using util::Reader;

Result<std::uint32_t> read_op(Reader& r, std::string_view frame) {
  std::uint32_t op = 0;
  if (!r.read_u32(op)) return Error(Errc::truncated, std::string(frame) + " operation id");
  if (op == 0) return Error(Errc::malformed, std::string(frame) + " with operation id 0");
  return op;
}

Result<std::uint8_t> read_flags(Reader& r, std::string_view frame, std::uint8_t allowed) {
  std::uint8_t flags = 0;
  if (!r.read_u8(flags)) return Error(Errc::truncated, std::string(frame) + " flags");
  if ((flags & ~allowed) != 0) {
    return Error(Errc::malformed,
                 std::string(frame) + " with reserved flag bits " + std::to_string(flags));
  }
  return flags;
}

Result<bool> read_fin(Reader& r, std::string_view frame) {
  auto flags = read_flags(r, frame, kFin);
  if (!flags) return flags.error();
  return (*flags & kFin) != 0;
}

}  // namespace

bool is_v2_frame_type(std::uint8_t t) noexcept {
  return t >= static_cast<std::uint8_t>(FrameType::open) &&
         t <= static_cast<std::uint8_t>(FrameType::cancel);
}

std::string_view frame_type_name(std::uint8_t t) noexcept {
  switch (t) {
    case 0x01:
      return "MESSAGE";
    case 0x02:
      return "REPLY (version 1)";
    case 0x03:
      return "ERROR";
    case static_cast<std::uint8_t>(FrameType::open):
      return "OPEN";
    case static_cast<std::uint8_t>(FrameType::data):
      return "DATA";
    case static_cast<std::uint8_t>(FrameType::window):
      return "WINDOW";
    case static_cast<std::uint8_t>(FrameType::reply):
      return "REPLY";
    case static_cast<std::uint8_t>(FrameType::cancel):
      return "CANCEL";
  }
  return "unknown";
}

std::string_view kind_name(std::uint8_t kind) noexcept {
  switch (kind) {
    case static_cast<std::uint8_t>(Kind::message):
      return "message";
    case static_cast<std::uint8_t>(Kind::put):
      return "put";
    case static_cast<std::uint8_t>(Kind::get):
      return "get";
    case static_cast<std::uint8_t>(Kind::list):
      return "list";
    case static_cast<std::uint8_t>(Kind::chat):
      return "chat";
    case static_cast<std::uint8_t>(Kind::chat_message):
      return "chat-message";
  }
  return "unknown";
}

bool is_known_kind(std::uint8_t kind) noexcept {
  return kind >= static_cast<std::uint8_t>(Kind::message) &&
         kind <= static_cast<std::uint8_t>(Kind::chat_message);
}

Result<OpenFrame> decode_open(ByteSpan payload) {
  Reader r(payload);
  OpenFrame f;
  auto op = read_op(r, "OPEN");
  if (!op) return op.error();
  f.op = *op;
  if (!r.read_u8(f.kind)) return Error(Errc::truncated, "OPEN kind");
  if (f.kind == 0) return Error(Errc::malformed, "OPEN of kind 0");
  auto flags = read_flags(r, "OPEN", kFin | kReceipt);
  if (!flags) return flags.error();
  f.fin = (*flags & kFin) != 0;
  f.receipt = (*flags & kReceipt) != 0;
  f.body = r.rest();
  return f;
}

Result<DataFrame> decode_data(ByteSpan payload) {
  Reader r(payload);
  DataFrame f;
  auto op = read_op(r, "DATA");
  if (!op) return op.error();
  f.op = *op;
  auto fin = read_fin(r, "DATA");
  if (!fin) return fin.error();
  f.fin = *fin;
  f.bytes = r.rest();
  return f;
}

Result<WindowFrame> decode_window(ByteSpan payload) {
  Reader r(payload);
  WindowFrame f;
  auto op = read_op(r, "WINDOW");
  if (!op) return op.error();
  f.op = *op;
  if (!r.read_u32(f.increment)) return Error(Errc::truncated, "WINDOW increment");
  if (f.increment == 0 || f.increment > kMaxWindow) {
    return Error(Errc::malformed, "WINDOW increment " + std::to_string(f.increment));
  }
  if (!r.empty()) return Error(Errc::trailing_data, "after WINDOW");
  return f;
}

Result<ReplyFrame> decode_reply(ByteSpan payload) {
  Reader r(payload);
  ReplyFrame f;
  auto op = read_op(r, "REPLY");
  if (!op) return op.error();
  f.op = *op;
  if (!r.read_u8(f.status)) return Error(Errc::truncated, "REPLY status");
  f.text = r.rest();
  return f;
}

Result<CancelFrame> decode_cancel(ByteSpan payload) {
  Reader r(payload);
  auto op = read_op(r, "CANCEL");
  if (!op) return op.error();
  auto e = wire::decode_error_payload(r.rest());
  if (!e) return Error(e.error().code, "CANCEL: " + e.error().detail);
  return CancelFrame{*op, std::move(*e)};
}

std::array<std::uint8_t, kOpenHeaderSize> open_header(std::uint32_t op, std::uint8_t kind, bool fin,
                                                      bool receipt) {
  std::array<std::uint8_t, kOpenHeaderSize> h{};
  util::store_u32(h.data(), op);
  h[4] = kind;
  h[5] = static_cast<std::uint8_t>((fin ? kFin : 0) | (receipt ? kReceipt : 0));
  return h;
}

std::array<std::uint8_t, kDataHeaderSize> data_header(std::uint32_t op, bool fin) {
  std::array<std::uint8_t, kDataHeaderSize> h{};
  util::store_u32(h.data(), op);
  h[4] = fin ? kFin : 0;
  return h;
}

std::array<std::uint8_t, kWindowSize> window_payload(std::uint32_t op, std::uint32_t increment) {
  std::array<std::uint8_t, kWindowSize> h{};
  util::store_u32(h.data(), op);
  util::store_u32(h.data() + 4, increment);
  return h;
}

std::array<std::uint8_t, kReplyHeaderSize> reply_header(std::uint32_t op, std::uint8_t status) {
  std::array<std::uint8_t, kReplyHeaderSize> h{};
  util::store_u32(h.data(), op);
  h[4] = status;
  return h;
}

Bytes cancel_payload(std::uint32_t op, const wire::ErrorRecord& error) {
  Bytes out(4);
  util::store_u32(out.data(), op);
  const Bytes e = wire::encode_error_payload(error);
  out.insert(out.end(), e.begin(), e.end());
  return out;
}

}  // namespace signet::proto
