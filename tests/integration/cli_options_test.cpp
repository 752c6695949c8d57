// Options of the signet program that are refused before anything is sent:
// unusable key files, out-of-range values; and what the program's own files
// and log lines look like.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>
#include <iterator>

#include "harness.hpp"

namespace signet::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class CliOptionsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = make_temp_dir(::testing::UnitTest::GetInstance()->current_test_info()->name());
  }
  // No shared key in the environment, a config directory of this test's own.
  std::map<std::string, std::optional<std::string>> env() {
    return {{"SHARED_SECRET_KEY", std::nullopt}, {"XDG_CONFIG_HOME", dir_ + "/config"}};
  }
  // Runs signet with args; it must end within `limit`. Returns its exit status.
  int run(std::vector<std::string> args, std::string* err = nullptr,
          std::chrono::milliseconds limit = 10s) {
    Process p(dir_, "run" + std::to_string(runs_++), std::move(args), env());
    const auto start = std::chrono::steady_clock::now();
    const int status = p.wait(limit);
    EXPECT_LT(std::chrono::steady_clock::now() - start, limit);
    if (err) *err = p.err();
    return status;
  }

  std::string dir_;
  int runs_ = 0;
};

// --- --psk-file --------------------------------------------------------------------------

TEST_F(CliOptionsTest, PskFileThatIsADeviceIsRefusedNotReadForever) {
  std::string err;
  EXPECT_EQ(run({"send", "127.0.0.1:9", "x", "--psk-file", "/dev/zero"}, &err), 2);
  EXPECT_THAT(err, HasSubstr("/dev/zero is not a regular file"));
}

TEST_F(CliOptionsTest, PskFileThatIsAFifoIsRefusedAtOnce) {
  const std::string fifo = dir_ + "/psk-fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  std::string err;
  EXPECT_EQ(run({"send", "127.0.0.1:9", "x", "--psk-file", fifo}, &err, 5s), 2);
  EXPECT_THAT(err, HasSubstr("psk-fifo is not a regular file"));
  // The server reads it the same way.
  EXPECT_EQ(run({"server", "--listen", "127.0.0.1:0", "--psk-file", fifo}, &err, 5s), 2);
  EXPECT_THAT(err, HasSubstr("psk-fifo is not a regular file"));
}

TEST_F(CliOptionsTest, PskFileThatIsADirectoryIsRefused) {
  std::string err;
  EXPECT_EQ(run({"send", "127.0.0.1:9", "x", "--psk-file", dir_}, &err), 2);
  EXPECT_THAT(err, HasSubstr("is not a regular file"));
}

TEST_F(CliOptionsTest, PskFileOver64KiBIsRefused) {
  const std::string big = dir_ + "/big-psk";
  { std::ofstream(big) << std::string(64 * 1024 + 1, 'k'); }
  ::chmod(big.c_str(), 0600);
  std::string err;
  EXPECT_EQ(run({"send", "127.0.0.1:9", "x", "--psk-file", big}, &err), 2);
  EXPECT_THAT(err, HasSubstr("big-psk is larger than 65536 bytes"));
  // 64 KiB itself is a (long) key: the client gets as far as connecting.
  { std::ofstream(big) << std::string(64 * 1024, 'k'); }
  EXPECT_EQ(run({"send", "127.0.0.1:9", "x", "--psk-file", big}, &err), 3);
}

TEST_F(CliOptionsTest, MissingPskFileIsAConfigurationError) {
  std::string err;
  EXPECT_EQ(run({"send", "127.0.0.1:9", "x", "--psk-file", dir_ + "/none"}, &err), 2);
  EXPECT_THAT(err, HasSubstr("No such file"));
}

// --- The server's log -------------------------------------------------------------------

constexpr const char* kKey = "integration-test shared key, 40 bytes ok";

class ServerLogTest : public CliOptionsTest {
 protected:
  std::map<std::string, std::optional<std::string>> env_with_key(
      std::map<std::string, std::optional<std::string>> extra = {}) {
    auto e = env();
    e["SHARED_SECRET_KEY"] = kKey;
    for (auto& [k, v] : extra) e[k] = v;
    return e;
  }
  // Starts `signet [global] server [args]` on a port the kernel picks.
  std::unique_ptr<Process> start_server(
      std::vector<std::string> global, std::vector<std::string> args,
      std::map<std::string, std::optional<std::string>> extra = {}) {
    global.insert(global.end(), {"server", "--listen", "127.0.0.1:0"});
    global.insert(global.end(), args.begin(), args.end());
    auto p = std::make_unique<Process>(dir_, "server" + std::to_string(runs_++), global,
                                       env_with_key(extra));
    EXPECT_TRUE(p->wait_for_output("listening on 127.0.0.1:")) << p->err();
    const auto out = p->out();
    port_ = out.substr(out.find("listening on 127.0.0.1:") + 23);
    port_ = port_.substr(0, port_.find('\n'));
    return p;
  }
  // Starts a server, sends it "hello log" and stops it. Returns the server's stdout.
  std::string serve_one_message(std::vector<std::string> global, std::vector<std::string> args,
                                std::map<std::string, std::optional<std::string>> extra = {}) {
    auto server = start_server(std::move(global), std::move(args), extra);
    Process send(dir_, "send" + std::to_string(runs_++),
                 {"send", "127.0.0.1:" + port_, "hello log"}, env_with_key());
    EXPECT_EQ(send.wait(), 0) << send.err();
    EXPECT_EQ(send.out(), "verified 9 bytes\n");
    std::this_thread::sleep_for(100ms);
    server->terminate();
    return server->out();
  }
  std::string port_;
  static mode_t mode_of(const std::string& path) {
    struct stat st {};
    EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
    return st.st_mode & 07777;
  }
};

// Sets the umask for one test, so the file's mode shows what signet asked for.
struct Umask {
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
  mode_t old;
};

TEST_F(ServerLogTest, LogFileIsCreatedWithMode0600) {
  const Umask umask(022);
  const std::string log = dir_ + "/server.log";
  serve_one_message({"--log-file", log}, {});
  EXPECT_EQ(mode_of(log), 0600u);
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("9 bytes verified"));
  EXPECT_THAT(text, HasSubstr("hello log"));
}

TEST_F(ServerLogTest, ExistingLogFileOthersCanReadIsWarnedAbout) {
  const std::string log = dir_ + "/server.log";
  { std::ofstream(log) << "earlier line\n"; }
  ::chmod(log.c_str(), 0644);
  auto server = start_server({"--log-file", log}, {});
  server->terminate();
  EXPECT_THAT(server->err(), HasSubstr("is accessible by group or others"));
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, HasSubstr("earlier line\n"));  // appended to, not truncated
  EXPECT_THAT(text, HasSubstr("shutting down"));
}

TEST_F(ServerLogTest, LogFileThatIsASymlinkIsRefused) {
  const std::string target = dir_ + "/elsewhere";
  { std::ofstream(target) << ""; }
  const std::string log = dir_ + "/server.log";
  ASSERT_EQ(::symlink(target.c_str(), log.c_str()), 0);
  Process server(dir_, "server", {"--log-file", log, "server", "--listen", "127.0.0.1:0"},
                 env_with_key());
  EXPECT_EQ(server.wait(), 2);
  EXPECT_THAT(server.err(), HasSubstr("it is a symbolic link"));
}

TEST_F(ServerLogTest, MessageLinesOnByDefaultOutsideSystemd) {
  const std::string out = serve_one_message(
      {}, {}, {{"INVOCATION_ID", std::nullopt}, {"JOURNAL_STREAM", std::nullopt}});
  EXPECT_THAT(out, HasSubstr("9 bytes verified"));
  EXPECT_THAT(out, HasSubstr("hello log"));
}

TEST_F(ServerLogTest, LogMessagesNoPrintsNoMessageLines) {
  const std::string log = dir_ + "/server.log";
  const std::string out = serve_one_message({"--log-file", log}, {"--log-messages", "no"});
  EXPECT_THAT(out, Not(HasSubstr("hello log")));
  EXPECT_THAT(out, HasSubstr("listening on"));
  std::ifstream in(log);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_THAT(text, Not(HasSubstr("hello log")));
  EXPECT_THAT(text, HasSubstr("stopped: 1 connection(s), 1 message(s) verified"));
}

TEST_F(ServerLogTest, LogMessagesAutoIsOffUnderSystemd) {
  for (const char* var : {"INVOCATION_ID", "JOURNAL_STREAM"}) {
    const std::string out = serve_one_message({}, {}, {{var, "8:12345"}});
    EXPECT_THAT(out, Not(HasSubstr("hello log"))) << var;
    const std::string explicit_auto = serve_one_message({}, {"--log-messages=auto"}, {{var, "1"}});
    EXPECT_THAT(explicit_auto, Not(HasSubstr("hello log"))) << var;
  }
  // Asked for, the lines are printed under systemd too.
  const std::string yes =
      serve_one_message({}, {"--log-messages", "yes"}, {{"INVOCATION_ID", "1"}});
  EXPECT_THAT(yes, HasSubstr("hello log"));
}

// --- Options in seconds ----------------------------------------------------------------

const std::vector<std::string> kBadSeconds = {"-1", "nan",  "1e30",  "inf",
                                              "0",  "-inf", "86401", "5s"};

TEST_F(CliOptionsTest, OutOfRangeSecondsAreRefusedNamingTheOption) {
  const std::vector<std::vector<std::string>> commands = {
      {"send", "127.0.0.1:9", "x", "--timeout"},
      {"client", "127.0.0.1:9", "--timeout"},
      {"server", "--listen", "127.0.0.1:0", "--handshake-timeout"},
      {"server", "--listen", "127.0.0.1:0", "--idle-timeout"},
      {"server", "--listen", "127.0.0.1:0", "--frame-timeout"},
      {"server", "--listen", "127.0.0.1:0", "--exec", "cat", "--exec-timeout"},
      {"bench", "127.0.0.1:9", "--idle-connections", "1", "--hold"},
  };
  for (const auto& command : commands) {
    for (const auto& value : kBadSeconds) {
      auto args = command;
      args.push_back(value);
      std::string err;
      // A server given a value it should have refused would serve: 3 s is plenty.
      EXPECT_EQ(run(args, &err, 3s), 2) << command.back() << " " << value;
      EXPECT_THAT(err, HasSubstr(command.back() + ": '" + value + "' is not a number of seconds"));
      EXPECT_THAT(err, HasSubstr("above 0 and at most 86400"));
    }
  }
}

TEST_F(CliOptionsTest, SecondsWithinTheRangeAreAccepted) {
  for (const char* value : {"0.001", "0.5", "30", "86400", "1e3"}) {
    std::string err;
    // Nothing listens on port 9: the value was taken, the connection refused.
    EXPECT_EQ(run({"send", "127.0.0.1:9", "x", "--timeout", value}, &err), 3) << value << err;
  }
}

}  // namespace
}  // namespace signet::testing
