#include "channel/frame_codec.hpp"

#include <stdexcept>

namespace signet::channel {
namespace {

Direction opposite(Direction d) noexcept {
  return d == Direction::client_to_server ? Direction::server_to_client
                                          : Direction::client_to_server;
}

constexpr std::size_t kTagPrefixSize = 1 + 8 + wire::kFrameHeaderSize;

// What one AES-GCM frame of `length` payload bytes counts against
// kAesGcmBlockLimit: its 16-byte blocks, plus one for the frame itself.
std::uint64_t gcm_blocks(std::size_t length) noexcept {
  return (std::uint64_t{length} + 15) / 16 + 1;
}

}  // namespace

FrameCodec::FrameCodec(std::uint32_t max_payload) : max_payload_(max_payload) {}

FrameCodec::FrameCodec(crypto::Suite suite, DirectionKeys send, DirectionKeys recv,
                       Direction send_direction, std::uint32_t max_payload)
    : max_payload_(max_payload), suite_(suite), send_dir_(send_direction) {
  if (auto aead = crypto::suite_aead(suite)) {
    sealer_.emplace(*aead, send.key.span(), crypto::Aead::Role::seal);
    opener_.emplace(*aead, recv.key.span(), crypto::Aead::Role::open);
    if (send.iv.size() != crypto::kAeadNonceSize || recv.iv.size() != crypto::kAeadNonceSize) {
      throw std::logic_error("AEAD suite without 12-byte IVs");
    }
    send_iv_ = send.iv.clone();
    recv_iv_ = recv.iv.clone();
  } else {
    const auto mac = *crypto::suite_mac(suite);
    send_mac_.emplace(mac, send.key.span());
    recv_mac_.emplace(mac, recv.key.span());
  }
}

FrameCodec::~FrameCodec() = default;
FrameCodec::FrameCodec(FrameCodec&&) noexcept = default;
FrameCodec& FrameCodec::operator=(FrameCodec&&) noexcept = default;

void FrameCodec::tag_prefix(Direction d, std::uint64_t seq,
                            const std::uint8_t header[wire::kFrameHeaderSize],
                            std::uint8_t out[kTagPrefixSize]) const noexcept {
  out[0] = static_cast<std::uint8_t>(d);
  util::store_u64(out + 1, seq);
  for (std::size_t i = 0; i < wire::kFrameHeaderSize; ++i) out[9 + i] = header[i];
}

void FrameCodec::nonce(const crypto::SecretBytes& iv, std::uint64_t seq,
                       std::uint8_t out[crypto::kAeadNonceSize]) noexcept {
  // The sequence number, big-endian, left-padded to 12 bytes, XOR the IV.
  std::uint8_t padded[crypto::kAeadNonceSize] = {};
  util::store_u64(padded + 4, seq);
  for (std::size_t i = 0; i < crypto::kAeadNonceSize; ++i) out[i] = iv.data()[i] ^ padded[i];
}

void FrameCodec::seal(wire::FrameType type, std::initializer_list<ByteSpan> parts, Bytes& out) {
  std::size_t len = 0;
  for (auto p : parts) len += p.size();
  if (len > std::size_t{wire::send_limit(max_payload_)} +
                wire::operation_header_size(static_cast<std::uint8_t>(type))) {
    throw std::logic_error("frame payload above the send limit");
  }

  std::uint8_t header[wire::kFrameHeaderSize];
  wire::encode_frame_header(type, static_cast<std::uint32_t>(len), header);
  const std::size_t start = out.size();
  out.resize(start + wire::kFrameHeaderSize + len + tag_size());
  std::uint8_t* p = out.data() + start;
  std::copy(header, header + wire::kFrameHeaderSize, p);
  p += wire::kFrameHeaderSize;
  if (sealer_) {
    if (sealer_->algorithm() == crypto::AeadAlgorithm::aes_256_gcm) {
      send_blocks_ += gcm_blocks(len);
      if (send_blocks_ > gcm_limit_) {
        throw std::length_error("AES-256-GCM limit of one connection reached; reconnect");
      }
    }
    std::uint8_t aad[kTagPrefixSize];
    tag_prefix(send_dir_, send_seq_, header, aad);
    std::uint8_t iv[crypto::kAeadNonceSize];
    nonce(send_iv_, send_seq_, iv);
    sealer_->seal(iv, aad, parts, std::span<std::uint8_t>(p, len),
                  std::span<std::uint8_t>(p + len, crypto::kAeadTagSize));
  } else {
    for (auto part : parts) {
      std::copy(part.begin(), part.end(), p);
      p += part.size();
    }
    if (send_mac_) {
      std::uint8_t prefix[kTagPrefixSize];
      tag_prefix(send_dir_, send_seq_, header, prefix);
      send_mac_->begin();
      send_mac_->update(prefix);
      for (auto part : parts) send_mac_->update(part);
      send_mac_->finish(std::span<std::uint8_t>(p, tag_size()));
    }
  }
  ++send_seq_;
}

Result<std::optional<OpenedFrame>> FrameCodec::open(std::span<std::uint8_t> in) {
  if (in.size() < wire::kFrameHeaderSize) return std::optional<OpenedFrame>{};
  auto h = wire::decode_frame_header(in, max_payload_);
  if (!h) return h.error();
  const std::size_t total = wire::kFrameHeaderSize + std::size_t{h->length} + tag_size();
  if (in.size() < total) return std::optional<OpenedFrame>{};

  const std::span<std::uint8_t> payload = in.subspan(wire::kFrameHeaderSize, h->length);
  const ByteSpan tag = in.subspan(wire::kFrameHeaderSize + h->length, tag_size());
  if (opener_) {
    if (opener_->algorithm() == crypto::AeadAlgorithm::aes_256_gcm) {
      recv_blocks_ += gcm_blocks(h->length);
      if (recv_blocks_ > gcm_limit_) {
        return Error(Errc::too_large, "the peer sent more than AES-256-GCM allows on one key");
      }
    }
    std::uint8_t aad[kTagPrefixSize];
    tag_prefix(opposite(send_dir_), recv_seq_, in.data(), aad);
    std::uint8_t iv[crypto::kAeadNonceSize];
    nonce(recv_iv_, recv_seq_, iv);
    if (!opener_->open(iv, aad, payload, tag, payload)) {
      return Error(Errc::bad_tag, "frame " + std::to_string(recv_seq_));
    }
  } else if (recv_mac_) {
    std::uint8_t prefix[kTagPrefixSize];
    tag_prefix(opposite(send_dir_), recv_seq_, in.data(), prefix);
    if (!recv_mac_->verify({ByteSpan(prefix), ByteSpan(payload)}, tag)) {
      return Error(Errc::bad_tag, "frame " + std::to_string(recv_seq_));
    }
  }
  if (recv_seq_ == UINT64_MAX) return Error(Errc::malformed, "sequence number exhausted");
  ++recv_seq_;
  return std::optional<OpenedFrame>(OpenedFrame{h->type, payload, total});
}

}  // namespace signet::channel
