// libFuzzer target: the file operations' codecs (proto/file_frames.hpp).
//
// Input: one selector byte, then the bytes to decode. Selector % 8 picks
// PUT, GET and LIST requests, the file header, a run of LIST entries, a
// resumed GET's header, PUT's resume answer, or a file stream (the next 2
// bytes give the content size, the next one where a resumed stream starts,
// the rest arrives cut at the position the following byte picks).
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
  if (in.size() < 4) return;
  const std::uint64_t total = util::load_u16(in.data());
  const std::uint64_t from = std::min<std::uint64_t>(in[2], total);
  const std::uint64_t size = total - from;  // the content bytes still to come
  const std::size_t cut = in[3];
  in = in.subspan(4);
  proto::FileStream s(total, from);
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
  fuzz::require(s.received() == from + content);
  fuzz::require(s.finish().ok() == (in.size() == size + proto::kDigestSize));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t selector = data[0];
  const ByteSpan in(data + 1, size - 1);
  switch (selector % 8) {
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
    case 5:
      if (auto h = proto::decode_file_header(in, true); h.ok()) {
        const auto again = proto::encode_resumed(*h);
        fuzz::require(h->offset <= h->size);
        fuzz::require(Bytes(again.begin(), again.end()) == Bytes(in.begin(), in.end()));
      }
      break;
    case 6:
      if (auto a = proto::decode_resume_answer(in); a.ok()) {
        const auto again = proto::encode(*a);
        fuzz::require(a->offset % 64 == 0);
        fuzz::require(Bytes(again.begin(), again.end()) == Bytes(in.begin(), in.end()));
      }
      break;
    default:
      stream(in);
  }
  return 0;
}
