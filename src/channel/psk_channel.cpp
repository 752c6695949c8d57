#include "channel/psk_channel.hpp"

#include "util/encoding.hpp"

namespace signet::channel {

void InputBuffer::append(ByteSpan in) {
  if (pos_ > 0 && pos_ == buf_.size()) {
    buf_.clear();
    pos_ = 0;
  }
  buf_.insert(buf_.end(), in.begin(), in.end());
}

void InputBuffer::compact() {
  if (pos_ == 0) return;
  if (pos_ == buf_.size()) {
    Bytes().swap(buf_);
  } else {
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(pos_));
  }
  pos_ = 0;
}

Result<std::optional<ByteSpan>> take_record(ByteSpan in) {
  if (in.size() < wire::kRecordHeaderSize) {
    // Fail fast on a peer that is clearly not speaking signet (e.g. TLS).
    if (!in.empty() && in[0] != wire::kMagic[0]) {
      if (in[0] == 0x16) return Error(Errc::wrong_mode, "peer speaks TLS (key mode)");
      return Error(Errc::bad_magic, "first bytes are not \"SGNT\"");
    }
    return std::optional<ByteSpan>{};
  }
  auto h = wire::decode_record_header(in.first(wire::kRecordHeaderSize));
  if (!h) return h.error();
  const std::size_t total = wire::kRecordHeaderSize + h->length;
  if (in.size() < total) return std::optional<ByteSpan>{};
  return std::optional<ByteSpan>(in.first(total));
}

constexpr std::string_view kPeerSays = "peer says: ";

Error peer_error(const wire::ErrorRecord& r) {
  const Error e(wire::errc_for(r.code));
  // The reason usually repeats the code's own text; say it once.
  std::string_view reason = r.reason;
  const std::string prefix = e.code.message() + ": ";
  if (reason.starts_with(prefix)) reason.remove_prefix(prefix.size());
  // The peer's text, unauthenticated before the handshake, is escaped here,
  // where it enters the Error: every later print to a terminal or a log is then
  // safe, whatever the decoder let through.
  Error out(e.code, std::string(kPeerSays) + util::escape_for_display(reason));
  out.from_peer = true;
  return out;
}

Error unreadable_peer_error(const Error& why) {
  Error out(Errc::peer_error,
            std::string(kPeerSays) + "(an error it sent is unreadable: " + why.message() + ")");
  out.from_peer = true;
  return out;
}

bool reported_by_peer(const Error& e) {
  return e.from_peer;
}

namespace {

// During the handshake the peer may send an error record instead of the
// expected one; turn it into the peer's error.
std::optional<Error> as_peer_error(ByteSpan record) {
  if (record.size() > 5 && record[5] == static_cast<std::uint8_t>(wire::RecordType::error)) {
    auto e = wire::decode_error_record(record);
    if (!e) return unreadable_peer_error(e.error());
    return peer_error(*e);
  }
  return std::nullopt;
}

void send_error_record(const Error& e, Bytes& out) {
  const auto rec = wire::encode(wire::ErrorRecord{wire::error_code_for(e), e.message()});
  out.insert(out.end(), rec.begin(), rec.end());
}

void send_error_frame(FrameCodec& codec, const Error& e, Bytes& out) {
  const auto payload =
      wire::encode_error_payload(wire::ErrorRecord{wire::error_code_for(e), e.message()});
  codec.seal(wire::FrameType::error, {payload}, out);
}

// Shared by both sides once established.
Result<std::optional<Frame>> next_verified(FrameCodec& codec, InputBuffer& in) {
  auto f = codec.open(in.mutable_data());
  if (!f) return f.error();
  if (!f->has_value()) {
    in.compact();
    return std::optional<Frame>{};
  }
  const auto& opened = **f;
  in.consume(opened.consumed);
  if (opened.type == wire::FrameType::error) {
    auto e = wire::decode_error_payload(opened.payload);
    if (!e) return unreadable_peer_error(e.error());
    return peer_error(*e);
  }
  return std::optional<Frame>(Frame{opened.type, opened.payload});
}

}  // namespace

// --- both ends ----------------------------------------------------------------------

std::string PskChannel::description() const {
  std::string d = "shared-key";
  if (codec_) d += " " + crypto::suite_description(*codec_->suite());
  return d;
}

void PskChannel::send(wire::FrameType type, std::initializer_list<ByteSpan> parts, Bytes& out) {
  codec_->seal(type, parts, out);
}

void PskChannel::send_error(const Error& e, Bytes& out) {
  if (codec_) {
    send_error_frame(*codec_, e, out);
  } else {
    send_error_record(e, out);
  }
}

void PskChannel::notify(const Error& e, Bytes& out) {
  // Errors the peer reported need no answer.
  if (!reported_by_peer(e)) send_error(e, out);
}

// --- server -----------------------------------------------------------------------

PskServerChannel::PskServerChannel(PskSettings settings)
    : PskChannel(std::move(settings)),
      handshake_(*settings_.key, settings_.suites, std::nullopt, settings_.max_protocol) {}

Error PskServerChannel::fail(Error e, Bytes& out) {
  notify(e, out);
  state_ = State::failed;
  return e;
}

Result<void> PskServerChannel::receive(ByteSpan in, Bytes& out) {
  if (state_ == State::failed) return Error(Errc::peer_closed, "channel already failed");
  in_.append(in);
  while (state_ == State::want_hello || state_ == State::want_finish) {
    auto rec = take_record(in_.data());
    if (!rec) return fail(rec.error(), out);
    if (!rec->has_value()) break;
    const ByteSpan record = **rec;
    if (auto pe = as_peer_error(record)) return fail(*pe, out);
    if (state_ == State::want_hello) {
      auto reply = handshake_.on_client_hello(record);
      if (!reply) return fail(reply.error(), out);
      out.insert(out.end(), reply->begin(), reply->end());
      state_ = State::want_finish;
    } else {
      if (auto ok = handshake_.on_client_finish(record); !ok) return fail(ok.error(), out);
      codec_.emplace(handshake_.make_codec(settings_.max_payload));
      session_ = handshake_.session();
      state_ = State::established;
    }
    in_.consume(record.size());
  }
  return {};
}

Result<std::optional<Frame>> PskServerChannel::next_frame(Bytes& out) {
  if (state_ != State::established) return std::optional<Frame>{};
  auto f = next_verified(*codec_, in_);
  if (!f) {
    return fail(f.error(), out);
  }
  return f;
}

// --- client -----------------------------------------------------------------------

PskClientChannel::PskClientChannel(PskSettings settings)
    : PskChannel(std::move(settings)),
      handshake_(*settings_.key, settings_.suites, std::nullopt, settings_.max_protocol) {}

void PskClientChannel::start(Bytes& out) {
  const auto& hello = handshake_.client_hello();
  out.insert(out.end(), hello.begin(), hello.end());
}

Error PskClientChannel::fail(Error e, Bytes& out) {
  notify(e, out);
  state_ = State::failed;
  return e;
}

Result<void> PskClientChannel::receive(ByteSpan in, Bytes& out) {
  if (state_ == State::failed) return Error(Errc::peer_closed, "channel already failed");
  in_.append(in);
  if (state_ != State::want_server_hello) return {};
  auto rec = take_record(in_.data());
  if (!rec) return fail(rec.error(), out);
  if (!rec->has_value()) return {};
  const ByteSpan record = **rec;
  if (auto pe = as_peer_error(record)) return fail(*pe, out);
  auto finish = handshake_.on_server_hello(record);
  if (!finish) return fail(finish.error(), out);
  out.insert(out.end(), finish->begin(), finish->end());
  in_.consume(record.size());
  codec_.emplace(handshake_.make_codec(settings_.max_payload));
  session_ = handshake_.session();
  state_ = State::established;
  return {};
}

Result<std::optional<Frame>> PskClientChannel::next_frame(Bytes& out) {
  if (state_ != State::established) return std::optional<Frame>{};
  // The server answers a bad ClientFinish with an error record instead of a frame.
  if (!got_frame_) {
    const ByteSpan d = in_.data();
    if (!d.empty() && d[0] == wire::kMagic[0]) {
      auto rec = take_record(d);
      if (!rec) return rec.error();
      if (!rec->has_value()) return std::optional<Frame>{};
      if (auto pe = as_peer_error(**rec)) {
        state_ = State::failed;
        return *pe;
      }
      return Error(Errc::unexpected_frame, "handshake record after the handshake");
    }
  }
  auto f = next_verified(*codec_, in_);
  if (!f) {
    return fail(f.error(), out);
  }
  if (f->has_value()) got_frame_ = true;
  return f;
}

}  // namespace signet::channel
