// signet::ChatEndpoint: one side of a two-person conversation (signet chat)
// over protocol version 2 (docs/PROTOCOL.md, "Chat"; proto/chat.hpp).
//
// The listener serves its endpoint's application() on a server; the caller
// opens connections itself and attach()es each to its endpoint, which joins
// the conversation on it (a CHAT operation) and, after a lost connection,
// joins it again on the next one. Either side may then write at any moment:
// each line is a CHAT-MESSAGE operation, numbered, answered by the peer's
// program once it has verified and shown it (the acknowledgement, itself
// authenticated by the channel as every frame is). Lines not acknowledged
// when a connection is lost are sent again on the next, in order, and the
// peer shows each once.
//
// The endpoint's state lives on its home executor (one thread), where every
// member is called and every event is delivered; each connection's protocol
// runs on that connection's executor (for the caller the same one), and the
// two talk by posting to each other.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <asio/any_io_executor.hpp>

#include <chrono>

#include "api/file_service.hpp"
#include "net/client.hpp"
#include "net/link.hpp"
#include "proto/chat.hpp"

namespace signet {

// How often a caller's connection carries a keepalive (a WINDOW frame for
// its CHAT operation, which is over, so the listener ignores it but for its
// idle timer), and how long a listener waits for a frame before it lets a
// connection go.
inline constexpr std::chrono::seconds kChatKeepalive{60};
inline constexpr std::chrono::seconds kChatListenerIdle{300};

// What an endpoint tells its user, on its home executor. Any may be empty.
struct ChatEvents {
  // A connection joined the conversation; resumed: the conversation it had
  // before a lost connection.
  std::function<void(const net::PeerInfo& peer, bool resumed)> joined;
  // The peer's next line, verified; each is given exactly once.
  std::function<void(std::uint64_t seq, std::string_view text)> message;
  // The peer has shown this side's line seq.
  std::function<void(std::uint64_t seq)> delivered;
  // The connection the conversation was on has ended.
  std::function<void(const Error& why)> disconnected;
  // Caller: the listener refused to join (another conversation is on, or
  // the key may not chat); the connection is closed.
  std::function<void(const Error& why)> refused;
  // Listener: a connection that asked to join was refused (for the user to see).
  std::function<void(const net::PeerInfo& peer, const Error& why)> turned_away;
  // Lines this side wrote that will never be delivered: a new conversation
  // replaced the one they were written in.
  std::function<void(const std::vector<std::uint64_t>& seqs)> abandoned;
  // The peer sent something refused (a line out of order, a line before
  // its CHAT, ...). Never shown as a line.
  std::function<void(const Error& why)> error;
  // A file this side sent (send_file) has been answered: the SHA-256 (hex)
  // the peer verified and stored it with, or why not.
  std::function<void(std::uint64_t id, const Result<std::string>& sha256)> file_sent;
  // A file the peer sent has ended: stored (its SHA-256, hex) or not.
  std::function<void(const std::string& name, std::uint64_t size,
                     const Result<std::string>& sha256)>
      file_received;
};

class ChatEndpoint : public std::enable_shared_from_this<ChatEndpoint> {
 public:
  enum class Side { listener, caller };
  static std::shared_ptr<ChatEndpoint> make(asio::any_io_executor home, Side side,
                                            ChatEvents events);

  // Listener: the application a server serves on each connection (a
  // connection may join; at most one conversation at a time).
  net::ApplicationFactory application();
  // Caller: drives a connection just opened (its executor must be home):
  // pumps it and joins the conversation on it. A line left unacknowledged
  // for ack_timeout closes it (the caller then opens another). Once joined,
  // the connection carries a keepalive every kChatKeepalive, so that the
  // listener can tell a quiet conversation from a peer that has gone.
  void attach(std::shared_ptr<net::Connection> connection,
              std::chrono::milliseconds ack_timeout = std::chrono::seconds(30));

  // Writes a line (UTF-8, within the connection's message limit): sent now
  // when a connection has joined, else when one does. Returns its seq.
  std::uint64_t say(std::string text);
  // Takes the files the peer sends (PUT operations) into this folder, as a
  // server's --files does: published whole and verified, never replacing a
  // file. Without it they are cancelled (unsupported_operation). Call
  // before any connection.
  void accept_files(std::shared_ptr<const FileServiceShared> folder) { files_ = std::move(folder); }
  // Sends a regular file (its last name component as its name) on the
  // joined connection; returns its id for file_sent. Fails when no
  // connection has joined, or the file cannot be opened.
  Result<std::uint64_t> send_file(const std::string& path);

  // Lines written and not yet shown by the peer.
  std::size_t unacknowledged() const noexcept { return conversation_.unacknowledged(); }
  // Whether a connection has joined and is up.
  bool joined() const noexcept { return current_ != nullptr && joined_; }
  // The peer of the conversation (the last connection that joined).
  const std::optional<net::PeerInfo>& peer() const noexcept { return peer_; }
  // Ends the current connection, if any.
  void hang_up();

  // Internal: one connection's protocol (chat.cpp).
  struct Link;

 private:
  ChatEndpoint(asio::any_io_executor home, Side side, ChatEvents events);
  // Events from a connection, on home.
  void on_join(const std::shared_ptr<Link>& link, std::uint32_t op, proto::ChatJoin join);
  void on_joined(const std::shared_ptr<Link>& link, std::uint64_t shown);
  void on_refused(const std::shared_ptr<Link>& link, const Error& why);
  void on_message(const std::shared_ptr<Link>& link, std::uint32_t op, std::uint64_t seq,
                  const std::string& text);
  void on_ack(const std::shared_ptr<Link>& link, std::uint64_t seq);
  void on_error(const std::shared_ptr<Link>& link, const Error& why);
  void on_closed(const std::shared_ptr<Link>& link, const Error& why);
  void send_unsent();
  void delivered(const Result<std::vector<std::uint64_t>>& seqs);
  bool same_peer(const net::PeerInfo& a) const;

  asio::any_io_executor home_;
  Side side_;
  ChatEvents events_;
  proto::Conversation conversation_;
  std::optional<proto::ConversationId> id_;  // caller: picked at start; listener: the current one's
  std::optional<net::PeerInfo> peer_;
  std::shared_ptr<Link> current_;
  bool joined_ = false;
  bool ever_joined_ = false;
  std::shared_ptr<const FileServiceShared> files_;
  std::uint64_t next_file_id_ = 1;
};

}  // namespace signet
