// The signet program as a Debian tool runs it: --version, configuration
// files, systemd credentials, readiness notification, SIGHUP and logging to
// the journal.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>

#include "harness.hpp"

namespace signet::testing {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;
using ::testing::StartsWith;

class InstallTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  // No shared key in the environment, a config directory of this test's own.
  std::map<std::string, std::optional<std::string>> env() {
    return {{"SHARED_SECRET_KEY", std::nullopt}, {"XDG_CONFIG_HOME", dir_ + "/config"}};
  }
  int run(std::vector<std::string> args, std::string* out, std::string* err,
          std::map<std::string, std::optional<std::string>> extra = {}) {
    auto e = env();
    for (const auto& [k, v] : extra) e[k] = v;
    Process p(dir_, "run" + std::to_string(runs_++), std::move(args), e);
    const int status = p.wait(10s);
    if (out) *out = p.out();
    if (err) *err = p.err();
    return status;
  }
  void write(const std::string& name, const std::string& text, mode_t mode) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path) << text;
    ASSERT_EQ(::chmod(path.c_str(), mode), 0);
  }

  // A new identity key in dir_; returns its path (NAME.pub is the public key).
  std::string keygen(const std::string& name) {
    std::string out, err;
    EXPECT_EQ(run({"keygen", "-f", dir_ + "/" + name, "-C", name + "@test"}, &out, &err), 0) << err;
    return dir_ + "/" + name;
  }

  std::string dir_;
  int runs_ = 0;
};

TEST_F(InstallTest, VersionNamesOpenSslAndTheProtocolVersions) {
  std::string out;
  EXPECT_EQ(run({"--version"}, &out, nullptr), 0);
  EXPECT_THAT(out, MatchesRegex("signet [0-9]+\\.[0-9]+\\.[0-9]+\n"
                                "OpenSSL [0-9]+\\.[0-9]+\\.[0-9]+[^\n]*\n"
                                "protocol versions 1, 2\n"));
}

// --- Configuration files (--config, CLI11's format) ----------------------------------

TEST_F(InstallTest, ClientDefaultFromTheConfigFileIsUsed) {
  write("signet.conf", "[send]\nmax-message = 10\n", 0644);
  std::string err;
  EXPECT_EQ(
      run({"--config", dir_ + "/signet.conf", "send", "127.0.0.1:9", "eleven byte"}, nullptr, &err),
      2);
  EXPECT_THAT(err, HasSubstr("above --max-message 10"));
}

TEST_F(InstallTest, CommandLineOverridesTheConfigFile) {
  write("signet.conf", "[send]\nmax-message = 10\ntimeout = 2\n", 0644);
  std::string err;
  // Past the size check, the send fails to connect to the discard port: exit 3.
  EXPECT_EQ(run({"--config", dir_ + "/signet.conf", "send", "127.0.0.1:9", "eleven byte",
                 "--max-message", "20"},
                nullptr, &err),
            3)
      << err;
  EXPECT_THAT(err, Not(HasSubstr("above --max-message")));
}

TEST_F(InstallTest, ServerOptionsComeFromTheConfigFileAndTheCommandLineWins) {
  // listen from the file is unusable; the command line's replaces it, and
  // echo comes from the file: the reply is the message itself.
  write("server.conf",
        "# signet server configuration\n[server]\nlisten = \"256.1.1.1:7\"\necho = true\n", 0644);
  auto e = env();
  e["SHARED_SECRET_KEY"] = "a shared key of thirty-two bytes!";
  Process server(dir_, "server",
                 {"--config", dir_ + "/server.conf", "server", "--listen", "127.0.0.1:0"}, e);
  ASSERT_TRUE(server.wait_for_output("listening on 127.0.0.1:")) << server.err();
  const auto out = server.out();
  const std::string port = out.substr(out.find("listening on 127.0.0.1:") + 23);
  std::string reply, err;
  EXPECT_EQ(run({"send", "127.0.0.1:" + port.substr(0, port.find('\n')), "echo me"}, &reply, &err,
                {{"SHARED_SECRET_KEY", "a shared key of thirty-two bytes!"}}),
            0)
      << err;
  EXPECT_EQ(reply, "echo me\n");
  server.terminate();

  // Without the command line's --listen, the file's address is used (and refused).
  EXPECT_EQ(run({"--config", dir_ + "/server.conf", "server"}, nullptr, &err, e), 2);
  EXPECT_THAT(err, HasSubstr("256.1.1.1"));
}

TEST_F(InstallTest, UnknownKeyInTheConfigFileIsAnError) {
  write("server.conf", "[server]\nlistn = \"127.0.0.1:0\"\n", 0644);
  std::string err;
  EXPECT_EQ(run({"--config", dir_ + "/server.conf", "server"}, nullptr, &err), 2);
  EXPECT_THAT(err, HasSubstr("server.listn"));
}

TEST_F(InstallTest, MissingConfigFileGivenExplicitlyIsAnError) {
  std::string err;
  EXPECT_NE(run({"--config", dir_ + "/nope.conf", "send", "127.0.0.1:9", "x"}, nullptr, &err), 0);
  EXPECT_THAT(err, HasSubstr("nope.conf"));
}

TEST_F(InstallTest, SharedKeyInAConfigFileOthersCanReadIsRefused) {
  write("signet.conf", "[send]\npsk = \"a shared key of thirty-two bytes!\"\n", 0644);
  std::string err;
  EXPECT_EQ(run({"--config", dir_ + "/signet.conf", "send", "127.0.0.1:9", "x"}, nullptr, &err), 2);
  EXPECT_THAT(err, HasSubstr(dir_ + "/signet.conf has mode 0644"));
  EXPECT_THAT(err, HasSubstr("must be mode 0600"));
  EXPECT_THAT(err, Not(HasSubstr("thirty-two")));
}

TEST_F(InstallTest, SharedKeyInAConfigFileOfMode0600IsUsed) {
  const std::string key = "a shared key of thirty-two bytes!";
  write("signet.conf", "[send]\npsk = \"" + key + "\"\n", 0600);
  auto e = env();
  e["SHARED_SECRET_KEY"] = key;
  ServerProcess server(dir_, {}, e);
  std::string out, err;
  EXPECT_EQ(run({"--config", dir_ + "/signet.conf", "send", server.address(), "hello"}, &out, &err),
            0)
      << err;
  EXPECT_EQ(out, "verified 5 bytes\n");
  // A different key in the same file: the server refuses it (authentication failed).
  write("signet.conf", "[send]\npsk = \"another key of thirty-two bytes!!\"\n", 0600);
  EXPECT_EQ(run({"--config", dir_ + "/signet.conf", "send", server.address(), "hello"}, &out, &err),
            4);
}

TEST_F(InstallTest, SharedKeyOnTheCommandLineIsRefused) {
  std::string err;
  EXPECT_EQ(run({"send", "127.0.0.1:9", "x", "--psk", "a shared key of thirty-two bytes!"}, nullptr,
                &err),
            2);
  EXPECT_THAT(err, HasSubstr("--psk is accepted only in a configuration file"));
}

// --- systemd credentials (LoadCredential=) ---------------------------------------------

TEST_F(InstallTest, SharedKeyFromTheCredentialsDirectory) {
  const std::string key = "a shared key of thirty-two bytes!";
  std::filesystem::create_directories(dir_ + "/creds");
  write("creds/signet-psk", key + "\n", 0400);
  auto e = env();
  e["CREDENTIALS_DIRECTORY"] = dir_ + "/creds";
  ServerProcess server(dir_, {"--psk-credential", "signet-psk"}, e);
  EXPECT_THAT(server.process().out(), HasSubstr("shared-key mode"));
  std::string out, err;
  EXPECT_EQ(run({"send", server.address(), "hello"}, &out, &err, {{"SHARED_SECRET_KEY", key}}), 0)
      << err;
  EXPECT_EQ(out, "verified 5 bytes\n");
  EXPECT_EQ(run({"send", server.address(), "hello"}, &out, &err,
                {{"SHARED_SECRET_KEY", "another key of thirty-two bytes!!"}}),
            4);
}

TEST_F(InstallTest, CredentialWithoutACredentialsDirectoryIsAConfigurationError) {
  std::string err;
  EXPECT_EQ(run({"server", "--listen", "127.0.0.1:0", "--psk-credential", "signet-psk"}, nullptr,
                &err, {{"CREDENTIALS_DIRECTORY", std::nullopt}}),
            2);
  EXPECT_THAT(err, HasSubstr("CREDENTIALS_DIRECTORY is not set"));
  EXPECT_EQ(run({"server", "--listen", "127.0.0.1:0", "--psk-credential", "../x"}, nullptr, &err,
                {{"CREDENTIALS_DIRECTORY", dir_}}),
            2);
  EXPECT_THAT(err, HasSubstr("not a credential name"));
}

// --- sd_notify (Type=notify) -----------------------------------------------------------

// A datagram socket in the role of systemd's NOTIFY_SOCKET.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    ::unlink(path.c_str());
    if (fd_ < 0 || path.size() >= sizeof addr.sun_path ||
        ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      throw std::runtime_error("cannot bind " + path);
    }
  }
  ~NotifySocket() { ::close(fd_); }
  // The next datagram, or "" after the timeout.
  std::string next(std::chrono::milliseconds timeout = 10s) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return "";
    char buf[512];
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  int fd_ = -1;
};

TEST_F(InstallTest, ServerTellsSystemdWhenReadyReloadingAndStopping) {
  NotifySocket notify(dir_ + "/notify");
  auto e = env();
  e["NOTIFY_SOCKET"] = notify.path();
  e["SHARED_SECRET_KEY"] = "a shared key of thirty-two bytes!";
  ServerProcess server(dir_, {}, e);
  // READY=1 comes once the server listens, which ServerProcess waited for.
  EXPECT_EQ(notify.next(), "READY=1");
  ASSERT_EQ(::kill(server.process().pid(), SIGHUP), 0);
  EXPECT_EQ(notify.next(), "RELOADING=1");
  EXPECT_EQ(notify.next(), "READY=1");
  ::kill(server.process().pid(), SIGTERM);
  EXPECT_EQ(notify.next(), "STOPPING=1");
  EXPECT_EQ(server.process().wait(), 0);
}

// --- SIGHUP (systemctl reload) ---------------------------------------------------------

TEST_F(InstallTest, SighupRereadsAuthorizedKeysAndKeepsConnectionsOpen) {
  const std::string server_id = keygen("server_id");
  const std::string first = keygen("first");
  const std::string second = keygen("second");
  const std::string authorized = dir_ + "/authorized_keys";
  write("authorized_keys", read_file(first + ".pub"), 0600);
  ServerProcess server(dir_, {"--identity", server_id, "--authorized-keys", authorized}, env());

  // An interactive client with the first key keeps its connection open.
  auto client_env = env();
  client_env["XDG_CONFIG_HOME"] = dir_ + "/client-config";
  Process client(dir_, "client", {"client", server.address(), "--identity", first, "--accept-new"},
                 client_env, true);
  client.write_stdin("before\n");
  ASSERT_TRUE(client.wait_for_output("server: verified 6 bytes")) << client.err();

  std::string out, err;
  EXPECT_EQ(run({"send", server.address(), "x", "--identity", second, "--accept-new"}, &out, &err,
                client_env),
            4);
  write("authorized_keys", read_file(first + ".pub") + read_file(second + ".pub"), 0600);
  ASSERT_EQ(::kill(server.process().pid(), SIGHUP), 0);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (server.process().err().find("SIGHUP: re-read") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_THAT(server.process().err(), HasSubstr("key(s) authorized"));
  EXPECT_THAT(server.process().err(), HasSubstr("SIGHUP: re-read"));
  ASSERT_TRUE(server.process().running());

  // The new key is admitted, and the open connection still works (no reconnect).
  EXPECT_EQ(run({"send", server.address(), "x", "--identity", second, "--accept-new"}, &out, &err,
                client_env),
            0)
      << err;
  client.write_stdin("after!!\n");
  EXPECT_TRUE(client.wait_for_output("server: verified 7 bytes")) << client.err();
  client.close_stdin();
  EXPECT_EQ(client.wait(), 0);
  EXPECT_THAT(client.err(), Not(HasSubstr("reconnect")));
  server.process().terminate();
}

TEST_F(InstallTest, SighupRereadsTheSharedKeyFileForNewConnections) {
  const std::string old_key = "the old shared key, thirty-two b";
  const std::string new_key = "the new shared key, thirty-two b";
  write("psk", old_key + "\n", 0600);
  ServerProcess server(dir_, {"--psk-file", dir_ + "/psk"}, env());
  Process client(dir_, "client", {"client", server.address()}, {{"SHARED_SECRET_KEY", old_key}},
                 true);
  client.write_stdin("before\n");
  ASSERT_TRUE(client.wait_for_output("server: verified 6 bytes")) << client.err();

  write("psk", new_key + "\n", 0600);
  ASSERT_EQ(::kill(server.process().pid(), SIGHUP), 0);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (server.process().err().find("SIGHUP: re-read the shared key") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_THAT(server.process().err(), HasSubstr("SIGHUP: re-read the shared key"));

  std::string out, err;
  EXPECT_EQ(run({"send", server.address(), "x"}, &out, &err, {{"SHARED_SECRET_KEY", new_key}}), 0)
      << err;
  EXPECT_EQ(run({"send", server.address(), "x"}, &out, &err, {{"SHARED_SECRET_KEY", old_key}}), 4);
  // Receipts follow the new key too: made with it, checked with it only.
  const std::string receipt = dir_ + "/r.txt";
  EXPECT_EQ(run({"send", server.address(), "x", "--receipt", receipt}, &out, &err,
                {{"SHARED_SECRET_KEY", new_key}}),
            0)
      << err;
  EXPECT_EQ(run({"verify-receipt", receipt, "--message", "x"}, &out, &err,
                {{"SHARED_SECRET_KEY", new_key}}),
            0)
      << err;
  EXPECT_EQ(run({"verify-receipt", receipt}, &out, &err, {{"SHARED_SECRET_KEY", old_key}}), 4);
  // The connection made with the old key goes on.
  client.write_stdin("after!!\n");
  EXPECT_TRUE(client.wait_for_output("server: verified 7 bytes")) << client.err();
  client.close_stdin();
  EXPECT_EQ(client.wait(), 0);
  EXPECT_THAT(client.err(), Not(HasSubstr("reconnect")));

  // A key file that cannot be read keeps the key in use.
  write("psk", "", 0600);
  ASSERT_EQ(::kill(server.process().pid(), SIGHUP), 0);
  const auto deadline2 = std::chrono::steady_clock::now() + 10s;
  while (server.process().err().find("SIGHUP: keeping the shared key") == std::string::npos &&
         std::chrono::steady_clock::now() < deadline2) {
    std::this_thread::sleep_for(10ms);
  }
  EXPECT_THAT(server.process().err(), HasSubstr("SIGHUP: keeping the shared key"));
  EXPECT_EQ(run({"send", server.address(), "x"}, &out, &err, {{"SHARED_SECRET_KEY", new_key}}), 0)
      << err;
  server.process().terminate();
}

// --- Logging to the journal --------------------------------------------------------------

// Runs signet with JOURNAL_STREAM set to its stderr's device:inode, as
// systemd does for a service whose stderr is the journal.
const std::vector<std::string> kAsJournal = {
    "/bin/sh", "-c", "JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec \"$0\" \"$@\""};

TEST_F(InstallTest, UnderTheJournalLinesHavePrioritiesAndNoTimestamps) {
  // Key mode with nobody authorized: an info line and a warning.
  const std::string identity = keygen("server_id");
  const std::vector<std::string> args = {"server",
                                         "--listen",
                                         "127.0.0.1:0",
                                         "--identity",
                                         identity,
                                         "--authorized-keys",
                                         dir_ + "/authorized_keys"};
  {
    Process server(dir_, "journal", args, env(), false, kAsJournal);
    ASSERT_TRUE(server.wait_for_output("listening on")) << server.err();
    server.terminate();
    const std::string err = server.err();
    EXPECT_THAT(err, HasSubstr("<6>info "));
    EXPECT_THAT(err, HasSubstr("<4>warning no key is authorized"));
    EXPECT_THAT(err, Not(ContainsRegex("(^|\n)[0-9]{4}-[0-9]{2}-[0-9]{2}T")));
    // Every line carries a priority.
    EXPECT_THAT(err, Not(ContainsRegex("(^|\n)[^<\n]")));
  }
  {
    // A JOURNAL_STREAM that is not this stderr (a child of a service whose
    // output was redirected): ordinary lines.
    auto e = env();
    e["JOURNAL_STREAM"] = "1:2";
    Process server(dir_, "not-journal", args, e);
    ASSERT_TRUE(server.wait_for_output("listening on")) << server.err();
    server.terminate();
    EXPECT_THAT(server.err(), ContainsRegex("(^|\n)[0-9]{4}-[0-9]{2}-[0-9]{2}T"));
    EXPECT_THAT(server.err(), Not(HasSubstr("<6>")));
  }
  // Errors printed before logging is set up get the error priority.
  Process bad(dir_, "journal-error", {"server", "--listen", "nowhere"}, env(), false, kAsJournal);
  EXPECT_EQ(bad.wait(), 2);
  EXPECT_THAT(bad.err(), StartsWith("<3>signet: "));
}

}  // namespace
}  // namespace signet::testing
