#include "keys/known_hosts.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <vector>

#include "keys/files.hpp"
#include "keys/ip_address.hpp"
#include "keys/paths.hpp"
#include "keys/public_key_line.hpp"
#include "util/encoding.hpp"
#include "util/file.hpp"

namespace signet::keys {
namespace {

namespace fs = std::filesystem;

constexpr std::size_t kMaxHostNameLength = 253;  // RFC 1035 section 2.3.4, in text form

std::string shown(std::string_view s) {
  return util::escape_for_display(s);
}

Error bad_host(std::string_view host_port, const std::string& why) {
  return Error(Errc::config, "\"" + shown(host_port) + "\" is not HOST:PORT: " + why);
}

// The IPv4 address a numeric host connects to, or nullopt for a name. The
// client dials with getaddrinfo(), which in glibc reads numeric hosts with
// inet_aton(): besides dotted quads it takes "127.1", "0x7f.0.0.1",
// "2130706433" and octal parts ("010.0.0.1" is 8.0.0.1). Asking inet_aton
// itself keys the pin by exactly the address the connection goes to.
// `name` holds only is_host_char characters (no NUL, no blanks).
std::optional<IpAddress> dialled_ipv4(std::string_view name) {
  const std::string z(name);
  in_addr a{};
  if (::inet_aton(z.c_str(), &a) == 0) return std::nullopt;
  return IpAddress::from_bytes(util::ByteSpan(reinterpret_cast<const std::uint8_t*>(&a.s_addr), 4));
}

bool is_host_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

struct Pin {
  std::string host_port;  // normalised
  std::string_view type;
  std::string_view base64;
  std::string_view comment;
};

// The fields of a non-comment line; nullopt if it has fewer than three
// fields or its host does not normalise (such a line cannot name a host we
// would look up, so it is ignored rather than fatal).
std::optional<Pin> split_pin(std::string_view line) {
  std::vector<std::string_view> words;
  std::string_view rest = trim(line);
  for (int i = 0; i < 3 && !rest.empty(); ++i) {
    std::size_t n = 0;
    while (n < rest.size() && rest[n] != ' ' && rest[n] != '\t') ++n;
    words.push_back(rest.substr(0, n));
    rest = trim(rest.substr(n));
  }
  if (words.empty()) return std::nullopt;
  auto host = normalize_host_port(words[0]);
  if (!host) return std::nullopt;
  Pin pin;
  pin.host_port = std::move(*host);
  if (words.size() > 1) pin.type = words[1];
  if (words.size() > 2) pin.base64 = words[2];
  pin.comment = rest;
  return pin;
}

bool is_comment_or_blank(std::string_view line) {
  const std::string_view t = trim(line);
  return t.empty() || t.front() == '#';
}

}  // namespace

Result<std::string> normalize_host_port(std::string_view host_port) {
  if (host_port.empty()) return bad_host(host_port, "empty");
  std::string host;
  std::string_view port_text;
  if (host_port.front() == '[') {
    const auto close = host_port.find(']');
    if (close == std::string_view::npos) return bad_host(host_port, "missing ']'");
    const auto addr = IpAddress::parse(host_port.substr(1, close - 1));
    if (!addr || addr->is_v4()) return bad_host(host_port, "not an IPv6 address in brackets");
    if (close + 1 >= host_port.size() || host_port[close + 1] != ':') {
      return bad_host(host_port, "missing :PORT");
    }
    // A connection to ::ffff:a.b.c.d goes to the IPv4 address a.b.c.d.
    const IpAddress plain = addr->unmapped();
    host = plain.is_v4() ? plain.to_string() : "[" + plain.to_string() + "]";
    port_text = host_port.substr(close + 2);
  } else {
    const auto colon = host_port.rfind(':');
    if (colon == std::string_view::npos) return bad_host(host_port, "missing :PORT");
    const std::string_view name = host_port.substr(0, colon);
    if (name.find(':') != std::string_view::npos) {
      return bad_host(host_port, "an IPv6 address needs brackets, as in [::1]:7000");
    }
    if (name.empty() || name.size() > kMaxHostNameLength ||
        !std::all_of(name.begin(), name.end(), is_host_char)) {
      return bad_host(host_port, "invalid host name");
    }
    if (const auto v4 = dialled_ipv4(name)) {
      host = v4->to_string();
    } else {
      // "example.com." is the fully qualified spelling of "example.com".
      std::string_view bare = name;
      if (bare.back() == '.') bare.remove_suffix(1);
      if (bare.empty() || bare.back() == '.') return bad_host(host_port, "invalid host name");
      // The resolver reads "127.0.0.1." as a name, not as the address: the
      // pin must not say otherwise.
      if (bare != name && dialled_ipv4(bare)) {
        return bad_host(host_port,
                        "a numeric address with a trailing dot is looked up as a "
                        "name; write the address without the dot");
      }
      host.assign(bare);
      std::transform(host.begin(), host.end(), host.begin(),
                     [](char c) { return static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c); });
    }
    port_text = host_port.substr(colon + 1);
  }
  unsigned port = 0;
  const auto [end, ec] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || port_text.size() > 5 || ec != std::errc() ||
      end != port_text.data() + port_text.size() || port == 0 || port > 65535) {
    return bad_host(host_port, "the port must be a number from 1 to 65535");
  }
  return host + ":" + std::to_string(port);
}

namespace {

struct FoundPin {
  crypto::PublicKey key;
  std::size_t line;
};

// A pin is only as good as the file that holds it: like sshd with
// authorized_keys, refuse one that anyone but this user or root could have
// edited, or whose folders they could swap (before reading, and the file as
// read: its stamp).
Error untrusted(const fs::path& path, const Error& why) {
  return Error(why.code,
               why.detail + "; the pins in " + shown(path.string()) + " cannot be trusted");
}

Result<void> check_folders(const fs::path& path) {
  if (auto safe = check_directories_of(path); !safe) return untrusted(path, safe.error());
  return {};
}

Result<void> check_file(const fs::path& path, const util::FileStamp& stamp) {
  if (!stamp.exists) return {};
  if (auto safe = check_private_ownership(stamp, path); !safe) return untrusted(path, safe.error());
  return {};
}

// The first pin for the normalised host `target`, nullopt if none.
Result<std::optional<FoundPin>> find_pin(const fs::path& path, const std::string& target) {
  if (auto safe = check_folders(path); !safe) return safe.error();
  util::FileStamp stamp;
  auto text = util::read_file(path, kMaxKnownHostsSize, &stamp);
  if (!text) return text.error();
  if (!*text) return std::optional<FoundPin>();
  if (auto safe = check_file(path, stamp); !safe) return safe.error();
  std::size_t number = 0;
  for (std::string_view line : split_lines(**text)) {
    ++number;
    if (is_comment_or_blank(line)) continue;
    const auto pin = split_pin(line);
    if (!pin || pin->host_port != target) continue;
    auto pinned = parse_key_fields(pin->type, pin->base64);
    if (!pinned) {
      return Error(Errc::malformed, shown(path.string()) + " line " + std::to_string(number) +
                                        " (for " + target + "): " + pinned.error().detail);
    }
    return std::optional<FoundPin>(FoundPin{std::move(*pinned), number});
  }
  return std::optional<FoundPin>();
}

}  // namespace

Result<std::optional<crypto::PublicKey>> KnownHosts::lookup(std::string_view host_port) const {
  auto target = normalize_host_port(host_port);
  if (!target) return target.error();
  auto found = find_pin(path_, *target);
  if (!found) return found.error();
  if (!*found) return std::optional<crypto::PublicKey>();
  return std::optional<crypto::PublicKey>(std::move((*found)->key));
}

Result<HostCheck> KnownHosts::check(std::string_view host_port,
                                    const crypto::PublicKey& key) const {
  auto target = normalize_host_port(host_port);
  if (!target) return target.error();
  auto found = find_pin(path_, *target);
  if (!found) return found.error();
  HostCheck result;
  if (*found) {
    result.status = (*found)->key == key ? HostStatus::known : HostStatus::changed;
    result.line = (*found)->line;
    result.pinned = std::move((*found)->key);
  }
  return result;
}

Result<void> KnownHosts::add(std::string_view host_port, const crypto::PublicKey& key,
                             std::string_view comment, Replace replace) {
  auto target = normalize_host_port(host_port);
  if (!target) return target.error();
  if (std::any_of(comment.begin(), comment.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    return Error(Errc::config, "a known_hosts comment must be one line of printable text");
  }
  if (auto safe = check_folders(path_); !safe) return safe.error();
  auto lock = util::DirectoryLock::acquire(util::parent_dir(path_));
  if (!lock) return lock.error();
  util::FileStamp stamp;
  auto text = util::read_file(path_, kMaxKnownHostsSize, &stamp);
  if (!text) return text.error();
  if (auto safe = check_file(path_, stamp); !safe) return safe.error();

  const std::string current = text->value_or("");
  std::vector<std::string> kept;
  std::size_t number = 0;
  for (std::string_view line : split_lines(current)) {
    ++number;
    if (!is_comment_or_blank(line)) {
      const auto pin = split_pin(line);
      if (pin && pin->host_port == *target) {
        auto pinned = parse_key_fields(pin->type, pin->base64);
        if (pinned && *pinned == key) return {};  // already pinned
        if (replace == Replace::no) {
          return Error(Errc::host_key_changed,
                       *target + " is pinned to " +
                           (pinned ? pinned->fingerprint() : std::string("a damaged key")) +
                           " in " + shown(path_.string()) + " line " + std::to_string(number) +
                           ", not to " + key.fingerprint());
        }
        continue;  // replaced: drop the old pin
      }
    }
    kept.emplace_back(line);
  }
  std::string line = *target + " " + crypto::format_public_key_line(key, comment);
  kept.push_back(std::move(line));
  std::string out;
  for (const auto& l : kept) {
    out += l;
    out += '\n';
  }
  const unsigned mode = stamp.exists ? stamp.mode & 07777 : 0600;
  return util::write_file_atomic(path_, util::as_bytes(out), mode, util::Overwrite::yes);
}

}  // namespace signet::keys
