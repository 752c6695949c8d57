// libFuzzer target: FrameCodec::open over a stream of consecutive frames, with
// the plain codec (key mode framing) and with each shared-key suite (MACs and
// AEADs) under fixed keys.
//
// Oracles beyond "no crash": a frame that opens must re-seal, with a sender
// codec in the same state, to exactly the bytes consumed; consumed never runs
// past the input; the payload is never above the limit.
#include <cstddef>
#include <cstdint>

#include "fuzz_common.hpp"

namespace {

using signet::util::Bytes;
using signet::util::ByteSpan;
using namespace signet;

void check_payload(wire::FrameType type, ByteSpan payload) {
  // What the session layer does with an opened frame's payload.
  if (type == wire::FrameType::reply) {
    auto r = wire::decode_reply_payload(payload);
    if (r) fuzz::require(wire::encode_reply_payload(*r) == Bytes(payload.begin(), payload.end()));
  } else if (type == wire::FrameType::error) {
    auto e = wire::decode_error_payload(payload);
    if (e) fuzz::require(wire::encode_error_payload(*e) == Bytes(payload.begin(), payload.end()));
  }
}

// Opens frames until the input is used up, incomplete or rejected. The codec
// decrypts AEAD frames in place, so it works on a copy and the re-seal is
// compared with the original bytes.
void drain(channel::FrameCodec& rx, channel::FrameCodec& tx, ByteSpan original) {
  Bytes buffer(original.begin(), original.end());
  std::span<std::uint8_t> work(buffer);
  ByteSpan in = original;
  while (true) {
    auto f = rx.open(work);
    if (!f) return;   // clean rejection; the codec must not be used again
    if (!*f) return;  // needs more bytes
    const auto& frame = **f;
    fuzz::require(frame.consumed > 0 && frame.consumed <= in.size());
    fuzz::require(frame.payload.size() <= rx.max_payload());
    fuzz::require(frame.consumed == rx.overhead() + frame.payload.size());
    Bytes again;
    tx.seal(frame.type, {frame.payload}, again);
    fuzz::require(again ==
                  Bytes(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(frame.consumed)));
    check_payload(frame.type, frame.payload);
    in = in.subspan(frame.consumed);
    work = work.subspan(frame.consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan in(data, size);
  {
    channel::FrameCodec rx(fuzz::kFuzzMaxPayload);
    channel::FrameCodec tx(fuzz::kFuzzMaxPayload);
    drain(rx, tx, in);
  }
  for (auto alg : fuzz::kAllSuites) {
    auto rx = fuzz::server_codec(alg);
    auto tx = fuzz::client_codec(alg);
    drain(rx, tx, in);
  }
  return 0;
}
