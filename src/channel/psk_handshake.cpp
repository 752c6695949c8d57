#include "channel/psk_handshake.hpp"

#include <algorithm>

#include "crypto/primitives.hpp"

namespace signet::channel {
namespace {

constexpr std::string_view kKeyInfoLabel = "signet/1 shared-key";

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

SessionKeys derive_session_keys(const crypto::SecretBytes& psk, crypto::MacAlgorithm mac,
                                const wire::Nonce& client_nonce, const wire::Nonce& server_nonce,
                                ByteSpan client_hello, ByteSpan server_hello_without_proof) {
  const auto transcript = crypto::sha256({client_hello, server_hello_without_proof});
  Bytes salt(client_nonce.begin(), client_nonce.end());
  salt.insert(salt.end(), server_nonce.begin(), server_nonce.end());
  Bytes info(kKeyInfoLabel.begin(), kKeyInfoLabel.end());
  info.insert(info.end(), transcript.begin(), transcript.end());

  const std::size_t k = crypto::mac_key_size(mac);
  crypto::SecretBytes okm(4 * k);
  crypto::hkdf_sha256(salt, psk.span(), info, okm.mutable_span());
  const auto part = [&](std::size_t i) {
    return crypto::SecretBytes(okm.span().subspan(i * k, k));
  };
  return SessionKeys{mac, part(0), part(1), part(2), part(3)};
}

PskClientHandshake::PskClientHandshake(const crypto::SecretBytes& psk,
                                       std::vector<crypto::MacAlgorithm> offer,
                                       std::optional<wire::Nonce> nonce)
    : psk_(psk), offer_(std::move(offer)), nonce_(fresh_nonce(nonce)) {
  wire::ClientHello hello;
  hello.nonce = nonce_;
  for (auto a : offer_) hello.mac_ids.push_back(static_cast<std::uint8_t>(a));
  client_hello_ = wire::encode(hello);
}

Result<Bytes> PskClientHandshake::on_server_hello(ByteSpan record) {
  auto id = wire::peek_server_hello_mac(record);
  if (!id) return id.error();
  const auto alg = crypto::mac_from_wire(*id);
  if (!alg || std::find(offer_.begin(), offer_.end(), *alg) == offer_.end()) {
    return Error(Errc::unsupported_mac,
                 "server chose MAC " + std::to_string(*id) + ", not offered");
  }
  const std::size_t proof_size = crypto::mac_tag_size(*alg);
  auto hello = wire::decode_server_hello(record, proof_size);
  if (!hello) return hello.error();

  keys_ = derive_session_keys(psk_, *alg, nonce_, hello->nonce, client_hello_,
                              record.first(record.size() - proof_size));
  if (!proof_ok(*alg, keys_.server_proof_key, kServerProofLabel, hello->proof)) {
    return Error(Errc::key_mismatch, "the server's proof does not verify with the client's key");
  }
  return wire::encode(wire::ClientFinish{proof(*alg, keys_.client_proof_key, kClientProofLabel)});
}

FrameCodec PskClientHandshake::make_codec(std::uint32_t max_payload) const {
  return FrameCodec(keys_.mac, keys_.client_to_server, keys_.server_to_client,
                    Direction::client_to_server, max_payload);
}

PskServerHandshake::PskServerHandshake(const crypto::SecretBytes& psk,
                                       std::vector<crypto::MacAlgorithm> accept,
                                       std::optional<wire::Nonce> nonce)
    : psk_(psk), accept_(std::move(accept)), nonce_(fresh_nonce(nonce)) {}

Result<Bytes> PskServerHandshake::on_client_hello(ByteSpan record) {
  auto hello = wire::decode_client_hello(record);
  if (!hello) return hello.error();
  std::optional<crypto::MacAlgorithm> chosen;
  for (auto a : accept_) {
    const auto id = static_cast<std::uint8_t>(a);
    if (std::find(hello->mac_ids.begin(), hello->mac_ids.end(), id) != hello->mac_ids.end()) {
      chosen = a;
      break;
    }
  }
  if (!chosen)
    return Error(Errc::unsupported_mac, "none of the client's MAC algorithms is enabled");

  wire::ServerHello reply;
  reply.mac_id = static_cast<std::uint8_t>(*chosen);
  reply.nonce = nonce_;
  Bytes without_proof = wire::encode(reply);
  // The length field must already count the proof that follows.
  const std::size_t proof_size = crypto::mac_tag_size(*chosen);
  util::store_u16(
      without_proof.data() + 6,
      static_cast<std::uint16_t>(without_proof.size() - wire::kRecordHeaderSize + proof_size));
  keys_ = derive_session_keys(psk_, *chosen, hello->nonce, nonce_, record, without_proof);
  const Bytes p = proof(*chosen, keys_.server_proof_key, kServerProofLabel);
  without_proof.insert(without_proof.end(), p.begin(), p.end());
  return without_proof;
}

Result<void> PskServerHandshake::on_client_finish(ByteSpan record) {
  auto fin = wire::decode_client_finish(record, proof_size());
  if (!fin) return fin.error();
  if (!proof_ok(keys_.mac, keys_.client_proof_key, kClientProofLabel, fin->proof)) {
    return Error(Errc::key_mismatch,
                 "the client's proof does not verify with the server's key (different keys, or a "
                 "replayed handshake)");
  }
  return {};
}

FrameCodec PskServerHandshake::make_codec(std::uint32_t max_payload) const {
  return FrameCodec(keys_.mac, keys_.server_to_client, keys_.client_to_server,
                    Direction::server_to_client, max_payload);
}

}  // namespace signet::channel
