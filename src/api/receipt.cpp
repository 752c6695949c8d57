#include "api/receipt.hpp"

#include <algorithm>
#include <ctime>
#include <vector>

#include "crypto/mac.hpp"
#include "crypto/primitives.hpp"
#include "crypto/sshsig.hpp"
#include "util/encoding.hpp"

namespace signet {
namespace {

constexpr std::string_view kHeader = "signet receipt v1";
constexpr std::string_view kMacPrefix = "signet-receipt-mac hmac-sha256 ";
constexpr std::string_view kSharedKeyInfo = "signet receipt v1";
// The most a statement's value may hold; far above any real one.
constexpr std::size_t kMaxStatement = 4096;

bool is_hex(std::string_view s, std::size_t n) {
  if (s.size() != n) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

// "SHA256:" and 43 characters of unpadded base64, as ssh-keygen -l prints.
bool is_fingerprint(std::string_view s) {
  if (s.size() != 50 || s.substr(0, 7) != "SHA256:") return false;
  for (char c : s.substr(7)) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '+' || c == '/';
    if (!ok) return false;
  }
  return true;
}

Result<std::uint64_t> number(std::string_view s, std::string_view what) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0')) {
    return Error(Errc::malformed, "receipt " + std::string(what) + " is not a number");
  }
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') {
      return Error(Errc::malformed, "receipt " + std::string(what) + " is not a number");
    }
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (UINT64_MAX - d) / 10) {
      return Error(Errc::malformed, "receipt " + std::string(what) + " is too large");
    }
    v = v * 10 + d;
  }
  return v;
}

// put and get name their file.
bool names_file(std::string_view operation) {
  return operation == "put" || operation == "get";
}

}  // namespace

SharedMacKey::SharedMacKey(const crypto::SecretBytes& psk, std::string_view label) : key_(32) {
  // No salt: RFC 5869's default, HashLen zero bytes.
  const std::array<std::uint8_t, 32> salt{};
  crypto::hkdf_sha256(salt, psk.span(), util::as_bytes(label), key_.mutable_span());
}

std::string SharedMacKey::tag_hex(std::string_view text) const {
  crypto::Mac m(crypto::MacAlgorithm::hmac_sha256, key_.span());
  std::array<std::uint8_t, 32> tag{};
  m.compute({util::as_bytes(text)}, tag);
  return util::to_hex(tag);
}

bool SharedMacKey::verify_hex(std::string_view text, std::string_view hex) const {
  auto tag = util::from_hex(hex);
  if (hex.size() != 64 || !tag || tag->size() != 32) return false;
  crypto::Mac m(crypto::MacAlgorithm::hmac_sha256, key_.span());
  return m.verify({util::as_bytes(text)}, *tag);
}

SharedReceiptKey::SharedReceiptKey(const crypto::SecretBytes& psk) : key_(psk, kSharedKeyInfo) {}

std::string SharedReceiptKey::mac(std::string_view statement) const {
  return std::string(kMacPrefix) + key_.tag_hex(statement) + "\n";
}

bool SharedReceiptKey::verify(std::string_view statement, std::string_view text) const {
  // Whitespace after the hex digits is allowed, as after an SSHSIG's armor.
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  if (!is_shared_key_receipt(text)) return false;
  return key_.verify_hex(statement, text.substr(kMacPrefix.size()));
}

bool is_shared_key_receipt(std::string_view signature) {
  return signature.substr(0, kMacPrefix.size()) == kMacPrefix;
}

std::string format_receipt(const ReceiptFacts& f) {
  std::string s(kHeader);
  s += '\n';
  auto line = [&s](std::string_view k, const std::string& v) {
    s.append(k);
    s += ' ';
    s += v;
    s += '\n';
  };
  line("protocol", std::to_string(f.protocol));
  line("server-key", f.server_key);
  line("client-key", f.client_key);
  line("session", f.session);
  line("time", f.time);
  line("operation", f.operation);
  if (names_file(f.operation)) line("name", f.name);
  line("size", std::to_string(f.size));
  line("sha256", f.sha256);
  line("status", std::to_string(f.status));
  line("reply-sha256", f.reply_sha256);
  return s;
}

Result<ReceiptFacts> parse_receipt(std::string_view statement) {
  if (statement.size() > kMaxStatement) return Error(Errc::too_large, "receipt statement");
  const std::string_view whole = statement;
  std::vector<std::string_view> lines;
  while (!statement.empty()) {
    const auto nl = statement.find('\n');
    if (nl == std::string_view::npos) {
      return Error(Errc::malformed, "receipt statement: the last line has no line end");
    }
    lines.push_back(statement.substr(0, nl));
    statement.remove_prefix(nl + 1);
  }
  static constexpr std::string_view kKeys[] = {"protocol", "server-key",  "client-key", "session",
                                               "time",     "operation",   "size",       "sha256",
                                               "status",   "reply-sha256"};
  // A put's or get's statement has its file's name after the operation line.
  std::string name;
  constexpr std::size_t kNameLine = 7;  // after the header and six lines
  if (lines.size() == 2 + std::size(kKeys) && lines[kNameLine].substr(0, 5) == "name ") {
    name = std::string(lines[kNameLine].substr(5));
    lines.erase(lines.begin() + kNameLine);
  }
  if (lines.size() != 1 + std::size(kKeys) || lines[0] != kHeader) {
    return Error(Errc::malformed, "not a signet receipt v1 statement");
  }
  std::string_view v[std::size(kKeys)];
  for (std::size_t i = 0; i < std::size(kKeys); ++i) {
    const auto l = lines[i + 1];
    if (l.size() <= kKeys[i].size() + 1 || l.substr(0, kKeys[i].size()) != kKeys[i] ||
        l[kKeys[i].size()] != ' ') {
      return Error(Errc::malformed,
                   "receipt line " + std::to_string(i + 2) + " is not " + std::string(kKeys[i]));
    }
    v[i] = l.substr(kKeys[i].size() + 1);
  }
  ReceiptFacts f;
  auto protocol = number(v[0], "protocol");
  if (!protocol) return protocol.error();
  f.protocol = static_cast<int>(std::min<std::uint64_t>(*protocol, 255));
  f.server_key = std::string(v[1]);
  f.client_key = std::string(v[2]);
  if (!is_hex(v[3], 64)) return Error(Errc::malformed, "receipt session is not 64 hex digits");
  f.session = std::string(v[3]);
  f.time = std::string(v[4]);
  f.operation = std::string(v[5]);
  f.name = std::move(name);
  auto size = number(v[6], "size");
  if (!size) return size.error();
  f.size = *size;
  if (!is_hex(v[7], 64)) return Error(Errc::malformed, "receipt sha256 is not 64 hex digits");
  f.sha256 = std::string(v[7]);
  auto status = number(v[8], "status");
  if (!status || *status > 255) return Error(Errc::malformed, "receipt status is not 0..255");
  f.status = static_cast<int>(*status);
  if (!is_hex(v[9], 64)) {
    return Error(Errc::malformed, "receipt reply-sha256 is not 64 hex digits");
  }
  f.reply_sha256 = std::string(v[9]);
  // One statement, one text: what does not come back the same is refused.
  const bool shared = f.server_key == kSharedKeyName && f.client_key == kSharedKeyName;
  if (!shared && (!is_fingerprint(f.server_key) || !is_fingerprint(f.client_key))) {
    return Error(Errc::malformed,
                 "receipt keys are not SHA256: fingerprints (or both \"shared-key\")");
  }
  if (f.time.size() != 20 || f.time[10] != 'T' || f.time.back() != 'Z') {
    return Error(Errc::malformed, "receipt time is not YYYY-MM-DDTHH:MM:SSZ");
  }
  if (f.operation != "message" && !names_file(f.operation)) {
    return Error(Errc::malformed, "receipt operation " + util::escape_for_display(f.operation));
  }
  if (names_file(f.operation) == f.name.empty()) {
    return Error(Errc::malformed,
                 "a receipt names a file exactly when its operation is put or get");
  }
  if (format_receipt(f) != whole) {
    return Error(Errc::malformed, "receipt statement is not in canonical form");
  }
  return f;
}

std::string receipt_time_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

ReceiptFacts server_receipt_facts(std::string server_key, const net::PeerInfo& peer,
                                  std::string operation, std::string name, std::uint64_t size,
                                  const crypto::Sha256Digest& sha256, int status,
                                  std::string_view reply_text) {
  ReceiptFacts f;
  f.protocol = peer.protocol;
  f.server_key = std::move(server_key);
  f.client_key =
      peer.identity.fingerprint.empty() ? std::string(kSharedKeyName) : peer.identity.fingerprint;
  f.session = util::to_hex(peer.identity.session);
  f.time = receipt_time_now();
  f.operation = std::move(operation);
  f.name = std::move(name);
  f.size = size;
  f.sha256 = util::to_hex(sha256);
  f.status = status;
  f.reply_sha256 = util::to_hex(crypto::sha256({util::as_bytes(reply_text)}));
  return f;
}

Result<Receipt> sign_receipt(const crypto::PrivateKey& key, const ReceiptFacts& facts) {
  Receipt r;
  r.statement = format_receipt(facts);
  auto sig = crypto::sshsig_sign(key, kReceiptNamespace, util::as_bytes(r.statement));
  if (!sig) return sig.error();
  r.signature = std::move(*sig);
  return r;
}

Receipt sign_receipt(const SharedReceiptKey& key, const ReceiptFacts& facts) {
  Receipt r;
  r.statement = format_receipt(facts);
  r.signature = key.mac(r.statement);
  return r;
}

bool ReceiptKeys::can_sign(const net::PeerInfo& peer) const {
  if (peer.identity.session.empty()) return false;
  return peer.identity.fingerprint.empty() ? shared != nullptr : identity != nullptr;
}

Result<Receipt> ReceiptKeys::sign(const net::PeerInfo& peer, std::string operation,
                                  std::string name, std::uint64_t size,
                                  const crypto::Sha256Digest& sha256, int status,
                                  std::string_view reply_text) const {
  if (!can_sign(peer)) throw std::logic_error("no key for a receipt on this connection");
  if (peer.identity.fingerprint.empty()) {
    return sign_receipt(
        *shared, server_receipt_facts(std::string(kSharedKeyName), peer, std::move(operation),
                                      std::move(name), size, sha256, status, reply_text));
  }
  return sign_receipt(*identity, server_receipt_facts(identity->public_key().fingerprint(), peer,
                                                      std::move(operation), std::move(name), size,
                                                      sha256, status, reply_text));
}

Result<ReceiptFacts> check_receipt(const Receipt& r, const SharedReceiptKey* shared) {
  if (is_shared_key_receipt(r.signature)) {
    if (shared == nullptr) {
      return Error(Errc::not_verified,
                   "a shared-key receipt: only the shared key checks it (SHARED_SECRET_KEY or "
                   "--psk-file)");
    }
    if (!shared->verify(r.statement, r.signature)) {
      return Error(Errc::bad_tag, "the receipt's MAC does not verify with this shared key");
    }
    auto facts = parse_receipt(r.statement);
    if (!facts) return facts.error();
    if (facts->server_key != kSharedKeyName) {
      return Error(Errc::not_verified, "a MAC on a receipt that names a server key");
    }
    return facts;
  }
  auto signer = crypto::sshsig_verify(r.signature, kReceiptNamespace, util::as_bytes(r.statement));
  if (!signer) return signer.error();
  auto facts = parse_receipt(r.statement);
  if (!facts) return facts.error();
  if (signer->fingerprint() != facts->server_key) {
    return Error(Errc::not_verified, "the receipt is signed by " + signer->fingerprint() +
                                         ", not by the server key it names, " +
                                         util::escape_for_display(facts->server_key));
  }
  return facts;
}

Result<void> can_check_receipts(const channel::PeerIdentity& server,
                                const SharedReceiptKey* shared) {
  if (server.session.empty()) {
    return Error(Errc::unsupported_operation,
                 "this connection has no session value, which receipts are bound to");
  }
  if (server.fingerprint.empty() && shared == nullptr) {
    return Error(Errc::config, "checking a shared-key server's receipt needs the shared key");
  }
  return {};
}

Result<Receipt> check_receipt_for(util::ByteSpan data, const channel::PeerIdentity& server,
                                  const ReceiptExpected& expected, const SharedReceiptKey* shared) {
  if (data.empty()) return Error(Errc::not_verified, "the server answered without a receipt");
  auto receipt = decode_receipt(data);
  if (!receipt) return receipt.error();
  // A key-mode receipt is checked only by the server's key, a shared-key
  // one only by the shared key: never the one in place of the other.
  const bool shared_mode = server.fingerprint.empty();
  if (shared_mode != is_shared_key_receipt(receipt->signature)) {
    return Error(Errc::not_verified, shared_mode ? "a shared-key server sent a signed receipt"
                                                 : "a key-mode server sent a shared-key receipt");
  }
  auto facts = check_receipt(*receipt, shared);
  if (!facts) return facts.error();
  const std::string server_key = shared_mode ? std::string(kSharedKeyName) : server.fingerprint;
  const char* differs = nullptr;
  if (facts->server_key != server_key) {
    differs = "server key";
  } else if (facts->session != util::to_hex(server.session)) {
    differs = "session";
  } else if (facts->operation != expected.operation) {
    differs = "operation";
  } else if (facts->name != expected.name) {
    differs = "file name";
  } else if (facts->size != expected.size || facts->sha256 != util::to_hex(expected.sha256)) {
    differs = names_file(expected.operation) ? "file" : "message";
  } else if (facts->status != expected.reply.status ||
             facts->reply_sha256 !=
                 util::to_hex(crypto::sha256({util::as_bytes(expected.reply.text)}))) {
    differs = "reply";
  }
  if (differs != nullptr) {
    return Error(Errc::not_verified, std::string("the receipt names another ") + differs);
  }
  return receipt;
}

util::Bytes encode_receipt(const Receipt& r) {
  util::Bytes out(4 + r.statement.size() + r.signature.size());
  util::store_u32(out.data(), static_cast<std::uint32_t>(r.statement.size()));
  std::copy(r.statement.begin(), r.statement.end(), out.begin() + 4);
  std::copy(r.signature.begin(), r.signature.end(),
            out.begin() + 4 + static_cast<std::ptrdiff_t>(r.statement.size()));
  return out;
}

Result<Receipt> decode_receipt(util::ByteSpan bytes) {
  util::Reader rd(bytes);
  std::uint32_t n = 0;
  util::ByteSpan statement;
  if (!rd.read_u32(n) || n > kMaxStatement || !rd.read_bytes(n, statement)) {
    return Error(Errc::malformed, "a receipt cut short or with a statement over 4096 bytes");
  }
  const auto sig = rd.rest();
  if (sig.size() > crypto::kMaxSshsigArmorSize) return Error(Errc::too_large, "receipt signature");
  return Receipt{std::string(util::as_chars(statement)), std::string(util::as_chars(sig))};
}

}  // namespace signet
