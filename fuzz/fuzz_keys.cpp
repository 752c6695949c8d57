// libFuzzer target: the parsers of untrusted key material (src/crypto/identity
// and src/keys). The first input byte picks the parser (modulo kTargetCount,
// see Target); the rest of the input is what that parser reads.
//
// Oracles beyond "no crash, no leak, no UB" (a violation aborts):
//   - a public key blob that parses is canonical: ssh_blob() gives back the
//     input bytes, the fingerprint is SHA-256 of it, and from_evp on the
//     parsed key rebuilds the same key; enforce accepts exactly the keys
//     display_only accepts that pass check_policy;
//   - a private key that loads has a public half equal to the one derived
//     from its private half, and an openssh-key-v1 body armored as a file
//     loads to the same key through PrivateKey::parse;
//   - a public key line formats (format_line) to a line that parses to the
//     same options, key and comment, and that line is a fixed point;
//   - authorized_keys: every non-comment line is an entry or a warning;
//     every entry reformats to an equal entry, is found by key and
//     fingerprint, and authorize() admits exactly when the entry's own
//     restrictions (expiry, from=, allow=) say so;
//   - known_hosts: lookup returns the key of the first line for the host, or
//     fails with malformed if that line's key is damaged;
//   - IP addresses and networks, host:port and expiry times format back to
//     text that parses to the same value.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crypto/identity.hpp"
#include "crypto/primitives.hpp"
#include "fuzz_common.hpp"
#include "keys/authorized_keys.hpp"
#include "keys/files.hpp"
#include "keys/ip_address.hpp"
#include "keys/known_hosts.hpp"
#include "keys/public_key_line.hpp"
#include "util/encoding.hpp"

namespace {

using namespace signet;
using crypto::KeyPolicy;
using crypto::PrivateKey;
using crypto::PublicKey;
using fuzz::require;
using util::Bytes;
using util::ByteSpan;

// The first input byte, modulo kTargetCount. make_corpus.cpp writes its
// seeds with these values; keep the two in step.
enum class Target : std::uint8_t {
  public_blob = 0,      // PublicKey::from_ssh_blob, both policies
  openssh_binary = 1,   // PrivateKey::from_openssh_binary
  private_file = 2,     // PrivateKey::parse (PEM or armored OpenSSH); bit 3 refuses the passphrase
  key_line = 3,         // keys::parse_public_key_line, both policies
  authorized_keys = 4,  // keys::AuthorizedKeys::parse and authorize
  known_hosts = 5,      // keys::KnownHosts::lookup/check through a temporary file
  ip = 6,               // keys::IpAddress::parse, keys::IpNetwork::parse
  text = 7,             // expiry-time, host:port and options fields
};
constexpr unsigned kTargetCount = 8;

// The passphrase of the encrypted seed in fuzz/corpus/keys (make_corpus.cpp).
constexpr std::string_view kPassphrase = "fuzz passphrase";

constexpr std::string_view kOpensshBegin = "-----BEGIN OPENSSH PRIVATE KEY-----";
constexpr std::string_view kOpensshEnd = "-----END OPENSSH PRIVATE KEY-----";

// authorize() is asked about these peers at this time for every entry.
const std::vector<keys::IpAddress>& peers() {
  static const std::vector<keys::IpAddress> p = {*keys::IpAddress::parse("10.1.2.3"),
                                                 *keys::IpAddress::parse("::ffff:10.1.2.3"),
                                                 *keys::IpAddress::parse("2001:db8::1")};
  return p;
}
const keys::Clock::time_point kNow =
    std::chrono::sys_days{std::chrono::year{2026} / 6 / 1} + std::chrono::hours{12};
constexpr std::array<std::optional<keys::Operation>, 5> kOperations = {
    std::nullopt, keys::Operation::message, keys::Operation::put, keys::Operation::get,
    keys::Operation::chat};

bool same_bytes(const Bytes& a, ByteSpan b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

// Properties every parsed public key has, whatever it was parsed from.
void check_public_key(const PublicKey& key) {
  const auto digest = crypto::sha256({key.ssh_blob()});
  require(key.fingerprint() == "SHA256:" + util::base64_encode_unpadded(digest));
  require(key.ssh_type() == crypto::ssh_type_name(key.type()));
  if (key.type() == crypto::KeyType::rsa) {
    require(key.bits() >= 1024 && key.bits() <= crypto::kMaxRsaBits);
  } else {
    require(key.bits() == 256);
  }
  auto again = PublicKey::from_ssh_blob(key.ssh_blob(), KeyPolicy::display_only);
  require(again && *again == key && again->fingerprint() == key.fingerprint() &&
          again->bits() == key.bits());
  auto rebuilt = PublicKey::from_evp(key.evp(), KeyPolicy::display_only);
  require(rebuilt && *rebuilt == key);
}

void check_private_key(const PrivateKey& key) {
  check_public_key(key.public_key());
  // Loading refuses keys below the RSA minimum.
  require(key.public_key().check_policy().ok());
  // The public half held is the one the private half yields.
  auto derived = PublicKey::from_evp(key.evp(), KeyPolicy::display_only);
  require(derived && *derived == key.public_key());
}

void public_blob(ByteSpan in) {
  auto shown = PublicKey::from_ssh_blob(in, KeyPolicy::display_only);
  auto enforced = PublicKey::from_ssh_blob(in, KeyPolicy::enforce);
  if (!shown) {
    require(!enforced);
    return;
  }
  require(same_bytes(shown->ssh_blob(), in));
  check_public_key(*shown);
  require(enforced.ok() == shown->check_policy().ok());
  if (enforced) {
    require(*enforced == *shown);
  } else {
    require(enforced.error().is(Errc::not_authorized));
  }
  // As the line of a .pub file.
  auto line = keys::parse_public_key_line(crypto::format_public_key_line(*shown, "fuzz@example"),
                                          KeyPolicy::display_only);
  require(line && line->key == *shown && line->comment == "fuzz@example" && line->options.empty());
}

void openssh_binary(ByteSpan in) {
  auto key = PrivateKey::from_openssh_binary(in);
  if (!key) return;
  check_private_key(*key);
  // The same body, armored as a key file, loads to the same key.
  const std::string file = std::string(kOpensshBegin) + "\n" + util::base64_encode(in) + "\n" +
                           std::string(kOpensshEnd) + "\n";
  auto loaded = PrivateKey::parse(util::as_bytes(file), {}, "fuzz");
  require(loaded && loaded->public_key() == key->public_key() &&
          loaded->comment() == key->comment());
}

void private_file(ByteSpan in, bool refuse_passphrase) {
  int calls = 0;
  const crypto::PassphraseProvider provider =
      [&calls, refuse_passphrase](const std::filesystem::path&) -> Result<crypto::SecretBytes> {
    ++calls;
    if (refuse_passphrase) return Error(Errc::config, "no passphrase");
    return crypto::SecretBytes(util::as_bytes(kPassphrase));
  };
  auto key = PrivateKey::parse(in, provider, "fuzz.pem");
  // The provider is asked at most once (it may prompt the user).
  require(calls <= 1);
  if (key) check_private_key(*key);
}

bool same_options(const std::vector<keys::KeyOption>& a, const std::vector<keys::KeyOption>& b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const keys::KeyOption& x, const keys::KeyOption& y) {
                      return x.name == y.name && x.value == y.value;
                    });
}

bool same_line(const keys::PublicKeyLine& a, const keys::PublicKeyLine& b) {
  return a.options == b.options && same_options(a.parsed_options, b.parsed_options) &&
         a.key == b.key && a.comment == b.comment;
}

void key_line(std::string_view text) {
  auto shown = keys::parse_public_key_line(text, KeyPolicy::display_only);
  auto enforced = keys::parse_public_key_line(text, KeyPolicy::enforce);
  if (!shown) {
    require(!enforced);
    return;
  }
  check_public_key(shown->key);
  require(enforced.ok() == shown->key.check_policy().ok());
  if (enforced) require(same_line(*enforced, *shown));
  if (!shown->options.empty()) {
    auto options = keys::parse_options(shown->options);
    require(options && same_options(*options, shown->parsed_options));
  }
  const std::string formatted = keys::format_line(*shown);
  auto again = keys::parse_public_key_line(formatted, KeyPolicy::display_only);
  require(again && same_line(*again, *shown));
  require(keys::format_line(*again) == formatted);
}

bool is_comment_or_blank(std::string_view line) {
  const std::string_view t = keys::trim(line);
  return t.empty() || t.front() == '#';
}

bool same_entry(const keys::AuthorizedKey& a, const keys::AuthorizedKey& b) {
  if (!(a.key == b.key) || a.comment != b.comment || a.options != b.options ||
      a.expiry != b.expiry || a.from_text != b.from_text || a.from.size() != b.from.size() ||
      a.allow.has_value() != b.allow.has_value() || a.line != b.line) {
    return false;
  }
  if (a.allow && a.allow->to_string() != b.allow->to_string()) return false;
  for (std::size_t i = 0; i < a.from.size(); ++i) {
    if (a.from[i].to_string() != b.from[i].to_string()) return false;
  }
  return true;
}

void check_authorize(const keys::AuthorizedKeys& keys, const keys::AuthorizedKey& e) {
  for (const keys::IpAddress& peer : peers()) {
    const bool expired = e.expiry && kNow >= *e.expiry;
    const bool in_from =
        e.from.empty() || std::any_of(e.from.begin(), e.from.end(),
                                      [&](const keys::IpNetwork& n) { return n.contains(peer); });
    for (const auto& op : kOperations) {
      auto by_key = keys.authorize(e.key, peer, kNow, op);
      require(by_key.ok() == (!expired && in_from && (!op || e.allows(*op))));
      require(by_key.ok() == e.check(peer, kNow, op).ok());
      if (by_key) {
        require(by_key->line == e.line && by_key->key == e.key);
      } else {
        require(by_key.error().is(Errc::not_authorized));
      }
      auto by_fingerprint = keys.authorize(e.fingerprint(), peer, kNow, op);
      require(by_fingerprint.ok() == by_key.ok());
    }
  }
  // An IPv4-mapped peer matches IPv4 networks exactly as the IPv4 peer does.
  for (const keys::IpNetwork& n : e.from) {
    const std::string s = n.to_string();
    if (s.find(':') == std::string::npos) require(n.contains(peers()[0]) == n.contains(peers()[1]));
  }
}

void authorized_keys(std::string_view text) {
  const auto keys = keys::AuthorizedKeys::parse(text);
  const auto lines = keys::split_lines(text);
  const auto candidates = static_cast<std::size_t>(
      std::count_if(lines.begin(), lines.end(), [](auto l) { return !is_comment_or_blank(l); }));
  const auto skipped = static_cast<std::size_t>(std::count_if(
      keys.warnings().begin(), keys.warnings().end(), [](const auto& w) { return w.skipped; }));
  require(keys.entries().size() + skipped == candidates);
  for (const auto& w : keys.warnings()) require(w.line >= 1 && w.line <= lines.size());

  std::size_t previous = 0;
  for (const keys::AuthorizedKey& e : keys.entries()) {
    require(e.line > previous && e.line <= lines.size());
    previous = e.line;
    require(keys.find(e.key) == &e && keys.find(e.fingerprint()) == &e);
    check_public_key(e.key);
    require(e.key.check_policy().ok());
    // The entry, written back as a line, parses to the same entry.
    const keys::PublicKeyLine as_line{e.options, {}, e.key, e.comment};
    auto again = keys::parse_authorized_key(keys::format_line(as_line), e.line);
    require(again && same_entry(*again, e));
    check_authorize(keys, e);
  }
}

// The per-process file that KnownHosts reads (it has no parser for text in
// memory): created once in /tmp and unlinked at once, so that nothing is left
// behind however the process ends; KnownHosts opens it as /proc/self/fd/N.
class KnownHostsFile {
 public:
  static KnownHostsFile& get() {
    static KnownHostsFile file;
    return file;
  }
  const std::filesystem::path& path() const { return path_; }
  void write(std::string_view text) {
    require(::ftruncate(fd_, 0) == 0);
    std::size_t done = 0;
    while (done < text.size()) {
      const ssize_t n =
          ::pwrite(fd_, text.data() + done, text.size() - done, static_cast<off_t>(done));
      require(n > 0);
      done += static_cast<std::size_t>(n);
    }
  }

 private:
  KnownHostsFile() {
    std::string name = "/tmp/signet-fuzz-known_hosts-XXXXXX";
    fd_ = ::mkstemp(name.data());
    require(fd_ >= 0 && ::unlink(name.c_str()) == 0);
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  int fd_ = -1;
  std::filesystem::path path_;
};

struct HostLine {
  std::size_t number = 0;
  std::string_view host;  // as written
  std::string_view type;
  std::string_view base64;
};

// The first three blank-separated words of each pin line, as documented in
// known_hosts.hpp.
std::vector<HostLine> host_lines(std::string_view text) {
  std::vector<HostLine> out;
  std::size_t number = 0;
  for (std::string_view line : keys::split_lines(text)) {
    ++number;
    if (is_comment_or_blank(line)) continue;
    std::array<std::string_view, 3> words{};
    std::string_view rest = keys::trim(line);
    for (auto& w : words) {
      std::size_t n = 0;
      while (n < rest.size() && rest[n] != ' ' && rest[n] != '\t') ++n;
      w = rest.substr(0, n);
      rest = keys::trim(rest.substr(n));
    }
    out.push_back({number, words[0], words[1], words[2]});
  }
  return out;
}

void known_hosts(std::string_view text) {
  auto& file = KnownHostsFile::get();
  file.write(text);
  const keys::KnownHosts hosts(file.path());
  const auto lines = host_lines(text);
  // Look up the hosts of the first few lines: each lookup re-reads the file.
  const std::size_t lookups = std::min<std::size_t>(lines.size(), 8);
  for (std::size_t i = 0; i < lookups; ++i) {
    auto found = hosts.lookup(lines[i].host);
    auto target = keys::normalize_host_port(lines[i].host);
    if (!target) {
      require(!found && found.error().is(Errc::config));
      continue;
    }
    auto twice = keys::normalize_host_port(*target);
    require(twice && *twice == *target);
    // The first line for this host decides.
    const HostLine* first = nullptr;
    for (std::size_t j = 0; j <= i && first == nullptr; ++j) {
      auto host = keys::normalize_host_port(lines[j].host);
      if (host && *host == *target) first = &lines[j];
    }
    require(first != nullptr);
    auto expected = keys::parse_key_fields(first->type, first->base64);
    if (!expected) {
      require(!found && found.error().is(Errc::malformed));
      continue;
    }
    require(found && *found && **found == *expected);
    auto checked = hosts.check(*target, *expected);
    require(checked && checked->status == keys::HostStatus::known &&
            checked->line == first->number && checked->pinned && *checked->pinned == *expected);
  }
}

void ip(std::string_view text) {
  const auto addr = keys::IpAddress::parse(text);
  const auto net = keys::IpNetwork::parse(text);
  if (addr) {
    const std::string s = addr->to_string();
    const auto again = keys::IpAddress::parse(s);
    require(again && *again == *addr && again->to_string() == s);
    const auto copy = keys::IpAddress::from_bytes(addr->bytes());
    require(copy && *copy == *addr);
    const keys::IpAddress plain = addr->unmapped();
    require(plain.unmapped() == plain);
    if (addr->is_v4()) require(plain == *addr);
    // An address alone is a network of one address.
    require(net && net->to_string() == s && net->contains(*addr));
  }
  if (net) {
    const std::string s = net->to_string();
    const auto again = keys::IpNetwork::parse(s);
    require(again && again->to_string() == s);
    const auto base = keys::IpAddress::parse(text.substr(0, text.find('/')));
    require(base && net->contains(*base));
    if (base->is_v4()) {
      Bytes mapped = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
      mapped.insert(mapped.end(), base->bytes().begin(), base->bytes().end());
      require(net->contains(*keys::IpAddress::from_bytes(mapped)));
    }
  }
}

void text(std::string_view in) {
  if (const auto t = keys::parse_expiry_time(in)) {
    // "YYYY-MM-DDTHH:MM:SSZ" back to "YYYYMMDDHHMMSS".
    const std::string shown = keys::format_utc(*t);
    std::string digits;
    std::copy_if(shown.begin(), shown.end(), std::back_inserter(digits),
                 [](char c) { return c >= '0' && c <= '9'; });
    require(shown.size() == 20 && digits.size() == 14);
    require(keys::parse_expiry_time(digits) == t && keys::parse_expiry_time(digits + "Z") == t);
  }
  if (const auto host = keys::normalize_host_port(in)) {
    const auto again = keys::normalize_host_port(*host);
    require(again && *again == *host);
  }
  if (const auto options = keys::parse_options(in)) {
    for (const auto& o : *options) {
      require(!o.name.empty() && std::none_of(o.name.begin(), o.name.end(),
                                              [](char c) { return c >= 'A' && c <= 'Z'; }));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const ByteSpan in(data + 1, size - 1);
  const std::string_view chars = util::as_chars(in);
  switch (static_cast<Target>(data[0] % kTargetCount)) {
    case Target::public_blob:
      public_blob(in);
      break;
    case Target::openssh_binary:
      openssh_binary(in);
      break;
    case Target::private_file:
      private_file(in, (data[0] & 0x08) != 0);
      break;
    case Target::key_line:
      key_line(chars);
      break;
    case Target::authorized_keys:
      authorized_keys(chars);
      break;
    case Target::known_hosts:
      known_hosts(chars);
      break;
    case Target::ip:
      ip(chars);
      break;
    case Target::text:
      text(chars);
      break;
  }
  return 0;
}
