// Signed receipts (docs/PROTOCOL.md, "Receipts"): a short canonical
// statement of what a key-mode server accepted, signed by the server's
// identity key as an OpenSSH SSHSIG signature in namespace
// "signet-receipt", so that anyone holding the server's public key can
// check it later, with signet or with `ssh-keygen -Y verify`.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <memory>
#include "channel/channel.hpp"

#include "crypto/primitives.hpp"
#include "crypto/private_key.hpp"
#include "crypto/public_key.hpp"
#include "crypto/secret.hpp"
#include "net/link.hpp"
#include "util/bytes.hpp"
#include "util/error.hpp"
#include "wire/wire.hpp"

namespace signet {

inline constexpr std::string_view kReceiptNamespace = "signet-receipt";
// What a shared-key receipt states as both keys: the connection had none.
inline constexpr std::string_view kSharedKeyName = "shared-key";

// An HMAC-SHA256 key derived from the shared key for one use: HKDF-SHA256
// (salt 32 zero bytes, IKM the shared key, info `label`), 32 bytes. It
// depends on the shared key alone, so what it authenticates can be checked
// later, away from any session, by whoever holds the shared key.
class SharedMacKey {
 public:
  SharedMacKey(const crypto::SecretBytes& psk, std::string_view label);
  // HMAC-SHA256 of text, 64 lowercase hex digits.
  std::string tag_hex(std::string_view text) const;
  // Whether hex is that tag (compared in constant time).
  bool verify_hex(std::string_view text, std::string_view hex) const;

 private:
  crypto::SecretBytes key_;
};

// The key a shared-key server authenticates receipts with: HKDF-SHA256 of
// the shared key (salt 32 zero bytes, info "signet receipt v1"), 32 bytes. Its MAC
// convinces only those who hold the shared key, and any of them (the
// client included) could have made it: a shared-key receipt shows that a
// key holder vouched for the statement, not which one.
class SharedReceiptKey {
 public:
  explicit SharedReceiptKey(const crypto::SecretBytes& psk);
  // FILE.sig's text for statement: "signet-receipt-mac hmac-sha256 <64 hex>\n".
  std::string mac(std::string_view statement) const;
  // Whether `text` is that MAC of statement (compared in constant time).
  bool verify(std::string_view statement, std::string_view text) const;

 private:
  SharedMacKey key_;
};
// Whether a signature text is a shared-key MAC (rather than an SSHSIG).
bool is_shared_key_receipt(std::string_view signature);

// What a receipt states. Hex values are lowercase.
struct ReceiptFacts {
  int protocol = 2;
  std::string server_key;    // "SHA256:..." of the server's identity key, or "shared-key"
  std::string client_key;    // "SHA256:..." of the client's key, or "shared-key"
  std::string session;       // 64 hex digits: the connection's PeerIdentity::session
  std::string time;          // the server's clock, UTC, "2026-12-02T12:34:56Z"
  std::string operation;     // "message", "put" or "get"
  std::string name;          // put, get: the file's name in the served folder
  std::uint64_t size = 0;    // of what was received
  std::string sha256;        // of what was received
  int status = 0;            // the reply's
  std::string reply_sha256;  // of the reply's text
};

// A statement and its armored signature, as the server sends them and the
// client writes them (FILE, FILE.sig).
struct Receipt {
  std::string statement;
  std::string signature;
};

// The statement's text: one "key value" line each, in this order, LF ends
// (a put's or get's has a name line after its operation line).
std::string format_receipt(const ReceiptFacts& f);
// Parses a statement: exactly format_receipt's lines and order (malformed
// otherwise, naming the line), so that one statement has one reading.
Result<ReceiptFacts> parse_receipt(std::string_view statement);
// The time now as a receipt states it.
std::string receipt_time_now();

// What a server states of an operation on a connection: the keys, the
// session and the time come from the connection (peer) and server_key
// (its identity's fingerprint, or kSharedKeyName), the rest from the
// caller (name only for a put or get).
ReceiptFacts server_receipt_facts(std::string server_key, const net::PeerInfo& peer,
                                  std::string operation, std::string name, std::uint64_t size,
                                  const crypto::Sha256Digest& sha256, int status,
                                  std::string_view reply_text);

// Signs facts with the server's key.
Result<Receipt> sign_receipt(const crypto::PrivateKey& key, const ReceiptFacts& facts);
// Authenticates facts with the key derived from the shared key.
Receipt sign_receipt(const SharedReceiptKey& key, const ReceiptFacts& facts);

// What a server vouches for receipts with, chosen per connection: on a
// key-mode connection its identity key, on a shared-key one the key derived
// from the shared key (either may be absent: receipts are then refused on
// such connections).
struct ReceiptKeys {
  std::shared_ptr<const crypto::PrivateKey> identity;
  std::shared_ptr<const SharedReceiptKey> shared;
  // Whether a receipt can be made on a connection with peer.
  bool can_sign(const net::PeerInfo& peer) const;
  // server_receipt_facts, signed (can_sign must hold).
  Result<Receipt> sign(const net::PeerInfo& peer, std::string operation, std::string name,
                       std::uint64_t size, const crypto::Sha256Digest& sha256, int status,
                       std::string_view reply_text) const;
};

// Checks a receipt's signature and that its signer is the server key it
// names (a shared-key receipt: its MAC, with `shared`); returns what it
// states. bad_tag for a signature or MAC that does not verify, not_verified
// for a signer other than the statement's server key or a shared-key
// receipt without the shared key, malformed for a statement that does not
// parse.
Result<ReceiptFacts> check_receipt(const Receipt& r, const SharedReceiptKey* shared = nullptr);

// What a client expects a receipt to state.
struct ReceiptExpected {
  std::string operation;  // "message", "put" or "get"
  std::string name;       // put, get
  std::uint64_t size = 0;
  crypto::Sha256Digest sha256{};
  wire::Reply reply;
};
// What a client checks of the receipt that came with its operation's reply
// (MessageClient::request_with_receipt, FileClient::put and get): the framing, the
// signature (by the server key it names), and that it names `server`'s key
// and session and what was expected. not_verified names the first part
// that differs ("... another session").
// Whether a client connected to `server` can check the receipt it would ask
// for: unsupported_operation when the connection has no session value
// (version 1), config when it is a shared-key connection and shared is none.
Result<void> can_check_receipts(const channel::PeerIdentity& server,
                                const SharedReceiptKey* shared);

// shared: the key a shared-key connection's receipt is checked with.
Result<Receipt> check_receipt_for(util::ByteSpan data, const channel::PeerIdentity& server,
                                  const ReceiptExpected& expected,
                                  const SharedReceiptKey* shared = nullptr);

// The framing of a receipt in DATA: statement length u32 || statement ||
// signature.
util::Bytes encode_receipt(const Receipt& r);
Result<Receipt> decode_receipt(util::ByteSpan bytes);

}  // namespace signet
