// The audit log (api/audit_log.hpp): a chain of JSON lines with signed
// checkpoints. Every way of tampering with a written log (a line removed,
// changed, added, two swapped, the file cut mid-line, a checkpoint's
// signature or signer changed) is found at the line where it happened; a
// log reopened (after a clean stop, a kill, or a torn last line) goes on
// with the same chain.
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "api/audit_log.hpp"
#include "crypto/primitives.hpp"
#include "crypto/sshsig.hpp"
#include "test_support.hpp"
#include "util/encoding.hpp"

namespace signet {
namespace {

using test_support::read_text;
using test_support::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

std::shared_ptr<const crypto::PrivateKey> make_key() {
  auto k = crypto::PrivateKey::generate(crypto::KeyType::ed25519);
  if (!k) throw std::runtime_error(k.error().message());
  return std::make_shared<const crypto::PrivateKey>(std::move(*k));
}

const std::shared_ptr<const crypto::PrivateKey>& server_key() {
  static const auto k = make_key();
  return k;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < text.size()) {
    const auto nl = text.find('\n', at);
    const auto end = nl == std::string::npos ? text.size() : nl + 1;
    out.push_back(text.substr(at, end - at));
    at = end;
  }
  return out;
}

std::string join(const std::vector<std::string>& lines) {
  std::string s;
  for (const auto& l : lines) s += l;
  return s;
}

void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
}

AuditEntry entry(std::uint32_t op, std::uint64_t size) {
  AuditEntry e;
  e.peer = "127.0.0.1:4000";
  e.mode = "TLS 1.3 (key mode)";
  e.key = "SHA256:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
  e.op = op;
  e.operation = "message";
  e.outcome = "answered";
  e.status = 0;
  e.size = size;
  e.sha256 = std::string(64, 'a');
  return e;
}

// A log of a start line, six operations, a checkpoint, two operations, a
// stop line and a last checkpoint: 12 lines.
std::string write_log(const std::filesystem::path& path) {
  auto log = AuditLog::open(path, server_key());
  EXPECT_TRUE(log) << log.error().message();
  // open() wrote the start line and its checkpoint.
  for (std::uint32_t i = 1; i <= 6; ++i) (*log)->record(entry(2 * i - 1, 100 + i));
  EXPECT_TRUE((*log)->checkpoint());
  EXPECT_TRUE((*log)->checkpoint());  // nothing new: no line
  for (std::uint32_t i = 7; i <= 8; ++i) (*log)->record(entry(2 * i - 1, 100 + i));
  (*log)->close();
  return read_text(path);
}

AuditReport verify(const std::filesystem::path& path, std::string_view key = {}) {
  auto r = verify_audit_log(path, key);
  EXPECT_TRUE(r) << r.error().message();
  return r ? *r : AuditReport{};
}

TEST(AuditLog, AWrittenLogChainsAndItsCheckpointsVerify) {
  TempDir dir("audit");
  const auto path = dir / "audit.log";
  const auto text = write_log(path);
  const auto lines = lines_of(text);
  ASSERT_EQ(lines.size(), 13u) << text;
  auto first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["seq"], 1);
  EXPECT_EQ(first["prev"], std::string(64, '0'));
  EXPECT_EQ(first["event"], "start");
  EXPECT_EQ(nlohmann::json::parse(lines[1])["event"], "checkpoint");
  auto op = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(op["event"], "operation");
  EXPECT_EQ(op["size"], 101);
  EXPECT_EQ(op["prev"], util::to_hex(crypto::sha256({util::as_bytes(lines[1])})));
  EXPECT_EQ(nlohmann::json::parse(lines[11])["event"], "stop");
  EXPECT_EQ(nlohmann::json::parse(lines[12])["event"], "checkpoint");
  EXPECT_EQ(test_support::mode_of(path), 0600u);

  const auto fp = server_key()->public_key().fingerprint();
  auto r = verify(path, fp);
  EXPECT_EQ(r.broken_line, 0u) << r.broken;
  EXPECT_EQ(r.lines, 13u);
  EXPECT_EQ(r.checkpoints, 3u);
  EXPECT_EQ(r.last_checkpoint, 13u);
  EXPECT_EQ(r.signers, std::vector<std::string>{fp});

  // Another key than the server's: the first checkpoint fails.
  r = verify(path, make_key()->public_key().fingerprint());
  EXPECT_EQ(r.broken_line, 2u);
  EXPECT_THAT(r.broken, HasSubstr("not by"));
}

// What ssh-keygen -Y check-novalidate says of a checkpoint: the signature is
// a standard SSHSIG over the statement docs/PROTOCOL.md gives.
TEST(AuditLog, ACheckpointIsAnSshsigOverItsStatement) {
  TempDir dir("audit");
  const auto lines = lines_of(write_log(dir / "audit.log"));
  auto cp = nlohmann::json::parse(lines[8]);
  ASSERT_EQ(cp["event"], "checkpoint");
  const std::string statement =
      audit_checkpoint_statement(cp["server_key"].get<std::string>(), 9,
                                 cp["prev"].get<std::string>(), cp["time"].get<std::string>());
  EXPECT_THAT(statement, ::testing::StartsWith("signet audit checkpoint v1\nserver-key SHA256:"));
  EXPECT_THAT(statement, HasSubstr("\nseq 9\nprev "));
  write_text(dir / "statement", statement);
  write_text(dir / "statement.sig", cp["signature"].get<std::string>());
  const std::string cmd = "timeout 30 ssh-keygen -Y check-novalidate -n signet-audit -s " +
                          (dir / "statement.sig").string() + " < " + (dir / "statement").string() +
                          " >/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  write_text(dir / "statement", statement + "x");
  EXPECT_NE(std::system(cmd.c_str()), 0);
}

// Each change is found at the line where it was made.
TEST(AuditLog, EveryTamperingIsFoundAtItsLine) {
  TempDir dir("audit");
  const auto path = dir / "audit.log";
  const auto text = write_log(path);
  const auto lines = lines_of(text);
  const auto tampered = [&](const std::vector<std::string>& changed) {
    write_text(path, join(changed));
    return verify(path);
  };

  // A line removed (line 5): line 5 now holds record 6.
  auto l = lines;
  l.erase(l.begin() + 4);
  auto r = tampered(l);
  EXPECT_EQ(r.broken_line, 5u);
  EXPECT_THAT(r.broken, HasSubstr("line 5 holds record 6"));
  EXPECT_EQ(r.lines, 4u);

  // A byte of line 5 changed so that it is still JSON (its size): line 6
  // no longer chains to it.
  l = lines;
  const auto at = l[4].find("\"size\":103");
  ASSERT_NE(at, std::string::npos) << l[4];
  l[4][at + 9] = '9';
  r = tampered(l);
  EXPECT_EQ(r.broken_line, 6u);
  EXPECT_THAT(r.broken, HasSubstr("line 5 was changed"));
  // ... and so that it is not.
  l = lines;
  l[4][0] = '[';
  r = tampered(l);
  EXPECT_EQ(r.broken_line, 5u);
  EXPECT_THAT(r.broken, HasSubstr("line 5 is not a JSON object"));

  // Two lines swapped.
  l = lines;
  std::swap(l[5], l[6]);
  r = tampered(l);
  EXPECT_EQ(r.broken_line, 6u);
  EXPECT_THAT(r.broken, HasSubstr("line 6 holds record 7"));

  // A line added (a copy of line 3 after it).
  l = lines;
  l.insert(l.begin() + 3, l[2]);
  r = tampered(l);
  EXPECT_EQ(r.broken_line, 4u);

  // The file cut in the middle of line 7.
  r = tampered({lines.begin(), lines.begin() + 6});
  EXPECT_EQ(r.broken_line, 0u);  // whole lines gone from the end: the chain holds
  auto cut = join({lines.begin(), lines.begin() + 6}) + lines[6].substr(0, 20);
  write_text(path, cut);
  r = verify(path);
  EXPECT_EQ(r.broken_line, 7u);
  EXPECT_THAT(r.broken, HasSubstr("cut short"));
  EXPECT_EQ(r.lines, 6u);

  // A checkpoint's signature changed (one base64 character).
  l = lines;
  const auto sig = l[8].find("SIGNATURE-----\\n") + 30;
  l[8][sig] = l[8][sig] == 'A' ? 'B' : 'A';
  r = tampered(l);
  EXPECT_EQ(r.broken_line, 9u);
  EXPECT_THAT(r.broken, HasSubstr("signature does not verify"));

  // Nothing changed: intact again.
  r = tampered(lines);
  EXPECT_EQ(r.broken_line, 0u) << r.broken;
}

// A whole log rewritten and re-signed with another key chains, but its
// checkpoints are not by the server's key.
TEST(AuditLog, ALogSignedByAnotherKeyFailsAgainstTheServerKey) {
  TempDir dir("audit");
  const auto path = dir / "audit.log";
  {
    auto log = AuditLog::open(path, make_key());
    ASSERT_TRUE(log);
    (*log)->record(entry(1, 5));
  }
  EXPECT_EQ(verify(path).broken_line, 0u);
  auto r = verify(path, server_key()->public_key().fingerprint());
  EXPECT_EQ(r.broken_line, 2u);
}

TEST(AuditLog, AReopenedLogGoesOnWithTheSameChain) {
  TempDir dir("audit");
  const auto path = dir / "audit.log";
  write_log(path);
  write_log(path);
  auto r = verify(path, server_key()->public_key().fingerprint());
  EXPECT_EQ(r.broken_line, 0u) << r.broken;
  EXPECT_EQ(r.lines, 26u);

  // A torn last line (a crash in the middle of a write) is cut off when the
  // log is opened again, and the start line says how much went.
  {
    std::ofstream out(path, std::ios::binary | std::ios::app);
    out << "{\"seq\":27,\"prev\":\"00";
  }
  EXPECT_EQ(verify(path).broken_line, 27u);
  {
    auto log = AuditLog::open(path, server_key());
    ASSERT_TRUE(log) << log.error().message();
  }
  const auto lines = lines_of(read_text(path));
  auto start = nlohmann::json::parse(lines[26]);
  EXPECT_EQ(start["event"], "start");
  EXPECT_EQ(start["torn_bytes_removed"], 20);
  r = verify(path);
  EXPECT_EQ(r.broken_line, 0u) << r.broken;
}

// A server killed (no stop line, no last checkpoint) leaves a log that
// verifies to its last line; the next server goes on from there.
TEST(AuditLog, AKilledWriterLeavesALogThatVerifies) {
  TempDir dir("audit");
  const auto path = dir / "audit.log";
  const auto key = server_key();  // made before the fork: the child signs with it too
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto log = AuditLog::open(path, server_key());
    if (!log) ::_exit(1);
    for (std::uint32_t i = 1; i <= 50; ++i) (*log)->record(entry(2 * i - 1, i));
    (*log)->flush();  // written, not yet covered by a checkpoint
    ::kill(::getpid(), SIGKILL);
    ::_exit(2);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  auto r = verify(path, server_key()->public_key().fingerprint());
  EXPECT_EQ(r.broken_line, 0u) << r.broken;
  EXPECT_EQ(r.lines, 52u);
  EXPECT_EQ(r.last_checkpoint, 2u);
  {
    auto log = AuditLog::open(path, server_key());
    ASSERT_TRUE(log) << log.error().message();
  }
  r = verify(path, server_key()->public_key().fingerprint());
  EXPECT_EQ(r.broken_line, 0u) << r.broken;
  EXPECT_EQ(r.last_checkpoint, r.lines);
}

// A full disk (here a file size limit): the lines that cannot be written
// whole are cut off again and left out, the next line written says how
// many, and the chain of what is in the file stays whole.
TEST(AuditLog, LinesThatDoNotFitAreLeftOutAndTheChainStaysWhole) {
  TempDir dir("audit");
  const auto path = dir / "audit.log";
  const auto key = server_key();
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::signal(SIGXFSZ, SIG_IGN);  // the write fails with EFBIG instead
    auto log = AuditLog::open(path, key);
    if (!log) ::_exit(1);
    struct rlimit old {};
    ::getrlimit(RLIMIT_FSIZE, &old);
    const auto size = std::filesystem::file_size(path);
    struct rlimit small = old;
    small.rlim_cur = size + 600;  // room for one line (about 400 bytes), not two
    if (::setrlimit(RLIMIT_FSIZE, &small) != 0) ::_exit(2);
    for (std::uint32_t i = 1; i <= 5; ++i) {
      (*log)->record(entry(2 * i - 1, i));
      (*log)->flush();  // one write each: the first fits, the rest do not
    }
    if (::setrlimit(RLIMIT_FSIZE, &old) != 0) ::_exit(3);
    (*log)->record(entry(11, 6));
    (*log)->close();
    ::_exit(0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  ASSERT_EQ(WEXITSTATUS(status), 0);
  const auto lines = lines_of(read_text(path));
  // start, checkpoint, operation 1, operation 6 (4 left out before it), stop, checkpoint
  ASSERT_EQ(lines.size(), 6u) << read_text(path);
  EXPECT_EQ(nlohmann::json::parse(lines[2])["size"], 1);
  auto after = nlohmann::json::parse(lines[3]);
  EXPECT_EQ(after["size"], 6);
  EXPECT_EQ(after["lines_lost_before"], 4);
  auto r = verify(path, key->public_key().fingerprint());
  EXPECT_EQ(r.broken_line, 0u) << r.broken;
  EXPECT_EQ(r.lines, 6u);
}

TEST(AuditLog, OneServerAtATimeAndNothingButALogIsTouched) {
  TempDir dir("audit");
  const auto path = dir / "audit.log";
  auto first = AuditLog::open(path, server_key());
  ASSERT_TRUE(first);
  auto second = AuditLog::open(path, server_key());
  ASSERT_FALSE(second);
  EXPECT_THAT(second.error().message(), HasSubstr("in use by another process"));
  first->reset();

  const auto other = dir / "notes.txt";
  write_text(other, "my notes\nnot an audit log\n");
  auto refused = AuditLog::open(other, server_key());
  ASSERT_FALSE(refused);
  EXPECT_THAT(refused.error().message(), HasSubstr("does not end with a signet audit record"));
  EXPECT_EQ(read_text(other), "my notes\nnot an audit log\n");
  std::filesystem::create_symlink(path, dir / "link.log");
  EXPECT_FALSE(AuditLog::open(dir / "link.log", server_key()));
}

// A shared-key server has no key to sign with: its checkpoints carry a MAC
// by a key derived from the shared key, which only that key checks.
TEST(AuditLog, ASharedKeyServersCheckpointsAreAMacOnlyTheSharedKeyChecks) {
  TempDir dir("audit");
  const auto path = dir / "audit.log";
  const crypto::SecretBytes psk(util::as_bytes("the shared key of this audit test"));
  const crypto::SecretBytes other(util::as_bytes("another shared key, not the server's"));
  {
    auto log = AuditLog::open(path, nullptr, std::chrono::seconds(10), audit_shared_key(psk));
    ASSERT_TRUE(log) << log.error().message();
    (*log)->record(entry(1, 10));
  }
  const auto lines = lines_of(read_text(path));
  ASSERT_EQ(lines.size(), 5u);  // start, checkpoint, operation, stop, checkpoint
  auto cp = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(cp["server_key"], "shared-key");
  EXPECT_THAT(cp["mac"].get<std::string>(), ::testing::MatchesRegex("hmac-sha256 [0-9a-f]{64}"));
  auto r = verify_audit_log(path, {}, audit_shared_key(psk).get());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->broken_line, 0u) << r->broken;
  EXPECT_EQ(r->checkpoints, 2u);
  r = verify_audit_log(path, {}, audit_shared_key(other).get());
  EXPECT_EQ(r->broken_line, 2u);
  EXPECT_THAT(r->broken, HasSubstr("MAC does not verify"));
  r = verify_audit_log(path, {});
  EXPECT_EQ(r->broken_line, 2u);
  EXPECT_THAT(r->broken, HasSubstr("needs the shared key"));
  r = verify_audit_log(path, server_key()->public_key().fingerprint(), audit_shared_key(psk).get());
  EXPECT_EQ(r->broken_line, 2u);
}

// The trail of one connection: what an operation was, how it ended; an
// operation still open when the connection ends is written as cut off; a
// message's text is never written, only its digest.
TEST(AuditLog, TheTrailWritesEachOperationWhenItEnds) {
  TempDir dir("audit");
  const auto path = dir / "audit.log";
  {
    auto log = AuditLog::open(path, nullptr);  // shared-key mode: no checkpoints
    ASSERT_TRUE(log);
    net::PeerInfo peer;
    peer.address = "127.0.0.1:5000";
    peer.mode = "shared-key hmac-sha256";
    peer.identity.comment = "alice \"the admin\" \\ home";
    AuditTrail trail(*log, peer);
    const std::string secret_text = "the launch code is 0000";
    trail.message(1, util::as_bytes(secret_text));
    const std::string reply = "verified 23 bytes";
    trail.ended({1, 1, proto::Ended::How::replied, 0, util::as_bytes(reply)});
    trail.file(3, 2, "in/r\x01.pdf", 1000);
    trail.ended({5, 9, proto::Ended::How::refused, 0, util::as_bytes(std::string("unknown kind"))});
    trail.file(7, 3, "x", 10);
    const std::string digest(64, 'b');
    trail.ended({7, 3, proto::Ended::How::replied, 0, util::as_bytes(digest)});
    (*log)->refused_connection("127.0.0.1:5001", "not authorized: key SHA256:x\x1b[2J");
  }
  const auto text = read_text(path);
  EXPECT_THAT(text, Not(HasSubstr("launch code")));
  const auto lines = lines_of(text);
  ASSERT_EQ(lines.size(), 7u) << text;  // start, 4 operations, a refused connection, stop
  auto m = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(m["operation"], "message");
  EXPECT_EQ(m["comment"], "alice \"the admin\" \\\\ home");  // the backslash escaped for display
  EXPECT_EQ(m["outcome"], "answered");
  EXPECT_EQ(m["size"], 23);
  EXPECT_EQ(m["sha256"], util::to_hex(crypto::sha256({util::as_bytes("the launch code is 0000")})));
  EXPECT_EQ(m["reply_sha256"], util::to_hex(crypto::sha256({util::as_bytes("verified 23 bytes")})));
  auto refused = nlohmann::json::parse(lines[2]);
  EXPECT_EQ(refused["operation"], "kind 9");
  EXPECT_EQ(refused["outcome"], "refused");
  EXPECT_EQ(refused["reason"], "unknown kind");
  auto got = nlohmann::json::parse(lines[3]);
  EXPECT_EQ(got["operation"], "get");
  EXPECT_EQ(got["sha256"], std::string(64, 'b'));
  auto refused_connection = nlohmann::json::parse(lines[4]);
  EXPECT_EQ(refused_connection["event"], "refused");
  EXPECT_EQ(refused_connection["reason"], "not authorized: key SHA256:x\\x1b[2J");
  auto cut = nlohmann::json::parse(lines[5]);
  EXPECT_EQ(cut["operation"], "put");
  EXPECT_EQ(cut["outcome"], "cut-off");
  EXPECT_EQ(cut["name"], "in/r\\x01.pdf");
  EXPECT_EQ(nlohmann::json::parse(lines[6])["event"], "stop");
  auto r = verify(path);
  EXPECT_EQ(r.broken_line, 0u) << r.broken;
  EXPECT_EQ(r.checkpoints, 0u);
}

}  // namespace
}  // namespace signet
