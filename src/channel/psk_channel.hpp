// Shared-key mode channels: the PSK handshake, then HMAC-tagged frames.
#pragma once

#include <memory>
#include <vector>

#include "channel/channel.hpp"
#include "channel/frame_codec.hpp"
#include "channel/psk_handshake.hpp"
#include "crypto/mac.hpp"
#include "crypto/secret.hpp"
#include "crypto/suite.hpp"

namespace signet::channel {

struct PskSettings {
  std::shared_ptr<const crypto::SecretBytes> key;
  // Server: allowed, in preference order. Client: offered, in preference order.
  std::vector<crypto::Suite> suites{std::begin(crypto::kDefaultSuites),
                                    std::end(crypto::kDefaultSuites)};
  std::uint32_t max_payload = wire::kDefaultMaxPayload;
  // The highest application protocol version to offer (client) or accept
  // (server): 2, or 1 to speak as the first release did.
  int max_protocol = 2;
};

// Buffers received bytes and hands out whole records or frames.
class InputBuffer {
 public:
  void append(ByteSpan in);
  ByteSpan data() const noexcept { return ByteSpan(buf_).subspan(pos_); }
  // The same bytes, writable: AEAD frames are decrypted where they lie.
  std::span<std::uint8_t> mutable_data() noexcept {
    return std::span<std::uint8_t>(buf_).subspan(pos_);
  }
  void consume(std::size_t n) noexcept { pos_ += n; }
  // Drops consumed bytes; frees the memory when nothing is left, so an idle
  // connection holds no buffer.
  void compact();

 private:
  Bytes buf_;
  std::size_t pos_ = 0;
};

// What both ends share: the settings, the bytes received, and once the
// handshake is done, the tagged-frame codec.
class PskChannel : public Channel {
 public:
  std::string description() const override;
  void send(wire::FrameType type, std::initializer_list<ByteSpan> parts, Bytes& out) override;
  void send_error(const Error& e, Bytes& out) override;
  std::uint32_t max_payload() const override { return settings_.max_payload; }
  std::size_t buffered() const override { return in_.data().size(); }
  // Shared-key mode names no key; the session value is the handshake's
  // (SessionKeys::session), once established.
  PeerIdentity peer() const override { return PeerIdentity{{}, {}, {}, {}, session_}; }

 protected:
  explicit PskChannel(PskSettings settings) : settings_(std::move(settings)) {}
  // Tells the peer about e, unless the peer is the one who reported it.
  void notify(const Error& e, Bytes& out);

  PskSettings settings_;
  std::optional<FrameCodec> codec_;
  InputBuffer in_;
  Bytes session_;  // set with codec_
};

class PskServerChannel final : public PskChannel {
 public:
  explicit PskServerChannel(PskSettings settings);

  void start(Bytes&) override {}
  Result<void> receive(ByteSpan in, Bytes& out) override;
  bool established() const override { return state_ == State::established; }
  int protocol_version() const override { return handshake_.protocol(); }
  Result<std::optional<Frame>> next_frame(Bytes& out) override;

 private:
  enum class State { want_hello, want_finish, established, failed };
  Error fail(Error e, Bytes& out);

  State state_ = State::want_hello;
  PskServerHandshake handshake_;
};

class PskClientChannel final : public PskChannel {
 public:
  explicit PskClientChannel(PskSettings settings);

  void start(Bytes& out) override;
  Result<void> receive(ByteSpan in, Bytes& out) override;
  bool established() const override { return state_ == State::established; }
  int protocol_version() const override { return handshake_.protocol(); }
  Result<std::optional<Frame>> next_frame(Bytes& out) override;

 private:
  enum class State { want_server_hello, established, failed };
  Error fail(Error e, Bytes& out);

  State state_ = State::want_server_hello;
  PskClientHandshake handshake_;
  bool got_frame_ = false;
};

// Reads a whole handshake record from the front of in: nullopt while
// incomplete, an Error for a bad header (magic, version, type, length).
Result<std::optional<ByteSpan>> take_record(ByteSpan in);

// The Error for an error record the peer sent: its code mapped to Errc and
// the detail "peer says: <reason>", the reason escaped for display.
Error peer_error(const wire::ErrorRecord& r);
// The Error for an error record or frame the peer sent that cannot be read
// (code 0, a reason that is too long or not plain text): still the peer's
// report, so it is not answered either (docs/PROTOCOL.md: the receiver of an
// error closes without answering).
Error unreadable_peer_error(const Error& why);
// True for an Error the peer reported (Error::from_peer, set by peer_error(),
// unreadable_peer_error() and for TLS alerts): it needs no answer.
bool reported_by_peer(const Error& e);

}  // namespace signet::channel
