// What the application on top of the network layer sees of one established
// connection (net::Link), and what the server asks of that application
// (net::Application).
//
// The network layer moves verified frames; it does not know what they mean.
// Each server connection has a reader coroutine, which feeds what it reads to
// the channel and hands the application the verified frames, and a writer
// coroutine, which writes out whatever has been queued for the peer, so the
// application may send at any moment (answer, open an operation of its own,
// stream data), not only in answer to a frame. The outbound queue is bounded
// by back-pressure: the reader takes no more frames while kOutputHighWater
// bytes wait to be written, and a producer that sends on its own waits on
// drained().
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>

#include "channel/channel.hpp"
#include "util/error.hpp"
#include "wire/wire.hpp"

namespace signet::net {

struct PeerInfo {
  std::string address;  // "127.0.0.1:50412"
  std::string mode;     // channel description, e.g. "shared-key hmac-sha256"
  channel::PeerIdentity identity;
  int protocol = 1;  // the application protocol version the handshake chose
};

// A connection stops taking frames while this much of its output is not yet
// written (a peer that sends but never reads holds at most this plus what
// one batch of its frames makes the application send).
inline constexpr std::size_t kOutputHighWater = 256 * 1024;

class Link {
 public:
  virtual ~Link() = default;
  virtual const PeerInfo& peer() const = 0;
  // The connection's executor: one thread, so the application's coroutines
  // never run at the same time as each other or as the connection's.
  virtual asio::any_io_executor executor() const = 0;
  // The next verified frame that has arrived, or nullopt when none is left
  // of what was read. An Error is the channel's (bad tag, the peer's ERROR
  // frame): the connection ends.
  virtual Result<std::optional<channel::Frame>> next_frame() = 0;
  // Protects one frame for the peer (payload = the parts, within
  // max_send_payload()) and queues it; the connection writes it out soon.
  virtual void send(wire::FrameType type, std::initializer_list<util::ByteSpan> parts) = 0;
  virtual std::uint32_t max_send_payload() const = 0;
  // Bytes queued for the peer and not yet written.
  virtual std::size_t queued() const = 0;
  // Waits until what was queued has been written (fails once the connection
  // is closed or broken).
  virtual asio::awaitable<Result<void>> drained() = 0;
  // Counts one operation served (the server's statistics, the closing log line).
  virtual void served() = 0;
};

// One connection's application, created when its handshake is over and
// destroyed when the connection ends. A coroutine it starts on executor()
// must be finished by then, or hold (weakly) only what outlives it.
class Application {
 public:
  virtual ~Application() = default;
  // Frames have arrived: take them with link.next_frame() until it gives
  // nullopt. An Error ends the connection; the server tells the peer in an
  // ERROR frame and logs it.
  virtual asio::awaitable<Result<void>> receive(Link& link) = 0;
};

// Makes the application of a connection whose handshake is over. Runs on the
// connection's thread; the Link outlives the Application.
using ApplicationFactory = std::function<std::unique_ptr<Application>(Link&)>;

// A message service's handler (api/message_service.hpp): answers each
// verified message with a status and a text. It is either a plain function or
// a coroutine; both run on the connection's thread.
using SyncHandler = std::function<wire::Reply(const PeerInfo&, util::ByteSpan message)>;
using AsyncHandler =
    std::function<asio::awaitable<wire::Reply>(const PeerInfo&, util::ByteSpan message)>;
using Handler = std::variant<SyncHandler, AsyncHandler>;

}  // namespace signet::net
