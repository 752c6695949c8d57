// FrameCodec: protects and checks application frames (docs/PROTOCOL.md, "Frames").
//
// In shared-key mode each frame carries a tag over the direction, an implicit
// per-direction sequence number, the header and the payload, so a frame that
// is altered, replayed, dropped, reordered or reflected fails to verify. Inside
// TLS (key mode) the record layer already does this and the codec only frames.
// No I/O: bytes in, frames out.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>

#include "crypto/mac.hpp"
#include "crypto/secret.hpp"
#include "util/bytes.hpp"
#include "util/error.hpp"
#include "wire/wire.hpp"

namespace signet::channel {

using util::Bytes;
using util::ByteSpan;

// Who sends: bound into every tag so a reflected frame cannot verify.
enum class Direction : std::uint8_t {
  client_to_server = 'C',
  server_to_client = 'S',
};

struct OpenedFrame {
  wire::FrameType type{};
  ByteSpan payload;          // view into the caller's input
  std::size_t consumed = 0;  // bytes of input this frame used, tag included
};

class FrameCodec {
 public:
  // Framing only, for use inside TLS.
  explicit FrameCodec(std::uint32_t max_payload);
  // Tagged frames: send_key/recv_key are this side's direction keys.
  FrameCodec(crypto::MacAlgorithm alg, const crypto::SecretBytes& send_key,
             const crypto::SecretBytes& recv_key, Direction send_direction,
             std::uint32_t max_payload);

  std::uint32_t max_payload() const noexcept { return max_payload_; }
  std::size_t tag_size() const noexcept { return send_mac_ ? send_mac_->tag_size() : 0; }
  std::size_t overhead() const noexcept { return wire::kFrameHeaderSize + tag_size(); }
  std::optional<crypto::MacAlgorithm> algorithm() const noexcept;

  // Appends one frame whose payload is the concatenation of parts to out.
  // The caller keeps the payload within max_payload (checked; throws on a bug).
  void seal(wire::FrameType type, std::initializer_list<ByteSpan> parts, Bytes& out);

  // Takes the frame at the front of in: nullopt while it is incomplete; an
  // Error for an unknown type, a length above max_payload (before the payload
  // has arrived) or a wrong tag. After an Error the codec must not be used.
  Result<std::optional<OpenedFrame>> open(ByteSpan in);

  std::uint64_t frames_sent() const noexcept { return send_seq_; }
  std::uint64_t frames_received() const noexcept { return recv_seq_; }

 private:
  void tag_prefix(Direction d, std::uint64_t seq, const std::uint8_t header[wire::kFrameHeaderSize],
                  std::uint8_t out[14]) const noexcept;

  std::uint32_t max_payload_;
  std::optional<crypto::Mac> send_mac_;
  std::optional<crypto::Mac> recv_mac_;
  Direction send_dir_ = Direction::client_to_server;
  std::uint64_t send_seq_ = 0;
  std::uint64_t recv_seq_ = 0;
};

}  // namespace signet::channel
