// Byte buffers for key material, wiped with OPENSSL_cleanse when released.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace signet::crypto {

// Overwrites b with zeros in a way the compiler cannot elide.
void cleanse(std::span<std::uint8_t> b) noexcept;

// Owns secret bytes; the memory is wiped on destruction and on reassignment.
// Copy is explicit (clone) so that secrets are not duplicated by accident.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::size_t n) : v_(n) {}
  explicit SecretBytes(std::span<const std::uint8_t> b) : v_(b.begin(), b.end()) {}
  SecretBytes(SecretBytes&& o) noexcept : v_(std::move(o.v_)) {}
  SecretBytes& operator=(SecretBytes&& o) noexcept {
    if (this != &o) {
      wipe();
      v_ = std::move(o.v_);
    }
    return *this;
  }
  SecretBytes(const SecretBytes&) = delete;
  SecretBytes& operator=(const SecretBytes&) = delete;
  ~SecretBytes() { wipe(); }

  SecretBytes clone() const { return SecretBytes(std::span<const std::uint8_t>(v_)); }
  std::span<const std::uint8_t> span() const noexcept { return v_; }
  std::span<std::uint8_t> mutable_span() noexcept { return v_; }
  std::size_t size() const noexcept { return v_.size(); }
  bool empty() const noexcept { return v_.empty(); }
  const std::uint8_t* data() const noexcept { return v_.data(); }

 private:
  void wipe() noexcept {
    cleanse(v_);
    v_.clear();
  }
  std::vector<std::uint8_t> v_;
};

}  // namespace signet::crypto
