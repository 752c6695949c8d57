#include "wire/wire.hpp"

#include <algorithm>

#include "util/encoding.hpp"

namespace signet::wire {
namespace {

using util::Reader;
using util::Writer;

Bytes record(RecordType type, const Bytes& body) {
  Bytes out;
  out.reserve(kRecordHeaderSize + body.size());
  Writer w(out);
  w.bytes(kMagic);
  w.u8(kVersion);
  w.u8(static_cast<std::uint8_t>(type));
  w.u16(static_cast<std::uint16_t>(body.size()));
  w.bytes(body);
  return out;
}

// Checks the header of a whole record and returns a reader over its body.
Result<Reader> open_record(ByteSpan rec, RecordType expected) {
  if (rec.size() < kRecordHeaderSize) return Error(Errc::truncated, "handshake record header");
  auto h = decode_record_header(rec.first(kRecordHeaderSize));
  if (!h) return h.error();
  if (h->type != expected) {
    return Error(Errc::unexpected_frame,
                 "handshake record type " + std::to_string(static_cast<int>(h->type)));
  }
  const ByteSpan body = rec.subspan(kRecordHeaderSize);
  if (body.size() < h->length) return Error(Errc::truncated, "handshake record body");
  if (body.size() > h->length) return Error(Errc::trailing_data, "after handshake record");
  return Reader(body);
}

Result<void> finished(const Reader& r, const char* what) {
  if (!r.empty()) return Error(Errc::trailing_data, what);
  return {};
}

// Reasons come from a peer, maybe before it is authenticated, and end up on
// a terminal and in logs: only well-formed UTF-8 without controls (tab
// aside) or bidirectional formatting characters is accepted.
bool valid_utf8_text(std::string_view s) {
  return util::is_display_safe_utf8(s);
}

// The reason as sent: the rules above hold for whatever text the local error
// carries, and the cut at kMaxReasonSize never splits a UTF-8 sequence.
std::string sendable_reason(std::string_view reason) {
  std::string text =
      valid_utf8_text(reason) ? std::string(reason) : util::escape_for_display(reason);
  if (text.size() > kMaxReasonSize) {
    std::size_t n = kMaxReasonSize;
    while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xC0u) == 0x80u) --n;
    text.resize(n);
  }
  return text;
}

}  // namespace

ErrorCode error_code_for(const Error& e) noexcept {
  if (e.code.category() != signet_category()) return ErrorCode::internal;
  switch (static_cast<Errc>(e.code.value())) {
    case Errc::bad_version:
      return ErrorCode::unsupported_version;
    case Errc::wrong_mode:
      return ErrorCode::wrong_mode;
    case Errc::unsupported_mac:
      return ErrorCode::unsupported_mac;
    case Errc::key_mismatch:
      return ErrorCode::key_mismatch;
    case Errc::bad_tag:
      return ErrorCode::bad_tag;
    case Errc::too_large:
      return ErrorCode::too_large;
    case Errc::handshake_timeout:
    case Errc::idle_timeout:
      return ErrorCode::timeout;
    case Errc::not_authorized:
      return ErrorCode::not_authorized;
    case Errc::busy:
      return ErrorCode::server_busy;
    case Errc::unsupported_operation:
      return ErrorCode::unsupported_operation;
    case Errc::cancelled:
      return ErrorCode::cancelled;
    default:
      return ErrorCode::protocol_violation;
  }
}

Errc errc_for(ErrorCode c) noexcept {
  switch (c) {
    case ErrorCode::unsupported_version:
      return Errc::bad_version;
    case ErrorCode::wrong_mode:
      return Errc::wrong_mode;
    case ErrorCode::unsupported_mac:
      return Errc::unsupported_mac;
    case ErrorCode::key_mismatch:
      return Errc::key_mismatch;
    case ErrorCode::bad_tag:
      return Errc::bad_tag;
    case ErrorCode::too_large:
      return Errc::too_large;
    case ErrorCode::timeout:
      return Errc::idle_timeout;
    case ErrorCode::not_authorized:
      return Errc::not_authorized;
    case ErrorCode::server_busy:
      return Errc::busy;
    case ErrorCode::unsupported_operation:
      return Errc::unsupported_operation;
    case ErrorCode::cancelled:
      return Errc::cancelled;
    default:
      return Errc::peer_error;
  }
}

std::string_view error_code_name(ErrorCode c) noexcept {
  switch (c) {
    case ErrorCode::protocol_violation:
      return "protocol violation";
    case ErrorCode::unsupported_version:
      return "unsupported version";
    case ErrorCode::wrong_mode:
      return "wrong mode";
    case ErrorCode::unsupported_mac:
      return "unsupported MAC";
    case ErrorCode::key_mismatch:
      return "shared key mismatch";
    case ErrorCode::bad_tag:
      return "authentication failed";
    case ErrorCode::too_large:
      return "too large";
    case ErrorCode::timeout:
      return "timeout";
    case ErrorCode::not_authorized:
      return "not authorized";
    case ErrorCode::server_busy:
      return "server busy";
    case ErrorCode::internal:
      return "internal error";
    case ErrorCode::unsupported_operation:
      return "operation not supported";
    case ErrorCode::cancelled:
      return "cancelled";
  }
  return "unknown error";
}

Result<RecordHeader> decode_record_header(ByteSpan header) {
  if (header.size() < kRecordHeaderSize) return Error(Errc::truncated, "handshake record header");
  if (!std::equal(kMagic.begin(), kMagic.end(), header.begin())) {
    // 0x16 0x03 starts every TLS handshake record (RFC 8446 section 5.1).
    if (header[0] == 0x16 && header[1] == 0x03) {
      return Error(Errc::wrong_mode, "peer speaks TLS (key mode)");
    }
    return Error(Errc::bad_magic, "first bytes are not \"SGNT\"");
  }
  RecordHeader h;
  h.version = header[4];
  if (h.version != kVersion) {
    return Error(Errc::bad_version, "peer speaks version " + std::to_string(h.version) +
                                        ", this build speaks version " + std::to_string(kVersion));
  }
  const std::uint8_t type = header[5];
  if (type != 0x01 && type != 0x02 && type != 0x03 && type != 0x0F) {
    return Error(Errc::malformed, "unknown handshake record type " + std::to_string(type));
  }
  h.type = static_cast<RecordType>(type);
  h.length = util::load_u16(header.data() + 6);
  if (h.length > kMaxRecordBody) {
    return Error(Errc::too_large,
                 "handshake record body of " + std::to_string(h.length) + " bytes");
  }
  return h;
}

Bytes encode(const ClientHello& m) {
  Bytes body;
  Writer w(body);
  w.u8(static_cast<std::uint8_t>(m.mode));
  w.bytes(m.nonce);
  w.u8(static_cast<std::uint8_t>(m.mac_ids.size()));
  w.bytes(m.mac_ids);
  return record(RecordType::client_hello, body);
}

Bytes encode(const ServerHello& m) {
  Bytes body;
  Writer w(body);
  w.u8(m.mac_id);
  w.bytes(m.nonce);
  if (m.protocol != 0) w.u8(m.protocol);
  w.bytes(m.proof);
  return record(RecordType::server_hello, body);
}

Bytes encode(const ClientFinish& m) {
  return record(RecordType::client_finish, m.proof);
}

Bytes encode(const ErrorRecord& m) {
  return record(RecordType::error, encode_error_payload(m));
}

Result<ClientHello> decode_client_hello(ByteSpan rec) {
  auto r = open_record(rec, RecordType::client_hello);
  if (!r) return r.error();
  ClientHello m;
  std::uint8_t mode = 0, count = 0;
  ByteSpan nonce, ids;
  if (!r->read_u8(mode) || !r->read_bytes(kNonceSize, nonce) || !r->read_u8(count)) {
    return Error(Errc::truncated, "client hello");
  }
  if (mode != static_cast<std::uint8_t>(Mode::shared_key)) {
    return Error(Errc::wrong_mode, "client asks for mode " + std::to_string(mode));
  }
  if (count == 0 || count > kMaxMacOffers) {
    return Error(Errc::malformed, "client offers " + std::to_string(count) + " MAC algorithms");
  }
  if (!r->read_bytes(count, ids)) return Error(Errc::truncated, "client hello MAC list");
  if (auto f = finished(*r, "client hello"); !f) return f.error();
  m.mode = Mode::shared_key;
  std::copy(nonce.begin(), nonce.end(), m.nonce.begin());
  m.mac_ids.assign(ids.begin(), ids.end());
  return m;
}

Result<std::uint8_t> peek_server_hello_mac(ByteSpan rec) {
  if (rec.size() < kRecordHeaderSize + 1) return Error(Errc::truncated, "server hello");
  return rec[kRecordHeaderSize];
}

Result<ServerHello> decode_server_hello(ByteSpan rec, std::size_t proof_size,
                                        bool may_carry_protocol) {
  auto r = open_record(rec, RecordType::server_hello);
  if (!r) return r.error();
  ServerHello m;
  ByteSpan nonce, proof;
  if (!r->read_u8(m.mac_id) || !r->read_bytes(kNonceSize, nonce)) {
    return Error(Errc::truncated, "server hello");
  }
  // The body's length tells whether the protocol byte is there.
  if (may_carry_protocol && r->remaining() == proof_size + 1) {
    if (!r->read_u8(m.protocol)) return Error(Errc::truncated, "server hello");
    if (m.protocol != 2) {
      return Error(Errc::malformed, "server hello chooses protocol " + std::to_string(m.protocol));
    }
  }
  if (!r->read_bytes(proof_size, proof)) return Error(Errc::truncated, "server hello");
  if (auto f = finished(*r, "server hello"); !f) return f.error();
  std::copy(nonce.begin(), nonce.end(), m.nonce.begin());
  m.proof.assign(proof.begin(), proof.end());
  return m;
}

Result<ClientFinish> decode_client_finish(ByteSpan rec, std::size_t proof_size) {
  auto r = open_record(rec, RecordType::client_finish);
  if (!r) return r.error();
  ByteSpan proof;
  if (!r->read_bytes(proof_size, proof)) return Error(Errc::truncated, "client finish");
  if (auto f = finished(*r, "client finish"); !f) return f.error();
  return ClientFinish{Bytes(proof.begin(), proof.end())};
}

Result<ErrorRecord> decode_error_record(ByteSpan rec) {
  auto r = open_record(rec, RecordType::error);
  if (!r) return r.error();
  return decode_error_payload(r->rest());
}

bool is_frame_type(std::uint8_t t) noexcept {
  return (t >= 0x01 && t <= 0x03) || (t >= 0x10 && t <= 0x14);
}

Result<FrameHeader> decode_frame_header(ByteSpan in, std::uint32_t max_payload) {
  if (in.size() < kFrameHeaderSize) return Error(Errc::truncated, "frame header");
  if (!is_frame_type(in[0])) {
    return Error(Errc::malformed, "unknown frame type " + std::to_string(in[0]));
  }
  FrameHeader h{static_cast<FrameType>(in[0]), util::load_u32(in.data() + 1)};
  const std::uint32_t header = operation_header_size(in[0]);
  if (std::uint64_t{h.length} > std::uint64_t{max_payload} + header) {
    if (header == 0) {
      return Error(Errc::too_large, "frame of " + std::to_string(h.length) + " bytes, limit " +
                                        std::to_string(max_payload));
    }
    return Error(Errc::too_large, "frame of " + std::to_string(h.length) + " bytes: " +
                                      std::to_string(h.length - header) + " after its " +
                                      std::to_string(header) + "-byte operation header, limit " +
                                      std::to_string(max_payload));
  }
  return h;
}

void encode_frame_header(FrameType type, std::uint32_t length, std::uint8_t out[kFrameHeaderSize]) {
  out[0] = static_cast<std::uint8_t>(type);
  util::store_u32(out + 1, length);
}

Bytes encode_reply_payload(const Reply& r) {
  Bytes out;
  out.reserve(1 + r.text.size());
  out.push_back(r.status);
  out.insert(out.end(), r.text.begin(), r.text.end());
  return out;
}

Result<Reply> decode_reply_payload(ByteSpan payload) {
  Reader r(payload);
  Reply rep;
  if (!r.read_u8(rep.status)) return Error(Errc::truncated, "reply status");
  rep.text.assign(util::as_chars(r.rest()));
  return rep;
}

Bytes encode_error_payload(const ErrorRecord& e) {
  const std::string reason = sendable_reason(e.reason);
  Bytes out;
  out.reserve(1 + reason.size());
  out.push_back(static_cast<std::uint8_t>(e.code));
  out.insert(out.end(), reason.begin(), reason.end());
  return out;
}

Result<ErrorRecord> decode_error_payload(ByteSpan payload) {
  Reader r(payload);
  std::uint8_t code = 0;
  if (!r.read_u8(code)) return Error(Errc::truncated, "error code");
  // Codes this version does not know are kept: a later version may add
  // codes, and the peer's reason is still worth showing.
  if (code == 0x00) return Error(Errc::malformed, "error code 0");
  if (r.remaining() > kMaxReasonSize) return Error(Errc::too_large, "error reason");
  ErrorRecord e{static_cast<ErrorCode>(code), std::string(util::as_chars(r.rest()))};
  if (!valid_utf8_text(e.reason)) {
    return Error(Errc::malformed,
                 "error reason is not UTF-8 text without control or bidirectional characters");
  }
  return e;
}

}  // namespace signet::wire
