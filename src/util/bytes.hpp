// Bounds-checked reading and appending of big-endian integers and byte strings.
//
// Reader is a cursor over untrusted bytes: every read returns false when the
// input is too short and leaves the cursor unchanged, so a parser can never
// run past the end. Integers are assembled with shifts, never by casting.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace signet::util {

using Bytes = std::vector<std::uint8_t>;
using ByteSpan = std::span<const std::uint8_t>;

inline ByteSpan as_bytes(std::string_view s) noexcept {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteSpan b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

inline void store_u16(std::uint8_t* p, std::uint16_t v) noexcept {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}
inline void store_u32(std::uint8_t* p, std::uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<std::uint8_t>(v >> (24 - 8 * i));
}
inline void store_u64(std::uint8_t* p, std::uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<std::uint8_t>(v >> (56 - 8 * i));
}
inline std::uint16_t load_u16(const std::uint8_t* p) noexcept {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}
inline std::uint32_t load_u32(const std::uint8_t* p) noexcept {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}
inline std::uint64_t load_u64(const std::uint8_t* p) noexcept {
  return (std::uint64_t{load_u32(p)} << 32) | load_u32(p + 4);
}

class Reader {
 public:
  explicit Reader(ByteSpan in) noexcept : in_(in) {}

  std::size_t remaining() const noexcept { return in_.size() - pos_; }
  bool empty() const noexcept { return remaining() == 0; }
  ByteSpan rest() const noexcept { return in_.subspan(pos_); }
  std::size_t position() const noexcept { return pos_; }

  bool read_u8(std::uint8_t& v) noexcept {
    if (remaining() < 1) return false;
    v = in_[pos_++];
    return true;
  }
  bool read_u16(std::uint16_t& v) noexcept {
    if (remaining() < 2) return false;
    v = load_u16(in_.data() + pos_);
    pos_ += 2;
    return true;
  }
  bool read_u32(std::uint32_t& v) noexcept {
    if (remaining() < 4) return false;
    v = load_u32(in_.data() + pos_);
    pos_ += 4;
    return true;
  }
  bool read_u64(std::uint64_t& v) noexcept {
    if (remaining() < 8) return false;
    v = load_u64(in_.data() + pos_);
    pos_ += 8;
    return true;
  }
  // Takes exactly n bytes as a view into the input.
  bool read_bytes(std::size_t n, ByteSpan& out) noexcept {
    if (remaining() < n) return false;
    out = in_.subspan(pos_, n);
    pos_ += n;
    return true;
  }
  // SSH-style string: u32 length, then that many bytes (RFC 4251 section 5).
  bool read_string32(ByteSpan& out) noexcept {
    const std::size_t start = pos_;
    std::uint32_t n = 0;
    if (!read_u32(n) || !read_bytes(n, out)) {
      pos_ = start;
      return false;
    }
    return true;
  }
  bool skip(std::size_t n) noexcept {
    if (remaining() < n) return false;
    pos_ += n;
    return true;
  }

 private:
  ByteSpan in_;
  std::size_t pos_ = 0;
};

// Appends to a caller-owned byte vector.
class Writer {
 public:
  explicit Writer(Bytes& out) noexcept : out_(out) {}

  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) {
    std::uint8_t b[2];
    store_u16(b, v);
    out_.insert(out_.end(), b, b + 2);
  }
  void u32(std::uint32_t v) {
    std::uint8_t b[4];
    store_u32(b, v);
    out_.insert(out_.end(), b, b + 4);
  }
  void u64(std::uint64_t v) {
    std::uint8_t b[8];
    store_u64(b, v);
    out_.insert(out_.end(), b, b + 8);
  }
  void bytes(ByteSpan b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void bytes(std::string_view s) { bytes(as_bytes(s)); }
  void string32(ByteSpan b) {
    u32(static_cast<std::uint32_t>(b.size()));
    bytes(b);
  }

 private:
  Bytes& out_;
};

}  // namespace signet::util
