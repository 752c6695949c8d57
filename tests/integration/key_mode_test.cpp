// Key mode end to end: the real `signet` processes and `openssl s_client` on
// loopback. Every process gets its own XDG_CONFIG_HOME, so nothing touches
// the user's configuration, and no SHARED_SECRET_KEY unless a test sets one.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "crypto/primitives.hpp"
#include "harness.hpp"
#include "util/encoding.hpp"

namespace signet::testing {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kSharedKey = "integration-test shared key, 40 bytes ok";

void write_file(const std::string& path, const std::string& text) {
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }
  fs::permissions(path, fs::perms::owner_read | fs::perms::owner_write);
}

std::string first_fingerprint(const std::string& text) {
  static const std::regex re("SHA256:[A-Za-z0-9+/]{43}");
  std::smatch m;
  return std::regex_search(text, m, re) ? m.str() : std::string();
}

class KeyModeTest : public ::testing::Test {
 protected:
  using Env = std::map<std::string, std::optional<std::string>>;

  void SetUp() override {
    dir_ = make_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
    authorized_keys_ = dir_ + "/authorized_keys";
    server_key_ = keygen("server_id");
    client_key_ = keygen("client_id");
  }

  // A configuration directory of its own for each role.
  Env env(const std::string& role, std::optional<std::string> shared_key = std::nullopt) {
    const std::string home = dir_ + "/" + role + "-config";
    fs::create_directories(home);
    return {{"XDG_CONFIG_HOME", home}, {"SHARED_SECRET_KEY", std::move(shared_key)}};
  }

  struct Key {
    std::string path;
    std::string fingerprint;
    std::string pub() const { return read_file(path + ".pub"); }
  };

  Key keygen(const std::string& name) {
    Process p(dir_, "keygen-" + name, {"keygen", "-f", dir_ + "/" + name, "-C", name + "@test"},
              env("keygen"));
    EXPECT_EQ(p.wait(), 0) << p.err();
    Key k{dir_ + "/" + name, first_fingerprint(p.out())};
    EXPECT_FALSE(k.fingerprint.empty()) << p.out();
    return k;
  }

  void authorize(const std::string& lines) { write_file(authorized_keys_, lines); }

  std::unique_ptr<ServerProcess> start_server(std::vector<std::string> extra = {},
                                              std::optional<std::string> shared_key = std::nullopt,
                                              const std::string& subdir = "") {
    std::vector<std::string> args = {"--identity", server_key_.path, "--authorized-keys",
                                     authorized_keys_};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string where = dir_;
    if (!subdir.empty()) {
      where += "/" + subdir;
      fs::create_directories(where);
    }
    return std::make_unique<ServerProcess>(where, args, env("server", std::move(shared_key)));
  }

  struct Run {
    int status = -1;
    std::string out, err;
  };

  // `signet send` with the client identity, trusting the server on first use.
  Run send(const std::string& address, const std::string& message,
           std::vector<std::string> extra = {}, const Key* key = nullptr,
           std::optional<std::string> shared_key = std::nullopt) {
    const Key& k = key != nullptr ? *key : client_key_;
    std::vector<std::string> args = {"send", address, message, "--identity", k.path};
    args.insert(args.end(), extra.begin(), extra.end());
    Process p(dir_, "send" + std::to_string(runs_++), args, env("client", std::move(shared_key)));
    Run r;
    r.status = p.wait();
    r.out = p.out();
    r.err = p.err();
    return r;
  }

  // Any signet command, run as the client.
  Run run(std::vector<std::string> args) {
    Process p(dir_, "run" + std::to_string(runs_++), std::move(args), env("client"));
    Run r;
    r.status = p.wait();
    r.out = p.out();
    r.err = p.err();
    return r;
  }

  std::string refusal_for(const Key& k) const {
    return "signet: not authorized by this server (your key " + k.fingerprint + ")\n";
  }

  // Runs a shell command line (for openssl), bounded in time.
  int shell(const std::string& command) {
    return std::system(("timeout 20 sh -c '" + command + "'").c_str());
  }

  std::string dir_;
  std::string authorized_keys_;
  Key server_key_, client_key_;
  int runs_ = 0;
};

// --- Admitted clients ------------------------------------------------------------

TEST_F(KeyModeTest, AuthorizedClientIsServedAndIdentified) {
  authorize(client_key_.pub());
  auto server = start_server();
  EXPECT_THAT(server->process().out(),
              HasSubstr("signet server: key mode (TLS 1.3, identity " + server_key_.fingerprint +
                        "), listening on 127.0.0.1:"));

  auto r = send(server->address(), "deploy done", {"--accept-new"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "verified 11 bytes\n");
  EXPECT_THAT(r.err, HasSubstr("key mode (TLS 1.3, identity " + client_key_.fingerprint + ")"));
  EXPECT_THAT(r.err, HasSubstr("pinned the server key " + server_key_.fingerprint));
  ASSERT_TRUE(server->process().wait_for_output("deploy done"));
  const auto lines = server->verified_lines();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_THAT(lines[0], HasSubstr(client_key_.fingerprint));
  EXPECT_THAT(lines[0], HasSubstr("TLS 1.3"));

  // Pinned now: no flag needed the second time.
  r = send(server->address(), "again");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("pinned")));
}

// Protocol version 2 is chosen by ALPN when both sides speak it; a side
// that speaks only version 1 (--protocol 1, as the first release) is served
// as before, whichever side it is.
TEST_F(KeyModeTest, ProtocolVersionIsNegotiatedAndVersion1PeersAreServed) {
  authorize(client_key_.pub());
  auto server = start_server();
  auto r = send(server->address(), "two", {"--accept-new"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "verified 3 bytes\n");
  EXPECT_THAT(r.err, HasSubstr("), protocol 2"));
  ASSERT_TRUE(server->process().wait_for_output("two"));
  EXPECT_THAT(server->process().err(), HasSubstr("protocol 2)"));

  r = send(server->address(), "one", {"--protocol", "1"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "verified 3 bytes\n");
  EXPECT_THAT(r.err, HasSubstr("), protocol 1"));
  ASSERT_TRUE(server->process().wait_for_output("one"));
  EXPECT_THAT(server->process().err(), HasSubstr("protocol 1)"));

  auto old_server = start_server({"--protocol", "1"}, std::nullopt, "old");
  r = send(old_server->address(), "new client, old server", {"--accept-new"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "verified 22 bytes\n");
  EXPECT_THAT(r.err, HasSubstr("), protocol 1"));
  ASSERT_TRUE(old_server->process().wait_for_output("new client, old server"));
  EXPECT_THAT(old_server->process().err(), HasSubstr("protocol 1)"));
  EXPECT_THAT(old_server->process().err(), Not(HasSubstr("protocol 2")));
  EXPECT_EQ(server->verified_lines().size() + old_server->verified_lines().size(), 3u);
}

TEST_F(KeyModeTest, InteractiveClientSendsEachLine) {
  authorize(client_key_.pub());
  auto server = start_server();
  Process client(dir_, "client",
                 {"client", server->address(), "--identity", client_key_.path, "--accept-new"},
                 env("client"), true);
  client.write_stdin("first line\nsecond\n");
  ASSERT_TRUE(client.wait_for_output("verified 6 bytes")) << client.err();
  client.close_stdin();
  EXPECT_EQ(client.wait(), 0) << client.err();
  EXPECT_THAT(client.out(), HasSubstr("server: verified 10 bytes"));
  EXPECT_THAT(client.err(), HasSubstr("signet client: key mode (TLS 1.3"));
  EXPECT_EQ(server->verified_lines().size(), 2u);
}

TEST_F(KeyModeTest, DefaultIdentityIsCreatedOnFirstUse) {
  // No --identity anywhere: both sides make one in their configuration directory.
  Process server(dir_, "server", {"server", "--listen", "127.0.0.1:0", "--threads", "1"},
                 env("server"));
  ASSERT_TRUE(server.wait_for_output("listening on 127.0.0.1:")) << server.err();
  EXPECT_THAT(server.err(), HasSubstr("created a new identity SHA256:"));
  EXPECT_THAT(server.err(), HasSubstr("server-config/signet/id_ed25519"));
  const auto out = server.out();
  const auto port = out.substr(out.find("listening on 127.0.0.1:") + 23);
  Process client(dir_, "client", {"send", "127.0.0.1:" + port.substr(0, port.find('\n')), "x"},
                 env("client"));
  EXPECT_EQ(client.wait(), 4);
  EXPECT_THAT(client.err(), HasSubstr("created a new identity SHA256:"));
  // Not pinned, no terminal to ask on: refused, saying how to proceed.
  EXPECT_THAT(client.err(), HasSubstr("--accept-new"));
  EXPECT_THAT(client.err(), HasSubstr("--server-key"));
}

TEST_F(KeyModeTest, EncryptedIdentityIsOpenedWithThePassphraseFile) {
  write_file(dir_ + "/passphrase", "correct horse\n");
  Process kg(dir_, "keygen-encrypted",
             {"keygen", "-f", dir_ + "/encrypted", "--passphrase-file", dir_ + "/passphrase"},
             env("keygen"));
  ASSERT_EQ(kg.wait(), 0) << kg.err();
  const Key encrypted{dir_ + "/encrypted", first_fingerprint(kg.out())};
  authorize(encrypted.pub());
  auto server = start_server();
  auto r = send(server->address(), "sealed",
                {"--accept-new", "--passphrase-file", dir_ + "/passphrase"}, &encrypted);
  EXPECT_EQ(r.status, 0) << r.err;
  // Without the passphrase (and no terminal to ask on) it is a configuration error.
  r = send(server->address(), "sealed", {}, &encrypted);
  EXPECT_EQ(r.status, 2) << r.err;
  EXPECT_THAT(r.err, HasSubstr("encrypted"));
}

// --- Refused clients ---------------------------------------------------------------

TEST_F(KeyModeTest, UnknownKeyIsRefusedWithExitFour) {
  const auto other = keygen("other");
  authorize(other.pub());
  auto server = start_server();
  auto r = send(server->address(), "should not arrive", {"--accept-new"});
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr(refusal_for(client_key_)));
  EXPECT_EQ(r.out, "");
  std::this_thread::sleep_for(200ms);
  EXPECT_THAT(server->process().err(),
              HasSubstr("rejected: key not authorized: key " + client_key_.fingerprint +
                        " is not in authorized_keys"));
  EXPECT_THAT(server->process().err(), HasSubstr("127.0.0.1:"));
  EXPECT_TRUE(server->verified_lines().empty());
}

// allow= is checked on every request, not once per connection: a key
// admitted for other operations is refused each message, with the reason,
// in both protocol versions (version 2 cancels the one operation; version 1
// has no way to refuse one message and ends the connection).
TEST_F(KeyModeTest, AllowIsCheckedOnEveryRequest) {
  const std::string pub = client_key_.pub();
  authorize("allow=\"put,get\" " + pub);
  auto server = start_server();
  for (const char* version : {"2", "1"}) {
    auto r = send(server->address(), "not for you", {"--accept-new", "--protocol", version});
    EXPECT_EQ(r.status, 4) << version << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr("operation message not allowed for key " +
                                 client_key_.fingerprint + " (allow=\"put,get\")"))
        << version;
    EXPECT_EQ(r.out, "");
  }
  std::this_thread::sleep_for(200ms);
  EXPECT_THAT(server->process().err(),
              HasSubstr("refused operation 1 (message): key not authorized: operation message not "
                        "allowed for key " +
                        client_key_.fingerprint));
  EXPECT_TRUE(server->verified_lines().empty());

  // The same key allowed to send messages is served.
  authorize("allow=\"message\" " + pub);
  auto r = send(server->address(), "now yes");
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(server->verified_lines().size(), 1u);
}

// File transfer in key mode: put needs allow= to name put, get and ls need
// get; a refusal is the server's (exit status 5) and writes nothing; what
// is allowed travels encrypted.
// Receipts (issue 10): send --receipt writes a statement and its SSHSIG
// signature by the server's key, which signet verify-receipt and the real
// ssh-keygen -Y verify accept, and which any changed byte, another message
// or another server key makes fail (exit 4).
TEST_F(KeyModeTest, ASignedReceiptVerifiesWithSignetAndSshKeygenAndCatchesEveryChange) {
  authorize(client_key_.pub());
  auto server = start_server();
  const std::string message = "pay invoice 1234";
  const std::string receipt = dir_ + "/r.txt";
  auto r = send(server->address(), message, {"--accept-new", "--receipt", receipt});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("verified 16 bytes"));
  const std::string statement = read_file(receipt);
  const std::string signature = read_file(receipt + ".sig");
  EXPECT_THAT(statement, ::testing::StartsWith("signet receipt v1\nprotocol 2\n"));
  EXPECT_THAT(statement, HasSubstr("server-key " + server_key_.fingerprint + "\n"));
  EXPECT_THAT(statement, HasSubstr("client-key " + client_key_.fingerprint + "\n"));
  EXPECT_THAT(statement,
              HasSubstr("operation message\nsize 16\nsha256 " +
                        util::to_hex(crypto::sha256({util::as_bytes(message)})) + "\nstatus 0\n"));
  EXPECT_THAT(signature, ::testing::StartsWith("-----BEGIN SSH SIGNATURE-----\n"));

  const auto verify = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = {"verify-receipt", receipt};
    args.insert(args.end(), extra.begin(), extra.end());
    return run(std::move(args));
  };
  auto v = verify({"--server-key", server_key_.fingerprint, "--message", message});
  EXPECT_EQ(v.status, 0) << v.err;
  EXPECT_THAT(v.out, HasSubstr("receipt verified: message of 16 bytes"));
  // The key pinned for the server (send --accept-new pinned it).
  EXPECT_EQ(verify({"--server", server->address()}).status, 0);

  // With nothing of signet: ssh-keygen and the server's public key.
  write_file(dir_ + "/allowed_signers", "server.example " + server_key_.pub());
  const std::string keygen = "timeout 30 ssh-keygen -Y verify -f " + dir_ +
                             "/allowed_signers -I server.example -n signet-receipt -s " + receipt +
                             ".sig < " + receipt + " >/dev/null 2>&1";
  EXPECT_EQ(std::system(keygen.c_str()), 0);

  v = verify({"--server-key", server_key_.fingerprint, "--message", "pay invoice 1235"});
  EXPECT_EQ(v.status, 4);
  EXPECT_THAT(v.err, HasSubstr("another message"));
  v = verify({"--server-key", client_key_.fingerprint});
  EXPECT_EQ(v.status, 4);
  EXPECT_THAT(v.err, HasSubstr("not by the server key"));

  // One changed byte of the statement, then of the signature.
  std::string changed = statement;
  changed[changed.find("status 0") + 7] = '1';
  write_file(receipt, changed);
  v = verify({"--server-key", server_key_.fingerprint});
  EXPECT_EQ(v.status, 4);
  EXPECT_THAT(v.err, HasSubstr("signature"));
  EXPECT_NE(std::system(keygen.c_str()), 0);
  write_file(receipt, statement);
  std::string bad_sig = signature;
  char& c = bad_sig[bad_sig.size() / 2];
  c = c == 'A' ? 'B' : 'A';
  write_file(receipt + ".sig", bad_sig);
  EXPECT_EQ(verify({"--server-key", server_key_.fingerprint}).status, 4);
  write_file(receipt + ".sig", signature);
  EXPECT_EQ(verify({"--server-key", server_key_.fingerprint}).status, 0);
}

// put --receipt: the server signs a receipt of the file it published,
// naming the file, its size and SHA-256; it checks against that file and
// no other, with signet and with ssh-keygen.
TEST_F(KeyModeTest, AReceiptOfAnUploadNamesTheFileAndItsDigest) {
  authorize("allow=\"message,put\" " + client_key_.pub());
  const std::string served = dir_ + "/served";
  fs::create_directories(served);
  const std::string data = "release tarball " + std::string(300000, 'r');
  write_file(dir_ + "/release.tar.gz", data);
  write_file(dir_ + "/other", "something else");
  auto server = start_server({"--files", served});
  const std::string receipt = dir_ + "/put.txt";
  auto r = run({"put", server->address(), dir_ + "/release.tar.gz", "--as", "rel/1.4.tar.gz",
                "--receipt", receipt, "--identity", client_key_.path, "--accept-new"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(served + "/rel/1.4.tar.gz"), data);
  const std::string statement = read_file(receipt);
  const std::string digest = util::to_hex(crypto::sha256({util::as_bytes(data)}));
  EXPECT_THAT(statement, HasSubstr("operation put\nname rel/1.4.tar.gz\nsize " +
                                   std::to_string(data.size()) + "\nsha256 " + digest + "\n"));
  EXPECT_THAT(r.out, HasSubstr(digest));
  r = run({"verify-receipt", receipt, "--server-key", server_key_.fingerprint, "--file",
           dir_ + "/release.tar.gz"});
  EXPECT_EQ(r.status, 0) << r.err;
  r = run({"verify-receipt", receipt, "--server-key", server_key_.fingerprint, "--file",
           dir_ + "/other"});
  EXPECT_EQ(r.status, 4);
  EXPECT_THAT(r.err, HasSubstr("other data"));
  write_file(dir_ + "/allowed_signers", "server " + server_key_.pub());
  const std::string keygen = "timeout 30 ssh-keygen -Y verify -f " + dir_ +
                             "/allowed_signers -I server -n signet-receipt -s " + receipt +
                             ".sig < " + receipt + " >/dev/null 2>&1";
  EXPECT_EQ(std::system(keygen.c_str()), 0);
  // One receipt is for one file.
  r = run({"put", server->address(), dir_ + "/release.tar.gz", dir_ + "/other", "--receipt",
           receipt, "--identity", client_key_.path});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("--receipt is for one file"));
}

// get --receipt: the server signs a receipt of the file it sent (operation
// get, its name, size and SHA-256); it checks against that file, with signet
// and with ssh-keygen, and not against another.
TEST_F(KeyModeTest, AReceiptOfADownloadNamesTheFileAndItsDigest) {
  authorize("allow=\"get\" " + client_key_.pub());
  const std::string served = dir_ + "/served";
  fs::create_directories(served + "/logs");
  const std::string data = "log lines " + std::string(200000, 'l');
  write_file(served + "/logs/app.log", data);
  write_file(dir_ + "/other", "something else");
  auto server = start_server({"--files", served});
  const std::string receipt = dir_ + "/get.txt";
  auto r = run({"get", server->address(), "logs/app.log", "-o", dir_ + "/app.log", "--receipt",
                receipt, "--identity", client_key_.path, "--accept-new"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(dir_ + "/app.log"), data);
  const std::string statement = read_file(receipt);
  const std::string digest = util::to_hex(crypto::sha256({util::as_bytes(data)}));
  EXPECT_THAT(statement, HasSubstr("operation get\nname logs/app.log\nsize " +
                                   std::to_string(data.size()) + "\nsha256 " + digest + "\n"));
  r = run({"verify-receipt", receipt, "--server-key", server_key_.fingerprint, "--file",
           dir_ + "/app.log"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("receipt verified: get of"));
  r = run({"verify-receipt", receipt, "--server-key", server_key_.fingerprint, "--file",
           dir_ + "/other"});
  EXPECT_EQ(r.status, 4);
  write_file(dir_ + "/allowed_signers", "server " + server_key_.pub());
  const std::string keygen = "timeout 30 ssh-keygen -Y verify -f " + dir_ +
                             "/allowed_signers -I server -n signet-receipt -s " + receipt +
                             ".sig < " + receipt + " >/dev/null 2>&1";
  EXPECT_EQ(std::system(keygen.c_str()), 0);
  // One receipt is for one file.
  r = run({"get", server->address(), "logs/app.log", "logs/app.log", "--to", dir_, "--receipt",
           receipt, "--identity", client_key_.path});
  EXPECT_EQ(r.status, 2);
  EXPECT_THAT(r.err, HasSubstr("--receipt is for one file"));
}

// The audit log (issue 10): the server writes a line per operation, allowed
// or refused, without a message's text; signet audit verify finds it intact
// with the server's key, finds a changed byte, and a server killed with
// SIGKILL leaves a log that verifies, which the next server goes on with.
TEST_F(KeyModeTest, TheAuditLogRecordsEveryOperationAndVerifies) {
  authorize("allow=\"message,put\" " + client_key_.pub());
  const std::string served = dir_ + "/served";
  fs::create_directories(served);
  write_file(dir_ + "/data.bin", std::string(50000, 'd'));
  const std::string log = dir_ + "/audit.log";
  const std::vector<std::string> options = {
      "--files", served, "--audit-log", log, "--audit-checkpoint", "0.2"};
  auto server = start_server(options);
  const std::string text = "payroll: alice 5000";
  ASSERT_EQ(send(server->address(), text, {"--accept-new"}).status, 0);
  auto r = run({"put", server->address(), dir_ + "/data.bin", "--identity", client_key_.path});
  ASSERT_EQ(r.status, 0) << r.err;
  r = run({"get", server->address(), "data.bin", "-o", dir_ + "/back.bin", "--identity",
           client_key_.path});
  EXPECT_EQ(r.status, 5) << r.err;
  // A key the server does not admit: refused at the handshake, and logged.
  const Key stranger = keygen("stranger");
  EXPECT_EQ(send(server->address(), "let me in", {"--accept-new"}, &stranger).status, 4);
  server->process().terminate();

  const std::string written = read_file(log);
  EXPECT_THAT(written, Not(HasSubstr("payroll")));
  EXPECT_THAT(written,
              HasSubstr("\"operation\":\"message\",\"outcome\":\"answered\",\"status\":0"));
  EXPECT_THAT(written, HasSubstr("\"sha256\":\"" +
                                 util::to_hex(crypto::sha256({util::as_bytes(text)})) + "\""));
  EXPECT_THAT(written, HasSubstr("\"operation\":\"put\",\"outcome\":\"answered\",\"status\":0,"
                                 "\"name\":\"data.bin\",\"size\":50000"));
  EXPECT_THAT(written, HasSubstr("\"operation\":\"get\",\"outcome\":\"refused\""));
  EXPECT_THAT(written, HasSubstr("\"key\":\"" + client_key_.fingerprint + "\""));
  EXPECT_THAT(written, HasSubstr("\"event\":\"refused\""));
  EXPECT_THAT(written, HasSubstr(stranger.fingerprint));
  EXPECT_THAT(written, Not(HasSubstr("let me in")));

  r = run({"audit", "verify", log, "--server-key", server_key_.fingerprint});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_THAT(r.out, HasSubstr("intact"));
  r = run({"audit", "verify", log, "--server-key", client_key_.fingerprint});
  EXPECT_EQ(r.status, 4) << r.out;

  // One byte changed: the status of the first operation (line 3).
  std::string changed = written;
  const auto at = changed.find("\"status\":0");
  ASSERT_NE(at, std::string::npos);
  changed[at + 9] = '7';
  write_file(log, changed);
  r = run({"audit", "verify", log});
  EXPECT_EQ(r.status, 4);
  EXPECT_THAT(r.out, HasSubstr("line 3 was changed"));
  write_file(log, written);

  // Killed: the lines written so far verify; the next server goes on.
  server = start_server(options);
  ASSERT_EQ(send(server->address(), "one more", {"--accept-new"}).status, 0);
  ::kill(server->process().pid(), SIGKILL);
  server->process().wait();
  r = run({"audit", "verify", log, "--server-key", server_key_.fingerprint});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  server = start_server(options);
  server->process().terminate();
  r = run({"audit", "verify", log, "--server-key", server_key_.fingerprint});
  EXPECT_EQ(r.status, 0) << r.out << r.err;
  EXPECT_THAT(r.out, Not(HasSubstr("after the last checkpoint")));
}

TEST_F(KeyModeTest, FilesNeedTheirRightAndTravelEncrypted) {
  const std::string pub = client_key_.pub();
  const std::string served = dir_ + "/served";
  fs::create_directories(served);
  const std::string text = "quarterly numbers, confidential, " + std::string(100000, 'q');
  write_file(dir_ + "/report.txt", text);
  write_file(served + "/there.txt", "from the server");
  auto server = start_server({"--files", served});
  const auto run = [&](std::vector<std::string> args, const std::string& address) {
    args.insert(args.begin() + 1, address);
    args.insert(args.end(), {"--identity", client_key_.path, "--accept-new"});
    Process p(dir_, "files" + std::to_string(runs_++), args, env("client"));
    Run r;
    r.status = p.wait();
    r.out = p.out();
    r.err = p.err();
    return r;
  };

  authorize("allow=\"message\" " + pub);
  auto r = run({"put", dir_ + "/report.txt"}, server->address());
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("operation put not allowed for key " + client_key_.fingerprint));
  r = run({"get", "there.txt", "-o", dir_ + "/got.txt"}, server->address());
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("operation get not allowed"));
  r = run({"ls"}, server->address());
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_FALSE(fs::exists(served + "/report.txt"));
  EXPECT_FALSE(fs::exists(dir_ + "/got.txt"));

  // A write-only key: put, not get.
  authorize("allow=\"put\" " + pub);
  Proxy proxy(server->port(), {});
  r = run({"put", dir_ + "/report.txt"}, proxy.address());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(served + "/report.txt"), text);
  EXPECT_EQ(proxy.recorded_client_bytes().find("quarterly numbers"), std::string::npos);
  EXPECT_EQ(run({"get", "there.txt", "-o", dir_ + "/got.txt"}, server->address()).status, 5);

  // A read-only key: get and ls, not put.
  authorize("allow=\"get\" " + pub);
  r = run({"get", "there.txt", "-o", dir_ + "/got.txt"}, server->address());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(dir_ + "/got.txt"), "from the server");
  r = run({"ls"}, server->address());
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("  report.txt\n"));
  EXPECT_THAT(r.out, HasSubstr("  there.txt\n"));
  write_file(dir_ + "/other.txt", "x");
  EXPECT_EQ(run({"put", dir_ + "/other.txt"}, server->address()).status, 5);
  EXPECT_FALSE(fs::exists(served + "/other.txt"));
}

// dir= gives each key a folder of its own below --files: its names are
// relative to it, and no name reaches a sibling or the folder above.
TEST_F(KeyModeTest, AKeyConfinedByDirReachesOnlyItsFolder) {
  const std::string served = dir_ + "/served";
  fs::create_directories(served + "/bob");
  write_file(served + "/bob/secret.txt", "bob's");
  write_file(served + "/top.txt", "top");
  write_file(dir_ + "/mine.txt", "alice's");
  authorize("dir=\"inbox/alice\" " + client_key_.pub());
  auto server = start_server({"--files", served});
  const auto run = [&](std::vector<std::string> args) {
    args.insert(args.begin() + 1, server->address());
    args.insert(args.end(), {"--identity", client_key_.path, "--accept-new"});
    Process p(dir_, "dir" + std::to_string(runs_++), args, env("client"));
    Run r;
    r.status = p.wait();
    r.out = p.out();
    r.err = p.err();
    return r;
  };
  auto r = run({"put", dir_ + "/mine.txt"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(served + "/inbox/alice/mine.txt"), "alice's");  // created on first use
  EXPECT_FALSE(fs::exists(served + "/mine.txt"));
  r = run({"ls"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("  mine.txt\n"));
  EXPECT_THAT(r.out, Not(HasSubstr("top.txt")));
  r = run({"get", "mine.txt", "-o", dir_ + "/back.txt"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(read_file(dir_ + "/back.txt"), "alice's");
  for (const char* name : {"../../bob/secret.txt", "../../top.txt", "/bob/secret.txt"}) {
    r = run({"get", name, "-o", dir_ + "/stolen.txt"});
    EXPECT_EQ(r.status, 5) << name << ": " << r.err;
  }
  r = run({"get", "bob/secret.txt", "-o", dir_ + "/stolen.txt"});  // inbox/alice/bob: none
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_FALSE(fs::exists(dir_ + "/stolen.txt"));
  r = run({"put", dir_ + "/mine.txt", "--as", "../../bob/planted.txt"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_FALSE(fs::exists(served + "/bob/planted.txt"));
  EXPECT_EQ(read_file(served + "/bob/secret.txt"), "bob's");
}

TEST_F(KeyModeTest, KeyRemovedWhileTheServerRunsIsRefusedNextTime) {
  authorize(client_key_.pub());
  auto server = start_server();
  ASSERT_EQ(send(server->address(), "before", {"--accept-new"}).status, 0);

  Process remove(dir_, "remove",
                 {"keys", "remove", client_key_.fingerprint, "--authorized-keys", authorized_keys_},
                 env("server"));
  ASSERT_EQ(remove.wait(), 0) << remove.err();
  auto r = send(server->address(), "after");
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr(refusal_for(client_key_)));
  EXPECT_THAT(server->process().err(), HasSubstr("changed: 0 key(s) authorized now"));
  EXPECT_EQ(server->verified_lines().size(), 1u);
}

TEST_F(KeyModeTest, ExpiredKeyIsRefused) {
  authorize("expiry-time=\"20200101\" " + client_key_.pub());
  auto server = start_server();
  auto r = send(server->address(), "late", {"--accept-new"});
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr(refusal_for(client_key_)));
  std::this_thread::sleep_for(200ms);
  EXPECT_THAT(server->process().err(),
              HasSubstr("key " + client_key_.fingerprint + " expired at 2020-01-01T00:00:00Z"));
}

TEST_F(KeyModeTest, AddressOutsideFromIsRefused) {
  authorize("from=\"10.0.0.0/8\" " + client_key_.pub());
  auto server = start_server();
  auto r = send(server->address(), "wrong place", {"--accept-new"});
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr(refusal_for(client_key_)));
  std::this_thread::sleep_for(200ms);
  EXPECT_THAT(server->process().err(),
              HasSubstr("address 127.0.0.1 not in from=\"10.0.0.0/8\" (key " +
                        client_key_.fingerprint + ")"));
}

TEST_F(KeyModeTest, AddKeysImportsADirectoryBeforeServing) {
  fs::create_directories(dir_ + "/incoming");
  fs::copy_file(client_key_.path + ".pub", dir_ + "/incoming/client.pub");
  write_file(dir_ + "/incoming/bad.pub", "not a key\n");
  auto server = start_server({"--add-keys", dir_ + "/incoming"});
  EXPECT_THAT(server->process().err(), HasSubstr("added " + client_key_.fingerprint));
  EXPECT_THAT(server->process().err(), HasSubstr("skipped bad.pub"));
  EXPECT_EQ(send(server->address(), "imported", {"--accept-new"}).status, 0);
}

// --- The client's pin ---------------------------------------------------------------

TEST_F(KeyModeTest, ServerWithAnotherKeyIsRefusedByAClientThatPinnedTheFirst) {
  authorize(client_key_.pub());
  std::uint16_t port = 0;
  {
    auto first = start_server({}, std::nullopt, "first");
    port = first->port();
    ASSERT_EQ(send(first->address(), "pin me", {"--accept-new"}).status, 0);
    first->process().terminate();
  }
  // Another server key on the same address.
  const auto impostor = keygen("impostor");
  Process second(dir_, "second",
                 {"server", "--listen", "127.0.0.1:" + std::to_string(port), "--identity",
                  impostor.path, "--authorized-keys", authorized_keys_},
                 env("server"));
  ASSERT_TRUE(second.wait_for_output("listening on")) << second.err();
  // --accept-new never replaces a pin.
  auto r = send("127.0.0.1:" + std::to_string(port), "secret", {"--accept-new"});
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_THAT(r.err, HasSubstr("SERVER KEY CHANGED for 127.0.0.1:" + std::to_string(port)));
  EXPECT_THAT(r.err, HasSubstr("pinned " + server_key_.fingerprint));
  EXPECT_THAT(r.err, HasSubstr("server presented " + impostor.fingerprint));
  EXPECT_THAT(r.err, HasSubstr("known_hosts line 1"));
  std::this_thread::sleep_for(200ms);
  EXPECT_THAT(second.out(), Not(HasSubstr("secret")));
}

// Where the server's CertificateVerify record (RFC 8446 section 4.4.3) starts
// in the bytes it sends: after ServerHello (and a ChangeCipherSpec), the
// encrypted records are EncryptedExtensions, CertificateRequest,
// Certificate, CertificateVerify, Finished.
std::size_t certificate_verify_offset(const std::string& server_bytes) {
  int encrypted = 0;
  for (std::size_t at = 0; at + 5 <= server_bytes.size();) {
    const auto len =
        static_cast<std::size_t>(static_cast<unsigned char>(server_bytes[at + 3]) << 8 |
                                 static_cast<unsigned char>(server_bytes[at + 4]));
    if (server_bytes[at] == 0x17 && encrypted++ == 3) return at;
    at += 5 + len;
  }
  return 0;
}

TEST_F(KeyModeTest, AcceptNewPinsNothingWhenTheServerDoesNotProveItsKey) {
  authorize(client_key_.pub());
  auto server = start_server();
  std::size_t spoil_at = 0;
  {
    Proxy looking(server->port(), {});
    auto r = send(looking.address(), "look", {"--server-key", server_key_.fingerprint});
    ASSERT_EQ(r.status, 0) << r.err;
    spoil_at = certificate_verify_offset(looking.recorded_server_bytes());
    ASSERT_GT(spoil_at, 0u);
  }
  // The client sees the server's real key, but the proof that the server
  // holds it (its signature in CertificateVerify) does not arrive intact: a
  // server presenting someone else's key gets exactly this far.
  Proxy spoiling(server->port(), {.flip_server_to_client = spoil_at + 10});
  auto r = send(spoiling.address(), "attack", {"--accept-new"});
  EXPECT_EQ(r.status, 4) << r.err;
  EXPECT_THAT(r.err, Not(HasSubstr("pinned")));
  const std::string known_hosts = dir_ + "/client-config/signet/known_hosts";
  EXPECT_EQ(read_file(known_hosts), "");
  // The real server is then trusted on first use as usual.
  r = send(server->address(), "honest", {"--accept-new"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_THAT(read_file(known_hosts), HasSubstr(server->address()));
}

TEST_F(KeyModeTest, TheTrustPromptWaitsOutsideTheServersHandshake) {
  authorize(client_key_.pub());
  auto server = start_server({"--handshake-timeout", "1"});
  Terminal t(dir_, "prompt",
             {"send", server->address(), "after a pause", "--identity", client_key_.path},
             env("client"));
  ASSERT_TRUE(t.wait_for_screen("Trust it? [y/N]")) << t.screen();
  EXPECT_THAT(t.screen(), HasSubstr(server_key_.fingerprint));
  // A careful person takes longer than the server's handshake timeout.
  std::this_thread::sleep_for(2500ms);
  t.type("yes");
  ASSERT_TRUE(t.wait_for_screen("verified 13 bytes")) << t.screen();
  EXPECT_THAT(t.screen(), HasSubstr("pinned the server key " + server_key_.fingerprint));
  ASSERT_TRUE(t.wait_for_screen("[signet-test exit "));
  EXPECT_EQ(t.exit_status(), 0) << t.screen();
}

TEST_F(KeyModeTest, NoAtTheTrustPromptPinsNothingAndSendsNothing) {
  authorize(client_key_.pub());
  auto server = start_server();
  Terminal t(dir_, "prompt", {"send", server->address(), "secret", "--identity", client_key_.path},
             env("client"));
  ASSERT_TRUE(t.wait_for_screen("Trust it? [y/N]")) << t.screen();
  t.type("n");
  ASSERT_TRUE(t.wait_for_screen("[signet-test exit ")) << t.screen();
  EXPECT_EQ(t.exit_status(), 4) << t.screen();
  EXPECT_THAT(t.screen(), HasSubstr("was not trusted"));
  EXPECT_EQ(read_file(dir_ + "/client-config/signet/known_hosts"), "");
  EXPECT_TRUE(server->verified_lines().empty());
}

TEST_F(KeyModeTest, ServerKeyGivenOnTheCommandLineIsChecked) {
  authorize(client_key_.pub());
  auto server = start_server();
  EXPECT_EQ(send(server->address(), "ok", {"--server-key", server_key_.fingerprint}).status, 0);
  const auto other = keygen("other");
  auto r = send(server->address(), "no", {"--server-key", other.fingerprint});
  EXPECT_EQ(r.status, 4);
  EXPECT_THAT(r.err, HasSubstr("not " + other.fingerprint + " (--server-key)"));
}

// --- Confidentiality ------------------------------------------------------------------

TEST_F(KeyModeTest, RecordedSessionHoldsNeitherMessageNorReply) {
  authorize(client_key_.pub());
  auto server = start_server({"--exec", "tr a-z A-Z"});
  Proxy proxy(server->port(), {});
  auto r = send(proxy.address(), "attack at dawn", {"--accept-new"});
  ASSERT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "ATTACK AT DAWN\n");
  const auto up = proxy.recorded_client_bytes();
  const auto down = proxy.recorded_server_bytes();
  ASSERT_GT(up.size(), 100u);
  ASSERT_GT(down.size(), 100u);
  EXPECT_EQ(up[0], '\x16');  // a TLS handshake record
  EXPECT_EQ(up.find("attack"), std::string::npos);
  EXPECT_EQ(down.find("ATTACK"), std::string::npos);
  EXPECT_EQ(down.find("attack"), std::string::npos);
}

// --- Another TLS implementation ---------------------------------------------------------

TEST_F(KeyModeTest, OpensslSClientWithAnAuthorizedKeyGetsAReply) {
  const auto other = keygen("other");
  authorize(client_key_.pub());
  auto server = start_server({"--handshake-timeout", "2", "--idle-timeout", "1"});
  for (const Key* k : {static_cast<const Key*>(&client_key_), &other}) {
    ASSERT_EQ(shell("openssl req -x509 -new -key " + k->path + " -subj /CN=test -days 1 -out " +
                    k->path + ".crt 2>/dev/null"),
              0);
  }
  // A MESSAGE frame: type 0x01, length 5, "hello".
  const std::string frame = "printf \"\\001\\000\\000\\000\\005hello\"";
  const auto s_client = [&](const Key& k, const std::string& name) {
    return shell(frame + " | openssl s_client -tls1_3 -quiet -cert " + k.path + ".crt -key " +
                 k.path + " -connect " + server->address() + " > " + dir_ + "/" + name +
                 ".out 2> " + dir_ + "/" + name + ".err");
  };
  s_client(client_key_, "sclient-ok");
  const std::string ok = read_file(dir_ + "/sclient-ok.out");
  // REPLY frame: type 0x02, length 17, status 0, "verified 5 bytes"; then,
  // once the server closes the idle connection, its ERROR frame (timeout).
  const std::string reply("\x02\x00\x00\x00\x11\x00verified 5 bytes", 22);
  EXPECT_EQ(ok.substr(0, reply.size()), reply) << read_file(dir_ + "/sclient-ok.err");
  EXPECT_THAT(ok.substr(reply.size()), HasSubstr("connection idle too long"));
  // The certificate names the server's key; nothing else in it matters.
  EXPECT_THAT(read_file(dir_ + "/sclient-ok.err"), HasSubstr(server_key_.fingerprint));
  ASSERT_TRUE(server->process().wait_for_output("hello"));
  EXPECT_THAT(server->verified_lines().at(0), HasSubstr(client_key_.fingerprint));

  s_client(other, "sclient-refused");
  EXPECT_EQ(read_file(dir_ + "/sclient-refused.out"), "");
  EXPECT_THAT(read_file(dir_ + "/sclient-refused.err"), HasSubstr("alert bad certificate"));
  EXPECT_THAT(read_file(dir_ + "/sclient-refused.err"), HasSubstr("SSL alert number 42"));
  EXPECT_EQ(server->verified_lines().size(), 1u);
}

// --- --exec -------------------------------------------------------------------------------

TEST_F(KeyModeTest, ExecHandlerAnswersWithTheCommandsOutputAndStatus) {
  authorize(client_key_.pub());
  auto upper = start_server({"--exec", "tr a-z A-Z"}, std::nullopt, "upper");
  auto r = send(upper->address(), "hello", {"--accept-new"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out, "HELLO\n");

  auto failing = start_server({"--exec", "echo cannot do that; exit 3"}, std::nullopt, "failing");
  r = send(failing->address(), "hello", {"--accept-new"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_THAT(r.out, HasSubstr("cannot do that"));
  EXPECT_THAT(r.err, HasSubstr("status 3"));
}

// --- Modes ---------------------------------------------------------------------------------

TEST_F(KeyModeTest, SharedKeyClientAgainstAKeyModeServerGetsAClearError) {
  authorize(client_key_.pub());
  auto server = start_server();
  Process p(dir_, "psk-client", {"send", server->address(), "x"}, env("client", kSharedKey));
  EXPECT_EQ(p.wait(), 5) << p.err();
  EXPECT_THAT(p.err(), HasSubstr("this server runs key mode (TLS 1.3) only"));
}

TEST_F(KeyModeTest, KeyModeClientAgainstASharedKeyServerIsToldWhy) {
  Process server(dir_, "psk-server", {"server", "--listen", "127.0.0.1:0", "--threads", "1"},
                 env("server", kSharedKey));
  ASSERT_TRUE(
      server.wait_for_output("encrypted unless the client offers only hmac-sha256), listening on"));
  const auto out = server.out();
  auto port = out.substr(out.find("listening on 127.0.0.1:") + 23);
  port = port.substr(0, port.find('\n'));
  auto r = send("127.0.0.1:" + port, "x", {"--accept-new"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("peer uses the other mode"));
  EXPECT_THAT(r.err, HasSubstr("shared-key mode only"));
  EXPECT_THAT(server.err(), HasSubstr("the client speaks TLS (key mode)"));
}

TEST_F(KeyModeTest, AFullServerAnswersServerBusyNotAModeHint) {
  authorize(client_key_.pub());
  auto server = start_server({"--max-connections", "1"});
  RawConnection holder(server->port());
  std::this_thread::sleep_for(200ms);
  auto r = send(server->address(), "x", {"--accept-new"});
  EXPECT_EQ(r.status, 5) << r.err;
  EXPECT_THAT(r.err, HasSubstr("server busy"));
  EXPECT_THAT(r.err, HasSubstr("the server is full (1 connections)"));
  EXPECT_THAT(r.err, Not(HasSubstr("SHARED_SECRET_KEY")));
}

TEST_F(KeyModeTest, KeyUpdatesDoNotKeepAnIdleConnectionOpen) {
  authorize(client_key_.pub());
  auto server = start_server({"--idle-timeout", "2"});
  ASSERT_EQ(shell("openssl req -x509 -new -key " + client_key_.path +
                  " -subj /CN=test -days 1 -out " + client_key_.path + ".crt 2>/dev/null"),
            0);
  // openssl s_client sends a TLS KeyUpdate for each line "k" on its input.
  FILE* s_client = ::popen(
      ("timeout 20 openssl s_client -tls1_3 -cert " + client_key_.path + ".crt -key " +
       client_key_.path + " -connect " + server->address() + " > " + dir_ + "/s_client.out 2>&1")
          .c_str(),
      "w");
  ASSERT_NE(s_client, nullptr);
  // Five seconds of KeyUpdates, one every 250 ms, and no message. Once the
  // server has closed the connection s_client exits: writing to it then
  // must not kill the test with SIGPIPE.
  const auto old_handler = std::signal(SIGPIPE, SIG_IGN);
  for (int i = 0; i < 20; ++i) {
    std::this_thread::sleep_for(250ms);
    if (std::fputs("k\n", s_client) < 0 || std::fflush(s_client) != 0) break;
  }
  const std::string log = server->process().err();
  ::pclose(s_client);
  std::signal(SIGPIPE, old_handler);
  EXPECT_THAT(log, HasSubstr("idle too long"));
  EXPECT_THAT(read_file(dir_ + "/s_client.out"), HasSubstr("KEYUPDATE"));
}

TEST_F(KeyModeTest, ServerWithBothModesServesBothClientsOnOnePort) {
  authorize(client_key_.pub());
  auto server = start_server({}, kSharedKey);
  EXPECT_THAT(server->process().out(),
              HasSubstr("key mode (TLS 1.3, identity " + server_key_.fingerprint +
                        ") and shared-key mode (aes-256-gcm, chacha20-poly1305, hmac-sha256"));
  // Documented, and said at start: the shared key alone admits a client.
  EXPECT_THAT(server->process().err(), HasSubstr("without any key in authorized_keys"));
  auto key_client = send(server->address(), "by key", {"--accept-new"});
  EXPECT_EQ(key_client.status, 0) << key_client.err;
  Process psk_client(dir_, "psk-client", {"send", server->address(), "by shared key"},
                     env("client", kSharedKey));
  EXPECT_EQ(psk_client.wait(), 0) << psk_client.err();
  EXPECT_EQ(psk_client.out(), "verified 13 bytes\n");
  ASSERT_TRUE(server->process().wait_for_output("by shared key"));
  EXPECT_EQ(server->verified_lines().size(), 2u);
}

TEST_F(KeyModeTest, RequirePskAdmitsOnlyClientsWithKeyAndSharedKey) {
  authorize(client_key_.pub());
  auto server = start_server({"--require-psk"}, kSharedKey);
  EXPECT_THAT(server->process().out(), HasSubstr("shared key required"));
  // Identity and shared key: admitted, bound.
  auto both = send(server->address(), "both", {"--accept-new"}, nullptr, kSharedKey);
  EXPECT_EQ(both.status, 0) << both.err;
  ASSERT_TRUE(server->process().wait_for_output("both"));
  EXPECT_THAT(server->verified_lines().at(0), HasSubstr("shared key bound"));
  // Identity only: the shared key is missing.
  auto key_only = send(server->address(), "key only");
  EXPECT_EQ(key_only.status, 4) << key_only.err;
  EXPECT_THAT(key_only.err, HasSubstr("shared key mismatch"));
  // Identity and the wrong shared key.
  auto wrong =
      send(server->address(), "wrong psk", {}, nullptr, std::string("another shared key, wrong"));
  EXPECT_EQ(wrong.status, 4) << wrong.err;
  EXPECT_THAT(wrong.err, HasSubstr("shared key mismatch"));
  // Shared key only: not served at all.
  Process psk_only(dir_, "psk-only", {"send", server->address(), "psk only"},
                   env("client", kSharedKey));
  EXPECT_EQ(psk_only.wait(), 5) << psk_only.err();
  EXPECT_THAT(psk_only.err(), HasSubstr("use --identity on the client"));
  EXPECT_EQ(server->verified_lines().size(), 1u);
}

}  // namespace
}  // namespace signet::testing
