// Protocol version 2's file operations (docs/PROTOCOL.md, "Files"): the
// bodies of their OPEN frames, what their DATA streams carry, and the status
// of their REPLY. No I/O; the served folder is the files layer's, the
// transfers the api layer's.
//
//   PUT  (kind 0x02)  client -> server: OPEN body = flags (1) | size (8) | mode (4) | mtime (8) |
//   name
//                     then DATA: the file's size bytes, then its SHA-256 (32), FIN.
//                     The server publishes the file only if the digest matches, then REPLYs.
//                     With kResume the server first sends one DATA, a ResumeAnswer, and
//                     the client's stream then starts at its offset.
//   GET  (kind 0x03)  OPEN body = flags (1) | [GetResume] | name, with FIN; server -> client
//                     DATA: size (8) | mode (4) | mtime (8) | [offset (8)], the bytes from
//                     offset on, the SHA-256 (32) of the whole file, FIN; REPLY.
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
// The header of a GET asked with kGetResume: size, mode, mtime, offset.
inline constexpr std::size_t kResumedFileHeaderSize = 28;
// PUT's ResumeAnswer: outcome, offset, prefix digest.
inline constexpr std::size_t kResumeAnswerSize = 1 + 8 + kDigestSize;
// Mode bits a request may carry (permissions plus setuid, setgid, sticky;
// the receiver keeps only the permission bits).
inline constexpr std::uint32_t kModeBits = 07777;

// PUT flags.
inline constexpr std::uint8_t kReplace = 0x01;  // an existing file of that name may be replaced
inline constexpr std::uint8_t kResume = 0x02;   // go on from a part the server holds
// GET flags.
inline constexpr std::uint8_t kGetResume = 0x01;  // the client holds a part: GetResume follows
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
  changed = 8,        // GET resumed: the file's first bytes are not the part the client holds
};
std::string_view file_status_name(std::uint8_t status) noexcept;

struct PutRequest {
  bool replace = false;
  std::uint64_t size = 0;
  std::uint32_t mode = 0644;
  std::int64_t mtime = 0;
  std::string name;
  bool resume = false;
};
// What a client resuming a GET holds: the first `offset` bytes of a file
// that was `size` bytes with modification time `mtime`, and their SHA-256.
struct GetResume {
  std::uint64_t offset = 0;
  std::uint64_t size = 0;
  std::int64_t mtime = 0;
  std::array<std::uint8_t, kDigestSize> prefix{};
};
struct GetRequest {
  std::string name;
  std::optional<GetResume> resume{};
};
// The server's first DATA on a PUT with kResume: where the client's stream
// starts. outcome: 0 no part held, 1 resumed at offset (the server holds
// the file's first offset bytes, whose SHA-256 is prefix), 2 the part held
// was of a file of another size or mtime (discarded). Unless resumed, offset
// is 0 and prefix all zero.
struct ResumeAnswer {
  std::uint8_t outcome = 0;
  std::uint64_t offset = 0;
  std::array<std::uint8_t, kDigestSize> prefix{};
};
inline constexpr std::uint8_t kResumeFresh = 0;
inline constexpr std::uint8_t kResumeResumed = 1;
inline constexpr std::uint8_t kResumeChanged = 2;
struct ListRequest {
  std::string name;  // "" for the served folder itself
  bool recursive = false;
};
struct FileHeader {
  std::uint64_t size = 0;
  std::uint32_t mode = 0;
  std::int64_t mtime = 0;
  std::uint64_t offset = 0;  // a resumed GET's: where the bytes that follow start
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
// The 28-byte header of a GET asked with kGetResume (with the offset).
std::array<std::uint8_t, kResumedFileHeaderSize> encode_resumed(const FileHeader& h);
std::array<std::uint8_t, kResumeAnswerSize> encode(const ResumeAnswer& a);
void append(Bytes& out, const ListEntry& e);

// Decoders fail with truncated, malformed (reserved flag bits, mode bits
// beyond kModeBits, an unknown entry type), too_large (a name over
// kMaxNameSize) or trailing_data.
Result<PutRequest> decode_put(ByteSpan body);
Result<GetRequest> decode_get(ByteSpan body);
Result<ListRequest> decode_list(ByteSpan body);
// resumed: the 28-byte header of a GET asked with kGetResume (an offset
// above the size is malformed).
Result<FileHeader> decode_file_header(ByteSpan bytes, bool resumed = false);
// An outcome above 2, or an offset other than 0 or a nonzero prefix unless
// resumed, or an offset not a multiple of 64, is malformed.
Result<ResumeAnswer> decode_resume_answer(ByteSpan bytes);
// Takes the first entry of `bytes` if it is complete: the entry and the
// bytes it used, nullopt when more bytes are needed.
Result<std::optional<std::pair<ListEntry, std::size_t>>> take_list_entry(ByteSpan bytes);

// The receiving end of a file's stream: `size` content bytes, then their
// SHA-256. DATA frames may cut it anywhere.
class FileStream {
 public:
  // from: a resumed transfer's offset (the content bytes before it are not
  // sent; received() starts there).
  explicit FileStream(std::uint64_t size, std::uint64_t from = 0) noexcept
      : size_(size), received_(from) {}
  // The content bytes within `bytes` (the rest is the digest). Fails with
  // too_large when bytes go beyond the content and its digest, unless
  // `after` is given: it then gets those bytes (a GET's receipt).
  Result<ByteSpan> take(ByteSpan bytes, ByteSpan* after = nullptr);
  // At FIN: fails with truncated unless the content and the digest are complete.
  Result<void> finish() const;
  std::uint64_t size() const noexcept { return size_; }
  std::uint64_t received() const noexcept { return received_; }
  // The digest the sender sent (complete after finish() succeeded).
  const std::array<std::uint8_t, kDigestSize>& digest() const noexcept { return digest_; }

 private:
  std::uint64_t size_;
  std::uint64_t received_;
  std::size_t digest_bytes_ = 0;
  std::array<std::uint8_t, kDigestSize> digest_{};
};

}  // namespace signet::proto
