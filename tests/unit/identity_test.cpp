// crypto/identity: SSH public key blobs, fingerprints and private key files,
// cross-checked against the real ssh-keygen, plus truncation and garbage
// loops for every decoder.
#include "crypto/identity.hpp"
#include "test_support.hpp"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "crypto/primitives.hpp"
#include "util/encoding.hpp"

namespace signet::crypto {
namespace {

namespace fs = std::filesystem;
using test_support::dir_names;
using test_support::mode_of;
using test_support::read_text;

// Each test file names its directories after itself.
struct TempDir : test_support::TempDir {
  TempDir() : test_support::TempDir("signet-identity") {}
};
using util::Bytes;

std::string quote(const fs::path& p) {
  return "'" + p.string() + "'";
}

int run(const std::string& cmd) {
  return std::system((cmd + " >/dev/null 2>&1").c_str());
}

std::string capture(const std::string& cmd) {
  std::string out;
  FILE* f = ::popen((cmd + " 2>/dev/null").c_str(), "r");
  if (f == nullptr) return out;
  char buf[512];
  while (std::fgets(buf, sizeof(buf), f) != nullptr) out += buf;
  ::pclose(f);
  return out;
}

void write_text(const fs::path& p, const std::string& s) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << s;
}

std::vector<std::string> split_ws(const std::string& s) {
  std::istringstream in(s);
  std::vector<std::string> out;
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

// The blob of the first key in a .pub file ("type base64 comment").
Bytes pub_file_blob(const fs::path& p) {
  const auto words = split_ws(read_text(p));
  if (words.size() < 2) return {};
  return util::base64_decode(words[1]).value_or(Bytes{});
}

PassphraseProvider fixed_passphrase(const std::string& pass, int* calls) {
  return [pass, calls](const fs::path&) -> Result<SecretBytes> {
    if (calls != nullptr) ++*calls;
    return SecretBytes(util::as_bytes(pass));
  };
}

struct SshKeygenCase {
  const char* type;
  const char* bits;
  KeyType expected;
  const char* label;
};

class SshKeygenCrossCheck : public testing::TestWithParam<SshKeygenCase> {};

TEST_P(SshKeygenCrossCheck, FingerprintAndPrivateKeyMatchSshKeygen) {
  const auto& c = GetParam();
  TempDir dir;
  const fs::path key = dir / "k";
  ASSERT_EQ(run(std::string("ssh-keygen -q -t ") + c.type + " -b " + c.bits +
                " -N '' -C alice@example -f " + quote(key)),
            0);

  auto pub = PublicKey::from_ssh_blob(pub_file_blob(dir / "k.pub"));
  ASSERT_TRUE(pub) << pub.error().message();
  EXPECT_EQ(pub->type(), c.expected);

  // "256 SHA256:... alice@example (ED25519)"
  const auto words = split_ws(capture("ssh-keygen -lf " + quote(dir / "k.pub")));
  ASSERT_EQ(words.size(), 4u);
  EXPECT_EQ(words[0], std::to_string(pub->bits()));
  EXPECT_EQ(words[1], pub->fingerprint());
  EXPECT_EQ(words[3], std::string("(") + c.label + ")");
  EXPECT_EQ(std::string("(") + std::string(key_type_label(pub->type())) + ")", words[3]);

  auto priv = PrivateKey::load(key);
  ASSERT_TRUE(priv) << priv.error().message();
  EXPECT_TRUE(priv->public_key() == *pub);
  EXPECT_EQ(priv->comment(), "alice@example");
  EXPECT_EQ(priv->type(), c.expected);

  // The same key in ssh-keygen's PEM (PKCS#8) export loads to the same key.
  if (c.expected != KeyType::ed25519) {
    const fs::path pem = dir / "k.pem";
    ASSERT_EQ(run("cp " + quote(key) + " " + quote(pem) +
                  " && ssh-keygen -q -p -N '' -m PKCS8 -f " + quote(pem)),
              0);
    auto from_pem = PrivateKey::load(pem);
    ASSERT_TRUE(from_pem) << from_pem.error().message();
    EXPECT_TRUE(from_pem->public_key() == *pub);
  }

  // An encrypted OpenSSH key gets an error that says what to do.
  const fs::path enc = dir / "enc";
  ASSERT_EQ(run(std::string("ssh-keygen -q -t ") + c.type + " -b " + c.bits + " -N secret -f " +
                quote(enc)),
            0);
  int calls = 0;
  auto encrypted = PrivateKey::load(enc, fixed_passphrase("secret", &calls));
  ASSERT_FALSE(encrypted);
  EXPECT_TRUE(encrypted.error().is(Errc::config));
  EXPECT_NE(encrypted.error().detail.find("encrypted OpenSSH private key"), std::string::npos);
  EXPECT_NE(encrypted.error().detail.find("ssh-keygen -p"), std::string::npos);
  EXPECT_NE(encrypted.error().detail.find("signet keygen"), std::string::npos);
  EXPECT_NE(encrypted.error().detail.find(enc.string()), std::string::npos);
  EXPECT_EQ(calls, 0);
}

TEST_P(SshKeygenCrossCheck, OurPublicKeyFileIsAcceptedBySshKeygen) {
  const auto& c = GetParam();
  TempDir dir;
  auto key = PrivateKey::generate(c.expected);
  ASSERT_TRUE(key) << key.error().message();
  ASSERT_TRUE(key->save(dir / "id", "bob@example"));
  const auto words = split_ws(capture("ssh-keygen -lf " + quote(dir / "id.pub")));
  ASSERT_EQ(words.size(), 4u);
  EXPECT_EQ(words[0], std::to_string(key->public_key().bits()));
  EXPECT_EQ(words[1], key->public_key().fingerprint());
  EXPECT_EQ(words[2], "bob@example");
  EXPECT_EQ(words[3], std::string("(") + c.label + ")");
  if (c.expected == KeyType::rsa) {
    EXPECT_EQ(key->public_key().bits(), kGeneratedRsaBits);
  }

  // Our PKCS#8 file is readable by ssh-keygen too (Ed25519 PKCS#8 needs a
  // newer OpenSSH than Debian 12's, so only ECDSA and RSA are checked).
  if (c.expected != KeyType::ed25519) {
    const auto derived = split_ws(capture("ssh-keygen -y -f " + quote(dir / "id")));
    ASSERT_GE(derived.size(), 2u);
    EXPECT_EQ(derived[1], util::base64_encode(key->public_key().ssh_blob()));
  }
}

INSTANTIATE_TEST_SUITE_P(
    Types, SshKeygenCrossCheck,
    testing::Values(SshKeygenCase{"ed25519", "256", KeyType::ed25519, "ED25519"},
                    SshKeygenCase{"ecdsa", "256", KeyType::ecdsa_p256, "ECDSA"},
                    SshKeygenCase{"rsa", "3072", KeyType::rsa, "RSA"}),
    [](const testing::TestParamInfo<SshKeygenCase>& p) { return std::string(p.param.type); });

// RFC 8032 section 7.1, test 1: the public key of the all-"9d61..." secret.
TEST(PublicKey, Ed25519KnownBlobAndFingerprint) {
  const auto pk =
      util::from_hex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a").value();
  Bytes blob;
  util::Writer w(blob);
  w.string32(util::as_bytes("ssh-ed25519"));
  w.string32(pk);
  auto key = PublicKey::from_ssh_blob(blob);
  ASSERT_TRUE(key) << key.error().message();
  EXPECT_EQ(key->ssh_type(), "ssh-ed25519");
  EXPECT_EQ(key->ssh_blob(), blob);
  EXPECT_EQ(key->bits(), 256u);
  const auto digest = sha256({blob});
  EXPECT_EQ(key->fingerprint(), "SHA256:" + util::base64_encode_unpadded(digest));
  EXPECT_EQ(key->fingerprint().size(), 7u + 43u);
  EXPECT_NE(key->evp(), nullptr);
  // from_evp round trip gives an equal key.
  auto again = PublicKey::from_evp(key->evp());
  ASSERT_TRUE(again);
  EXPECT_TRUE(*again == *key);
}

TEST(PublicKey, FromEvpOfPrivateKeyHoldsOnlyThePublicHalf) {
  auto priv = PrivateKey::generate(KeyType::ecdsa_p256);
  ASSERT_TRUE(priv);
  auto pub = PublicKey::from_evp(priv->evp());
  ASSERT_TRUE(pub);
  EXPECT_TRUE(*pub == priv->public_key());
  EXPECT_NE(pub->evp(), priv->evp());
  EXPECT_FALSE(PublicKey::from_evp(nullptr));
}

TEST(PublicKey, RejectsBadEncodings) {
  auto ed = PrivateKey::generate(KeyType::ed25519).value().public_key();
  auto ec = PrivateKey::generate(KeyType::ecdsa_p256).value().public_key();

  // Unknown type.
  Bytes unknown;
  util::Writer(unknown).string32(util::as_bytes("ssh-dss"));
  EXPECT_TRUE(PublicKey::from_ssh_blob(unknown).error().is(Errc::malformed));

  // Trailing byte.
  Bytes trailing = ed.ssh_blob();
  trailing.push_back(0);
  EXPECT_TRUE(PublicKey::from_ssh_blob(trailing).error().is(Errc::trailing_data));

  // ECDSA point moved off the curve.
  Bytes off_curve = ec.ssh_blob();
  off_curve.back() ^= 1;
  EXPECT_TRUE(PublicKey::from_ssh_blob(off_curve).error().is(Errc::malformed));

  // ECDSA with the wrong curve name.
  Bytes wrong_curve;
  util::Writer w(wrong_curve);
  w.string32(util::as_bytes("ecdsa-sha2-nistp256"));
  w.string32(util::as_bytes("nistp384"));
  w.string32(Bytes(65, 4));
  EXPECT_TRUE(PublicKey::from_ssh_blob(wrong_curve).error().is(Errc::malformed));

  // Too large.
  EXPECT_TRUE(PublicKey::from_ssh_blob(Bytes(kMaxPublicKeyBlob + 1)).error().is(Errc::too_large));
}

TEST(PublicKey, RsaPolicyAndCanonicalIntegers) {
  TempDir dir;
  ASSERT_EQ(run("ssh-keygen -q -t rsa -b 2048 -N '' -f " + quote(dir / "weak")), 0);
  const Bytes blob = pub_file_blob(dir / "weak.pub");
  auto refused = PublicKey::from_ssh_blob(blob);
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().is(Errc::not_authorized));
  EXPECT_NE(refused.error().detail.find("2048 bits is below"), std::string::npos);
  auto shown = PublicKey::from_ssh_blob(blob, KeyPolicy::display_only);
  ASSERT_TRUE(shown);
  EXPECT_EQ(shown->bits(), 2048u);
  EXPECT_FALSE(shown->check_policy());
  EXPECT_EQ(shown->fingerprint(),
            split_ws(capture("ssh-keygen -lf " + quote(dir / "weak.pub")))[1]);

  // The private half is refused for use as well.
  auto weak_priv = PrivateKey::load(dir / "weak");
  ASSERT_FALSE(weak_priv);
  EXPECT_TRUE(weak_priv.error().is(Errc::config));

  // e = 65537 with a superfluous leading zero is not canonical.
  util::Reader r(blob);
  util::ByteSpan type, e, n;
  ASSERT_TRUE(r.read_string32(type) && r.read_string32(e) && r.read_string32(n));
  Bytes padded;
  util::Writer w(padded);
  w.string32(type);
  Bytes e0{0};
  e0.insert(e0.end(), e.begin(), e.end());
  w.string32(e0);
  w.string32(n);
  auto non_canonical = PublicKey::from_ssh_blob(padded, KeyPolicy::display_only);
  ASSERT_FALSE(non_canonical);
  EXPECT_TRUE(non_canonical.error().is(Errc::malformed));
}

// Every proper prefix of a valid blob is rejected cleanly.
TEST(PublicKey, EveryTruncationFails) {
  for (KeyType t : {KeyType::ed25519, KeyType::ecdsa_p256, KeyType::rsa}) {
    auto key = PrivateKey::generate(t);
    ASSERT_TRUE(key);
    const Bytes& blob = key->public_key().ssh_blob();
    ASSERT_TRUE(PublicKey::from_ssh_blob(blob));
    for (std::size_t len = 0; len < blob.size(); ++len) {
      auto r = PublicKey::from_ssh_blob(util::ByteSpan(blob).first(len));
      ASSERT_FALSE(r) << ssh_type_name(t) << " len " << len;
      EXPECT_FALSE(r.error().detail.empty());
    }
  }
}

TEST(PublicKey, RandomGarbageFails) {
  std::mt19937 rng(1234);
  for (int i = 0; i < 2000; ++i) {
    Bytes junk(rng() % 200);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    // Half the time, start with a real type name so the inner parsers run.
    if (i % 2 == 0) {
      const char* names[] = {"ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"};
      Bytes prefixed;
      util::Writer w(prefixed);
      w.string32(util::as_bytes(names[i % 3]));
      if (i % 3 == 1) w.string32(util::as_bytes("nistp256"));
      w.bytes(junk);
      junk = prefixed;
    }
    EXPECT_FALSE(PublicKey::from_ssh_blob(junk, KeyPolicy::display_only)) << i;
  }
}

// The base64 body of an OpenSSH private key file.
Bytes openssh_binary(const fs::path& key_file) {
  std::string text = read_text(key_file);
  const std::string begin = "-----BEGIN OPENSSH PRIVATE KEY-----";
  const std::string end = "-----END OPENSSH PRIVATE KEY-----";
  const auto b = text.find(begin);
  const auto e = text.find(end);
  std::string body;
  for (char c : text.substr(b + begin.size(), e - b - begin.size())) {
    if (c != '\n' && c != '\r') body.push_back(c);
  }
  return util::base64_decode(body).value_or(Bytes{});
}

class OpensshDecoder : public testing::TestWithParam<SshKeygenCase> {};

TEST_P(OpensshDecoder, EveryTruncationFailsCleanly) {
  const auto& c = GetParam();
  TempDir dir;
  ASSERT_EQ(run(std::string("ssh-keygen -q -t ") + c.type + " -b " + c.bits + " -N '' -C tr -f " +
                quote(dir / "k")),
            0);
  const Bytes data = openssh_binary(dir / "k");
  ASSERT_FALSE(data.empty());
  ASSERT_TRUE(PrivateKey::from_openssh_binary(data));
  for (std::size_t len = 0; len < data.size(); ++len) {
    auto r = PrivateKey::from_openssh_binary(util::ByteSpan(data).first(len));
    ASSERT_FALSE(r) << "len " << len;
  }

  // Truncate inside the private section, re-framing its length, so that the
  // inner parsers (not just the outer string) see every short input.
  util::Reader r(data);
  util::ByteSpan magic, cipher, kdf, kdf_opts, pub, section;
  std::uint32_t count = 0;
  ASSERT_TRUE(r.read_bytes(15, magic) && r.read_string32(cipher) && r.read_string32(kdf) &&
              r.read_string32(kdf_opts) && r.read_u32(count) && r.read_string32(pub) &&
              r.read_string32(section));
  const std::size_t header = data.size() - section.size() - 4;
  for (std::size_t len = 0; len < section.size(); ++len) {
    Bytes cut(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(header));
    util::Writer(cut).string32(section.first(len));
    auto res = PrivateKey::from_openssh_binary(cut);
    ASSERT_FALSE(res) << "section len " << len;
  }

  // Damaged check-ints, padding and trailing data.
  Bytes bad_check = data;
  bad_check[header + 4] ^= 1;
  EXPECT_TRUE(PrivateKey::from_openssh_binary(bad_check).error().is(Errc::malformed));
  // The comment "tr" does not end in a byte from 1 to 7, so such a last
  // byte is padding; break it.
  if (data.back() >= 1 && data.back() <= 7) {
    Bytes bad_pad = data;
    bad_pad.back() = 0x55;
    EXPECT_TRUE(PrivateKey::from_openssh_binary(bad_pad).error().is(Errc::malformed));
  }
  // A whole extra block of padding is more than the format allows.
  Bytes long_pad(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(header));
  Bytes padded_section(section.begin(), section.end());
  const std::uint8_t last = data.back() >= 1 && data.back() <= 7 ? data.back() : 0;
  for (std::uint8_t i = 1; i <= 8; ++i)
    padded_section.push_back(static_cast<std::uint8_t>(last + i));
  util::Writer(long_pad).string32(padded_section);
  EXPECT_FALSE(PrivateKey::from_openssh_binary(long_pad));
  Bytes trailing = data;
  trailing.push_back(0);
  EXPECT_TRUE(PrivateKey::from_openssh_binary(trailing).error().is(Errc::trailing_data));
}

TEST_P(OpensshDecoder, MismatchedPublicKeyIsRejected) {
  const auto& c = GetParam();
  TempDir dir;
  for (const char* name : {"a", "b"}) {
    ASSERT_EQ(run(std::string("ssh-keygen -q -t ") + c.type + " -b " + c.bits + " -N '' -f " +
                  quote(dir / name)),
              0);
  }
  const Bytes a = openssh_binary(dir / "a");
  const Bytes b = openssh_binary(dir / "b");
  // Header (public key) of a, private section of b.
  auto split = [](const Bytes& d, Bytes& head, Bytes& section) {
    util::Reader r(d);
    util::ByteSpan s;
    std::uint32_t n = 0;
    ASSERT_TRUE(r.skip(15) && r.read_string32(s) && r.read_string32(s) && r.read_string32(s) &&
                r.read_u32(n) && r.read_string32(s));
    head.assign(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(r.position()));
    ASSERT_TRUE(r.read_string32(s));
    section.assign(s.begin(), s.end());
  };
  Bytes head_a, sec_a, head_b, sec_b;
  split(a, head_a, sec_a);
  split(b, head_b, sec_b);
  Bytes mixed = head_a;
  util::Writer(mixed).string32(sec_b);
  auto r = PrivateKey::from_openssh_binary(mixed);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::malformed));
}

INSTANTIATE_TEST_SUITE_P(
    Types, OpensshDecoder,
    testing::Values(SshKeygenCase{"ed25519", "256", KeyType::ed25519, "ED25519"},
                    SshKeygenCase{"ecdsa", "256", KeyType::ecdsa_p256, "ECDSA"},
                    SshKeygenCase{"rsa", "3072", KeyType::rsa, "RSA"}),
    [](const testing::TestParamInfo<SshKeygenCase>& p) { return std::string(p.param.type); });

TEST(PrivateKey, OpensshGarbageFails) {
  std::mt19937 rng(99);
  const std::string magic("openssh-key-v1\0", 15);
  for (int i = 0; i < 2000; ++i) {
    Bytes junk(rng() % 300);
    for (auto& b : junk) b = static_cast<std::uint8_t>(rng());
    if (i % 2 == 0) {
      Bytes prefixed(magic.begin(), magic.end());
      util::Writer w(prefixed);
      w.string32(util::as_bytes("none"));
      w.string32(util::as_bytes("none"));
      w.string32(util::ByteSpan{});
      w.u32(1);
      w.bytes(junk);
      junk = prefixed;
    }
    EXPECT_FALSE(PrivateKey::from_openssh_binary(junk)) << i;
  }
  EXPECT_TRUE(PrivateKey::parse(util::as_bytes("hello"), {}, "x").error().is(Errc::malformed));
  EXPECT_FALSE(PrivateKey::parse(
      util::as_bytes(
          "-----BEGIN OPENSSH PRIVATE KEY-----\n!!!\n-----END OPENSSH PRIVATE KEY-----\n"),
      {}, "x"));
  EXPECT_FALSE(PrivateKey::parse(
      util::as_bytes("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), {}, "x"));
}

TEST(PrivateKey, SaveWritesModesAndRefusesToOverwrite) {
  TempDir dir;
  auto key = PrivateKey::generate(KeyType::ed25519);
  ASSERT_TRUE(key);
  const fs::path path = dir / "id_ed25519";
  ASSERT_TRUE(key->save(path, "me@host"));
  EXPECT_EQ(mode_of(path), 0600u);
  EXPECT_EQ(mode_of(dir / "id_ed25519.pub"), 0644u);
  EXPECT_EQ(read_text(dir / "id_ed25519.pub"),
            format_public_key_line(key->public_key(), "me@host") + "\n");
  EXPECT_NE(read_text(path).find("-----BEGIN PRIVATE KEY-----"), std::string::npos);
  EXPECT_EQ(dir_names(dir.path()), (std::vector<std::string>{"id_ed25519", "id_ed25519.pub"}));

  auto other = PrivateKey::generate(KeyType::ed25519);
  ASSERT_TRUE(other);
  auto refused = other->save(path, "x");
  ASSERT_FALSE(refused);
  EXPECT_TRUE(refused.error().is(Errc::config));
  EXPECT_NE(refused.error().detail.find("already exists"), std::string::npos);
  // The original is untouched and no temporary file is left behind.
  EXPECT_TRUE(PrivateKey::load(path)->public_key() == key->public_key());
  EXPECT_EQ(dir_names(dir.path()), (std::vector<std::string>{"id_ed25519", "id_ed25519.pub"}));

  // Only the .pub existing also blocks a save.
  fs::remove(path);
  EXPECT_FALSE(other->save(path, "x"));
  EXPECT_FALSE(fs::exists(path));

  ASSERT_TRUE(other->save(path, "x", {}, Overwrite::yes));
  EXPECT_TRUE(PrivateKey::load(path)->public_key() == other->public_key());
  EXPECT_EQ(dir_names(dir.path()), (std::vector<std::string>{"id_ed25519", "id_ed25519.pub"}));

  EXPECT_TRUE(other->save(dir / "bad", "two\nlines").error().is(Errc::config));
  EXPECT_FALSE(fs::exists(dir / "bad"));
}

TEST(PrivateKey, LoadRefusesOpenPermissions) {
  TempDir dir;
  auto key = PrivateKey::generate(KeyType::ed25519);
  ASSERT_TRUE(key);
  const fs::path path = dir / "id";
  ASSERT_TRUE(key->save(path, ""));
  for (unsigned mode : {0644u, 0640u, 0604u, 0620u, 0602u}) {
    fs::permissions(path, static_cast<fs::perms>(mode));
    auto r = PrivateKey::load(path);
    ASSERT_FALSE(r) << std::oct << mode;
    EXPECT_TRUE(r.error().is(Errc::config));
    EXPECT_NE(r.error().detail.find(path.string()), std::string::npos);
    EXPECT_NE(r.error().detail.find("chmod 600"), std::string::npos);
  }
  fs::permissions(path, static_cast<fs::perms>(0400));
  EXPECT_TRUE(PrivateKey::load(path));
  auto missing = PrivateKey::load(dir / "nope");
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().detail.find("nope"), std::string::npos);
}

TEST(PrivateKey, LoadRefusesAKeyOfAnotherUser) {
  TempDir dir;
  auto key = PrivateKey::generate(KeyType::ed25519);
  ASSERT_TRUE(key);
  const fs::path path = dir / "id";
  ASSERT_TRUE(key->save(path, ""));
  // Only root can give a file away.
  if (::geteuid() != 0) GTEST_SKIP() << "chown needs root";
  ASSERT_EQ(::chown(path.c_str(), 54321, 54321), 0);
  auto r = PrivateKey::load(path);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::config));
  EXPECT_EQ(r.error().detail, path.string() +
                                  " belongs to uid 54321, neither this user (uid 0) nor root; a "
                                  "private key must belong to the user who uses it");
  ASSERT_EQ(::chown(path.c_str(), 0, 0), 0);
  EXPECT_TRUE(PrivateKey::load(path));
}

TEST(PrivateKey, PassphraseRoundTrip) {
  TempDir dir;
  for (KeyType t : {KeyType::ed25519, KeyType::ecdsa_p256}) {
    auto key = PrivateKey::generate(t);
    ASSERT_TRUE(key);
    const fs::path path = dir / std::string(ssh_type_name(t));
    const std::string pass = "correct horse battery staple";
    ASSERT_TRUE(key->save(path, "c", util::as_bytes(pass)));
    const std::string pem = read_text(path);
    EXPECT_NE(pem.find("-----BEGIN ENCRYPTED PRIVATE KEY-----"), std::string::npos);

    int calls = 0;
    auto loaded = PrivateKey::load(path, fixed_passphrase(pass, &calls));
    ASSERT_TRUE(loaded) << loaded.error().message();
    EXPECT_TRUE(loaded->public_key() == key->public_key());
    EXPECT_EQ(calls, 1);

    calls = 0;
    auto wrong = PrivateKey::load(path, fixed_passphrase("wrong", &calls));
    ASSERT_FALSE(wrong);
    EXPECT_TRUE(wrong.error().is(Errc::config));
    EXPECT_NE(wrong.error().detail.find("wrong passphrase"), std::string::npos);
    EXPECT_NE(wrong.error().detail.find(path.string()), std::string::npos);
    EXPECT_EQ(calls, 1);

    auto none = PrivateKey::load(path);
    ASSERT_FALSE(none);
    EXPECT_NE(none.error().detail.find("no passphrase"), std::string::npos);

    // The provider's own failure is passed through.
    auto cancelled = PrivateKey::load(path, [](const fs::path&) -> Result<SecretBytes> {
      return Error(Errc::io, "cancelled at the prompt");
    });
    ASSERT_FALSE(cancelled);
    EXPECT_EQ(cancelled.error().detail, "cancelled at the prompt");

    // openssl itself decrypts it.
    write_text(dir / "pass", pass);
    EXPECT_EQ(
        run("openssl pkey -in " + quote(path) + " -passin file:" + quote(dir / "pass") + " -noout"),
        0);
  }

  // An unencrypted key never asks.
  auto plain = PrivateKey::generate(KeyType::ed25519);
  ASSERT_TRUE(plain->save(dir / "plain", ""));
  int calls = 0;
  EXPECT_TRUE(PrivateKey::load(dir / "plain", fixed_passphrase("x", &calls)));
  EXPECT_EQ(calls, 0);
}

TEST(PrivateKey, LoadsOpensslAndTraditionalPem) {
  TempDir dir;
  ASSERT_EQ(run("openssl genpkey -algorithm ed25519 -out " + quote(dir / "ossl")), 0);
  fs::permissions(dir / "ossl", static_cast<fs::perms>(0600));
  auto ed = PrivateKey::load(dir / "ossl");
  ASSERT_TRUE(ed) << ed.error().message();
  EXPECT_EQ(ed->type(), KeyType::ed25519);

  ASSERT_EQ(run("ssh-keygen -q -t ecdsa -b 256 -m PEM -N '' -f " + quote(dir / "trad")), 0);
  EXPECT_NE(read_text(dir / "trad").find("BEGIN EC PRIVATE KEY"), std::string::npos);
  auto ec = PrivateKey::load(dir / "trad");
  ASSERT_TRUE(ec) << ec.error().message();
  EXPECT_TRUE(ec->public_key() ==
              PublicKey::from_ssh_blob(pub_file_blob(dir / "trad.pub")).value());

  // Unsupported curve.
  ASSERT_EQ(run("ssh-keygen -q -t ecdsa -b 384 -N '' -f " + quote(dir / "p384")), 0);
  auto p384 = PrivateKey::load(dir / "p384");
  ASSERT_FALSE(p384);
}

TEST(WriteFileAtomic, CreatesReplacesAndCleansUp) {
  TempDir dir;
  const fs::path p = dir / "f";
  ASSERT_TRUE(write_file_atomic(p, util::as_bytes("one"), 0640, Overwrite::no));
  EXPECT_EQ(read_text(p), "one");
  EXPECT_EQ(mode_of(p), 0640u);
  auto again = write_file_atomic(p, util::as_bytes("two"), 0640, Overwrite::no);
  ASSERT_FALSE(again);
  EXPECT_TRUE(again.error().is(Errc::config));
  EXPECT_EQ(read_text(p), "one");
  ASSERT_TRUE(write_file_atomic(p, util::as_bytes("three"), 0600, Overwrite::yes));
  EXPECT_EQ(read_text(p), "three");
  EXPECT_EQ(mode_of(p), 0600u);
  EXPECT_EQ(dir_names(dir.path()), std::vector<std::string>{"f"});
  auto no_dir = write_file_atomic(dir / "missing" / "f", util::as_bytes("x"), 0600, Overwrite::no);
  ASSERT_FALSE(no_dir);
  EXPECT_TRUE(no_dir.error().is(Errc::io));
}

}  // namespace
}  // namespace signet::crypto
