#include "channel/frame_codec.hpp"

#include <stdexcept>

namespace signet::channel {
namespace {

Direction opposite(Direction d) noexcept {
  return d == Direction::client_to_server ? Direction::server_to_client
                                          : Direction::client_to_server;
}

constexpr std::size_t kTagPrefixSize = 1 + 8 + wire::kFrameHeaderSize;

}  // namespace

FrameCodec::FrameCodec(std::uint32_t max_payload) : max_payload_(max_payload) {}

FrameCodec::FrameCodec(crypto::MacAlgorithm alg, const crypto::SecretBytes& send_key,
                       const crypto::SecretBytes& recv_key, Direction send_direction,
                       std::uint32_t max_payload)
    : max_payload_(max_payload),
      send_mac_(std::in_place, alg, send_key.span()),
      recv_mac_(std::in_place, alg, recv_key.span()),
      send_dir_(send_direction) {}

std::optional<crypto::MacAlgorithm> FrameCodec::algorithm() const noexcept {
  if (!send_mac_) return std::nullopt;
  return send_mac_->algorithm();
}

void FrameCodec::tag_prefix(Direction d, std::uint64_t seq,
                            const std::uint8_t header[wire::kFrameHeaderSize],
                            std::uint8_t out[kTagPrefixSize]) const noexcept {
  out[0] = static_cast<std::uint8_t>(d);
  util::store_u64(out + 1, seq);
  for (std::size_t i = 0; i < wire::kFrameHeaderSize; ++i) out[9 + i] = header[i];
}

void FrameCodec::seal(wire::FrameType type, std::initializer_list<ByteSpan> parts, Bytes& out) {
  std::size_t len = 0;
  for (auto p : parts) len += p.size();
  if (len > max_payload_) throw std::logic_error("frame payload above the configured limit");

  std::uint8_t header[wire::kFrameHeaderSize];
  wire::encode_frame_header(type, static_cast<std::uint32_t>(len), header);
  const std::size_t start = out.size();
  out.resize(start + wire::kFrameHeaderSize + len + tag_size());
  std::uint8_t* p = out.data() + start;
  std::copy(header, header + wire::kFrameHeaderSize, p);
  p += wire::kFrameHeaderSize;
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
  ++send_seq_;
}

Result<std::optional<OpenedFrame>> FrameCodec::open(ByteSpan in) {
  if (in.size() < wire::kFrameHeaderSize) return std::optional<OpenedFrame>{};
  auto h = wire::decode_frame_header(in, max_payload_);
  if (!h) return h.error();
  const std::size_t total = wire::kFrameHeaderSize + std::size_t{h->length} + tag_size();
  if (in.size() < total) return std::optional<OpenedFrame>{};

  const ByteSpan payload = in.subspan(wire::kFrameHeaderSize, h->length);
  if (recv_mac_) {
    std::uint8_t prefix[kTagPrefixSize];
    tag_prefix(opposite(send_dir_), recv_seq_, in.data(), prefix);
    const ByteSpan tag = in.subspan(wire::kFrameHeaderSize + h->length, tag_size());
    if (!recv_mac_->verify({ByteSpan(prefix), payload}, tag)) {
      return Error(Errc::bad_tag, "frame " + std::to_string(recv_seq_));
    }
  }
  if (recv_seq_ == UINT64_MAX) return Error(Errc::malformed, "sequence number exhausted");
  ++recv_seq_;
  return std::optional<OpenedFrame>(OpenedFrame{h->type, payload, total});
}

}  // namespace signet::channel
