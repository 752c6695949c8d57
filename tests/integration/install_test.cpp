// The signet program as a Debian tool runs it: --version.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/stat.h>

#include <fstream>

#include "harness.hpp"

namespace signet::testing {
namespace {

using ::testing::MatchesRegex;

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

}  // namespace
}  // namespace signet::testing
