// FrameCodec: protects and checks application frames (docs/PROTOCOL.md,
// "Application frames" and "Frame protection").
//
// In shared-key mode each frame carries a tag over the direction, an implicit
// per-direction sequence number, the header and the payload, so a frame that
// is altered, replayed, dropped, reordered or reflected fails to verify. With
// a MAC suite the payload travels in clear; with an AEAD suite it is
// encrypted, the same 14 bytes (direction, sequence, header) are the
// associated data and the nonce is the direction's IV XOR the sequence
// number, as in TLS 1.3 (RFC 8446 section 5.3), so no nonce repeats under a
// key. Inside TLS (key mode) the record layer already does all this and the
// codec only frames. No I/O: bytes in, frames out.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>

#include "crypto/aead.hpp"
#include "crypto/mac.hpp"
#include "crypto/secret.hpp"
#include "crypto/suite.hpp"
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
  ByteSpan payload;          // view into the caller's input (decrypted there, in place)
  std::size_t consumed = 0;  // bytes of input this frame used, tag included
};

// One direction's keys from the handshake: the key, and for an AEAD suite the
// 12-byte IV the nonces are made from.
struct DirectionKeys {
  const crypto::SecretBytes& key;
  const crypto::SecretBytes& iv;
};

// AES-256-GCM under one key stays within a 2^-57 advantage for an attacker
// while plaintext blocks plus frames stay below 2^36 (draft-irtf-cfrg-aead-
// limits, section 5.1): about 1 TiB a direction. A codec refuses to go past
// it; ChaCha20-Poly1305 has no such limit in practice.
inline constexpr std::uint64_t kAesGcmBlockLimit = std::uint64_t{1} << 36;

class FrameCodec {
 public:
  // Framing only, for use inside TLS.
  explicit FrameCodec(std::uint32_t max_payload);
  // Protected frames: `send` and `recv` are this side's direction keys.
  FrameCodec(crypto::Suite suite, DirectionKeys send, DirectionKeys recv, Direction send_direction,
             std::uint32_t max_payload);
  ~FrameCodec();
  FrameCodec(FrameCodec&&) noexcept;
  FrameCodec& operator=(FrameCodec&&) noexcept;

  std::uint32_t max_payload() const noexcept { return max_payload_; }
  std::size_t tag_size() const noexcept { return suite_ ? crypto::suite_tag_size(*suite_) : 0; }
  std::size_t overhead() const noexcept { return wire::kFrameHeaderSize + tag_size(); }
  // The suite protecting the frames; nullopt inside TLS.
  std::optional<crypto::Suite> suite() const noexcept { return suite_; }

  // Appends one frame whose payload is the concatenation of parts to out.
  // The caller keeps the payload within wire::send_limit(max_payload)
  // (checked; throws on a
  // bug), and, with AES-256-GCM, the connection within kAesGcmBlockLimit
  // (throws std::length_error past it).
  void seal(wire::FrameType type, std::initializer_list<ByteSpan> parts, Bytes& out);

  // Takes the frame at the front of in: nullopt while it is incomplete; an
  // Error for an unknown type, a length above max_payload (before the payload
  // has arrived), a wrong tag, or a peer past the AES-GCM limit. An AEAD
  // frame is decrypted in place, in `in`. After an Error the codec must not
  // be used.
  Result<std::optional<OpenedFrame>> open(std::span<std::uint8_t> in);

  // Lowers the AES-256-GCM limit (kAesGcmBlockLimit), for tests that cannot
  // send a terabyte.
  void limit_gcm_blocks(std::uint64_t blocks) noexcept { gcm_limit_ = blocks; }

  std::uint64_t frames_sent() const noexcept { return send_seq_; }
  std::uint64_t frames_received() const noexcept { return recv_seq_; }

 private:
  void tag_prefix(Direction d, std::uint64_t seq, const std::uint8_t header[wire::kFrameHeaderSize],
                  std::uint8_t out[14]) const noexcept;
  // The nonce of frame `seq` under `iv` (RFC 8446 section 5.3).
  static void nonce(const crypto::SecretBytes& iv, std::uint64_t seq,
                    std::uint8_t out[crypto::kAeadNonceSize]) noexcept;

  std::uint32_t max_payload_;
  std::optional<crypto::Suite> suite_;
  std::optional<crypto::Mac> send_mac_;
  std::optional<crypto::Mac> recv_mac_;
  std::optional<crypto::Aead> sealer_;
  std::optional<crypto::Aead> opener_;
  crypto::SecretBytes send_iv_;
  crypto::SecretBytes recv_iv_;
  std::uint64_t gcm_limit_ = kAesGcmBlockLimit;
  std::uint64_t send_blocks_ = 0;  // AES-GCM usage, against gcm_limit_
  std::uint64_t recv_blocks_ = 0;
  Direction send_dir_ = Direction::client_to_server;
  std::uint64_t send_seq_ = 0;
  std::uint64_t recv_seq_ = 0;
};

}  // namespace signet::channel
