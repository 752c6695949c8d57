#include "channel/tls_channel.hpp"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <array>
#include <exception>
#include <new>
#include <stdexcept>
#include <utility>

#include "crypto/mac.hpp"
#include "crypto/openssl_ptr.hpp"
#include "crypto/primitives.hpp"

namespace signet::channel {

void detail::SslCtxFree::operator()(ssl_ctx_st* p) const noexcept {
  SSL_CTX_free(p);
}
void detail::SslFree::operator()(ssl_st* p) const noexcept {
  SSL_free(p);
}

namespace {

// The TLS parameters of docs/PROTOCOL.md, "Key mode". Only AEADs with a
// 256-bit key; X25519 only, so every connection has an ephemeral key
// exchange (forward secrecy); signature schemes for the three key types
// signet identities can have (RSA in TLS 1.3 is always PSS, RFC 8446 4.2.3).
constexpr const char* kCipherSuites = "TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256";
constexpr const char* kGroups = "X25519";
constexpr const char* kSignatureAlgorithms =
    "ed25519:ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512";
// TLS record sizes (RFC 8446 section 5.1 and 5.2): a 5-byte header, at most
// 2^14 bytes of plaintext and 2^14 + 256 of ciphertext.
constexpr std::size_t kRecordHeaderSize = 5;
constexpr std::size_t kMaxRecordPlaintext = 16384;
constexpr std::size_t kMaxRecordCiphertext = 16384 + 256;
// The frame scratch buffer of a thread is given back above this size.
constexpr std::size_t kKeptScratch = 64 * 1024;
// Self-signed carrier certificates claim ten years; nobody checks.
constexpr long kCertificateLifetime = 10L * 365 * 24 * 3600;

using X509Ptr = crypto::OpenSslPtr<X509, X509_free>;

// "TLS: <OpenSSL's reason>" from the error queue, with a code for the few
// reasons that have a better one than `malformed`.
Error openssl_error(std::string_view what) {
  const unsigned long err = ERR_peek_error();
  const char* reason = err != 0 ? ERR_reason_error_string(err) : nullptr;
  std::string detail = std::string(what) + ": " + (reason != nullptr ? reason : "unknown failure");
  if (err != 0 && ERR_GET_LIB(err) == ERR_LIB_SSL) {
    switch (ERR_GET_REASON(err)) {
      case SSL_R_UNSUPPORTED_PROTOCOL:
      case SSL_R_VERSION_TOO_LOW:
      case SSL_R_TLSV1_ALERT_PROTOCOL_VERSION:
        return Error(Errc::bad_version, detail + " (key mode needs TLS 1.3)");
      case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
        return Error(Errc::not_authorized, "the client presented no certificate");
      case SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC:
        return Error(Errc::bad_tag, detail);
      default:
        break;
    }
  }
  return Error(Errc::malformed, detail);
}

Result<X509Ptr> make_certificate(EVP_PKEY* key, const std::string& fingerprint) {
  X509Ptr cert(X509_new());
  if (!cert) throw std::bad_alloc();
  std::array<std::uint8_t, 8> serial{};
  crypto::random_bytes(serial);
  serial[0] &= 0x7f;  // a positive INTEGER (RFC 5280 section 4.1.2.2)
  X509_NAME* name = X509_get_subject_name(cert.get());
  const bool ok =
      X509_set_version(cert.get(), X509_VERSION_3) == 1 &&
      ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert.get()), util::load_u64(serial.data())) ==
          1 &&
      X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600) != nullptr &&
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), kCertificateLifetime) != nullptr &&
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(fingerprint.c_str()), -1,
                                 -1, 0) == 1 &&
      X509_set_issuer_name(cert.get(), name) == 1 && X509_set_pubkey(cert.get(), key) == 1 &&
      // Ed25519 signs the message itself: no separate digest (RFC 8410 section 6).
      X509_sign(cert.get(), key,
                EVP_PKEY_get_id(key) == EVP_PKEY_ED25519 ? nullptr : EVP_sha256()) > 0;
  if (!ok) {
    auto e = openssl_error("cannot make the TLS certificate");
    ERR_clear_error();
    return Error(Errc::io, e.detail);
  }
  return cert;
}

}  // namespace

// --- OpenSSL callbacks ---------------------------------------------------------

struct detail::TlsCallbacks {
  static TlsChannel* channel_of(const SSL* ssl) {
    return static_cast<TlsChannel*>(SSL_get_app_data(ssl));
  }

  // The BIO under every channel's SSL: reads what receive() was given,
  // appends writes to the output of the call in progress. It hands TLS only
  // whole records (OpenSSL reads a record's header, then its body, and
  // nothing ahead without read_ahead), so a record still arriving stays in
  // the channel's own buffer, counted by buffered(). It never reports end of
  // file: the network layer sees the socket close, not TLS.
  static int bio_read(BIO* bio, char* data, std::size_t len, std::size_t* read) {
    auto* ch = static_cast<TlsChannel*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    *read = 0;
    const ByteSpan avail = ch->in_.data();
    if (ch->record_left_ == 0) {
      // At a record boundary: wait for the whole record (RFC 8446 section 5.1).
      if (avail.size() < kRecordHeaderSize) {
        BIO_set_retry_read(bio);
        return 0;
      }
      const std::size_t body = util::load_u16(avail.data() + 3);
      // An impossible length: give TLS the header alone and let it fail.
      const std::size_t record =
          kRecordHeaderSize + (body <= kMaxRecordCiphertext ? body : std::size_t{0});
      if (avail.size() < record) {
        BIO_set_retry_read(bio);
        return 0;
      }
      ch->record_left_ = record;
    }
    const std::size_t n = std::min({len, avail.size(), ch->record_left_});
    std::copy_n(avail.begin(), n, reinterpret_cast<std::uint8_t*>(data));
    ch->in_.consume(n);
    ch->record_left_ -= n;
    *read = n;
    return 1;
  }

  static int bio_write(BIO* bio, const char* data, std::size_t len, std::size_t* written) {
    auto* ch = static_cast<TlsChannel*>(BIO_get_data(bio));
    BIO_clear_retry_flags(bio);
    if (ch->out_ == nullptr) return 0;  // a write outside any call: a bug, refuse it
    const auto* p = reinterpret_cast<const std::uint8_t*>(data);
    ch->out_->insert(ch->out_->end(), p, p + len);
    *written = len;
    return 1;
  }

  // Flushing is a no-op (writes land in the output at once); nothing else is supported.
  static long bio_ctrl(BIO*, int cmd, long, void*) { return cmd == BIO_CTRL_FLUSH ? 1 : 0; }

  static BIO_METHOD* bio_method() {
    using BioMethodPtr = crypto::OpenSslPtr<BIO_METHOD, BIO_meth_free>;
    static const BioMethodPtr method = [] {
      BioMethodPtr m(BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "signet channel"));
      if (!m || BIO_meth_set_read_ex(m.get(), bio_read) != 1 ||
          BIO_meth_set_write_ex(m.get(), bio_write) != 1 ||
          BIO_meth_set_ctrl(m.get(), bio_ctrl) != 1) {
        throw std::bad_alloc();
      }
      return m;
    }();
    return method.get();
  }

  // Replaces certificate chain building and checking (SSL_CTX_set_cert_verify_callback):
  // the only thing that counts is the key in the leaf. A refusal becomes the
  // bad_certificate alert (kKeyRefusedAlert); the channel keeps the reason.
  static int verify(X509_STORE_CTX* store, void*) {
    auto* ssl =
        static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
    TlsChannel* ch = ssl != nullptr ? channel_of(ssl) : nullptr;
    if (ch == nullptr) return 0;
    Result<void> r;
    try {
      X509* leaf = X509_STORE_CTX_get0_cert(store);
      r = ch->verify_peer_key(leaf != nullptr ? X509_get0_pubkey(leaf) : nullptr);
    } catch (const std::exception& e) {
      // Never let an exception unwind through OpenSSL.
      r = Error(Errc::io, std::string("while checking the peer's key: ") + e.what());
    }
    if (r) return 1;
    ch->callback_error_ = r.error();
    X509_STORE_CTX_set_error(store, X509_V_ERR_CERT_REJECTED);
    return 0;
  }

  static void info(const SSL* ssl, int where, int ret) {
    if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT) return;
    if (TlsChannel* ch = channel_of(ssl)) ch->received_alert_ = ret & 0xff;
  }
};

namespace {

// The SSL_CTX both sides share the shape of; `server` adds the demand for a
// client certificate.
Result<detail::SslCtxPtr> make_context(const crypto::PrivateKey& identity, bool server) {
  ERR_clear_error();
  detail::SslCtxPtr ctx(SSL_CTX_new(TLS_method()));
  if (!ctx) throw std::bad_alloc();
  auto cert = make_certificate(identity.evp(), identity.public_key().fingerprint());
  if (!cert) return cert.error();
  SSL_CTX* c = ctx.get();
  const bool ok = SSL_CTX_set_min_proto_version(c, TLS1_3_VERSION) == 1 &&
                  SSL_CTX_set_max_proto_version(c, TLS1_3_VERSION) == 1 &&
                  SSL_CTX_set_ciphersuites(c, kCipherSuites) == 1 &&
                  SSL_CTX_set1_groups_list(c, kGroups) == 1 &&
                  SSL_CTX_set1_sigalgs_list(c, kSignatureAlgorithms) == 1 &&
                  SSL_CTX_use_certificate(c, cert->get()) == 1 &&
                  SSL_CTX_use_PrivateKey(c, identity.evp()) == 1 &&
                  SSL_CTX_check_private_key(c) == 1;
  if (!ok) {
    auto e = openssl_error("cannot set up TLS with this identity");
    ERR_clear_error();
    return Error(Errc::io, e.detail);
  }
  // Idle connections hold no record buffers; no chain is built for our
  // certificate (there is none).
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
  // No resumption: every connection does the full handshake, so every
  // client key goes through the ClientKeyCheck (the current authorized_keys).
  SSL_CTX_set_options(c, SSL_OP_NO_TICKET | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_num_tickets(c, 0);
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_verify(
      c, server ? SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT : SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_verify_callback(c, &detail::TlsCallbacks::verify, nullptr);
  SSL_CTX_set_info_callback(c, &detail::TlsCallbacks::info);
  return ctx;
}

// Selects version 2 when the client offers it; otherwise no ALPN at all
// (version 1), rather than the no_application_protocol alert RFC 7301
// prescribes, so that clients of the first release, which offer none, and
// clients offering only later versions still get version 1.
int select_alpn(SSL*, const unsigned char** out, unsigned char* outlen, const unsigned char* in,
                unsigned int inlen, void*) {
  std::size_t i = 0;
  while (i < inlen) {
    const std::size_t n = in[i];
    if (n == 0 || i + 1 + n > inlen) return SSL_TLSEXT_ERR_NOACK;
    if (std::string_view(reinterpret_cast<const char*>(in + i + 1), n) == kAlpnProtocol2) {
      *out = in + i + 1;
      *outlen = static_cast<unsigned char>(n);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + n;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

detail::SslPtr new_ssl(ssl_ctx_st* ctx) {
  detail::SslPtr ssl(SSL_new(ctx));
  if (!ssl) throw std::bad_alloc();
  return ssl;
}

}  // namespace

std::string not_authorized_message(const crypto::PublicKey& own_key) {
  return "not authorized by this server (your key " + own_key.fingerprint() + ")";
}

// --- Contexts ------------------------------------------------------------------

TlsServerContext::TlsServerContext(detail::SslCtxPtr ctx, crypto::PublicKey identity,
                                   TlsServerSettings settings)
    : ctx_(std::move(ctx)), identity_(std::move(identity)), settings_(std::move(settings)) {}

Result<std::shared_ptr<const TlsServerContext>> TlsServerContext::create(
    const crypto::PrivateKey& identity, TlsServerSettings settings) {
  if (settings.require_psk && !settings.psk) {
    return Error(Errc::config, "requiring the shared key needs a shared key");
  }
  auto ctx = make_context(identity, true);
  if (!ctx) return ctx.error();
  if (settings.max_protocol >= 2) SSL_CTX_set_alpn_select_cb(ctx->get(), &select_alpn, nullptr);
  return std::shared_ptr<const TlsServerContext>(
      new TlsServerContext(std::move(*ctx), identity.public_key(), std::move(settings)));
}

TlsClientContext::TlsClientContext(detail::SslCtxPtr ctx, crypto::PublicKey identity,
                                   TlsClientSettings settings)
    : ctx_(std::move(ctx)), identity_(std::move(identity)), settings_(std::move(settings)) {}

Result<std::shared_ptr<const TlsClientContext>> TlsClientContext::create(
    const crypto::PrivateKey& identity, TlsClientSettings settings) {
  auto ctx = make_context(identity, false);
  if (!ctx) return ctx.error();
  if (settings.max_protocol >= 2) {
    std::string list(1, static_cast<char>(kAlpnProtocol2.size()));
    list += kAlpnProtocol2;
    // Returns 0 on success, unlike most of OpenSSL.
    if (SSL_CTX_set_alpn_protos(ctx->get(), reinterpret_cast<const unsigned char*>(list.data()),
                                static_cast<unsigned int>(list.size())) != 0) {
      throw std::bad_alloc();
    }
  }
  return std::shared_ptr<const TlsClientContext>(
      new TlsClientContext(std::move(*ctx), identity.public_key(), std::move(settings)));
}

// --- TlsChannel ------------------------------------------------------------------

// Points the BIO's writes at the caller's output for the duration of a call.
class TlsChannel::OutputScope {
 public:
  OutputScope(TlsChannel& channel, Bytes& out) : channel_(channel), saved_(channel.out_) {
    channel_.out_ = &out;
  }
  ~OutputScope() { channel_.out_ = saved_; }
  OutputScope(const OutputScope&) = delete;
  OutputScope& operator=(const OutputScope&) = delete;

 private:
  TlsChannel& channel_;
  Bytes* saved_;
};

TlsChannel::TlsChannel(detail::SslPtr ssl, std::uint32_t max_payload, bool server)
    : ssl_(std::move(ssl)),
      state_(server ? State::handshake : State::awaiting_server),
      codec_(max_payload) {
  BIO* bio = BIO_new(detail::TlsCallbacks::bio_method());
  if (bio == nullptr) throw std::bad_alloc();
  BIO_set_data(bio, this);
  BIO_set_init(bio, 1);
  SSL_set_bio(ssl_.get(), bio, bio);  // one reference, owned by the SSL from here
  SSL_set_app_data(ssl_.get(), this);
  if (server) {
    SSL_set_accept_state(ssl_.get());
  } else {
    SSL_set_connect_state(ssl_.get());
  }
}

TlsChannel::~TlsChannel() = default;

std::string TlsChannel::description() const {
  std::string d = "key mode, TLS 1.3";
  if (handshake_complete()) {
    if (const SSL_CIPHER* c = SSL_get_current_cipher(ssl_.get())) {
      d += " ";
      d += SSL_CIPHER_get_name(c);
    }
  }
  if (bound_) d += ", shared key bound";
  return d;
}

int TlsChannel::protocol_version() const {
  if (!handshake_complete()) return 1;
  const unsigned char* p = nullptr;
  unsigned int n = 0;
  SSL_get0_alpn_selected(ssl_.get(), &p, &n);
  return p != nullptr && std::string_view(reinterpret_cast<const char*>(p), n) == kAlpnProtocol2
             ? 2
             : 1;
}

Error TlsChannel::fail(Error e, Bytes& out) {
  if (!has_failed()) {
    // Errors the peer reported need no answer.
    if (!reported_by_peer(e)) send_error(e, out);
    state_ = handshake_complete() ? State::failed : State::handshake_failed;
    failure_ = e;
  }
  return e;
}

Error TlsChannel::ssl_error(int ret) {
  const int code = SSL_get_error(ssl_.get(), ret);
  if (code == SSL_ERROR_SSL || code == SSL_ERROR_SYSCALL) ssl_failed_ = true;
  Error e;
  if (callback_error_) {
    e = std::move(*callback_error_);
    callback_error_.reset();
  } else if (received_alert_ && *received_alert_ != SSL_AD_CLOSE_NOTIFY) {
    e = alert_error(*received_alert_);
    e.from_peer = true;  // the peer's alert needs no answer
  } else if (code == SSL_ERROR_ZERO_RETURN) {
    e = Error(Errc::peer_closed, "the peer ended the TLS session");
  } else {
    e = openssl_error(handshake_complete() ? "TLS" : "TLS handshake");
  }
  ERR_clear_error();
  return e;
}

Result<void> TlsChannel::receive(ByteSpan in, Bytes& out) {
  if (has_failed()) {
    return Error(Errc::peer_closed,
                 "channel already failed" + (failure_ ? ": " + failure_->message() : ""));
  }
  OutputScope scope(*this, out);
  in_.append(in);
  if (state_ == State::awaiting_server && !in_.data().empty()) {
    auto refusal = take_refusal();
    if (!refusal) return fail(refusal.error(), out);
    if (!*refusal) return {};  // more of the record to come
    state_ = State::handshake;
  }
  if (state_ == State::awaiting_server || state_ == State::handshake) {
    ERR_clear_error();
    const int r = SSL_do_handshake(ssl_.get());
    if (r != 1) {
      if (SSL_get_error(ssl_.get(), r) == SSL_ERROR_WANT_READ) {
        in_.compact();
        return {};
      }
      return fail(ssl_error(r), out);
    }
    state_ = State::established;
    if (auto done = handshake_done(); !done) return fail(done.error(), out);
  }
  if (state_ == State::binding) {
    auto b = take_binding();
    if (!b) return fail(b.error(), out);
    if (*b) state_ = State::established;
  }
  in_.compact();
  return {};
}

Result<bool> TlsChannel::take_refusal() {
  const ByteSpan d = in_.data();
  if (d[0] != wire::kMagic[0]) {
    // No TLS record starts with 'S' (content types are 20-24, RFC 8446 section 5.1).
    return true;
  }
  // A signet server that refuses a connection before any TLS (busy, or the
  // wrong mode) sends a signet error record instead (docs/PROTOCOL.md).
  if (d.size() < wire::kRecordHeaderSize) return false;
  auto header = wire::decode_record_header(d.first(wire::kRecordHeaderSize));
  if (!header || header->type != wire::RecordType::error) {
    return Error(Errc::malformed, "the server answered with neither TLS nor a signet error record");
  }
  if (d.size() < wire::kRecordHeaderSize + header->length) return false;
  auto record = wire::decode_error_record(d.first(wire::kRecordHeaderSize + header->length));
  if (!record) return unreadable_peer_error(record.error());
  return peer_error(*record);
}

Result<bool> TlsChannel::read_plain() {
  std::array<std::uint8_t, kMaxRecordPlaintext> buf;
  ERR_clear_error();
  std::size_t n = 0;
  const int r = SSL_read_ex(ssl_.get(), buf.data(), buf.size(), &n);
  if (r == 1) {
    plain_.append(ByteSpan(buf.data(), n));
    crypto::cleanse(std::span<std::uint8_t>(buf.data(), n));
    return true;
  }
  if (SSL_get_error(ssl_.get(), r) == SSL_ERROR_WANT_READ) return false;
  return ssl_error(r);
}

void TlsChannel::write_frame(std::uint8_t type, std::initializer_list<ByteSpan> parts) {
  std::size_t len = 0;
  for (auto p : parts) len += p.size();
  const std::size_t start = pending_.size();
  pending_.resize(start + wire::kFrameHeaderSize + len);
  pending_[start] = type;
  util::store_u32(pending_.data() + start + 1, static_cast<std::uint32_t>(len));
  auto* p = pending_.data() + start + wire::kFrameHeaderSize;
  for (auto part : parts) p = std::copy(part.begin(), part.end(), p);
  // Past a few records' worth, seal now rather than hold more plaintext.
  if (pending_.size() >= kKeptScratch) write_pending();
}

void TlsChannel::write_pending() {
  if (pending_.empty()) return;
  ERR_clear_error();
  std::size_t written = 0;
  // A memory BIO never blocks, so TLS takes everything (in records of at most 16 KiB).
  const int r = SSL_write_ex(ssl_.get(), pending_.data(), pending_.size(), &written);
  crypto::cleanse(pending_);
  pending_.clear();
  if (pending_.capacity() > kKeptScratch) Bytes().swap(pending_);
  if (r != 1 && !failure_) {
    // Reported by the next call that can return an Error.
    failure_ = ssl_error(r);
    ssl_failed_ = true;
  }
}

void TlsChannel::flush(Bytes& out) {
  if (pending_.empty() || ssl_failed_) return;
  OutputScope scope(*this, out);
  write_pending();
}

Result<std::optional<Frame>> TlsChannel::next_frame(Bytes& out) {
  if (!established()) return std::optional<Frame>{};
  OutputScope scope(*this, out);
  if (ssl_failed_ && failure_) return fail(*failure_, out);
  if (state_ == State::may_bind) {
    auto b = take_binding();
    if (!b) return fail(b.error(), out);
    if (!*b) {
      in_.compact();
      return std::optional<Frame>{};
    }
    state_ = State::established;
  }
  for (;;) {
    auto f = codec_.open(plain_.mutable_data());
    if (!f) return fail(f.error(), out);
    if (f->has_value()) {
      const OpenedFrame opened = **f;
      plain_.consume(opened.consumed);
      if (opened.type == wire::FrameType::error) {
        auto e = wire::decode_error_payload(opened.payload);
        if (!e) return fail(unreadable_peer_error(e.error()), out);
        return fail(peer_error(*e), out);
      }
      return std::optional<Frame>(Frame{opened.type, opened.payload});
    }
    auto more = read_plain();
    if (!more) return fail(more.error(), out);
    if (!*more) {
      plain_.compact();
      in_.compact();
      return std::optional<Frame>{};
    }
  }
}

void TlsChannel::send(wire::FrameType type, std::initializer_list<ByteSpan> parts, Bytes& out) {
  if (!handshake_complete()) throw std::logic_error("send before the TLS handshake completed");
  std::size_t len = 0;
  for (auto p : parts) len += p.size();
  if (len > std::size_t{wire::send_limit(codec_.max_payload())} +
                wire::operation_header_size(static_cast<std::uint8_t>(type)))
    throw std::logic_error("frame payload above the configured limit");
  if (ssl_failed_) return;  // reported by next_frame
  OutputScope scope(*this, out);
  write_frame(static_cast<std::uint8_t>(type), parts);
}

void TlsChannel::send_error(const Error& e, Bytes& out) {
  if (!handshake_complete() || ssl_failed_ || has_failed()) return;
  OutputScope scope(*this, out);
  const auto payload =
      wire::encode_error_payload(wire::ErrorRecord{wire::error_code_for(e), e.message()});
  write_frame(static_cast<std::uint8_t>(wire::FrameType::error), {payload});
  write_pending();
}

util::Bytes TlsChannel::session_value() {
  util::Bytes v(kSessionSize);
  if (SSL_export_keying_material(ssl_.get(), v.data(), v.size(), kSessionLabel.data(),
                                 kSessionLabel.size(), nullptr, 0, 0) != 1) {
    ERR_clear_error();
    throw std::runtime_error("TLS exporter failed after a completed handshake");
  }
  return v;
}

crypto::SecretBytes TlsChannel::binding_mac(const crypto::SecretBytes& psk) {
  crypto::SecretBytes exported(kPskBindingSize);
  // RFC 8446 section 7.5: in TLS 1.3 no context and an empty one are the same.
  if (SSL_export_keying_material(ssl_.get(), exported.mutable_span().data(), exported.size(),
                                 kPskBindingLabel.data(), kPskBindingLabel.size(), nullptr, 0,
                                 0) != 1) {
    ERR_clear_error();
    throw std::runtime_error("TLS exporter failed after a completed handshake");
  }
  crypto::SecretBytes mac(crypto::mac_tag_size(crypto::MacAlgorithm::hmac_sha256));
  crypto::Mac(crypto::MacAlgorithm::hmac_sha256, psk.span())
      .compute({exported.span()}, mac.mutable_span());
  return mac;
}

// --- Server ------------------------------------------------------------------------

TlsServerChannel::TlsServerChannel(std::shared_ptr<const TlsServerContext> context,
                                   ClientKeyCheck check_client_key)
    : TlsChannel(new_ssl(context->ctx_.get()), context->settings().max_payload, true),
      context_(std::move(context)),
      check_client_key_(std::move(check_client_key)) {}

Result<void> TlsServerChannel::verify_peer_key(evp_pkey_st* pkey) {
  // Parsed for display first, so even a refused weak key is named by its fingerprint.
  auto key = crypto::PublicKey::from_evp(pkey, crypto::KeyPolicy::display_only);
  if (!key) {
    return Error(Errc::not_authorized,
                 "the client's certificate holds no usable key: " + key.error().message());
  }
  if (auto policy = key->check_policy(); !policy) {
    return Error(Errc::not_authorized, "key " + key->fingerprint() + ": " + policy.error().detail);
  }
  if (!check_client_key_) {
    return Error(Errc::not_authorized,
                 "no way to check the client's key " + key->fingerprint() + "; refusing it");
  }
  // Who may connect is decided here; what it may do, on each request
  // (through the admission's authorize).
  auto admitted = check_client_key_(*key);
  if (!admitted) return admitted.error();
  peer_ = PeerIdentity{key->fingerprint(), std::move(admitted->comment),
                       std::move(admitted->authorize), std::move(admitted->folder)};
  return {};
}

Result<void> TlsServerChannel::handshake_done() {
  // SSL_VERIFY_FAIL_IF_NO_PEER_CERT makes this unreachable; fail closed anyway.
  if (peer_.fingerprint.empty()) {
    return Error(Errc::not_authorized, "the client presented no certificate");
  }
  peer_.session = session_value();
  state_ = context_->settings().require_psk ? State::binding : State::may_bind;
  return {};
}

Result<bool> TlsServerChannel::take_binding() {
  const auto& s = context_->settings();
  constexpr std::size_t kFrameSize = wire::kFrameHeaderSize + kPskBindingSize;
  for (;;) {
    const ByteSpan d = plain_.data();
    if (d.size() >= wire::kFrameHeaderSize) {
      if (d[0] != kPskBindingFrameType) {
        if (s.require_psk) {
          return Error(Errc::key_mismatch,
                       "the client did not prove that it holds the shared key (its first frame "
                       "is not a binding frame)");
        }
        return true;
      }
      const std::uint32_t len = util::load_u32(d.data() + 1);
      if (len != kPskBindingSize) {
        return Error(Errc::malformed,
                     "binding frame of " + std::to_string(len) + " bytes; it must have 32");
      }
      if (d.size() >= kFrameSize) {
        if (s.psk) {
          const auto want = binding_mac(*s.psk);
          if (!crypto::constant_time_equal(want.span(),
                                           d.subspan(wire::kFrameHeaderSize, kPskBindingSize))) {
            return Error(Errc::key_mismatch,
                         "the client's shared-key binding does not verify with this server's "
                         "shared key");
          }
          bound_ = true;
        }
        plain_.consume(kFrameSize);
        return true;
      }
    }
    auto more = read_plain();
    if (!more) return more.error();
    if (!*more) return false;
  }
}

Error TlsServerChannel::alert_error(int alert) const {
  if (alert == kKeyRefusedAlert) {
    return Error(Errc::peer_error,
                 "the client did not accept this server's key (TLS alert bad_certificate): not "
                 "the key it has pinned or was told to expect");
  }
  return Error(Errc::peer_error,
               std::string("TLS alert from the client: ") + SSL_alert_desc_string_long(alert));
}

// --- Client ------------------------------------------------------------------------

TlsClientChannel::TlsClientChannel(std::shared_ptr<const TlsClientContext> context)
    : TlsChannel(new_ssl(context->ctx_.get()), context->settings().max_payload, false),
      context_(std::move(context)) {}

void TlsClientChannel::start(Bytes& out) {
  // Writes the ClientHello, then wants the server's answer. Anything else is
  // kept and reported by the first receive().
  (void)receive(ByteSpan(), out);
}

Result<void> TlsClientChannel::verify_peer_key(evp_pkey_st* pkey) {
  auto key = crypto::PublicKey::from_evp(pkey, crypto::KeyPolicy::display_only);
  if (!key) {
    return Error(Errc::host_key_unknown,
                 "the server's certificate holds no usable key: " + key.error().message());
  }
  if (auto policy = key->check_policy(); !policy) {
    return Error(Errc::host_key_unknown, "the server's key " + key->fingerprint() +
                                             " is too weak: " + policy.error().detail);
  }
  const auto& check = context_->settings().check_server_key;
  if (!check) {
    return Error(Errc::host_key_unknown,
                 "no way to check the server's key " + key->fingerprint() + "; refusing it");
  }
  auto trust = check(*key);
  if (!trust) return trust.error();
  if (*trust == ServerKeyTrust::confirm) unconfirmed_ = *key;
  peer_ = PeerIdentity{key->fingerprint(), {}, {}, {}};
  return {};
}

Result<void> TlsClientChannel::confirm_peer() {
  if (!unconfirmed_) return {};
  if (!established()) throw std::logic_error("confirm_peer before the handshake completed");
  const auto& confirm = context_->settings().confirm_server_key;
  if (!confirm) {
    return Error(Errc::host_key_unknown,
                 "no way to confirm the server's key " + unconfirmed_->fingerprint());
  }
  if (auto ok = confirm(*unconfirmed_); !ok) return ok.error();
  unconfirmed_.reset();
  return {};
}

Result<std::optional<Frame>> TlsClientChannel::next_frame(Bytes& out) {
  if (unconfirmed_ && established()) {
    // Fail closed if the network layer skipped confirm_peer().
    return Error(Errc::host_key_unknown,
                 "the server's key " + unconfirmed_->fingerprint() + " has not been confirmed");
  }
  return TlsChannel::next_frame(out);
}

Result<void> TlsClientChannel::handshake_done() {
  if (peer_.fingerprint.empty()) {
    return Error(Errc::host_key_unknown, "the server presented no certificate");
  }
  peer_.session = session_value();
  if (const auto& psk = context_->settings().psk) {
    const auto mac = binding_mac(*psk);
    write_frame(kPskBindingFrameType, {mac.span()});
    write_pending();
    bound_ = true;
  }
  return {};
}

Error TlsClientChannel::alert_error(int alert) const {
  if (alert == kKeyRefusedAlert) {
    return Error(Errc::not_authorized, not_authorized_message(context_->identity()));
  }
  if (alert == SSL_AD_PROTOCOL_VERSION) {
    return Error(Errc::bad_version, "the server does not speak TLS 1.3");
  }
  return Error(Errc::peer_error,
               std::string("TLS alert from the server: ") + SSL_alert_desc_string_long(alert));
}

}  // namespace signet::channel
