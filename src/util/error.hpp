// Project error codes and a small Result<T> for expected failures.
//
// Expected failures (bad input from a peer, a wrong key, a timeout, a missing
// file) travel as values; exceptions are kept for bugs and out-of-memory.
#pragma once

#include <string>
#include <system_error>
#include <utility>
#include <variant>

namespace signet {

enum class Errc {
  // Framing and parsing of untrusted bytes.
  truncated = 1,     // input ended before a complete structure
  malformed,         // a field holds a value the format forbids
  trailing_data,     // bytes left over after a complete structure
  too_large,         // a length above the configured limit
  bad_magic,         // the peer does not speak signet
  bad_version,       // the peer speaks another protocol version
  wrong_mode,        // the peer speaks the other mode (shared key vs key mode)
  unsupported_mac,   // no MAC algorithm in common
  unexpected_frame,  // a frame type not allowed at this point
  // Authentication.
  key_mismatch,      // handshake proof wrong: the two sides hold different keys
  bad_tag,           // frame tag wrong: tampered, replayed, reordered or reflected
  not_authorized,    // key mode: the peer's key is not admitted
  host_key_changed,  // key mode: the server's key differs from the pinned one
  host_key_unknown,  // key mode: no pinned key and none may be accepted
  // Session.
  handshake_timeout,
  idle_timeout,
  peer_closed,            // the peer closed the connection
  peer_error,             // the peer sent an error frame
  refused,                // the server answered with a non-zero status
  unreachable,            // could not connect to the server
  busy,                   // the server refuses for lack of capacity
  unsupported_operation,  // the peer does not serve this kind of operation
  cancelled,              // the operation was cancelled (by either side)
  // Local configuration and files.
  config,  // a missing or invalid setting
  io,      // a local file or console operation failed
  // Files (file transfer).
  not_found,     // no such file or folder
  exists,        // the file exists and may not be replaced
  no_space,      // a size limit, or the disk, has no room for the file
  not_verified,  // a transfer's data did not match its size or SHA-256
};

const std::error_category& signet_category() noexcept;
std::error_code make_error_code(Errc e) noexcept;

}  // namespace signet

template <>
struct std::is_error_code_enum<signet::Errc> : std::true_type {};

namespace signet {

// An error code with an optional human detail ("line 4: bad base64").
// The detail never holds secret material.
struct Error {
  std::error_code code;
  std::string detail;
  // True when the peer reported this error (an Error record or ERROR frame
  // it sent, a TLS alert): such an error is never answered.
  bool from_peer = false;

  Error() = default;
  Error(std::error_code c, std::string d = {}) : code(c), detail(std::move(d)) {}
  Error(Errc e, std::string d = {}) : code(make_error_code(e)), detail(std::move(d)) {}

  // "<code message>: <detail>", or the code message alone.
  std::string message() const;
  bool is(Errc e) const noexcept { return code == make_error_code(e); }
};

// Result<T>: a value or an Error. Result<void> carries success or an Error.
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}
  Result(Errc e, std::string detail = {})
      : v_(std::in_place_index<1>, Error(e, std::move(detail))) {}

  bool ok() const noexcept { return v_.index() == 0; }
  explicit operator bool() const noexcept { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : err_(std::move(e)), failed_(true) {}
  Result(Errc e, std::string detail = {}) : err_(e, std::move(detail)), failed_(true) {}

  bool ok() const noexcept { return !failed_; }
  explicit operator bool() const noexcept { return ok(); }
  const Error& error() const { return err_; }

 private:
  Error err_;
  bool failed_ = false;
};

}  // namespace signet
