// Writes the seed corpora fuzz/corpus/frame/ and fuzz/corpus/handshake/ from
// the real encoders and handshake, with the fixed keys of fuzz_common.hpp,
// and fuzz/corpus/keys/ from keys made and encoded by the real key code
// (ssh-keygen, when installed, converts two of them to OpenSSH's format).
//   make_corpus <fuzz/corpus directory>
#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "crypto/identity.hpp"
#include "fuzz_common.hpp"
#include "keys/authorized_keys.hpp"
#include "keys/known_hosts.hpp"
#include "keys/public_key_line.hpp"
#include "proto/chat.hpp"
#include "proto/file_frames.hpp"
#include "proto/frames.hpp"
#include "util/encoding.hpp"

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
  for (auto alg : fuzz::kAllSuites) {
    auto tx = fuzz::client_codec(alg);
    Bytes out;
    tx.seal(wire::FrameType::message, {text}, out);
    tx.seal(wire::FrameType::message, {}, out);
    tx.seal(wire::FrameType::error,
            {wire::encode_error_payload({wire::ErrorCode::timeout, "idle"})}, out);
    write(dir + "/tagged_" + std::string(crypto::suite_name(alg)), out);
  }
  // A header announcing more than the limit, with no payload.
  Bytes big(wire::kFrameHeaderSize);
  wire::encode_frame_header(wire::FrameType::message, fuzz::kFuzzMaxPayload + 1, big.data());
  write(dir + "/too_large_header", big);
}

void handshakes(const std::string& dir) {
  for (auto alg : fuzz::kAllSuites) {
    const std::string name(crypto::suite_name(alg));
    // Client side of the fuzzer: a ServerHello answering the fixed ClientHello.
    channel::PskClientHandshake client(fuzz::psk(), fuzz::kAllSuites, fuzz::client_nonce());
    channel::PskServerHandshake server(fuzz::psk(), {alg}, fuzz::server_nonce());
    auto sh = server.on_client_hello(client.client_hello());
    auto fin = client.on_server_hello(*sh);
    write(dir + "/server_hello_" + name, *sh);
    // Server side: a ClientHello offering only alg, then its ClientFinish.
    channel::PskClientHandshake c2(fuzz::psk(), {alg}, fuzz::client_nonce());
    channel::PskServerHandshake s2(fuzz::psk(), fuzz::kAllSuites, fuzz::server_nonce());
    auto sh2 = s2.on_client_hello(c2.client_hello());
    auto fin2 = c2.on_server_hello(*sh2);
    write(dir + "/hello_finish_" + name, cat(c2.client_hello(), *fin2));
  }
  write(dir + "/error_record",
        wire::encode(wire::ErrorRecord{wire::ErrorCode::key_mismatch, "shared key mismatch"}));
}

// --- fuzz_keys ---

// The selector bytes and passphrase of fuzz_keys.cpp (Target, kPassphrase);
// keep the two in step.
enum KeysTarget : std::uint8_t {
  kPublicBlob = 0,
  kOpensshBinary = 1,
  kPrivateFile = 2,
  kKeyLine = 3,
  kAuthorizedKeys = 4,
  kKnownHosts = 5,
  kIp = 6,
  kText = 7,
};
constexpr std::string_view kKeysPassphrase = "fuzz passphrase";

void check(bool ok, const std::string& what) {
  if (!ok) {
    std::fprintf(stderr, "make_corpus: %s\n", what.c_str());
    std::exit(1);
  }
}

Bytes tagged(KeysTarget target, util::ByteSpan body) {
  Bytes out{static_cast<std::uint8_t>(target)};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}
Bytes tagged(KeysTarget target, std::string_view body) {
  return tagged(target, util::as_bytes(body));
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  check(static_cast<bool>(in), "cannot read " + path.string());
  return s.str();
}

// The base64-decoded body of an armored OpenSSH private key file.
Bytes openssh_body(std::string_view file) {
  const std::string_view begin = "-----BEGIN OPENSSH PRIVATE KEY-----";
  const std::string_view end = "-----END OPENSSH PRIVATE KEY-----";
  const auto b = file.find(begin);
  const auto e = file.find(end);
  check(b != std::string_view::npos && e != std::string_view::npos, "not an OpenSSH key file");
  std::string body;
  for (char c : file.substr(b + begin.size(), e - b - begin.size())) {
    if (c != '\n' && c != '\r') body.push_back(c);
  }
  auto decoded = util::base64_decode(body);
  check(decoded.has_value(), "bad base64 in an OpenSSH key file");
  return *decoded;
}

std::string openssh_armor(util::ByteSpan body) {
  std::string out = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
  const std::string b64 = util::base64_encode(body);
  for (std::size_t i = 0; i < b64.size(); i += 70) out += b64.substr(i, 70) + "\n";
  return out + "-----END OPENSSH PRIVATE KEY-----\n";
}

// An unencrypted openssh-key-v1 body (PROTOCOL.key) for the Ed25519 key of
// RFC 8032 section 7.1, test 1: deterministic, and independent of ssh-keygen
// (Debian 12's cannot convert an Ed25519 PKCS#8 key).
Bytes rfc8032_openssh_body() {
  const Bytes seed =
      *util::from_hex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
  const Bytes pk =
      *util::from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
  Bytes blob;
  util::Writer bw(blob);
  bw.string32(util::as_bytes("ssh-ed25519"));
  bw.string32(pk);
  Bytes section;
  util::Writer sw(section);
  sw.u32(0x5eed5eed);
  sw.u32(0x5eed5eed);
  sw.string32(util::as_bytes("ssh-ed25519"));
  sw.string32(pk);
  Bytes sk = seed;
  sk.insert(sk.end(), pk.begin(), pk.end());
  sw.string32(sk);
  sw.string32(util::as_bytes("rfc8032@example"));
  for (std::uint8_t pad = 1; section.size() % 8 != 0; ++pad) sw.u8(pad);
  Bytes out;
  util::Writer w(out);
  w.bytes(std::string_view("openssh-key-v1\0", 15));
  w.string32(util::as_bytes("none"));
  w.string32(util::as_bytes("none"));
  w.string32(util::ByteSpan{});
  w.u32(1);
  w.string32(blob);
  w.string32(section);
  return out;
}

// A syntactically valid 2048-bit ssh-rsa blob (not a real key): below
// signet's minimum, so only KeyPolicy::display_only accepts it.
Bytes weak_rsa_blob() {
  Bytes n(256, 0x5a);
  n[0] = 0xc5;
  n.back() = 0x6b;
  Bytes blob;
  util::Writer w(blob);
  w.string32(util::as_bytes("ssh-rsa"));
  w.string32(Bytes{0x01, 0x00, 0x01});
  Bytes mpint{0x00};
  mpint.insert(mpint.end(), n.begin(), n.end());
  w.string32(mpint);
  return blob;
}

std::string key_line(const crypto::PublicKey& key, std::string_view comment) {
  return crypto::format_public_key_line(key, comment);
}

void keys_seeds(const std::string& dir) {
  namespace fs = std::filesystem;
  std::string tmp_template = (fs::temp_directory_path() / "signet-make-corpus-XXXXXX").string();
  check(::mkdtemp(tmp_template.data()) != nullptr, "mkdtemp failed");
  const fs::path tmp = tmp_template;

  struct Made {
    std::string name;
    crypto::PrivateKey key;
  };
  std::vector<Made> made;
  for (auto [type, name] : {std::pair{crypto::KeyType::ed25519, "ed25519"},
                            std::pair{crypto::KeyType::ecdsa_p256, "ecdsa"},
                            std::pair{crypto::KeyType::rsa, "rsa3072"}}) {
    auto key = crypto::PrivateKey::generate(type);  // RSA: once, it is slow
    check(key.ok(), std::string("cannot generate ") + name);
    made.push_back({name, std::move(*key)});
  }
  const auto provider = [](const fs::path&) -> Result<crypto::SecretBytes> {
    return crypto::SecretBytes(util::as_bytes(kKeysPassphrase));
  };

  for (const auto& [name, key] : made) {
    const crypto::PublicKey& pub = key.public_key();
    write(dir + "/blob_" + name, tagged(kPublicBlob, pub.ssh_blob()));
    write(dir + "/line_" + name, tagged(kKeyLine, key_line(pub, name + "@example")));

    // PKCS#8 PEM as PrivateKey::save writes it.
    const fs::path pem = tmp / name;
    check(key.save(pem, "seed").ok(), "cannot save " + name);
    const std::string pem_text = read_file(pem);
    check(crypto::PrivateKey::parse(util::as_bytes(pem_text), {}, pem).ok(), "PEM seed rejected");
    write(dir + "/pem_" + name, tagged(kPrivateFile, pem_text));

    // The same key in OpenSSH's format, converted by ssh-keygen.
    if (name == "ed25519") continue;
    const fs::path converted = tmp / (name + ".openssh");
    fs::copy_file(pem, converted);
    fs::permissions(converted, fs::perms::owner_read | fs::perms::owner_write);
    const std::string cmd =
        "ssh-keygen -q -p -P '' -N '' -f '" + converted.string() + "' >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) {
      std::fprintf(stderr, "make_corpus: ssh-keygen failed; no openssh_%s seed\n", name.c_str());
      continue;
    }
    const Bytes body = openssh_body(read_file(converted));
    auto parsed = crypto::PrivateKey::from_openssh_binary(body);
    check(parsed.ok() && parsed->public_key() == pub, "OpenSSH seed rejected: " + name);
    write(dir + "/openssh_" + name, tagged(kOpensshBinary, body));
  }

  // An encrypted PKCS#8 file (PBKDF2, AES-256-CBC) for the fixed passphrase.
  {
    const fs::path pem = tmp / "encrypted";
    check(made[0].key.save(pem, "seed", util::as_bytes(kKeysPassphrase)).ok(), "cannot save");
    const std::string text = read_file(pem);
    check(crypto::PrivateKey::parse(util::as_bytes(text), provider, pem).ok(),
          "encrypted seed rejected");
    write(dir + "/pem_ed25519_encrypted", tagged(kPrivateFile, text));
  }
  // The RFC 8032 key as a binary body and as an armored file.
  const Bytes rfc_body = rfc8032_openssh_body();
  auto rfc_key = crypto::PrivateKey::from_openssh_binary(rfc_body);
  check(rfc_key.ok(), "RFC 8032 OpenSSH seed rejected");
  write(dir + "/openssh_ed25519", tagged(kOpensshBinary, rfc_body));
  write(dir + "/pem_openssh_ed25519", tagged(kPrivateFile, openssh_armor(rfc_body)));

  const Bytes weak = weak_rsa_blob();
  auto weak_key = crypto::PublicKey::from_ssh_blob(weak, crypto::KeyPolicy::display_only);
  check(weak_key.ok() && !crypto::PublicKey::from_ssh_blob(weak), "weak RSA seed");
  write(dir + "/blob_rsa2048_weak", tagged(kPublicBlob, weak));
  write(dir + "/line_rsa2048_weak", tagged(kKeyLine, key_line(*weak_key, "weak")));

  const crypto::PublicKey& ed = made[0].key.public_key();
  const crypto::PublicKey& ec = made[1].key.public_key();
  const crypto::PublicKey& rsa = made[2].key.public_key();
  const crypto::PublicKey& rfc = rfc_key->public_key();
  const std::string options_line =
      "from=\"10.0.0.0/8,2001:db8::/32\",expiry-time=\"20300101\",allow=\"message,get\" " +
      key_line(ed, "bob@example");
  check(keys::parse_authorized_key(options_line).ok(), "options seed rejected");
  write(dir + "/line_options", tagged(kKeyLine, options_line));

  const std::string authorized =
      "# signet authorized_keys\n" + key_line(rfc, "alice@example") + "\n" +
      "from=\"10.0.0.0/8,2001:db8::/32\",expiry-time=\"20300101Z\" " + key_line(ec, "bob") + "\n" +
      "allow=\"message,get\",expiry-time=\"202001011200\" " + key_line(rsa, "carol") + "\n\n" +
      "FROM=\"::ffff:10.1.2.0/120,192.0.2.7\",ALLOW=\"chat\" " + key_line(ed, "dave") + "\r\n" +
      key_line(rfc, "duplicate") + "\n" + "no-pty " + key_line(ec, "unknown option") + "\n" +
      key_line(*weak_key, "too weak") + "\n";
  const auto parsed = keys::AuthorizedKeys::parse(authorized);
  check(parsed.entries().size() == 4 && parsed.warnings().size() == 3,
        "authorized_keys seed parses unexpectedly");
  write(dir + "/authorized_keys", tagged(kAuthorizedKeys, authorized));

  const std::string known = "# signet known_hosts\n" + ("example.com:7000 " + key_line(ed, "")) +
                            "\n" + ("[2001:db8::1]:7000 " + key_line(ec, "pinned 2026-01-01")) +
                            "\n" + ("192.0.2.1:22 " + key_line(rsa, "")) + "\n" +
                            ("Example.COM:07000 " + key_line(rfc, "")) + "\n" +
                            "damaged.example:7000 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5\n";
  write(dir + "/known_hosts", tagged(kKnownHosts, known));

  for (auto [name, text] :
       {std::pair{"ip_v4_net", "10.0.0.0/8"}, std::pair{"ip_v6_net", "2001:db8::/32"},
        std::pair{"ip_mapped", "::ffff:10.1.2.3"}, std::pair{"ip_v4", "192.0.2.1"},
        std::pair{"ip_mapped_net", "::ffff:10.1.2.0/120"}}) {
    write(dir + "/" + name, tagged(kIp, text));
  }
  for (auto [name, text] :
       {std::pair{"expiry_date", "20300101"}, std::pair{"expiry_full", "20300101123059Z"},
        std::pair{"host_name", "Example.COM:7000"}, std::pair{"host_v6", "[2001:0db8::1]:22"},
        std::pair{"options", "from=\"10.0.0.0/8\",allow=\"get\",no-pty"}}) {
    write(dir + "/" + name, tagged(kText, text));
  }
  fs::remove_all(tmp);
}

// Seeds for fuzz_proto_session: a set-up byte, then steps (see the target).
void proto_seeds(const std::string& dir) {
  const auto frame = [](std::uint8_t type_index, const Bytes& payload) {
    Bytes step = {0, type_index, static_cast<std::uint8_t>(payload.size())};
    step.insert(step.end(), payload.begin(), payload.end());
    return step;
  };
  const auto arr = [](auto a) { return Bytes(a.begin(), a.end()); };
  const Bytes msg = {'h', 'i'};
  // Version 2 server: a message opened, answered; DATA within and beyond credit.
  write(
      dir + "/v2-server-message",
      cat(cat(Bytes{0x03}, frame(3, cat(arr(proto::open_header(1, 1, true)), msg))), Bytes{2, 0}));
  write(
      dir + "/v2-server-stream",
      cat(cat(cat(Bytes{0x03}, frame(3, arr(proto::open_header(1, 1, false)))),
              frame(4, cat(arr(proto::data_header(1, false)), Bytes(100, 'x')))),
          cat(Bytes{4, 0}, frame(6, proto::cancel_payload(1, {wire::ErrorCode::cancelled, "x"})))));
  // Version 2 client: open, credit, reply.
  write(dir + "/v2-client",
        cat(cat(Bytes{0x02, 1, 0x01}, frame(5, arr(proto::window_payload(1, 1000)))),
            cat(Bytes{3, 0}, frame(6, arr(proto::reply_header(1, 0))))));
  // Version 1 server and client.
  write(dir + "/v1-server", cat(cat(Bytes{0x01}, frame(0, msg)), Bytes{2, 0}));
  write(dir + "/v1-client", cat(Bytes{0x00, 1, 0x81}, frame(1, Bytes{0, 'o', 'k'})));
}

// Seeds for fuzz_file_frames: a selector byte, then what it decodes.
void file_seeds(const std::string& dir) {
  write(dir + "/put",
        cat(Bytes{0}, proto::encode(proto::PutRequest{true, 5, 0644, 1, "in/r.pdf"})));
  write(dir + "/get", cat(Bytes{1}, proto::encode(proto::GetRequest{"a/b"})));
  write(dir + "/list", cat(Bytes{2}, proto::encode(proto::ListRequest{""})));
  const auto h = proto::encode(proto::FileHeader{5, 0755, 2});
  write(dir + "/header", cat(Bytes{3}, Bytes(h.begin(), h.end())));
  Bytes entries = {4};
  proto::append(entries, proto::ListEntry{proto::EntryType::file, 5, 0644, 1, "x"});
  proto::append(entries, proto::ListEntry{proto::EntryType::directory, 0, 0755, 1, "d"});
  write(dir + "/entries", entries);
  Bytes stream = {5, 0, 5, 3, 'h', 'e', 'l', 'l', 'o'};
  stream.resize(stream.size() + proto::kDigestSize, 0xAB);
  write(dir + "/stream", stream);
}

void chat_seeds(const std::string& dir) {
  proto::ConversationId id{};
  id.fill(7);
  const auto join = proto::encode_chat_join({id, 2});
  write(dir + "/join", cat(Bytes{0}, Bytes(join.begin(), join.end())));
  const auto joined = proto::encode_chat_joined(3);
  write(dir + "/joined", cat(Bytes{1}, Bytes(joined.begin(), joined.end())));
  const auto h = proto::chat_message_header(1);
  write(dir + "/message", cat(Bytes{2}, cat(Bytes(h.begin(), h.end()), Bytes{'h', 'i'})));
  // Write two lines, send both, lose the connection, send one again, the
  // peer shows line 1; the peer's lines 1, 2, 2 (again), 4 (a gap).
  write(dir + "/conversation",
        Bytes{3, 0, 1, 0, 2, 1, 0, 1, 0, 2, 0, 1, 0, 3, 1, 4, 1, 4, 2, 4, 2, 4, 4});
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
  std::filesystem::create_directories(root + "/keys");
  frames(root + "/frame");
  handshakes(root + "/handshake");
  keys_seeds(root + "/keys");
  std::filesystem::create_directories(root + "/proto");
  proto_seeds(root + "/proto");
  std::filesystem::create_directories(root + "/files");
  file_seeds(root + "/files");
  std::filesystem::create_directories(root + "/chat");
  chat_seeds(root + "/chat");
  return 0;
}
