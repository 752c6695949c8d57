#include "channel/psk_handshake.hpp"

#include <algorithm>

#include "crypto/primitives.hpp"

namespace signet::channel {
namespace {

constexpr std::string_view kKeyInfoLabel = "signet/1 shared-key";
constexpr std::string_view kSessionInfoLabel = "signet/1 session";
constexpr std::size_t kSessionSize = 32;

wire::Nonce fresh_nonce(const std::optional<wire::Nonce>& fixed) {
  if (fixed) return *fixed;
  wire::Nonce n;
  crypto::random_bytes(n);
  return n;
}

Bytes proof(crypto::MacAlgorithm alg, const crypto::SecretBytes& key, std::string_view label) {
  crypto::Mac mac(alg, key.span());
  Bytes out(mac.tag_size());
  mac.compute({util::as_bytes(label)}, out);
  return out;
}

bool proof_ok(crypto::MacAlgorithm alg, const crypto::SecretBytes& key, std::string_view label,
              ByteSpan got) {
  crypto::Mac mac(alg, key.span());
  return mac.verify({util::as_bytes(label)}, got);
}

}  // namespace

SessionKeys derive_session_keys(const crypto::SecretBytes& psk, crypto::Suite suite,
                                const wire::Nonce& client_nonce, const wire::Nonce& server_nonce,
                                ByteSpan client_hello, ByteSpan server_hello_without_proof) {
  const auto transcript = crypto::sha256({client_hello, server_hello_without_proof});
  Bytes salt(client_nonce.begin(), client_nonce.end());
  salt.insert(salt.end(), server_nonce.begin(), server_nonce.end());
  Bytes info(kKeyInfoLabel.begin(), kKeyInfoLabel.end());
  info.insert(info.end(), transcript.begin(), transcript.end());

  // Four K-byte keys, then (AEAD suites only) two 12-byte IVs.
  const std::size_t k = crypto::suite_key_size(suite);
  const std::size_t n = crypto::suite_iv_size(suite);
  crypto::SecretBytes okm(4 * k + 2 * n);
  crypto::hkdf_sha256(salt, psk.span(), info, okm.mutable_span());
  const auto part = [&](std::size_t offset, std::size_t size) {
    return crypto::SecretBytes(okm.span().subspan(offset, size));
  };
  Bytes session_info(kSessionInfoLabel.begin(), kSessionInfoLabel.end());
  session_info.insert(session_info.end(), transcript.begin(), transcript.end());
  Bytes session(kSessionSize);
  crypto::hkdf_sha256(salt, psk.span(), session_info, session);
  return SessionKeys{suite,          part(0, k),     part(k, k),         part(2 * k, k),
                     part(3 * k, k), part(4 * k, n), part(4 * k + n, n), std::move(session)};
}

PskClientHandshake::PskClientHandshake(const crypto::SecretBytes& psk,
                                       std::vector<crypto::Suite> offer,
                                       std::optional<wire::Nonce> nonce, int max_protocol)
    : psk_(psk),
      offer_(std::move(offer)),
      nonce_(fresh_nonce(nonce)),
      offered_protocol2_(max_protocol >= 2 && offer_.size() < wire::kMaxMacOffers) {
  wire::ClientHello hello;
  hello.nonce = nonce_;
  for (auto a : offer_) hello.mac_ids.push_back(static_cast<std::uint8_t>(a));
  if (offered_protocol2_) hello.mac_ids.push_back(wire::kProtocol2Capability);
  client_hello_ = wire::encode(hello);
}

Result<Bytes> PskClientHandshake::on_server_hello(ByteSpan record) {
  auto id = wire::peek_server_hello_mac(record);
  if (!id) return id.error();
  const auto suite = crypto::suite_from_wire(*id);
  if (!suite || std::find(offer_.begin(), offer_.end(), *suite) == offer_.end()) {
    return Error(Errc::unsupported_mac,
                 "server chose algorithm " + std::to_string(*id) + ", not offered");
  }
  const auto mac = crypto::proof_mac(*suite);
  const std::size_t proof_size = crypto::mac_tag_size(mac);
  auto hello = wire::decode_server_hello(record, proof_size, offered_protocol2_);
  if (!hello) return hello.error();
  protocol_ = hello->protocol == 2 ? 2 : 1;

  keys_ = derive_session_keys(psk_, *suite, nonce_, hello->nonce, client_hello_,
                              record.first(record.size() - proof_size));
  if (!proof_ok(mac, keys_.server_proof_key, kServerProofLabel, hello->proof)) {
    return Error(Errc::key_mismatch, "the server's proof does not verify with the client's key");
  }
  return wire::encode(wire::ClientFinish{proof(mac, keys_.client_proof_key, kClientProofLabel)});
}

FrameCodec PskClientHandshake::make_codec(std::uint32_t max_payload) const {
  return FrameCodec(keys_.suite, {keys_.client_to_server, keys_.client_to_server_iv},
                    {keys_.server_to_client, keys_.server_to_client_iv},
                    Direction::client_to_server, max_payload);
}

PskServerHandshake::PskServerHandshake(const crypto::SecretBytes& psk,
                                       std::vector<crypto::Suite> accept,
                                       std::optional<wire::Nonce> nonce, int max_protocol)
    : psk_(psk),
      accept_(std::move(accept)),
      nonce_(fresh_nonce(nonce)),
      max_protocol_(max_protocol) {}

Result<Bytes> PskServerHandshake::on_client_hello(ByteSpan record) {
  auto hello = wire::decode_client_hello(record);
  if (!hello) return hello.error();
  std::optional<crypto::Suite> chosen;
  for (auto a : accept_) {
    const auto id = static_cast<std::uint8_t>(a);
    if (std::find(hello->mac_ids.begin(), hello->mac_ids.end(), id) != hello->mac_ids.end()) {
      chosen = a;
      break;
    }
  }
  if (!chosen) {
    return Error(Errc::unsupported_mac, "none of the client's algorithms is enabled");
  }

  wire::ServerHello reply;
  reply.mac_id = static_cast<std::uint8_t>(*chosen);
  reply.nonce = nonce_;
  if (max_protocol_ >= 2 && std::find(hello->mac_ids.begin(), hello->mac_ids.end(),
                                      wire::kProtocol2Capability) != hello->mac_ids.end()) {
    reply.protocol = 2;
    protocol_ = 2;
  }
  Bytes without_proof = wire::encode(reply);
  // The length field must already count the proof that follows.
  util::store_u16(without_proof.data() + 6,
                  static_cast<std::uint16_t>(without_proof.size() - wire::kRecordHeaderSize +
                                             crypto::mac_tag_size(crypto::proof_mac(*chosen))));
  keys_ = derive_session_keys(psk_, *chosen, hello->nonce, nonce_, record, without_proof);
  const Bytes p = proof(crypto::proof_mac(*chosen), keys_.server_proof_key, kServerProofLabel);
  without_proof.insert(without_proof.end(), p.begin(), p.end());
  return without_proof;
}

Result<void> PskServerHandshake::on_client_finish(ByteSpan record) {
  auto fin = wire::decode_client_finish(record, proof_size());
  if (!fin) return fin.error();
  if (!proof_ok(crypto::proof_mac(keys_.suite), keys_.client_proof_key, kClientProofLabel,
                fin->proof)) {
    return Error(Errc::key_mismatch,
                 "the client's proof does not verify with the server's key (different keys, or a "
                 "replayed handshake)");
  }
  return {};
}

FrameCodec PskServerHandshake::make_codec(std::uint32_t max_payload) const {
  return FrameCodec(keys_.suite, {keys_.server_to_client, keys_.server_to_client_iv},
                    {keys_.client_to_server, keys_.client_to_server_iv},
                    Direction::server_to_client, max_payload);
}

}  // namespace signet::channel
