// crypto/sshsig: OpenSSH SSHSIG signatures, cross-checked both ways against
// the real `ssh-keygen -Y sign` / `ssh-keygen -Y verify`, byte for byte for
// Ed25519, plus tampering, truncation and garbage loops for the decoder.
#include "crypto/sshsig.hpp"
#include "test_support.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "crypto/private_key.hpp"
#include "crypto/public_key.hpp"
#include "util/bytes.hpp"
#include "util/encoding.hpp"

namespace signet::crypto {
namespace {

namespace fs = std::filesystem;
using test_support::read_text;
using util::Bytes;
using util::ByteSpan;

constexpr const char* kSshKeygen = "/usr/bin/ssh-keygen";
constexpr auto kToolTimeout = std::chrono::seconds(60);
constexpr std::string_view kNamespace = "signet-test@example.org";
constexpr std::string_view kBegin = "-----BEGIN SSH SIGNATURE-----\n";
constexpr std::string_view kEnd = "-----END SSH SIGNATURE-----\n";

// Each test file names its directories after itself.
struct TempDir : test_support::TempDir {
  TempDir() : test_support::TempDir("signet-sshsig") {}
};

// A message with a NUL, a non-UTF-8 byte and no final newline: SSHSIG signs
// bytes, not text.
const Bytes kMessage = [] {
  const std::string s("release 1.2.3\0checksum \xff ok", 27);
  return Bytes(s.begin(), s.end());
}();

void write_file(const fs::path& p, ByteSpan data) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
}
void write_file(const fs::path& p, std::string_view s) {
  write_file(p, util::as_bytes(s));
}

// Runs `argv` (argv[0] a full path) with stdin, stdout and stderr on the
// given files and a small fixed environment (no SSH_AUTH_SOCK: ssh-keygen
// must use the key file, not an agent). Returns the exit status, or -1 if it
// could not start, died from a signal or was killed after kToolTimeout.
int run_tool(const std::vector<std::string>& args, const fs::path& in, const fs::path& out,
             const fs::path& err, const fs::path& home) {
  std::vector<char*> argv;
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings = {"PATH=/usr/bin:/bin", "LC_ALL=C",
                                          "HOME=" + home.string()};
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);

  const std::string in_s = in.string();
  const std::string out_s = out.string();
  const std::string err_s = err.string();
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, in_s.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err_s.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  pid_t pid = -1;
  const int rc = ::posix_spawn(&pid, argv[0], &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  if (rc != 0) return -1;

  const auto deadline = std::chrono::steady_clock::now() + kToolTimeout;
  int status = 0;
  for (;;) {
    const pid_t got = ::waitpid(pid, &status, WNOHANG);
    if (got == pid) break;
    if (got < 0) return -1;
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      ADD_FAILURE() << args[0] << " timed out";
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// ssh-keygen with its output in dir/"out" and its errors in dir/"err".
int ssh_keygen(const TempDir& dir, std::vector<std::string> args,
               const fs::path& in = "/dev/null") {
  args.insert(args.begin(), kSshKeygen);
  return run_tool(args, in, dir / "out", dir / "err", dir.path());
}

// `ssh-keygen -Y verify` of `armored` over `message`, trusting `key` as "id".
int ssh_keygen_verify(const TempDir& dir, const PublicKey& key, std::string_view name_space,
                      const std::string& armored, ByteSpan message) {
  write_file(dir / "allowed_signers", "id " + format_public_key_line(key, "") + "\n");
  write_file(dir / "msg", message);
  write_file(dir / "msg.sig", armored);
  return ssh_keygen(dir,
                    {"-Y", "verify", "-f", (dir / "allowed_signers").string(), "-I", "id", "-n",
                     std::string(name_space), "-s", (dir / "msg.sig").string()},
                    dir / "msg");
}

// `ssh-keygen -Y sign` of `message` with `key_file`; the armored signature,
// or "" if ssh-keygen failed.
std::string ssh_keygen_sign(const TempDir& dir, const fs::path& key_file,
                            std::string_view name_space, ByteSpan message,
                            std::vector<std::string> extra = {}) {
  write_file(dir / "msg", message);
  std::vector<std::string> args = {
      "-Y", "sign", "-f", key_file.string(), "-n", std::string(name_space)};
  args.insert(args.end(), extra.begin(), extra.end());
  if (ssh_keygen(dir, args, dir / "msg") != 0) {
    ADD_FAILURE() << "ssh-keygen -Y sign failed: " << read_text(dir / "err");
    return {};
  }
  return read_text(dir / "out");
}

// --- The blob inside the armor, taken apart and put back by hand so that
// tests can build signatures our signer would never make. ---

Bytes blob_of(const std::string& armored) {
  EXPECT_TRUE(armored.starts_with(kBegin) && armored.ends_with(kEnd));
  std::string b64;
  for (char c : armored.substr(kBegin.size(), armored.size() - kBegin.size() - kEnd.size())) {
    if (c != '\n') b64 += c;
  }
  auto blob = util::base64_decode(b64);
  EXPECT_TRUE(blob.has_value());
  return blob.value_or(Bytes{});
}

std::string armor_of(ByteSpan blob) {
  const std::string b64 = util::base64_encode(blob);
  std::string out(kBegin);
  for (std::size_t i = 0; i < b64.size(); i += 70) out += b64.substr(i, 70) + "\n";
  return out + std::string(kEnd);
}

struct Fields {
  std::uint32_t version = 0;
  Bytes public_key;
  std::string name_space;
  Bytes reserved;
  std::string hash;
  std::string sig_alg;
  Bytes sig;
};

Fields split(ByteSpan blob) {
  Fields f;
  util::Reader r(blob);
  ByteSpan magic, key, ns, reserved, hash, sig, alg, raw;
  EXPECT_TRUE(r.read_bytes(6, magic) && r.read_u32(f.version) && r.read_string32(key) &&
              r.read_string32(ns) && r.read_string32(reserved) && r.read_string32(hash) &&
              r.read_string32(sig) && r.empty());
  util::Reader s(sig);
  EXPECT_TRUE(s.read_string32(alg) && s.read_string32(raw) && s.empty());
  f.public_key.assign(key.begin(), key.end());
  f.name_space = util::as_chars(ns);
  f.reserved.assign(reserved.begin(), reserved.end());
  f.hash = util::as_chars(hash);
  f.sig_alg = util::as_chars(alg);
  f.sig.assign(raw.begin(), raw.end());
  return f;
}

Bytes join(const Fields& f) {
  Bytes sig;
  util::Writer s(sig);
  s.string32(util::as_bytes(f.sig_alg));
  s.string32(f.sig);
  Bytes out;
  util::Writer w(out);
  w.bytes("SSHSIG");
  w.u32(f.version);
  w.string32(f.public_key);
  w.string32(util::as_bytes(f.name_space));
  w.string32(f.reserved);
  w.string32(util::as_bytes(f.hash));
  w.string32(sig);
  return out;
}

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

// --- Per key type ---

struct Case {
  KeyType type;
  const char* keygen_type;  // ssh-keygen -t
  const char* keygen_bits;  // ssh-keygen -b
  const char* sig_alg;      // what ssh-keygen signs with
};

void PrintTo(const Case& c, std::ostream* os) {
  *os << c.keygen_type;
}

class SshsigTest : public testing::TestWithParam<Case> {
 protected:
  // One key per type for the whole suite: RSA generation is slow.
  static const PrivateKey& key(KeyType type) {
    static std::map<KeyType, PrivateKey> keys;
    if (auto it = keys.find(type); it != keys.end()) return it->second;
    auto k = PrivateKey::generate(type);
    if (!k) throw std::runtime_error(k.error().message());
    return keys.emplace(type, std::move(*k)).first->second;
  }
  const PrivateKey& key() const { return key(GetParam().type); }
};

TEST_P(SshsigTest, SignsInSshKeygensArmorAndVerifies) {
  auto armored = sshsig_sign(key(), kNamespace, kMessage);
  ASSERT_TRUE(armored) << armored.error().message();
  ASSERT_TRUE(armored->starts_with(kBegin));
  ASSERT_TRUE(armored->ends_with(kEnd));
  // Base64 lines of exactly 70 columns, the last one 1 to 70.
  const std::string body =
      armored->substr(kBegin.size(), armored->size() - kBegin.size() - kEnd.size());
  std::vector<std::string> lines;
  for (std::size_t pos = 0; pos < body.size();) {
    const std::size_t nl = body.find('\n', pos);
    ASSERT_NE(nl, std::string::npos);
    lines.push_back(body.substr(pos, nl - pos));
    pos = nl + 1;
  }
  ASSERT_FALSE(lines.empty());
  for (std::size_t i = 0; i + 1 < lines.size(); ++i) EXPECT_EQ(lines[i].size(), 70u);
  EXPECT_GE(lines.back().size(), 1u);
  EXPECT_LE(lines.back().size(), 70u);

  const Fields f = split(blob_of(*armored));
  EXPECT_EQ(f.version, 1u);
  EXPECT_EQ(f.public_key, key().public_key().ssh_blob());
  EXPECT_EQ(f.name_space, kNamespace);
  EXPECT_TRUE(f.reserved.empty());
  EXPECT_EQ(f.hash, "sha512");
  EXPECT_EQ(f.sig_alg, GetParam().sig_alg);

  auto signer = sshsig_verify(*armored, kNamespace, kMessage);
  ASSERT_TRUE(signer) << signer.error().message();
  EXPECT_EQ(*signer, key().public_key());
  EXPECT_EQ(signer->fingerprint(), key().public_key().fingerprint());

  // The empty message is a message like any other.
  auto empty = sshsig_sign(key(), kNamespace, {});
  ASSERT_TRUE(empty) << empty.error().message();
  EXPECT_TRUE(sshsig_verify(*empty, kNamespace, {}));
  EXPECT_FALSE(sshsig_verify(*empty, kNamespace, kMessage));
}

TEST_P(SshsigTest, SshKeygenVerifiesOurSignature) {
  TempDir dir;
  auto armored = sshsig_sign(key(), kNamespace, kMessage);
  ASSERT_TRUE(armored) << armored.error().message();
  EXPECT_EQ(ssh_keygen_verify(dir, key().public_key(), kNamespace, *armored, kMessage), 0)
      << read_text(dir / "err");
  EXPECT_TRUE(contains(read_text(dir / "out"), key().public_key().fingerprint()))
      << read_text(dir / "out");
  // And the check means something: ssh-keygen refuses another namespace and
  // another message.
  EXPECT_NE(ssh_keygen_verify(dir, key().public_key(), "other", *armored, kMessage), 0);
  const Bytes changed = {'x'};
  EXPECT_NE(ssh_keygen_verify(dir, key().public_key(), kNamespace, *armored, changed), 0);
}

// ssh-keygen signs with the key file signet saved (PKCS#8). Not for
// Ed25519: Debian 12's ssh-keygen reads no Ed25519 PKCS#8 file; ssh-keygen's
// Ed25519 signatures are checked on a key it made (AgreesWithSshKeygenOnItsOwnKey).
class SshsigKeyFileTest : public SshsigTest {};

TEST_P(SshsigKeyFileTest, WeVerifySshKeygensSignatureByOurKeyFile) {
  TempDir dir;
  ASSERT_TRUE(key().save(dir / "id", "signer@example"));
  const std::string armored = ssh_keygen_sign(dir, dir / "id", kNamespace, kMessage);
  ASSERT_FALSE(armored.empty());
  auto signer = sshsig_verify(armored, kNamespace, kMessage);
  ASSERT_TRUE(signer) << signer.error().message();
  EXPECT_EQ(*signer, key().public_key());
  EXPECT_EQ(split(blob_of(armored)).sig_alg, GetParam().sig_alg);
}

INSTANTIATE_TEST_SUITE_P(
    Types, SshsigKeyFileTest,
    testing::Values(Case{KeyType::ecdsa_p256, "ecdsa", "256", "ecdsa-sha2-nistp256"},
                    Case{KeyType::rsa, "rsa", "3072", "rsa-sha2-512"}),
    [](const testing::TestParamInfo<Case>& p) { return std::string(p.param.keygen_type); });

TEST_P(SshsigTest, AgreesWithSshKeygenOnItsOwnKey) {
  const Case& c = GetParam();
  TempDir dir;
  ASSERT_EQ(ssh_keygen(dir, {"-q", "-t", c.keygen_type, "-b", c.keygen_bits, "-N", "", "-C",
                             "made-by-ssh-keygen", "-f", (dir / "k").string()}),
            0)
      << read_text(dir / "err");
  auto loaded = PrivateKey::load(dir / "k");
  ASSERT_TRUE(loaded) << loaded.error().message();

  // ssh-keygen signs, we verify.
  const std::string theirs = ssh_keygen_sign(dir, dir / "k", kNamespace, kMessage);
  ASSERT_FALSE(theirs.empty());
  auto signer = sshsig_verify(theirs, kNamespace, kMessage);
  ASSERT_TRUE(signer) << signer.error().message();
  EXPECT_EQ(*signer, loaded->public_key());

  // PROTOCOL.sshsig also allows sha256; ssh-keygen makes it on request.
  const std::string sha256 =
      ssh_keygen_sign(dir, dir / "k", kNamespace, kMessage, {"-O", "hashalg=sha256"});
  ASSERT_FALSE(sha256.empty());
  EXPECT_EQ(split(blob_of(sha256)).hash, "sha256");
  auto signer256 = sshsig_verify(sha256, kNamespace, kMessage);
  ASSERT_TRUE(signer256) << signer256.error().message();
  EXPECT_EQ(*signer256, loaded->public_key());
  EXPECT_FALSE(sshsig_verify(sha256, kNamespace, Bytes{'x'}));

  // We sign with the key ssh-keygen made; ssh-keygen verifies. Ed25519 is
  // deterministic (RFC 8032), so there the two signatures are one.
  auto ours = sshsig_sign(*loaded, kNamespace, kMessage);
  ASSERT_TRUE(ours) << ours.error().message();
  EXPECT_EQ(ssh_keygen_verify(dir, loaded->public_key(), kNamespace, *ours, kMessage), 0)
      << read_text(dir / "err");
  if (c.type == KeyType::ed25519) {
    EXPECT_EQ(*ours, theirs);
  }
}

TEST_P(SshsigTest, WrongNamespaceFails) {
  auto armored = sshsig_sign(key(), kNamespace, kMessage);
  ASSERT_TRUE(armored);
  auto r = sshsig_verify(*armored, "file", kMessage);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::bad_tag)) << r.error().message();
  EXPECT_TRUE(contains(r.error().detail, "namespace")) << r.error().detail;
  EXPECT_TRUE(contains(r.error().detail, kNamespace)) << r.error().detail;
  // A namespace that is a prefix or an extension is another namespace.
  EXPECT_FALSE(sshsig_verify(*armored, kNamespace.substr(0, 6), kMessage));
  EXPECT_FALSE(sshsig_verify(*armored, std::string(kNamespace) + "x", kMessage));
}

TEST_P(SshsigTest, ChangedMessageFails) {
  auto armored = sshsig_sign(key(), kNamespace, kMessage);
  ASSERT_TRUE(armored);
  for (std::size_t i = 0; i < kMessage.size(); ++i) {
    Bytes changed = kMessage;
    changed[i] ^= 0x01;
    auto r = sshsig_verify(*armored, kNamespace, changed);
    ASSERT_FALSE(r) << "byte " << i;
    EXPECT_TRUE(r.error().is(Errc::bad_tag)) << r.error().message();
  }
  Bytes longer = kMessage;
  longer.push_back('\n');
  EXPECT_FALSE(sshsig_verify(*armored, kNamespace, longer));
  EXPECT_FALSE(sshsig_verify(*armored, kNamespace, ByteSpan(kMessage).first(kMessage.size() - 1)));
}

TEST_P(SshsigTest, FlippedSignatureByteFails) {
  auto armored = sshsig_sign(key(), kNamespace, kMessage);
  ASSERT_TRUE(armored);
  const Bytes blob = blob_of(*armored);

  // The last byte is inside the signature itself.
  Bytes last = blob;
  last.back() ^= 0x80;
  auto r = sshsig_verify(armor_of(last), kNamespace, kMessage);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::bad_tag)) << r.error().message();
  EXPECT_TRUE(contains(r.error().detail, "does not verify")) << r.error().detail;

  // Any flipped bit anywhere in the blob fails, one way or another.
  for (std::size_t i = 0; i < blob.size(); ++i) {
    Bytes b = blob;
    b[i] ^= static_cast<std::uint8_t>(1u << (i % 8));
    EXPECT_FALSE(sshsig_verify(armor_of(b), kNamespace, kMessage)) << "byte " << i;
  }
  // And a changed base64 character in the armor.
  std::string text = *armored;
  char& c = text[kBegin.size() + 100];
  c = c == 'A' ? 'B' : 'A';
  EXPECT_FALSE(sshsig_verify(text, kNamespace, kMessage));
}

TEST_P(SshsigTest, TruncatedArmorFails) {
  auto armored = sshsig_sign(key(), kNamespace, kMessage);
  ASSERT_TRUE(armored);
  // Every prefix fails cleanly, except the whole text without its final
  // newline, which ssh-keygen accepts too.
  for (std::size_t len = 0; len + 1 < armored->size(); ++len) {
    auto r = sshsig_verify(std::string_view(*armored).substr(0, len), kNamespace, kMessage);
    ASSERT_FALSE(r) << "length " << len;
    EXPECT_TRUE(r.error().is(Errc::malformed)) << len << ": " << r.error().message();
  }
  EXPECT_TRUE(sshsig_verify(std::string_view(*armored).substr(0, armored->size() - 1), kNamespace,
                            kMessage));
}

TEST_P(SshsigTest, TruncatedOrExtendedBlobFails) {
  auto armored = sshsig_sign(key(), kNamespace, kMessage);
  ASSERT_TRUE(armored);
  const Bytes blob = blob_of(*armored);
  for (std::size_t len = 0; len < blob.size(); ++len) {
    auto r = sshsig_verify(armor_of(ByteSpan(blob).first(len)), kNamespace, kMessage);
    ASSERT_FALSE(r) << "length " << len;
    EXPECT_TRUE(r.error().is(Errc::truncated) || r.error().is(Errc::malformed))
        << len << ": " << r.error().message();
  }
  Bytes longer = blob;
  longer.push_back(0);
  auto r = sshsig_verify(armor_of(longer), kNamespace, kMessage);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::trailing_data)) << r.error().message();
}

TEST_P(SshsigTest, RefusesWhatSshKeygenRefuses) {
  auto armored = sshsig_sign(key(), kNamespace, kMessage);
  ASSERT_TRUE(armored);
  const Fields good = split(blob_of(*armored));
  const auto verify = [&](const Fields& f) {
    return sshsig_verify(armor_of(join(f)), kNamespace, kMessage);
  };
  // The fields put back unchanged still verify: the helpers are sound.
  ASSERT_TRUE(verify(good));

  Fields f = good;
  f.hash = "md5";
  auto r = verify(f);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::malformed)) << r.error().message();
  EXPECT_TRUE(contains(r.error().detail, "hash algorithm \"md5\"")) << r.error().detail;

  f = good;
  f.version = 2;
  r = verify(f);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::bad_version)) << r.error().message();

  // A signature algorithm that does not fit the key; for RSA, the SHA-1
  // "ssh-rsa" that sshsig.c refuses.
  f = good;
  f.sig_alg = GetParam().type == KeyType::rsa ? "ssh-rsa" : "rsa-sha2-512";
  r = verify(f);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::malformed)) << r.error().message();
  EXPECT_TRUE(contains(r.error().detail, "signature algorithm \"" + f.sig_alg + "\""))
      << r.error().detail;

  // The signer's key swapped for another key of the same type.
  auto other = PrivateKey::generate(GetParam().type);
  ASSERT_TRUE(other);
  f = good;
  f.public_key = other->public_key().ssh_blob();
  EXPECT_FALSE(verify(f));

  // The reserved field is ignored, as PROTOCOL.sshsig says.
  f = good;
  f.reserved = {'f', 'u', 't', 'u', 'r', 'e'};
  EXPECT_TRUE(verify(f));
}

TEST_P(SshsigTest, ArmorRules) {
  auto armored = sshsig_sign(key(), kNamespace, kMessage);
  ASSERT_TRUE(armored);
  // Whitespace after the END line is fine; anything else is not.
  EXPECT_TRUE(sshsig_verify(*armored + "\n\n", kNamespace, kMessage));
  auto r = sshsig_verify(*armored + "x", kNamespace, kMessage);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::trailing_data)) << r.error().message();
  // Text before the BEGIN line is not an SSH signature.
  r = sshsig_verify("\n" + *armored, kNamespace, kMessage);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::malformed)) << r.error().message();
  // CRLF line ends inside the base64 are whitespace.
  std::string crlf(kBegin);
  for (char c : armored->substr(kBegin.size())) {
    if (c == '\n') crlf += '\r';
    crlf += c;
  }
  EXPECT_TRUE(sshsig_verify(crlf, kNamespace, kMessage));
  // Bad base64.
  std::string bad = *armored;
  bad[kBegin.size() + 3] = '*';
  r = sshsig_verify(bad, kNamespace, kMessage);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::malformed)) << r.error().message();
  // Above the size limit, before anything is decoded.
  r = sshsig_verify(*armored + std::string(kMaxSshsigArmorSize, '\n'), kNamespace, kMessage);
  ASSERT_FALSE(r);
  EXPECT_TRUE(r.error().is(Errc::too_large)) << r.error().message();
}

INSTANTIATE_TEST_SUITE_P(
    Types, SshsigTest,
    testing::Values(Case{KeyType::ed25519, "ed25519", "256", "ssh-ed25519"},
                    Case{KeyType::ecdsa_p256, "ecdsa", "256", "ecdsa-sha2-nistp256"},
                    Case{KeyType::rsa, "rsa", "3072", "rsa-sha2-512"}),
    [](const testing::TestParamInfo<Case>& p) { return std::string(p.param.keygen_type); });

// --- Independent of the key type ---

TEST(SshsigNamespace, EmptyOrNulNamespaceIsRefused) {
  auto key = PrivateKey::generate(KeyType::ed25519);
  ASSERT_TRUE(key);
  auto s = sshsig_sign(*key, "", kMessage);
  ASSERT_FALSE(s);
  EXPECT_TRUE(s.error().is(Errc::malformed)) << s.error().message();
  EXPECT_FALSE(sshsig_sign(*key, std::string_view("a\0b", 3), kMessage));

  auto armored = sshsig_sign(*key, "file", kMessage);
  ASSERT_TRUE(armored);
  auto v = sshsig_verify(*armored, "", kMessage);
  ASSERT_FALSE(v);
  EXPECT_TRUE(v.error().is(Errc::malformed)) << v.error().message();
  EXPECT_FALSE(sshsig_verify(*armored, std::string_view("file\0", 5), kMessage));
}

TEST(SshsigGarbage, RandomInputIsRefusedCleanly) {
  std::mt19937 rng(20261201);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(0, 600);
  for (int i = 0; i < 500; ++i) {
    Bytes junk(length(rng));
    for (auto& b : junk) b = static_cast<std::uint8_t>(byte(rng));
    // Half with the right magic and version, to get past the first checks.
    if (i % 2 == 0 && junk.size() >= 10) {
      const Bytes head = {'S', 'S', 'H', 'S', 'I', 'G', 0, 0, 0, 1};
      std::copy(head.begin(), head.end(), junk.begin());
    }
    EXPECT_FALSE(sshsig_verify(armor_of(junk), kNamespace, kMessage));
    EXPECT_FALSE(sshsig_verify(util::as_chars(junk), kNamespace, kMessage));
  }
}

}  // namespace
}  // namespace signet::crypto
