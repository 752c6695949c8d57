// Key mode: TLS 1.3 channels authenticated by pinned public keys, without I/O
// (docs/PROTOCOL.md, "Key mode").
//
// Both sides present a self-signed X.509 certificate made in memory from their
// identity key. The certificate is only a carrier for the key: no CA, name,
// date or signature on it is looked at. A server admits a client whose key
// its ClientKeyCheck admits (authorized_keys with its restrictions, built by
// src/api); a client accepts a server whose key its ServerKeyCheck accepts
// (known_hosts, in the CLI); neither channel knows those files. The SSL
// objects run over a BIO that reads the bytes given to receive() and appends
// what TLS writes to the caller's output, so the network layer drives these
// channels exactly like the shared-key ones.
//
// Contexts are built once (certificate, key, SSL_CTX) and shared by every
// connection and thread; a channel belongs to one connection and one thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "channel/channel.hpp"
#include "channel/frame_codec.hpp"
#include "channel/psk_channel.hpp"
#include "crypto/identity.hpp"
#include "crypto/secret.hpp"

struct ssl_st;
struct ssl_ctx_st;

namespace signet::channel {

// The frame a key-mode client sends first to prove it also holds the shared
// key: type 0x04, payload HMAC-SHA256(psk, TLS exporter value) (RFC 8446
// section 7.5), the exporter called with kPskBindingLabel, an empty context
// and length kPskBindingSize. Only ever the first frame on the connection.
inline constexpr std::uint8_t kPskBindingFrameType = 0x04;
inline constexpr std::string_view kPskBindingLabel = "EXPORTER-signet-psk-binding";
inline constexpr std::size_t kPskBindingSize = 32;
// PeerIdentity::session: the TLS exporter value with this label, no context.
inline constexpr std::string_view kSessionLabel = "EXPORTER-signet-session";
inline constexpr std::size_t kSessionSize = 32;

// The TLS alert (RFC 8446 section 6.2) a server sends when it refuses the
// client's key, and a client when it refuses the server's: bad_certificate.
// OpenSSL 3.0 turns a verify callback's X509_V_ERR_CERT_REJECTED into it; it
// has no way to send access_denied from there.
inline constexpr std::uint8_t kKeyRefusedAlert = 42;

// The ALPN protocol id (RFC 7301) that selects application protocol version
// 2 in key mode. A connection without ALPN speaks version 1.
inline constexpr std::string_view kAlpnProtocol2 = "signet/2";

namespace detail {
struct SslCtxFree {
  void operator()(ssl_ctx_st* p) const noexcept;
};
struct SslFree {
  void operator()(ssl_st* p) const noexcept;
};
using SslCtxPtr = std::unique_ptr<ssl_ctx_st, SslCtxFree>;
using SslPtr = std::unique_ptr<ssl_st, SslFree>;
struct TlsCallbacks;  // OpenSSL's callbacks, in tls_channel.cpp
}  // namespace detail

// --- Server ------------------------------------------------------------------

// What a ClientKeyCheck returns for a client key it admits; the channel's
// PeerIdentity gets these next to the key's fingerprint.
struct ClientAdmission {
  std::string comment;       // PeerIdentity::comment
  OperationCheck authorize;  // PeerIdentity::authorize; empty: every operation
  std::string folder;        // PeerIdentity::folder; empty: the whole served folder
};

// Decides whether a client key may connect. Runs while the client's
// Certificate is processed, inside the handshake (as ServerKeyCheck does on
// the other side), with a key that passed crypto's key policy. An Error
// refuses the client: the server's receive() fails with that Error (what the
// server logs), and the client gets the bad_certificate alert
// (kKeyRefusedAlert) and says not_authorized_message(). An admission takes
// effect only if the handshake completes: the client proves that it holds
// the key afterwards (CertificateVerify). It must not block.
//
// Each channel gets its own, not the context, because the decision may
// depend on what only the layer above knows of the connection (in signet,
// the client's address, for authorized_keys from=):
// signet::authorized_keys_check (src/api) builds it.
using ClientKeyCheck = std::function<Result<ClientAdmission>(const crypto::PublicKey& client_key)>;

struct TlsServerSettings {
  // The shared key a client's binding frame is checked against; null: none
  // (a binding frame is then read and ignored).
  std::shared_ptr<const crypto::SecretBytes> psk;
  // Refuse a client that does not send a valid binding frame first (needs psk).
  bool require_psk = false;
  std::uint32_t max_payload = wire::kDefaultMaxPayload;
  // The highest application protocol version to accept: 2 selects ALPN
  // kAlpnProtocol2 when a client offers it; 1 never selects it.
  int max_protocol = 2;
};

class TlsServerContext {
 public:
  // create makes the certificate and the SSL_CTX. Fails with config when the
  // settings are incomplete (require_psk without a psk)
  // and io when OpenSSL refuses the key or the parameters.
  static Result<std::shared_ptr<const TlsServerContext>> create(const crypto::PrivateKey& identity,
                                                                TlsServerSettings settings);

  const crypto::PublicKey& identity() const noexcept { return identity_; }
  const TlsServerSettings& settings() const noexcept { return settings_; }

 private:
  friend class TlsServerChannel;
  TlsServerContext(detail::SslCtxPtr ctx, crypto::PublicKey identity, TlsServerSettings settings);

  detail::SslCtxPtr ctx_;
  crypto::PublicKey identity_;
  TlsServerSettings settings_;
};

// --- Client ------------------------------------------------------------------

// What a ServerKeyCheck decided about a key it does not refuse.
enum class ServerKeyTrust {
  trusted,  // the expected key (pinned, or named out of band)
  // Not known yet, but it may be trusted: the handshake goes on and
  // TlsClientSettings::confirm_server_key decides once the server has proved
  // that it holds the key. Nothing may be pinned before that: when the check
  // runs (RFC 8446 section 4.4.2, the Certificate message), the signature
  // over the handshake (CertificateVerify) has not been checked yet.
  confirm,
};

// Runs while the server's Certificate is processed, inside the handshake:
// decides at once whether the key is the expected one. An Error (for
// example host_key_changed) aborts the handshake with that Error. It must
// not block: the handshake is in progress.
using ServerKeyCheck = std::function<Result<ServerKeyTrust>(const crypto::PublicKey& server_key)>;
// Runs after the handshake has completed (the server proved it holds the
// key) and its last flight has been sent, for a key the check answered
// `confirm`: the place to pin the key, or to ask a person (it may block).
// An Error closes the connection before any message is sent.
using ServerKeyConfirm = std::function<Result<void>(const crypto::PublicKey& server_key)>;

struct TlsClientSettings {
  ServerKeyCheck check_server_key;  // required: without it every server is refused
  // Required if check_server_key can answer `confirm`; without it such a key is refused.
  ServerKeyConfirm confirm_server_key;
  // Sent as a binding frame right after the handshake when set.
  std::shared_ptr<const crypto::SecretBytes> psk;
  std::uint32_t max_payload = wire::kDefaultMaxPayload;
  // 2: offer ALPN kAlpnProtocol2 (a server that does not select it speaks
  // version 1); 1: offer no ALPN, as the first release did.
  int max_protocol = 2;
};

class TlsClientContext {
 public:
  // Fails like TlsServerContext::create.
  static Result<std::shared_ptr<const TlsClientContext>> create(const crypto::PrivateKey& identity,
                                                                TlsClientSettings settings);

  const crypto::PublicKey& identity() const noexcept { return identity_; }
  const TlsClientSettings& settings() const noexcept { return settings_; }

 private:
  friend class TlsClientChannel;
  TlsClientContext(detail::SslCtxPtr ctx, crypto::PublicKey identity, TlsClientSettings settings);

  detail::SslCtxPtr ctx_;
  crypto::PublicKey identity_;
  TlsClientSettings settings_;
};

// --- Channels ----------------------------------------------------------------

// What both sides share: the TLS object, buffered ciphertext and plaintext,
// and frames inside TLS without tags.
class TlsChannel : public Channel {
 public:
  ~TlsChannel() override;
  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;

  std::string description() const override;
  Result<void> receive(ByteSpan in, Bytes& out) override;
  bool established() const override {
    return state_ == State::may_bind || state_ == State::established;
  }
  int protocol_version() const override;
  PeerIdentity peer() const override { return peer_; }
  Result<std::optional<Frame>> next_frame(Bytes& out) override;
  // Queues the frame; flush() seals everything queued with one SSL_write, so
  // the frames of one network write share TLS records.
  void send(wire::FrameType type, std::initializer_list<ByteSpan> parts, Bytes& out) override;
  void flush(Bytes& out) override;
  // After the handshake: an ERROR frame inside TLS. During it: nothing, since
  // OpenSSL has already sent the alert for whatever went wrong.
  void send_error(const Error& e, Bytes& out) override;
  std::uint32_t max_payload() const override { return codec_.max_payload(); }
  // Ciphertext of records not yet complete and plaintext of frames not yet
  // complete. TLS is handed whole records only, so it holds no partial one.
  std::size_t buffered() const override { return in_.data().size() + plain_.data().size(); }

 protected:
  // Where the connection is. One value is the truth; the checks below ask
  // it rather than flags.
  enum class State {
    // Client: the ClientHello is out and nothing has come back. The server's
    // first bytes may be a signet error record in place of TLS (take_refusal).
    awaiting_server,
    handshake,  // the TLS handshake is under way
    // Server, shared key required: the handshake is complete, and the
    // binding frame must arrive before established().
    binding,
    // Server: established(), and the first frame may still be an optional
    // binding frame (take_binding, from next_frame).
    may_bind,
    established,       // frames flow both ways
    handshake_failed,  // failed before the handshake completed: nothing more is written
    failed,            // failed after it: frames already queued may still be flushed
  };

  // The TLS handshake has completed (whatever happened since).
  bool handshake_complete() const noexcept {
    return state_ == State::binding || state_ == State::may_bind || state_ == State::established ||
           state_ == State::failed;
  }
  bool has_failed() const noexcept {
    return state_ == State::handshake_failed || state_ == State::failed;
  }

  TlsChannel(detail::SslPtr ssl, std::uint32_t max_payload, bool server);

  // Runs once SSL_do_handshake has succeeded, in state established; may
  // write (the binding frame) and may set the state the server waits in.
  virtual Result<void> handshake_done() = 0;
  // Checks the key in the peer's certificate (from the verify callback).
  virtual Result<void> verify_peer_key(evp_pkey_st* key) = 0;
  // The Error for a fatal alert the peer sent.
  virtual Error alert_error(int alert) const = 0;
  // Server (states binding and may_bind): the first frame may be a binding
  // frame; true once it has been dealt with, false while more bytes are needed.
  virtual Result<bool> take_binding() { return true; }

  Error fail(Error e, Bytes& out);
  // Appends one frame (header and the concatenated parts) to the TLS stream.
  void write_frame(std::uint8_t type, std::initializer_list<ByteSpan> parts);
  // Hands the queued plaintext to TLS (inside an OutputScope).
  void write_pending();
  // Decrypts what has arrived into plain_: true if it got bytes, false if a
  // whole record has not arrived yet.
  Result<bool> read_plain();
  // Client: looks at the server's first bytes for a signet error record sent
  // in place of TLS. true: TLS it is; false: wait for more bytes; Error: the
  // server's refusal (or garbage).
  Result<bool> take_refusal();
  // The Error for a failed SSL call (callback error, alert, or OpenSSL's reason).
  Error ssl_error(int ret);
  // The TLS exporter value for the shared-key binding.
  crypto::SecretBytes binding_mac(const crypto::SecretBytes& psk);
  // The exporter value PeerIdentity::session holds (after the handshake).
  util::Bytes session_value();

  detail::SslPtr ssl_;
  State state_;
  PeerIdentity peer_;
  InputBuffer plain_;  // decrypted bytes not yet taken as frames
  // The peer proved the shared key. Not a state: a fact about the session
  // that stays true through established and failed, shown by description().
  bool bound_ = false;

 private:
  friend struct detail::TlsCallbacks;
  class OutputScope;

  FrameCodec codec_;
  InputBuffer in_;               // ciphertext not yet read by TLS
  std::size_t record_left_ = 0;  // bytes of the current record TLS has yet to read
  Bytes* out_ = nullptr;         // where TLS writes, while a call runs
  Bytes pending_;                // frames queued by send(), not yet given to TLS
  // OpenSSL reported a fatal error: the SSL object writes nothing more. Not
  // a state: it is the SSL object's condition, not where the protocol is,
  // and it can happen in any state after the handshake (a failed SSL_write
  // in flush() is recorded here and in failure_, and reported by the next
  // next_frame), so as states it would double every one of them.
  bool ssl_failed_ = false;
  std::optional<Error> failure_;  // why the channel failed, for later calls
  std::optional<Error> callback_error_;
  std::optional<int> received_alert_;
};

class TlsServerChannel final : public TlsChannel {
 public:
  // check_client_key decides who is admitted; without one every client is refused.
  TlsServerChannel(std::shared_ptr<const TlsServerContext> context,
                   ClientKeyCheck check_client_key);

  void start(Bytes&) override {}

 private:
  Result<void> handshake_done() override;
  Result<void> verify_peer_key(evp_pkey_st* key) override;
  Error alert_error(int alert) const override;
  Result<bool> take_binding() override;

  std::shared_ptr<const TlsServerContext> context_;
  ClientKeyCheck check_client_key_;
};

class TlsClientChannel final : public TlsChannel {
 public:
  explicit TlsClientChannel(std::shared_ptr<const TlsClientContext> context);

  void start(Bytes& out) override;
  Result<void> confirm_peer() override;
  Result<std::optional<Frame>> next_frame(Bytes& out) override;

 private:
  Result<void> handshake_done() override;
  Result<void> verify_peer_key(evp_pkey_st* key) override;
  Error alert_error(int alert) const override;

  std::shared_ptr<const TlsClientContext> context_;
  // The server's key while its check answered `confirm` and confirm_peer()
  // has not settled it: no frame is taken from the server meanwhile.
  std::optional<crypto::PublicKey> unconfirmed_;
};

// "not authorized by this server (your key SHA256:...)": what a client says
// when the server refused its key.
std::string not_authorized_message(const crypto::PublicKey& own_key);

}  // namespace signet::channel
