// libFuzzer target: the file operations' codecs (proto/file_frames.hpp).
//
// Input: one selector byte, then the bytes to decode. Selector % 6 picks
// PUT, GET and LIST requests, the file header, a run of LIST entries, or a
// file stream (the next 2 bytes give the content size, the rest arrives cut
// at the positions the following bytes pick).
//
// Oracles beyond "no crash": whatever decodes re-encodes to the same bytes;
// LIST entries consume exactly what they re-encode to; a file stream hands
// over exactly min(size, input) content bytes and finishes only when content
// and digest are complete.
#include <cstddef>
#include <cstdint>

#include "fuzz_common.hpp"
#include "proto/file_frames.hpp"

namespace {

using namespace signet;
using util::Bytes;
using util::ByteSpan;

void stream(ByteSpan in) {
  if (in.size() < 3) return;
  const std::uint64_t size = util::load_u16(in.data());
  const std::size_t cut = in[2];
  in = in.subspan(3);
  proto::FileStream s(size);
  std::uint64_t content = 0;
  bool ok = true;
  for (ByteSpan part : {in.first(std::min(cut, in.size())), in.subspan(std::min(cut, in.size()))}) {
    auto c = s.take(part);
    if (!c) {
      ok = false;
      break;
    }
    content += c->size();
  }
  if (!ok) {
    fuzz::require(in.size() > size + proto::kDigestSize);
    return;
  }
  fuzz::require(content == std::min<std::uint64_t>(size, in.size()));
  fuzz::require(s.finish().ok() == (in.size() == size + proto::kDigestSize));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  const ByteSpan in(data + 1, size - 1);
  switch (selector % 6) {
    case 0:
      if (auto p = proto::decode_put(in); p.ok())
        fuzz::require(proto::encode(*p) == Bytes(in.begin(), in.end()));
      break;
    case 1:
      if (auto g = proto::decode_get(in); g.ok())
        fuzz::require(proto::encode(*g) == Bytes(in.begin(), in.end()));
      break;
    case 2:
      if (auto l = proto::decode_list(in); l.ok())
        fuzz::require(proto::encode(*l) == Bytes(in.begin(), in.end()));
      break;
    case 3:
      if (auto h = proto::decode_file_header(in); h.ok()) {
        const auto again = proto::encode(*h);
        fuzz::require(Bytes(again.begin(), again.end()) == Bytes(in.begin(), in.end()));
      }
      break;
    case 4: {
      ByteSpan rest = in;
      for (;;) {
        auto e = proto::take_list_entry(rest);
        if (!e.ok() || !e->has_value()) break;
        Bytes again;
        proto::append(again, (*e)->first);
        fuzz::require(again.size() == (*e)->second &&
                      std::equal(again.begin(), again.end(), rest.begin()));
        rest = rest.subspan((*e)->second);
      }
      break;
    }
    default:
      stream(in);
  }
  return 0;
}
