// Per-message cost of shared-key mode, without the network.
#include <benchmark/benchmark.h>

#include "api/receipt.hpp"
#include "channel/frame_codec.hpp"
#include "channel/psk_handshake.hpp"
#include "crypto/mac.hpp"
#include "crypto/private_key.hpp"
#include "crypto/suite.hpp"

namespace {

using namespace signet;

crypto::SecretBytes key32() {
  crypto::SecretBytes k(32);
  for (std::size_t i = 0; i < k.size(); ++i) k.mutable_span()[i] = static_cast<std::uint8_t>(i);
  return k;
}

void BM_Mac(benchmark::State& state, crypto::MacAlgorithm alg) {
  const auto key = key32();
  crypto::Mac mac(alg, key.span());
  const util::Bytes data(static_cast<std::size_t>(state.range(0)), 'x');
  std::uint8_t tag[crypto::kMaxTagSize];
  for (auto _ : state) {
    mac.compute({data}, tag);
    benchmark::DoNotOptimize(tag);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK_CAPTURE(BM_Mac, hmac_sha256, crypto::MacAlgorithm::hmac_sha256)->Arg(78)->Arg(65550);
BENCHMARK_CAPTURE(BM_Mac, hmac_sha512, crypto::MacAlgorithm::hmac_sha512)->Arg(78)->Arg(65550);
BENCHMARK_CAPTURE(BM_Mac, blake2b_256, crypto::MacAlgorithm::blake2b_256)->Arg(78)->Arg(65550);

// Seal on one side and open on the other: what each message costs one
// direction (two MACs, or one encryption and one decryption).
void BM_SealOpen(benchmark::State& state, crypto::Suite suite) {
  const auto a = key32();
  auto b = key32();
  b.mutable_span()[0] ^= 1;
  crypto::SecretBytes iv_a(crypto::suite_iv_size(suite)), iv_b(crypto::suite_iv_size(suite));
  channel::FrameCodec tx(suite, {a, iv_a}, {b, iv_b}, channel::Direction::client_to_server,
                         1 << 20);
  channel::FrameCodec rx(suite, {b, iv_b}, {a, iv_a}, channel::Direction::server_to_client,
                         1 << 20);
  const util::Bytes payload(static_cast<std::size_t>(state.range(0)), 'x');
  util::Bytes wire;
  for (auto _ : state) {
    wire.clear();
    tx.seal(wire::FrameType::message, {payload}, wire);
    auto f = rx.open(wire);
    if (!f || !f->has_value()) state.SkipWithError("frame did not verify");
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK_CAPTURE(BM_SealOpen, hmac_sha256, crypto::Suite::hmac_sha256)->Arg(64)->Arg(65536);
BENCHMARK_CAPTURE(BM_SealOpen, aes_256_gcm, crypto::Suite::aes_256_gcm)->Arg(64)->Arg(65536);
BENCHMARK_CAPTURE(BM_SealOpen, chacha20_poly1305, crypto::Suite::chacha20_poly1305)
    ->Arg(64)
    ->Arg(65536);

void BM_Handshake(benchmark::State& state) {
  const auto psk = key32();
  for (auto _ : state) {
    channel::PskClientHandshake client(psk, {crypto::Suite::hmac_sha256});
    channel::PskServerHandshake server(psk, {crypto::Suite::hmac_sha256});
    auto sh = server.on_client_hello(client.client_hello());
    auto cf = client.on_server_hello(*sh);
    auto ok = server.on_client_finish(*cf);
    if (!ok) state.SkipWithError("handshake failed");
  }
}
BENCHMARK(BM_Handshake);

// A signed receipt (issue 10): what the server spends on one (statement and
// SSHSIG signature), and what a client spends checking it, per key type.
ReceiptFacts receipt_facts(const crypto::PrivateKey& key) {
  ReceiptFacts f;
  f.server_key = key.public_key().fingerprint();
  f.client_key = f.server_key;
  f.session = std::string(64, 'a');
  f.time = "2026-12-02T12:00:00Z";
  f.operation = "message";
  f.size = 16;
  f.sha256 = std::string(64, 'b');
  f.reply_sha256 = std::string(64, 'c');
  return f;
}

void BM_ReceiptSign(benchmark::State& state, crypto::KeyType type) {
  const auto key = crypto::PrivateKey::generate(type);
  const auto f = receipt_facts(*key);
  for (auto _ : state) {
    auto r = sign_receipt(*key, f);
    if (!r) state.SkipWithError("signing failed");
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK_CAPTURE(BM_ReceiptSign, ed25519, crypto::KeyType::ed25519);
BENCHMARK_CAPTURE(BM_ReceiptSign, ecdsa_p256, crypto::KeyType::ecdsa_p256);
BENCHMARK_CAPTURE(BM_ReceiptSign, rsa_3072, crypto::KeyType::rsa);

void BM_ReceiptCheck(benchmark::State& state, crypto::KeyType type) {
  const auto key = crypto::PrivateKey::generate(type);
  const auto r = sign_receipt(*key, receipt_facts(*key));
  for (auto _ : state) {
    auto f = check_receipt(*r);
    if (!f) state.SkipWithError("check failed");
    benchmark::DoNotOptimize(f);
  }
}
BENCHMARK_CAPTURE(BM_ReceiptCheck, ed25519, crypto::KeyType::ed25519);

}  // namespace

BENCHMARK_MAIN();
