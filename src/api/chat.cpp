#include "api/chat.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include <deque>
#include <unordered_map>
#include <utility>

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include "api/file_service.hpp"
#include "api/link_sink.hpp"
#include "channel/psk_channel.hpp"  // channel::peer_error
#include "crypto/primitives.hpp"
#include "proto/file_frames.hpp"
#include "util/encoding.hpp"
#include "util/file.hpp"

namespace signet {
namespace {

constexpr auto kChat = static_cast<std::uint8_t>(proto::Kind::chat);
constexpr auto kChatMessage = static_cast<std::uint8_t>(proto::Kind::chat_message);
// Lines one side has open at once (the protocol allows 1024 operations);
// more wait here for acknowledgements.
constexpr std::size_t kMaxLinesInFlight = 256;
// The most of a file one DATA frame carries.
constexpr std::uint64_t kFileChunk = 64 * 1024;

// Why a file was not stored, from its PUT's status and text. Chat never
// replaces a file; the text for exists names the server's --force, which
// has no meaning here.
Error file_error(std::uint8_t status, std::string text) {
  switch (static_cast<proto::FileStatus>(status)) {
    case proto::FileStatus::exists:
      return Error(Errc::exists, "a file of that name is already in the receiving folder");
    case proto::FileStatus::no_space:
      return Error(Errc::no_space, std::move(text));
    case proto::FileStatus::not_verified:
      return Error(Errc::not_verified, std::move(text));
    default:
      return Error(Errc::refused,
                   std::string(proto::file_status_name(status)) + ": " + std::move(text));
  }
}

}  // namespace

// One connection's chat protocol. Its members run on the connection's
// executor; what concerns the conversation goes to the endpoint on home.
struct ChatEndpoint::Link : std::enable_shared_from_this<ChatEndpoint::Link> {
  Link(std::weak_ptr<ChatEndpoint> e, asio::any_io_executor h, net::Link& l, proto::Role role,
       std::shared_ptr<const FileServiceShared> folder)
      : endpoint(std::move(e)),
        home(std::move(h)),
        link(&l),
        executor(l.executor()),
        peer(l.peer()),
        session(role, l.peer().protocol, l.peer().identity.authorize),
        sink(l) {
    if (folder) {
      files = std::make_unique<FileOperations>(std::move(folder), session, l, sink);
      session.observe_ends([this](const proto::Ended& end) { file_ended(end); });
    }
  }

  std::weak_ptr<ChatEndpoint> endpoint;
  asio::any_io_executor home;
  net::Link* link;  // null once the connection has ended
  asio::any_io_executor executor;
  net::PeerInfo peer;
  proto::Session session;
  std::shared_ptr<net::Connection> connection;  // the caller's (to close it, and its watchdog)
  std::chrono::milliseconds ack_timeout{0};
  std::unique_ptr<asio::steady_timer> keepalive;  // the caller's, once joined
  std::optional<std::uint32_t> join_op;
  bool joined = false;
  bool detached = false;  // the endpoint has let this connection go
  bool closed_reported = false;
  std::unordered_map<std::uint32_t, std::uint64_t> lines;     // open CHAT-MESSAGEs: op -> seq
  std::deque<std::pair<std::uint64_t, std::string>> waiting;  // not opened yet
  LinkSink sink;
  // Files the peer sends (/send): the receiving end of PUT, when this side
  // takes files; the name and size of each, for the note when it ends.
  std::unique_ptr<FileOperations> files;
  std::unordered_map<std::uint32_t, std::pair<std::string, std::uint64_t>> receiving;
  // Files this side sends: PUT operations, streamed within their credit.
  struct Sending {
    std::uint64_t id = 0;
    util::UniqueFd fd;
    std::uint64_t size = 0;
    std::uint64_t sent = 0;
    crypto::Sha256 hash;
    bool finished = false;  // the digest and FIN are sent
  };
  std::unordered_map<std::uint32_t, Sending> sending;
  util::Bytes chunk;  // the read buffer of the files being sent

  // Runs f(endpoint, this) on home, if the endpoint is still there.
  template <class F>
  void to_home(F f) {
    asio::post(home, [e = endpoint, self = shared_from_this(), f = std::move(f)]() mutable {
      if (auto ep = e.lock()) f(*ep, self);
    });
  }
  // Runs f(this) on the connection's executor while it is up.
  template <class F>
  void on_link(F f) {
    asio::post(executor, [self = shared_from_this(), f = std::move(f)]() mutable {
      if (self->link != nullptr && !self->detached) f(*self);
    });
  }

  void closed(const Error& why) {
    // While the connection is still there (FileOperations holds it): an
    // upload cut off here is removed, never published.
    files.reset();
    for (auto& [op, f] : sending) {
      to_home([id = f.id, why](ChatEndpoint& e, const std::shared_ptr<Link>&) {
        if (e.events_.file_sent) e.events_.file_sent(id, why);
      });
    }
    sending.clear();
    link = nullptr;
    if (closed_reported) return;
    closed_reported = true;
    to_home([why](ChatEndpoint& e, const std::shared_ptr<Link>& l) { e.on_closed(l, why); });
  }

  void close(const Error& why) {
    detached = true;
    if (connection) connection->fail(why);
    // A listener's connection ends at its next frame (receive()) or idle timeout.
  }

  // Ends the connection without an error (the user hung up).
  void end() {
    detached = true;
    if (connection) connection->close();
  }

  Result<void> cancel(std::uint32_t op, const Error& why) {
    return session.cancel(
        op, {wire::error_code_for(why), why.detail.empty() ? why.message() : why.detail}, sink);
  }

  void watch() {
    if (!connection) return;
    if (lines.empty() && waiting.empty() && joined) {
      connection->disarm();
    } else {
      connection->arm(ack_timeout);
    }
  }

  // Every kChatKeepalive while the connection is up: WINDOW for the CHAT
  // operation, which is over (the listener ignores it, but it is a frame).
  void start_keepalive() {
    if (!connection || !join_op) return;
    keepalive = std::make_unique<asio::steady_timer>(executor);
    keepalive->expires_after(kChatKeepalive);
    keepalive->async_wait([weak = weak_from_this()](const std::error_code& ec) {
      auto self = weak.lock();
      if (ec || !self || self->link == nullptr || self->detached) return;
      const auto payload = proto::window_payload(*self->join_op, 1);
      self->link->send(static_cast<wire::FrameType>(proto::FrameType::window), {payload});
      self->start_keepalive();
    });
  }

  void open_join(const proto::ConversationId& id, std::uint64_t shown) {
    const auto body = proto::encode_chat_join({id, shown});
    auto op = session.open(kChat, body, true, sink);
    if (!op) {
      close(op.error());
      return;
    }
    join_op = *op;
    watch();
  }

  void reply_join(std::uint32_t op, std::uint64_t shown) {
    const auto text = proto::encode_chat_joined(shown);
    if (auto r = session.reply(op, 0, text, sink); !r) return close(r.error());
    joined = true;
  }

  void refuse_join(std::uint32_t op, const Error& why) {
    (void)cancel(op, why);
    detached = true;
  }

  void send_line(std::uint64_t seq, std::string text) {
    waiting.emplace_back(seq, std::move(text));
    pump();
  }

  // Opens the lines waiting, as many as may be open at once.
  void pump() {
    while (!waiting.empty() && lines.size() < kMaxLinesInFlight) {
      const auto& [seq, text] = waiting.front();
      const auto header = proto::chat_message_header(seq);
      util::Bytes body(header.begin(), header.end());
      body.insert(body.end(), text.begin(), text.end());
      if (body.size() + proto::kOpenHeaderSize > link->max_send_payload()) {
        close(Error(Errc::too_large, "line " + std::to_string(seq) + " of " +
                                         std::to_string(text.size()) +
                                         " bytes is above the connection's limit"));
        return;
      }
      auto op = session.open(kChatMessage, body, true, sink);
      if (!op) {
        close(op.error());
        return;
      }
      lines.emplace(*op, seq);
      waiting.pop_front();
    }
    watch();
  }

  void ack(std::uint32_t op) {
    if (auto r = session.reply(op, 0, {}, sink); !r) close(r.error());
  }

  void refuse_line(std::uint32_t op, const Error& why) { (void)cancel(op, why); }

  void file_ended(const proto::Ended& e) {
    const auto it = receiving.find(e.op);
    if (it == receiving.end()) return;
    auto [name, size] = std::move(it->second);
    receiving.erase(it);
    Result<std::string> outcome = std::string(util::as_chars(e.text));
    if (e.how != proto::Ended::How::replied) {
      outcome = Error(Errc::cancelled, std::string(util::as_chars(e.text)));
    } else if (e.status != 0) {
      outcome = file_error(e.status, std::string(util::as_chars(e.text)));
    }
    to_home([name, size, outcome](ChatEndpoint& ep, const std::shared_ptr<Link>&) {
      if (ep.events_.file_received) ep.events_.file_received(name, size, outcome);
    });
  }

  void start_file(std::uint64_t id, util::UniqueFd fd, const proto::PutRequest& request) {
    const util::Bytes body = proto::encode(request);
    auto op = session.open(static_cast<std::uint8_t>(proto::Kind::put), body, false, sink);
    if (!op) {
      to_home([id, why = op.error()](ChatEndpoint& e, const std::shared_ptr<Link>&) {
        if (e.events_.file_sent) e.events_.file_sent(id, why);
      });
      return;
    }
    Sending& f = sending[*op];
    f.id = id;
    f.fd = std::move(fd);
    f.size = request.size;
    pump_files();
  }

  // Sends what the credit of each file being sent allows: its bytes, then
  // its SHA-256 with FIN.
  void pump_files() {
    for (auto& [op, f] : sending) {
      while (!f.finished && link != nullptr) {
        const std::uint32_t window = session.send_window(op);
        if (f.sent == f.size) {
          if (window < proto::kDigestSize) break;
          const auto digest = f.hash.finish();
          if (auto r = session.send_data(op, digest, true, sink); !r) return close(r.error());
          f.finished = true;
          f.fd.reset();
          break;
        }
        const std::uint64_t room = std::min<std::uint64_t>(
            {window, kFileChunk, link->max_send_payload() - proto::kDataHeaderSize});
        const std::size_t n = static_cast<std::size_t>(std::min(room, f.size - f.sent));
        if (n == 0) break;
        chunk.resize(n);
        const ssize_t got = ::pread(f.fd.get(), chunk.data(), n, static_cast<off_t>(f.sent));
        if (got != static_cast<ssize_t>(n)) {
          const Error why(Errc::io, got < 0
                                        ? std::string(std::strerror(errno))
                                        : std::string("the file became shorter while it was sent"));
          (void)session.cancel(op, {wire::ErrorCode::internal, why.detail}, sink);
          f.finished = true;
          to_home([id = f.id, why](ChatEndpoint& e, const std::shared_ptr<Link>&) {
            if (e.events_.file_sent) e.events_.file_sent(id, why);
          });
          break;
        }
        f.hash.update(chunk);
        if (auto r = session.send_data(op, chunk, false, sink); !r) return close(r.error());
        f.sent += n;
      }
    }
  }

  // The answer to a file this side sent: its REPLY or CANCEL.
  void file_answered(std::uint32_t op, Result<std::string> outcome) {
    const auto it = sending.find(op);
    if (it == sending.end()) return;
    const std::uint64_t id = it->second.id;
    sending.erase(it);
    to_home([id, outcome](ChatEndpoint& e, const std::shared_ptr<Link>&) {
      if (e.events_.file_sent) e.events_.file_sent(id, outcome);
    });
  }

  Result<void> take_opened(const proto::Opened& o);
  Result<void> take_answered(const proto::Answered& a);
  void take_cancelled(const proto::Cancelled& c);
  asio::awaitable<Result<void>> receive();
};

namespace {

class ChatApplication final : public net::Application {
 public:
  explicit ChatApplication(std::shared_ptr<ChatEndpoint::Link> link) : link_(std::move(link)) {}
  ~ChatApplication() override { link_->closed(Error(Errc::peer_closed, "")); }
  asio::awaitable<Result<void>> receive(net::Link&) override { return link_->receive(); }

 private:
  std::shared_ptr<ChatEndpoint::Link> link_;
};

}  // namespace

Result<void> ChatEndpoint::Link::take_opened(const proto::Opened& o) {
  if (o.kind == static_cast<std::uint8_t>(proto::Kind::put)) {
    if (!files) {
      return cancel(o.op, Error(Errc::unsupported_operation,
                                "the peer takes no files (signet chat --files DIR does)"));
    }
    if (!joined) {
      return cancel(o.op, Error(Errc::not_authorized, "a file before the CHAT was answered"));
    }
    if (auto request = proto::decode_put(o.body)) {
      receiving[o.op] = {request->name, request->size};
    }
    return files->opened(o);
  }
  if (!o.fin) {
    return cancel(o.op, Error(Errc::malformed, "a chat operation is one OPEN frame with FIN"));
  }
  if (o.kind == kChat) {
    if (session.role() == proto::Role::client) {
      return cancel(o.op, Error(Errc::unsupported_operation, "only the listener takes CHAT"));
    }
    if (join_op) {
      return cancel(o.op, Error(Errc::malformed, "a second CHAT on one connection"));
    }
    auto join = proto::decode_chat_join(o.body);
    if (!join) return cancel(o.op, join.error());
    join_op = o.op;
    to_home([op = o.op, j = *join](ChatEndpoint& e, const std::shared_ptr<Link>& l) {
      e.on_join(l, op, j);
    });
    return {};
  }
  if (o.kind == kChatMessage) {
    if (!joined) {
      return cancel(o.op,
                    Error(Errc::not_authorized, "a CHAT-MESSAGE before the CHAT was answered"));
    }
    auto m = proto::decode_chat_message(o.body);
    if (!m) {
      const Error why = m.error();
      to_home([why](ChatEndpoint& e, const std::shared_ptr<Link>& l) { e.on_error(l, why); });
      return cancel(o.op, why);
    }
    to_home(
        [op = o.op, seq = m->seq, text = std::string(util::as_chars(m->text))](
            ChatEndpoint& e, const std::shared_ptr<Link>& l) { e.on_message(l, op, seq, text); });
    return {};
  }
  return cancel(
      o.op, Error(Errc::unsupported_operation,
                  "a chat peer takes no " + std::string(proto::kind_name(o.kind)) + " operations"));
}

Result<void> ChatEndpoint::Link::take_answered(const proto::Answered& a) {
  if (sending.contains(a.op)) {
    const std::string text(util::as_chars(a.text));
    if (a.status == 0) {
      file_answered(a.op, text);
    } else {
      file_answered(a.op, file_error(a.status, text));
    }
    return {};
  }
  if (a.op == join_op) {
    if (a.status != 0) return Error(Errc::malformed, "CHAT answered with a non-zero status");
    auto shown = proto::decode_chat_joined(a.text);
    if (!shown) return shown.error();
    joined = true;
    watch();
    start_keepalive();
    to_home([s = *shown](ChatEndpoint& e, const std::shared_ptr<Link>& l) { e.on_joined(l, s); });
    return {};
  }
  const auto it = lines.find(a.op);
  if (it == lines.end()) return {};
  const std::uint64_t seq = it->second;
  lines.erase(it);
  if (a.status != 0) {
    const Error why(Errc::malformed, "line " + std::to_string(seq) + " answered with status " +
                                         std::to_string(a.status));
    to_home([why](ChatEndpoint& e, const std::shared_ptr<Link>& l) { e.on_error(l, why); });
  } else {
    to_home([seq](ChatEndpoint& e, const std::shared_ptr<Link>& l) { e.on_ack(l, seq); });
  }
  pump();
  return {};
}

void ChatEndpoint::Link::take_cancelled(const proto::Cancelled& c) {
  const Error why = channel::peer_error(c.error);
  if (sending.contains(c.op)) return file_answered(c.op, why);
  if (files && files->forget(c.op)) return;
  if (c.op == join_op) {
    to_home([why](ChatEndpoint& e, const std::shared_ptr<Link>& l) { e.on_refused(l, why); });
    close(why);
    return;
  }
  const auto it = lines.find(c.op);
  if (it == lines.end()) return;
  const std::uint64_t seq = it->second;
  lines.erase(it);
  // The peer refused a line: the conversation cannot go on in order on
  // this connection (the next would be out of order); the next connection
  // sends it again.
  const Error e(why.code, "the peer refused line " + std::to_string(seq) + ": " + why.message());
  to_home([e](ChatEndpoint& ep, const std::shared_ptr<Link>& l) { ep.on_error(l, e); });
  close(e);
}

asio::awaitable<Result<void>> ChatEndpoint::Link::receive() {
  if (detached) co_return Error(Errc::peer_closed, "the conversation let this connection go");
  auto self = shared_from_this();  // the frames may end the connection
  bool grown = false;              // credit for the files being sent
  for (;;) {
    if (link == nullptr || detached)
      co_return Error(Errc::peer_closed, "the conversation let this connection go");
    auto f = link->next_frame();
    if (!f) co_return f.error();
    if (!f->has_value()) break;
    auto event = session.receive(static_cast<std::uint8_t>((*f)->type), (*f)->payload, sink);
    if (!event) co_return event.error();
    if (!event->has_value()) continue;
    if (const auto* o = std::get_if<proto::Opened>(&**event)) {
      if (auto r = take_opened(*o); !r) co_return r.error();
    } else if (const auto* a = std::get_if<proto::Answered>(&**event)) {
      if (auto r = take_answered(*a); !r) co_return r.error();
    } else if (const auto* c = std::get_if<proto::Cancelled>(&**event)) {
      take_cancelled(*c);
    } else if (const auto* refused = std::get_if<proto::Refused>(&**event)) {
      const Error why = refused->why;
      to_home([why](ChatEndpoint& e, const std::shared_ptr<Link>& l) { e.on_error(l, why); });
    } else if (const auto* d = std::get_if<proto::Received>(&**event)) {
      // DATA comes only on a file (every chat OPEN has FIN).
      if (files) {
        if (auto r = files->received(*d); !r) co_return r.error();
      }
    } else if (std::holds_alternative<proto::WindowGrown>(**event)) {
      grown = true;
    }
  }
  if (files && link != nullptr) {
    if (auto c = files->commit(); !c) co_return c.error();
  }
  if (grown) pump_files();
  if (link != nullptr && link->queued() >= net::kOutputHighWater) {
    if (auto d = co_await link->drained(); !d) co_return d.error();
  }
  co_return Result<void>{};
}

// --- ChatEndpoint ---------------------------------------------------------------

std::shared_ptr<ChatEndpoint> ChatEndpoint::make(asio::any_io_executor home, Side side,
                                                 ChatEvents events) {
  return std::shared_ptr<ChatEndpoint>(new ChatEndpoint(std::move(home), side, std::move(events)));
}

ChatEndpoint::ChatEndpoint(asio::any_io_executor home, Side side, ChatEvents events)
    : home_(std::move(home)), side_(side), events_(std::move(events)) {
  if (side_ == Side::caller) {
    proto::ConversationId id{};
    crypto::random_bytes(id);
    id_ = id;
  }
}

net::ApplicationFactory ChatEndpoint::application() {
  return
      [weak = weak_from_this(), home = home_](net::Link& l) -> std::unique_ptr<net::Application> {
        auto ep = weak.lock();
        auto link =
            std::make_shared<Link>(weak, home, l, proto::Role::server, ep ? ep->files_ : nullptr);
        return std::make_unique<ChatApplication>(std::move(link));
      };
}

void ChatEndpoint::attach(std::shared_ptr<net::Connection> connection,
                          std::chrono::milliseconds ack_timeout) {
  auto link =
      std::make_shared<Link>(weak_from_this(), home_, *connection, proto::Role::client, files_);
  link->connection = connection;
  link->ack_timeout = ack_timeout;
  connection->on_close([weak = std::weak_ptr<Link>(link)](const Error& why) {
    if (auto l = weak.lock()) l->closed(why);
  });
  if (current_) current_->on_link([](Link& l) { l.close(Error(Errc::peer_closed, "replaced")); });
  current_ = link;
  joined_ = false;
  conversation_.connection_lost();
  connection->start(std::make_shared<ChatApplication>(link));
  link->on_link([id = *id_, shown = conversation_.shown()](Link& l) { l.open_join(id, shown); });
}

std::uint64_t ChatEndpoint::say(std::string text) {
  const std::uint64_t seq = conversation_.add(std::move(text));
  if (joined()) send_unsent();
  return seq;
}

Result<std::uint64_t> ChatEndpoint::send_file(const std::string& path) {
  if (!joined()) return Error(Errc::unsupported_operation, "not connected to the peer");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) return Error(Errc::io, path + ": " + std::strerror(errno));
  util::UniqueFd file(fd);
  struct stat st {};
  if (::fstat(fd, &st) != 0) return Error(Errc::io, path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) return Error(Errc::io, path + ": not a regular file");
  proto::PutRequest request;
  request.size = static_cast<std::uint64_t>(st.st_size);
  request.mode = static_cast<std::uint32_t>(st.st_mode) & 0777;
  request.mtime = st.st_mtime;
  const auto slash = path.find_last_of('/');
  request.name = slash == std::string::npos ? path : path.substr(slash + 1);
  if (request.name.empty() || request.name == "." || request.name == "..") {
    return Error(Errc::io, path + ": not a file name");
  }
  const std::uint64_t id = next_file_id_++;
  current_->on_link([id, f = std::make_shared<util::UniqueFd>(std::move(file)), request](Link& l) {
    l.start_file(id, std::move(*f), request);
  });
  return id;
}

void ChatEndpoint::hang_up() {
  if (!current_) return;
  current_->on_link([](Link& l) { l.end(); });
}

void ChatEndpoint::send_unsent() {
  while (const auto* o = conversation_.next_unsent()) {
    current_->on_link(
        [seq = o->seq, text = o->text](Link& l) mutable { l.send_line(seq, std::move(text)); });
    conversation_.mark_sent(o->seq);
  }
}

void ChatEndpoint::delivered(const Result<std::vector<std::uint64_t>>& seqs) {
  if (!seqs) {
    if (events_.error) events_.error(seqs.error());
    return;
  }
  if (!events_.delivered) return;
  for (const auto s : *seqs) events_.delivered(s);
}

bool ChatEndpoint::same_peer(const net::PeerInfo& a) const {
  return peer_ && peer_->identity.fingerprint == a.identity.fingerprint;
}

void ChatEndpoint::on_join(const std::shared_ptr<Link>& link, std::uint32_t op,
                           proto::ChatJoin join) {
  const net::PeerInfo& peer = link->peer;
  const bool same_conversation = id_ && *id_ == join.conversation;
  const auto refuse = [&](const Error& why) {
    link->on_link([op, why](Link& l) { l.refuse_join(op, why); });
    if (events_.turned_away) events_.turned_away(peer, why);
  };
  if (same_conversation && !same_peer(peer)) {
    return refuse(Error(Errc::not_authorized, "that conversation is another key's"));
  }
  if (current_ && current_ != link && !same_conversation) {
    return refuse(Error(Errc::busy, "the listener is in another conversation"));
  }
  // What the peer says it has shown must be lines this side wrote.
  proto::Conversation fresh;
  proto::Conversation& conversation = same_conversation || !id_ ? conversation_ : fresh;
  auto done = conversation.shown_by_peer(join.shown);
  if (!done) return refuse(done.error());
  if (current_ && current_ != link) {
    // The same conversation on a new connection: the old one is lost.
    current_->on_link([](Link& l) { l.close(Error(Errc::peer_closed, "replaced")); });
  }
  if (id_ && !same_conversation) {
    // Another conversation: what this side wrote in the last one is not
    // going to be delivered.
    std::vector<std::uint64_t> lost;
    for (const auto& o : conversation_.outgoing()) lost.push_back(o.seq);
    if (!lost.empty() && events_.abandoned) events_.abandoned(lost);
    conversation_ = std::move(fresh);
  }
  conversation_.connection_lost();
  id_ = join.conversation;
  current_ = link;
  joined_ = true;
  peer_ = peer;
  link->on_link([op, shown = conversation_.shown()](Link& l) { l.reply_join(op, shown); });
  if (events_.joined) events_.joined(peer, same_conversation);
  delivered(std::move(done));
  send_unsent();
}

void ChatEndpoint::on_joined(const std::shared_ptr<Link>& link, std::uint64_t shown) {
  if (link != current_) return;
  auto done = conversation_.shown_by_peer(shown);
  if (!done) {
    if (events_.error) events_.error(done.error());
    hang_up();
    return;
  }
  joined_ = true;
  peer_ = link->peer;
  if (events_.joined) events_.joined(link->peer, ever_joined_);
  ever_joined_ = true;
  delivered(std::move(done));
  send_unsent();
}

void ChatEndpoint::on_refused(const std::shared_ptr<Link>& link, const Error& why) {
  if (link != current_) return;
  current_.reset();
  joined_ = false;
  if (events_.refused) events_.refused(why);
}

void ChatEndpoint::on_message(const std::shared_ptr<Link>& link, std::uint32_t op,
                              std::uint64_t seq, const std::string& text) {
  if (link != current_) return;
  auto r = conversation_.receive(seq);
  if (!r) {
    link->on_link([op, why = r.error()](Link& l) { l.refuse_line(op, why); });
    if (events_.error) events_.error(r.error());
    return;
  }
  if (*r == proto::Conversation::Incoming::show && events_.message) events_.message(seq, text);
  link->on_link([op](Link& l) { l.ack(op); });
}

void ChatEndpoint::on_ack(const std::shared_ptr<Link>& link, std::uint64_t seq) {
  if (link != current_) return;
  delivered(conversation_.shown_by_peer(seq));
}

void ChatEndpoint::on_error(const std::shared_ptr<Link>&, const Error& why) {
  if (events_.error) events_.error(why);
}

void ChatEndpoint::on_closed(const std::shared_ptr<Link>& link, const Error& why) {
  if (link != current_) return;
  current_.reset();
  joined_ = false;
  conversation_.connection_lost();
  if (events_.disconnected) events_.disconnected(why);
}

}  // namespace signet
