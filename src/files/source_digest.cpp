#include "files/source_digest.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace signet::files {
namespace {

// The least a step reads: a megabyte costs about a millisecond to hash.
constexpr std::uint64_t kMinStep = 1u << 20;
// The sender's chunk, to spread the catching up over the chunks left.
constexpr std::uint64_t kChunk = 60 * 1024;

}  // namespace

SourceDigest::SourceDigest(int fd, std::uint64_t size, std::uint64_t from,
                           std::optional<crypto::Sha256Digest> prefix)
    : fd_(fd), size_(size), from_(from), prefix_(prefix), sent_end_(from) {
  if (from > size) throw std::invalid_argument("SourceDigest: from past the end");
}

void SourceDigest::sent(util::ByteSpan bytes, std::uint64_t at) {
  if (at != sent_end_) throw std::logic_error("SourceDigest: bytes sent out of order");
  sent_end_ += bytes.size();
  if (hash_.length() == at) hash_.update(bytes);  // caught up: hashed as it goes by
}

Result<void> SourceDigest::step(std::uint64_t to_send) {
  const std::uint64_t behind = sent_end_ - hash_.length();
  if (behind == 0 && !changed_) return {};
  const std::uint64_t chunks_left = to_send / kChunk + 1;
  return catch_up(std::max(kMinStep, behind / chunks_left + 1));
}

Result<crypto::Sha256Digest> SourceDigest::finish() {
  if (sent_end_ != size_) throw std::logic_error("SourceDigest: finished before the end was sent");
  if (auto c = catch_up(sent_end_ - hash_.length()); !c) return c.error();
  return hash_.finish();
}

Result<void> SourceDigest::catch_up(std::uint64_t amount) {
  if (changed_) {
    return Error(Errc::not_verified, "the file changed since the interrupted transfer");
  }
  amount = std::min(amount, sent_end_ - hash_.length());
  if (amount > 0 && buffer_.empty()) buffer_.resize(kMinStep);
  while (amount > 0) {
    std::uint64_t at = hash_.length();
    std::uint64_t want = std::min<std::uint64_t>(amount, buffer_.size());
    // Stop at `from`, to compare the receiver's prefix there.
    if (prefix_ && at < from_) want = std::min(want, from_ - at);
    ssize_t n = 0;
    do {
      n = ::pread(fd_, buffer_.data(), static_cast<std::size_t>(want), static_cast<off_t>(at));
    } while (n < 0 && errno == EINTR);
    if (n < 0) return Error(Errc::io, std::string("cannot read the file: ") + std::strerror(errno));
    if (n == 0) return Error(Errc::io, "the file became shorter while it was sent");
    hash_.update(util::ByteSpan(buffer_.data(), static_cast<std::size_t>(n)));
    amount -= static_cast<std::uint64_t>(n);
    if (prefix_ && hash_.length() == from_) {
      if (!crypto::constant_time_equal(hash_.peek(), *prefix_)) {
        changed_ = true;
        return Error(Errc::not_verified,
                     "the file changed since the interrupted transfer: its first " +
                         std::to_string(from_) + " bytes are not the ones the receiver holds");
      }
      prefix_.reset();
    }
  }
  if (hash_.length() == sent_end_) util::Bytes().swap(buffer_);
  return {};
}

}  // namespace signet::files
