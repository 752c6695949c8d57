// The SHA-256 of a file that is being sent, when the sending resumes part
// way through.
//
// A sender that resumes at `from` sends only the bytes after it, but must
// still end the stream with the SHA-256 of the whole file, and should learn
// early whether the receiver's part is the same as its own first `from`
// bytes. SourceDigest hashes the whole file in order while the rest is
// sent: bytes sent when the hash has caught up are hashed as they go by;
// until then each step() reads and hashes some of the earlier bytes from
// the file, enough that the hash catches up by the time the last byte is
// sent. So data flows at once, the file is read a second time only for the
// part before `from`, and memory is one buffer while catching up.
//
// Not thread-safe; nothing here waits on anything but the disk.
#pragma once

#include <cstdint>
#include <optional>

#include "crypto/primitives.hpp"
#include "util/bytes.hpp"
#include "util/error.hpp"

namespace signet::files {

class SourceDigest {
 public:
  // fd: the file, open for reading (read with pread only; the caller's
  // own reads are unaffected). size: its size. from: the first byte to be
  // sent. prefix: the SHA-256 the receiver has of the first `from` bytes,
  // when it said one.
  SourceDigest(int fd, std::uint64_t size, std::uint64_t from,
               std::optional<crypto::Sha256Digest> prefix = std::nullopt);

  // The caller sent bytes, which are the file's at offset `at` (in order:
  // each call's `at` is the previous call's end, the first is `from`).
  void sent(util::ByteSpan bytes, std::uint64_t at);
  // Hashes some of the bytes before the ones sent, so that the hash has
  // caught up once `to_send` more bytes are sent. Fails with not_verified
  // ("... changed ...", changed() true) when the file's first `from` bytes
  // do not hash to the prefix given, and with io when reading fails.
  Result<void> step(std::uint64_t to_send);
  // Hashes whatever is left and returns the SHA-256 of the whole file
  // (every byte must have been sent). Fails as step() does.
  Result<crypto::Sha256Digest> finish();

  bool changed() const noexcept { return changed_; }
  // Bytes hashed so far.
  std::uint64_t hashed() const noexcept { return hash_.length(); }

 private:
  Result<void> catch_up(std::uint64_t amount);

  int fd_;
  std::uint64_t size_;
  std::uint64_t from_;
  std::optional<crypto::Sha256Digest> prefix_;
  std::uint64_t sent_end_;  // the end of what has been sent
  crypto::Sha256 hash_;
  util::Bytes buffer_;  // only while catching up
  bool changed_ = false;
};

}  // namespace signet::files
