// Protocol version 2's file operations (docs/PROTOCOL.md, "Files"): the
// bodies of their OPEN frames, what their DATA streams carry, and the status
// of their REPLY. No I/O; the served folder is the files layer's, the
// transfers the api layer's.
//
//   PUT  (kind 0x02)  client -> server: OPEN body = flags (1) | size (8) | mode (4) | mtime (8) |
//   name
//                     then DATA: the file's size bytes, then its SHA-256 (32), FIN.
//                     The server publishes the file only if the digest matches, then REPLYs.
//   GET  (kind 0x03)  OPEN body = flags (1) | name, with FIN; server -> client DATA:
//                     size (8) | mode (4) | mtime (8), the size bytes, the SHA-256 (32), FIN;
//                     REPLY.
//   LIST (kind 0x04)  OPEN body = flags (1) | name ("" = the folder itself), with FIN;
//                     server -> client DATA: entries, FIN; REPLY. With kRecursive,
//                     everything below, named relative to the folder.
//
// A name is u16 length | bytes (at most kMaxNameSize); what a name may hold
// is checked where it is used (files::split_name). Integers are big-endian;
// mtime is signed seconds since 1970 (two's complement).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/frames.hpp"

namespace signet::proto {

inline constexpr std::size_t kMaxNameSize = 4096;
inline constexpr std::size_t kDigestSize = 32;
inline constexpr std::size_t kFileHeaderSize = 20;  // size, mode, mtime
// Mode bits a request may carry (permissions plus setuid, setgid, sticky;
// the receiver keeps only the permission bits).
inline constexpr std::uint32_t kModeBits = 07777;

// PUT flags.
inline constexpr std::uint8_t kReplace = 0x01;  // an existing file of that name may be replaced
// LIST flags.
inline constexpr std::uint8_t kRecursive =
    0x01;  // everything below the folder, named relative to it

// The status of a file operation's REPLY; the text says more (a human's
// sentence, or for a PUT or GET that succeeded the SHA-256 in hex).
enum class FileStatus : std::uint8_t {
  ok = 0,
  not_found = 1,      // no such file or folder
  exists = 2,         // PUT without kReplace of a name that exists
  bad_name = 3,       // the name is not allowed (absolute, "..", control characters, ...)
  no_space = 4,       // above the server's size limits, or its disk is full
  not_verified = 5,   // the data did not match its size or SHA-256
  failed = 6,         // the server could not read or write the file
  not_permitted = 7,  // a symbolic link, not a regular file, or outside the key's folder
};
std::string_view file_status_name(std::uint8_t status) noexcept;

struct PutRequest {
  bool replace = false;
  std::uint64_t size = 0;
  std::uint32_t mode = 0644;
  std::int64_t mtime = 0;
  std::string name;
};
struct GetRequest {
  std::string name;
};
struct ListRequest {
  std::string name;  // "" for the served folder itself
  bool recursive = false;
};
struct FileHeader {
  std::uint64_t size = 0;
  std::uint32_t mode = 0;
  std::int64_t mtime = 0;
};

enum class EntryType : std::uint8_t { other = 0, file = 1, directory = 2, symlink = 3 };
// One LIST entry: type (1) | size (8) | mode (4) | mtime (8) | name.
struct ListEntry {
  EntryType type = EntryType::other;
  std::uint64_t size = 0;
  std::uint32_t mode = 0;
  std::int64_t mtime = 0;
  std::string name;
};
inline constexpr std::size_t kMaxListEntrySize = 1 + 8 + 4 + 8 + 2 + kMaxNameSize;

// Encoders; a name longer than kMaxNameSize is a logic_error (callers check).
Bytes encode(const PutRequest& r);
Bytes encode(const GetRequest& r);
Bytes encode(const ListRequest& r);
std::array<std::uint8_t, kFileHeaderSize> encode(const FileHeader& h);
void append(Bytes& out, const ListEntry& e);

// Decoders fail with truncated, malformed (reserved flag bits, mode bits
// beyond kModeBits, an unknown entry type), too_large (a name over
// kMaxNameSize) or trailing_data.
Result<PutRequest> decode_put(ByteSpan body);
Result<GetRequest> decode_get(ByteSpan body);
Result<ListRequest> decode_list(ByteSpan body);
Result<FileHeader> decode_file_header(ByteSpan bytes);
// Takes the first entry of `bytes` if it is complete: the entry and the
// bytes it used, nullopt when more bytes are needed.
Result<std::optional<std::pair<ListEntry, std::size_t>>> take_list_entry(ByteSpan bytes);

// The receiving end of a file's stream: `size` content bytes, then their
// SHA-256. DATA frames may cut it anywhere.
class FileStream {
 public:
  explicit FileStream(std::uint64_t size) noexcept : size_(size) {}
  // The content bytes within `bytes` (the rest is the digest). Fails with
  // too_large when bytes go beyond the content and its digest.
  Result<ByteSpan> take(ByteSpan bytes);
  // At FIN: fails with truncated unless the content and the digest are complete.
  Result<void> finish() const;
  std::uint64_t size() const noexcept { return size_; }
  std::uint64_t received() const noexcept { return received_; }
  // The digest the sender sent (complete after finish() succeeded).
  const std::array<std::uint8_t, kDigestSize>& digest() const noexcept { return digest_; }

 private:
  std::uint64_t size_;
  std::uint64_t received_ = 0;
  std::size_t digest_bytes_ = 0;
  std::array<std::uint8_t, kDigestSize> digest_{};
};

}  // namespace signet::proto
