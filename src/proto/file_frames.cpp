#include "proto/file_frames.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace signet::proto {
namespace {

using util::Reader;
using util::Writer;

Result<std::uint8_t> read_flags(Reader& r, std::uint8_t allowed, std::string_view what) {
  std::uint8_t flags = 0;
  if (!r.read_u8(flags)) return Error(Errc::truncated, std::string(what) + " flags");
  if ((flags & ~allowed) != 0) {
    return Error(Errc::malformed,
                 std::string(what) + " with reserved flag bits " + std::to_string(flags));
  }
  return flags;
}

// u16 length | bytes.
Result<std::string> read_name(Reader& r, std::string_view what) {
  std::uint16_t n = 0;
  if (!r.read_u16(n)) return Error(Errc::truncated, std::string(what) + " name length");
  if (n > kMaxNameSize) {
    return Error(Errc::too_large, std::string(what) + " name of " + std::to_string(n) +
                                      " bytes, limit " + std::to_string(kMaxNameSize));
  }
  util::ByteSpan b;
  if (!r.read_bytes(n, b)) return Error(Errc::truncated, std::string(what) + " name");
  return std::string(util::as_chars(b));
}

void write_name(Writer& w, std::string_view name) {
  if (name.size() > kMaxNameSize) throw std::logic_error("file name above kMaxNameSize");
  w.u16(static_cast<std::uint16_t>(name.size()));
  w.bytes(name);
}

Result<std::uint32_t> read_mode(Reader& r, std::string_view what) {
  std::uint32_t mode = 0;
  if (!r.read_u32(mode)) return Error(Errc::truncated, std::string(what) + " mode");
  if ((mode & ~kModeBits) != 0) {
    return Error(Errc::malformed,
                 std::string(what) + " mode " + std::to_string(mode) + " has bits beyond 07777");
  }
  return mode;
}

Result<void> done(const Reader& r, std::string_view what) {
  if (!r.empty()) return Error(Errc::trailing_data, "after " + std::string(what));
  return {};
}

}  // namespace

std::string_view file_status_name(std::uint8_t status) noexcept {
  switch (static_cast<FileStatus>(status)) {
    case FileStatus::ok:
      return "ok";
    case FileStatus::not_found:
      return "not found";
    case FileStatus::exists:
      return "exists";
    case FileStatus::bad_name:
      return "name not allowed";
    case FileStatus::no_space:
      return "no room";
    case FileStatus::not_verified:
      return "did not verify";
    case FileStatus::failed:
      return "failed";
    case FileStatus::not_permitted:
      return "not permitted";
    case FileStatus::changed:
      return "changed";
  }
  return "unknown status";
}

Bytes encode(const PutRequest& r) {
  Bytes out;
  Writer w(out);
  w.u8(static_cast<std::uint8_t>((r.replace ? kReplace : 0) | (r.resume ? kResume : 0)));
  w.u64(r.size);
  w.u32(r.mode & kModeBits);
  w.u64(static_cast<std::uint64_t>(r.mtime));
  write_name(w, r.name);
  return out;
}

Bytes encode(const GetRequest& r) {
  Bytes out;
  Writer w(out);
  w.u8(r.resume ? kGetResume : 0);
  if (r.resume) {
    w.u64(r.resume->offset);
    w.u64(r.resume->size);
    w.u64(static_cast<std::uint64_t>(r.resume->mtime));
    w.bytes(r.resume->prefix);
  }
  write_name(w, r.name);
  return out;
}

Bytes encode(const ListRequest& r) {
  Bytes out;
  Writer w(out);
  w.u8(r.recursive ? kRecursive : 0);
  write_name(w, r.name);
  return out;
}

std::array<std::uint8_t, kFileHeaderSize> encode(const FileHeader& h) {
  std::array<std::uint8_t, kFileHeaderSize> out{};
  util::store_u64(out.data(), h.size);
  util::store_u32(out.data() + 8, h.mode & kModeBits);
  util::store_u64(out.data() + 12, static_cast<std::uint64_t>(h.mtime));
  return out;
}

std::array<std::uint8_t, kResumedFileHeaderSize> encode_resumed(const FileHeader& h) {
  std::array<std::uint8_t, kResumedFileHeaderSize> out{};
  const auto plain = encode(h);
  std::copy(plain.begin(), plain.end(), out.begin());
  util::store_u64(out.data() + kFileHeaderSize, h.offset);
  return out;
}

std::array<std::uint8_t, kResumeAnswerSize> encode(const ResumeAnswer& a) {
  std::array<std::uint8_t, kResumeAnswerSize> out{};
  out[0] = a.outcome;
  util::store_u64(out.data() + 1, a.offset);
  std::copy(a.prefix.begin(), a.prefix.end(), out.begin() + 9);
  return out;
}

void append(Bytes& out, const ListEntry& e) {
  Writer w(out);
  w.u8(static_cast<std::uint8_t>(e.type));
  w.u64(e.size);
  w.u32(e.mode & kModeBits);
  w.u64(static_cast<std::uint64_t>(e.mtime));
  write_name(w, e.name);
}

Result<PutRequest> decode_put(ByteSpan body) {
  Reader r(body);
  PutRequest p;
  auto flags = read_flags(r, kReplace | kResume, "PUT");
  if (!flags) return flags.error();
  p.replace = (*flags & kReplace) != 0;
  p.resume = (*flags & kResume) != 0;
  std::uint64_t mtime = 0;
  if (!r.read_u64(p.size)) return Error(Errc::truncated, "PUT size");
  auto mode = read_mode(r, "PUT");
  if (!mode) return mode.error();
  p.mode = *mode;
  if (!r.read_u64(mtime)) return Error(Errc::truncated, "PUT mtime");
  p.mtime = static_cast<std::int64_t>(mtime);
  auto name = read_name(r, "PUT");
  if (!name) return name.error();
  p.name = std::move(*name);
  if (auto d = done(r, "PUT request"); !d) return d.error();
  return p;
}

Result<GetRequest> decode_get(ByteSpan body) {
  Reader r(body);
  auto flags = read_flags(r, kGetResume, "GET");
  if (!flags) return flags.error();
  GetRequest g;
  if ((*flags & kGetResume) != 0) {
    GetResume res;
    std::uint64_t mtime = 0;
    util::ByteSpan prefix;
    if (!r.read_u64(res.offset) || !r.read_u64(res.size) || !r.read_u64(mtime) ||
        !r.read_bytes(kDigestSize, prefix)) {
      return Error(Errc::truncated, "GET resume point");
    }
    if (res.offset > res.size) {
      return Error(Errc::malformed, "GET resume point past the end of the file");
    }
    res.mtime = static_cast<std::int64_t>(mtime);
    std::copy(prefix.begin(), prefix.end(), res.prefix.begin());
    g.resume = res;
  }
  auto name = read_name(r, "GET");
  if (!name) return name.error();
  g.name = std::move(*name);
  if (auto d = done(r, "GET request"); !d) return d.error();
  return g;
}

Result<ListRequest> decode_list(ByteSpan body) {
  Reader r(body);
  auto flags = read_flags(r, kRecursive, "LIST");
  if (!flags) return flags.error();
  auto name = read_name(r, "LIST");
  if (!name) return name.error();
  if (auto d = done(r, "LIST request"); !d) return d.error();
  return ListRequest{std::move(*name), (*flags & kRecursive) != 0};
}

Result<FileHeader> decode_file_header(ByteSpan bytes, bool resumed) {
  Reader r(bytes);
  FileHeader h;
  std::uint64_t mtime = 0;
  if (!r.read_u64(h.size)) return Error(Errc::truncated, "file header size");
  auto mode = read_mode(r, "file header");
  if (!mode) return mode.error();
  h.mode = *mode;
  if (!r.read_u64(mtime)) return Error(Errc::truncated, "file header mtime");
  h.mtime = static_cast<std::int64_t>(mtime);
  if (resumed) {
    if (!r.read_u64(h.offset)) return Error(Errc::truncated, "file header offset");
    if (h.offset > h.size) return Error(Errc::malformed, "file header offset past its size");
  }
  if (auto d = done(r, "file header"); !d) return d.error();
  return h;
}

Result<ResumeAnswer> decode_resume_answer(ByteSpan bytes) {
  Reader r(bytes);
  ResumeAnswer a;
  util::ByteSpan prefix;
  if (!r.read_u8(a.outcome) || !r.read_u64(a.offset) || !r.read_bytes(kDigestSize, prefix)) {
    return Error(Errc::truncated, "PUT resume answer");
  }
  std::copy(prefix.begin(), prefix.end(), a.prefix.begin());
  if (a.outcome > kResumeChanged) {
    return Error(Errc::malformed, "PUT resume answer outcome " + std::to_string(a.outcome));
  }
  const bool zero = std::all_of(a.prefix.begin(), a.prefix.end(), [](auto b) { return b == 0; });
  if (a.outcome != kResumeResumed && (a.offset != 0 || !zero)) {
    return Error(Errc::malformed, "PUT resume answer with an offset but not resumed");
  }
  if (a.offset % 64 != 0) {
    return Error(Errc::malformed, "PUT resume answer offset not a multiple of 64");
  }
  if (auto d = done(r, "PUT resume answer"); !d) return d.error();
  return a;
}

Result<std::optional<std::pair<ListEntry, std::size_t>>> take_list_entry(ByteSpan bytes) {
  using Out = std::optional<std::pair<ListEntry, std::size_t>>;
  constexpr std::size_t kFixed = 1 + 8 + 4 + 8 + 2;
  if (bytes.size() < kFixed) return Out{};
  const std::size_t name_size = util::load_u16(bytes.data() + kFixed - 2);
  if (name_size > kMaxNameSize) {
    return Error(Errc::too_large, "LIST entry name of " + std::to_string(name_size) + " bytes");
  }
  if (bytes.size() < kFixed + name_size) return Out{};
  Reader r(bytes.first(kFixed + name_size));
  ListEntry e;
  std::uint8_t type = 0;
  std::uint64_t mtime = 0;
  (void)r.read_u8(type);
  if (type > static_cast<std::uint8_t>(EntryType::symlink)) {
    return Error(Errc::malformed, "LIST entry type " + std::to_string(type));
  }
  e.type = static_cast<EntryType>(type);
  (void)r.read_u64(e.size);
  auto mode = read_mode(r, "LIST entry");
  if (!mode) return mode.error();
  e.mode = *mode;
  (void)r.read_u64(mtime);
  e.mtime = static_cast<std::int64_t>(mtime);
  auto name = read_name(r, "LIST entry");
  if (!name) return name.error();
  e.name = std::move(*name);
  return Out(std::make_pair(std::move(e), kFixed + name_size));
}

Result<ByteSpan> FileStream::take(ByteSpan bytes, ByteSpan* after) {
  const std::uint64_t content_left = size_ - received_;
  const std::size_t content =
      static_cast<std::size_t>(std::min<std::uint64_t>(content_left, bytes.size()));
  received_ += content;
  ByteSpan rest = bytes.subspan(content);
  if (after != nullptr) {
    const std::size_t digest = std::min(rest.size(), kDigestSize - digest_bytes_);
    *after = rest.subspan(digest);
    rest = rest.first(digest);
  }
  if (rest.size() > kDigestSize - digest_bytes_) {
    return Error(Errc::too_large,
                 "more data than the file's " + std::to_string(size_) + " bytes and its digest");
  }
  std::memcpy(digest_.data() + digest_bytes_, rest.data(), rest.size());
  digest_bytes_ += rest.size();
  return bytes.first(content);
}

Result<void> FileStream::finish() const {
  if (received_ < size_) {
    return Error(Errc::truncated, "the file ended after " + std::to_string(received_) + " of " +
                                      std::to_string(size_) + " bytes");
  }
  if (digest_bytes_ < kDigestSize) return Error(Errc::truncated, "the file's digest");
  return {};
}

}  // namespace signet::proto
