#include "proto/session.hpp"

#include <stdexcept>

namespace signet::proto {
namespace {

// Frame types version 1 uses (wire::FrameType); ERROR never reaches the
// session, the channel handles it.
constexpr std::uint8_t kV1Message = static_cast<std::uint8_t>(wire::FrameType::message);
constexpr std::uint8_t kV1Reply = static_cast<std::uint8_t>(wire::FrameType::reply);

Error violation(std::string what) {
  return Error(Errc::unexpected_frame, std::move(what));
}

std::string op_name(std::uint32_t op) {
  return "operation " + std::to_string(op);
}

}  // namespace

Session::Session(Role role, int version, Authorizer authorize)
    : role_(role), version_(version), authorize_(std::move(authorize)) {
  if (version != kVersion1 && version != kVersion2) {
    throw std::logic_error("protocol version " + std::to_string(version));
  }
}

// Operations come and go once per message: their map nodes are kept for
// reuse (a few dozen at most) instead of going back to the allocator.
// Both also keep the counts of open operations per side.
void Session::add(std::uint32_t op, const Operation& o) {
  ++(o.mine ? my_open_ : peer_open_);
  if (spare_.empty()) {
    ops_.emplace(op, o);
    return;
  }
  auto node = std::move(spare_.back());
  spare_.pop_back();
  node.key() = op;
  node.mapped() = o;
  ops_.insert(std::move(node));
}

void Session::remove(Operations::iterator it) {
  --(it->second.mine ? my_open_ : peer_open_);
  auto node = ops_.extract(it);
  if (spare_.size() < kSpareNodes) spare_.push_back(std::move(node));
}

bool Session::was_opened(std::uint32_t op) const noexcept {
  return op != 0 && op <= (mine(op) ? my_last_ : peer_last_);
}

Result<Session::Operations::iterator> Session::find_for_frame(std::uint32_t op,
                                                              std::string_view frame) {
  auto it = ops_.find(op);
  if (it == ops_.end() && !was_opened(op)) {
    return violation(std::string(frame) + op_name(op) + ", which was never opened");
  }
  return it;
}

std::uint32_t Session::send_window(std::uint32_t op) const noexcept {
  // Version 1 has no DATA at all.
  const auto it = ops_.find(op);
  return version_ == kVersion1 || it == ops_.end() || it->second.sent_fin ? 0
                                                                          : it->second.send_window;
}

Result<std::optional<Event>> Session::receive(std::uint8_t type, ByteSpan payload, FrameSink& out) {
  if (version_ == kVersion1) return receive_v1(type, payload);
  if (!is_v2_frame_type(type)) {
    return violation("frame type " + std::to_string(type) + " (" +
                     std::string(frame_type_name(type)) + ") is not used in protocol version 2");
  }
  switch (static_cast<FrameType>(type)) {
    case FrameType::open:
      return receive_open(payload, out);
    case FrameType::data: {
      auto f = decode_data(payload);
      if (!f) return f.error();
      auto it = find_for_frame(f->op, "DATA for ");
      if (!it) return it.error();
      if (*it == ops_.end()) return std::optional<Event>{};  // over: ignored
      Operation& o = (*it)->second;
      if (o.received_fin) return violation("DATA after the peer's FIN on " + op_name(f->op));
      if (f->bytes.size() > o.receive_window) {
        return violation("DATA of " + std::to_string(f->bytes.size()) + " bytes on " +
                         op_name(f->op) + " beyond its credit window of " +
                         std::to_string(o.receive_window));
      }
      o.receive_window -= static_cast<std::uint32_t>(f->bytes.size());
      o.received_fin = f->fin;
      return std::optional<Event>(Received{f->op, f->fin, f->bytes});
    }
    case FrameType::window: {
      auto f = decode_window(payload);
      if (!f) return f.error();
      auto it = find_for_frame(f->op, "WINDOW for ");
      if (!it) return it.error();
      if (*it == ops_.end()) return std::optional<Event>{};
      Operation& o = (*it)->second;
      if (f->increment > kMaxWindow - o.send_window) {
        return violation("WINDOW takes the credit on " + op_name(f->op) + " above 2^31-1");
      }
      o.send_window += f->increment;
      return std::optional<Event>(WindowGrown{f->op});
    }
    case FrameType::reply: {
      auto f = decode_reply(payload);
      if (!f) return f.error();
      if (!mine(f->op)) {
        return violation("REPLY to " + op_name(f->op) + ", which the peer opened itself");
      }
      auto it = find_for_frame(f->op, "REPLY to ");
      if (!it) return it.error();
      if (*it == ops_.end()) return std::optional<Event>{};
      remove(*it);
      return std::optional<Event>(Answered{f->op, f->status, f->text});
    }
    case FrameType::cancel: {
      auto f = decode_cancel(payload);
      if (!f) return f.error();
      auto it = find_for_frame(f->op, "CANCEL of ");
      if (!it) return it.error();
      if (*it == ops_.end()) return std::optional<Event>{};
      if (observe_ && !(*it)->second.mine) {
        observe_(Ended{f->op, (*it)->second.kind, Ended::How::cancelled_by_peer, 0,
                       util::as_bytes(f->error.reason)});
      }
      remove(*it);
      return std::optional<Event>(Cancelled{f->op, std::move(f->error)});
    }
  }
  return violation("frame type " + std::to_string(type));  // unreachable
}

Result<std::optional<Event>> Session::receive_open(ByteSpan payload, FrameSink& out) {
  auto f = decode_open(payload);
  if (!f) return f.error();
  if (mine(f->op)) {
    return violation("OPEN of " + op_name(f->op) + ": the " +
                     (role_ == Role::client ? "server" : "client") + " opens " +
                     (role_ == Role::client ? "even" : "odd") + " ids");
  }
  if (f->op <= peer_last_) {
    return violation("OPEN of " + op_name(f->op) + " after " + op_name(peer_last_) +
                     ": ids must increase");
  }
  peer_last_ = f->op;
  if (peer_open_ >= kMaxOpenOperations) {
    return std::optional<Event>(refuse(
        f->op, f->kind,
        Error(Errc::busy,
              "more than " + std::to_string(kMaxOpenOperations) + " operations open at once"),
        out));
  }
  if (!is_known_kind(f->kind)) {
    return std::optional<Event>(
        refuse(f->op, f->kind,
               Error(Errc::unsupported_operation,
                     "operation kind " + std::to_string(f->kind) + " is not served here"),
               out));
  }
  if (authorize_) {
    if (auto ok = authorize_(f->kind); !ok) {
      return std::optional<Event>(refuse(f->op, f->kind, std::move(ok.error()), out));
    }
  }
  Operation o;
  o.kind = f->kind;
  o.mine = false;
  o.received_fin = f->fin;
  add(f->op, o);
  return std::optional<Event>(Opened{f->op, f->kind, f->fin, f->body, f->receipt});
}

Refused Session::refuse(std::uint32_t op, std::uint8_t kind, Error why, FrameSink& out) {
  if (observe_) observe_(Ended{op, kind, Ended::How::refused, 0, util::as_bytes(why.detail)});
  const Bytes p = cancel_payload(op, wire::ErrorRecord{wire::error_code_for(why), why.detail});
  out.send_frame(static_cast<std::uint8_t>(FrameType::cancel), {p});
  return Refused{op, kind, std::move(why)};
}

Result<std::optional<Event>> Session::receive_v1(std::uint8_t type, ByteSpan payload) {
  if (role_ == Role::server) {
    if (type != kV1Message) return violation("a client may only send message frames");
    const std::uint32_t op = peer_last_ == 0 ? 1 : peer_last_ + 2;
    if (op < peer_last_) return Error(Errc::too_large, "more than 2^31 messages on one connection");
    peer_last_ = op;
    if (authorize_) {
      // Version 1 cannot refuse one message: the connection ends.
      if (auto ok = authorize_(static_cast<std::uint8_t>(Kind::message)); !ok) return ok.error();
    }
    Operation o;
    o.kind = static_cast<std::uint8_t>(Kind::message);
    o.received_fin = true;
    add(op, o);
    v1_order_.push_back(op);
    return std::optional<Event>(
        Opened{op, static_cast<std::uint8_t>(Kind::message), true, payload});
  }
  if (type != kV1Reply) return violation("a server may only send reply frames");
  if (v1_order_.empty()) return violation("a reply to no message");
  if (payload.empty()) return Error(Errc::truncated, "reply status");
  const std::uint32_t op = v1_order_.front();
  v1_order_.pop_front();
  if (auto it = ops_.find(op); it != ops_.end()) remove(it);
  return std::optional<Event>(Answered{op, payload[0], payload.subspan(1)});
}

Result<std::uint32_t> Session::open(std::uint8_t kind, ByteSpan body, bool fin, FrameSink& out,
                                    bool receipt) {
  if (version_ == kVersion1 && receipt) {
    return Error(Errc::unsupported_operation,
                 "the peer speaks protocol version 1, which has no receipts");
  }
  if (version_ == kVersion1 &&
      (kind != static_cast<std::uint8_t>(Kind::message) || !fin || role_ != Role::client)) {
    return Error(Errc::unsupported_operation,
                 "the peer speaks protocol version 1, which has only messages from client to "
                 "server");
  }
  if (my_open_ >= kMaxOpenOperations) {
    return Error(Errc::busy, std::to_string(kMaxOpenOperations) + " operations already open");
  }
  const std::uint32_t first = role_ == Role::client ? 1 : 2;
  if (my_last_ > 0xFFFFFFFFu - 2) {
    return Error(Errc::busy, "operation ids used up on this connection; open a new one");
  }
  const std::uint32_t op = my_last_ == 0 ? first : my_last_ + 2;
  my_last_ = op;
  Operation o;
  o.kind = kind;
  o.mine = true;
  o.sent_fin = fin;
  add(op, o);
  if (version_ == kVersion1) {
    v1_order_.push_back(op);
    out.send_frame(kV1Message, {body});
  } else {
    const auto h = open_header(op, kind, fin, receipt);
    out.send_frame(static_cast<std::uint8_t>(FrameType::open), {h, body});
  }
  return op;
}

Result<void> Session::send_data(std::uint32_t op, ByteSpan bytes, bool fin, FrameSink& out) {
  auto it = ops_.find(op);
  if (it == ops_.end()) return Error(Errc::cancelled, op_name(op) + " is over");
  Operation& o = it->second;
  if (version_ == kVersion1 || o.sent_fin) {
    throw std::logic_error("DATA after FIN on " + op_name(op));
  }
  if (bytes.size() > o.send_window) throw std::logic_error("DATA beyond the credit window");
  o.send_window -= static_cast<std::uint32_t>(bytes.size());
  o.sent_fin = fin;
  const auto h = data_header(op, fin);
  out.send_frame(static_cast<std::uint8_t>(FrameType::data), {h, bytes});
  return {};
}

Result<void> Session::grant(std::uint32_t op, std::uint32_t increment, FrameSink& out) {
  auto it = ops_.find(op);
  if (it == ops_.end()) return Error(Errc::cancelled, op_name(op) + " is over");
  Operation& o = it->second;
  if (version_ == kVersion1 || increment == 0 || increment > kMaxWindow - o.receive_window) {
    throw std::logic_error("WINDOW increment out of range");
  }
  if (o.received_fin) return {};  // nothing more will come
  o.receive_window += increment;
  const auto p = window_payload(op, increment);
  out.send_frame(static_cast<std::uint8_t>(FrameType::window), {p});
  return {};
}

Result<void> Session::reply(std::uint32_t op, std::uint8_t status, ByteSpan text, FrameSink& out) {
  auto it = ops_.find(op);
  if (it == ops_.end()) return Error(Errc::cancelled, op_name(op) + " is over");
  if (it->second.mine) throw std::logic_error("a reply to an operation this side opened");
  if (observe_) observe_(Ended{op, it->second.kind, Ended::How::replied, status, text});
  remove(it);
  if (version_ == kVersion2) {
    const auto h = reply_header(op, status);
    out.send_frame(static_cast<std::uint8_t>(FrameType::reply), {h, text});
    return {};
  }
  if (v1_order_.front() != op) {
    v1_held_.emplace(op, std::make_pair(status, Bytes(text.begin(), text.end())));
    return {};
  }
  v1_order_.pop_front();
  out.send_frame(kV1Reply, {ByteSpan(&status, 1), text});
  // Replies to later messages that were ready first.
  while (!v1_order_.empty()) {
    auto held = v1_held_.find(v1_order_.front());
    if (held == v1_held_.end()) break;
    v1_order_.pop_front();
    const std::uint8_t s = held->second.first;
    out.send_frame(kV1Reply, {ByteSpan(&s, 1), held->second.second});
    v1_held_.erase(held);
  }
  return {};
}

Result<void> Session::cancel(std::uint32_t op, const wire::ErrorRecord& why, FrameSink& out) {
  if (version_ == kVersion1) {
    return Error(Errc::unsupported_operation, "protocol version 1 cannot cancel a message");
  }
  auto it = ops_.find(op);
  if (it == ops_.end()) return Error(Errc::cancelled, op_name(op) + " is over");
  if (observe_ && !it->second.mine) {
    observe_(Ended{op, it->second.kind, Ended::How::cancelled, 0, util::as_bytes(why.reason)});
  }
  remove(it);
  const Bytes p = cancel_payload(op, why);
  out.send_frame(static_cast<std::uint8_t>(FrameType::cancel), {p});
  return {};
}

}  // namespace signet::proto
