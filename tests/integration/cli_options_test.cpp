// Options of the signet program that are refused before anything is sent:
// unusable key files, out-of-range values; and what the program's own files
// and log lines look like.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>

#include "harness.hpp"

namespace signet::testing {
namespace {

using ::testing::HasSubstr;

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
