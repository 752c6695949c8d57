#include "util/error.hpp"

namespace signet {
namespace {

class Category final : public std::error_category {
 public:
  const char* name() const noexcept override { return "signet"; }
  std::string message(int ev) const override {
    switch (static_cast<Errc>(ev)) {
      case Errc::truncated:
        return "input truncated";
      case Errc::malformed:
        return "malformed input";
      case Errc::trailing_data:
        return "unexpected trailing data";
      case Errc::too_large:
        return "length above limit";
      case Errc::bad_magic:
        return "peer does not speak the signet protocol";
      case Errc::bad_version:
        return "unsupported protocol version";
      case Errc::wrong_mode:
        return "peer uses the other mode";
      case Errc::unsupported_mac:
        return "no MAC algorithm in common";
      case Errc::unexpected_frame:
        return "unexpected frame";
      case Errc::key_mismatch:
        return "shared key mismatch";
      case Errc::bad_tag:
        return "authentication tag mismatch (frame tampered, replayed, reordered or reflected)";
      case Errc::not_authorized:
        return "key not authorized";
      case Errc::host_key_changed:
        return "server key changed";
      case Errc::host_key_unknown:
        return "server key not trusted";
      case Errc::handshake_timeout:
        return "handshake timed out";
      case Errc::idle_timeout:
        return "connection idle too long";
      case Errc::peer_closed:
        return "connection closed by peer";
      case Errc::peer_error:
        return "peer reported an error";
      case Errc::refused:
        return "refused by the server";
      case Errc::unreachable:
        return "cannot connect";
      case Errc::busy:
        return "server busy";
      case Errc::unsupported_operation:
        return "operation not supported";
      case Errc::cancelled:
        return "operation cancelled";
      case Errc::config:
        return "configuration error";
      case Errc::io:
        return "I/O error";
      case Errc::not_found:
        return "no such file";
      case Errc::exists:
        return "file exists";
      case Errc::no_space:
        return "no room for the file";
      case Errc::not_verified:
        return "transfer did not verify";
    }
    return "unknown signet error";
  }
};

}  // namespace

const std::error_category& signet_category() noexcept {
  static const Category category;
  return category;
}

std::error_code make_error_code(Errc e) noexcept {
  return {static_cast<int>(e), signet_category()};
}

std::string Error::message() const {
  std::string m = code ? code.message() : std::string("no error");
  if (!detail.empty()) {
    m += ": ";
    m += detail;
  }
  return m;
}

}  // namespace signet
