// libFuzzer target: the handshake record decoders and both handshake state
// machines on untrusted input.
//
// Oracles beyond "no crash": any record that decodes re-encodes to exactly the
// input bytes (no two encodings of one message).
#include <cstddef>
#include <cstdint>

#include "fuzz_common.hpp"

namespace {

using signet::util::Bytes;
using signet::util::ByteSpan;
using namespace signet;

void require_same(const Bytes& encoded, ByteSpan in) {
  fuzz::require(encoded == Bytes(in.begin(), in.end()));
}

void decoders(ByteSpan in) {
  if (auto h = wire::decode_record_header(in)) {
    fuzz::require(h->version == wire::kVersion && h->length <= wire::kMaxRecordBody);
  }
  if (auto m = wire::decode_client_hello(in)) require_same(wire::encode(*m), in);
  for (std::size_t proof : {std::size_t{32}, std::size_t{64}}) {
    if (auto m = wire::decode_server_hello(in, proof)) require_same(wire::encode(*m), in);
    if (auto m = wire::decode_client_finish(in, proof)) require_same(wire::encode(*m), in);
  }
  if (auto m = wire::decode_error_record(in)) require_same(wire::encode(*m), in);
  (void)wire::peek_server_hello_mac(in);
}

// The first record of the input (by its length field) and what follows.
std::pair<ByteSpan, ByteSpan> split_first_record(ByteSpan in) {
  if (in.size() < wire::kRecordHeaderSize) return {in, {}};
  const std::size_t n = wire::kRecordHeaderSize + util::load_u16(in.data() + 6);
  if (n >= in.size()) return {in, {}};
  return {in.first(n), in.subspan(n)};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ByteSpan in(data, size);
  decoders(in);

  // Server: the first record as ClientHello, the rest as ClientFinish.
  {
    const auto [hello, finish] = split_first_record(in);
    channel::PskServerHandshake server(fuzz::psk(), fuzz::kAllSuites, fuzz::server_nonce());
    if (auto sh = server.on_client_hello(hello)) {
      fuzz::require(wire::decode_server_hello(*sh, server.proof_size()).ok());
      (void)server.on_client_finish(finish);
    }
  }
  // Client: the whole input as the ServerHello answering a fixed ClientHello.
  {
    channel::PskClientHandshake client(fuzz::psk(), fuzz::kAllSuites, fuzz::client_nonce());
    if (auto fin = client.on_server_hello(in)) {
      fuzz::require(
          wire::decode_client_finish(*fin, crypto::mac_tag_size(crypto::proof_mac(client.suite())))
              .ok());
    }
  }
  return 0;
}
