// Writes the seed corpora fuzz/corpus/frame/ and fuzz/corpus/handshake/ from
// the real encoders and handshake, with the fixed keys of fuzz_common.hpp.
//   make_corpus <fuzz/corpus directory>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include "fuzz_common.hpp"

namespace {

using namespace signet;
using util::Bytes;

void write(const std::string& path, const Bytes& b) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(b.data()), static_cast<std::streamsize>(b.size()));
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::exit(1);
  }
}

Bytes cat(Bytes a, const Bytes& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

void frames(const std::string& dir) {
  const auto text = util::as_bytes("hello, signet");
  // Plain framing (key mode): a message, a reply, an error, back to back.
  {
    channel::FrameCodec tx(fuzz::kFuzzMaxPayload);
    Bytes out;
    tx.seal(wire::FrameType::message, {text}, out);
    tx.seal(wire::FrameType::reply, {wire::encode_reply_payload({0, "verified 13 bytes"})}, out);
    tx.seal(wire::FrameType::error,
            {wire::encode_error_payload({wire::ErrorCode::bad_tag, "authentication failed"})}, out);
    write(dir + "/plain_three_frames", out);
  }
  // Tagged frames for each MAC: the same stream the server codec accepts.
  for (auto alg : fuzz::kAllMacs) {
    auto tx = fuzz::client_codec(alg);
    Bytes out;
    tx.seal(wire::FrameType::message, {text}, out);
    tx.seal(wire::FrameType::message, {}, out);
    tx.seal(wire::FrameType::error,
            {wire::encode_error_payload({wire::ErrorCode::timeout, "idle"})}, out);
    write(dir + "/tagged_" + std::string(crypto::mac_name(alg)), out);
  }
  // A header announcing more than the limit, with no payload.
  Bytes big(wire::kFrameHeaderSize);
  wire::encode_frame_header(wire::FrameType::message, fuzz::kFuzzMaxPayload + 1, big.data());
  write(dir + "/too_large_header", big);
}

void handshakes(const std::string& dir) {
  for (auto alg : fuzz::kAllMacs) {
    const std::string name(crypto::mac_name(alg));
    // Client side of the fuzzer: a ServerHello answering the fixed ClientHello.
    channel::PskClientHandshake client(fuzz::psk(), fuzz::kAllMacs, fuzz::client_nonce());
    channel::PskServerHandshake server(fuzz::psk(), {alg}, fuzz::server_nonce());
    auto sh = server.on_client_hello(client.client_hello());
    auto fin = client.on_server_hello(*sh);
    write(dir + "/server_hello_" + name, *sh);
    // Server side: a ClientHello offering only alg, then its ClientFinish.
    channel::PskClientHandshake c2(fuzz::psk(), {alg}, fuzz::client_nonce());
    channel::PskServerHandshake s2(fuzz::psk(), fuzz::kAllMacs, fuzz::server_nonce());
    auto sh2 = s2.on_client_hello(c2.client_hello());
    auto fin2 = c2.on_server_hello(*sh2);
    write(dir + "/hello_finish_" + name, cat(c2.client_hello(), *fin2));
  }
  write(dir + "/error_record",
        wire::encode(wire::ErrorRecord{wire::ErrorCode::key_mismatch, "shared key mismatch"}));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_corpus <fuzz/corpus directory>\n");
    return 2;
  }
  const std::string root = argv[1];
  std::filesystem::create_directories(root + "/frame");
  std::filesystem::create_directories(root + "/handshake");
  frames(root + "/frame");
  handshakes(root + "/handshake");
  return 0;
}
