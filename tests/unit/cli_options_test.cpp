// The program's option helpers (src/cli/common.cpp).
#include <gtest/gtest.h>

#include <CLI/CLI.hpp>

#include <cmath>
#include <limits>

#include "cli/common.hpp"

namespace signet::cli {
namespace {

using std::chrono::milliseconds;

TEST(SecondsOption, ConvertsWithoutOverflowForAnyDouble) {
  EXPECT_EQ(seconds_option(10), milliseconds(10000));
  EXPECT_EQ(seconds_option(0.5), milliseconds(500));
  EXPECT_EQ(seconds_option(0.0001), milliseconds(1));  // never 0: that would time out at once
  EXPECT_EQ(seconds_option(kMaxSeconds), milliseconds(86400000));
  // Refused by the option check, and still defined here.
  EXPECT_EQ(seconds_option(1e30), milliseconds(86400000));
  EXPECT_EQ(seconds_option(std::numeric_limits<double>::infinity()), milliseconds(86400000));
  EXPECT_EQ(seconds_option(std::numeric_limits<double>::max()), milliseconds(86400000));
  EXPECT_EQ(seconds_option(std::nan("")), milliseconds(1));
  EXPECT_EQ(seconds_option(-1), milliseconds(1));
  EXPECT_EQ(seconds_option(-std::numeric_limits<double>::infinity()), milliseconds(1));
}

TEST(SecondsOption, CheckRefusesWhatIsNotADurationInRange) {
  for (const char* bad : {"-1", "nan", "NaN", "1e30", "inf", "infinity", "0", "-0", "86400.5", "",
                          "5s", " 5", "0x10"}) {
    CLI::App app;
    double seconds = 7;
    add_seconds_option(&app, "--timeout", seconds, "test");
    EXPECT_THROW(app.parse(std::vector<std::string>{bad, "--timeout"}), CLI::ValidationError)
        << "'" << bad << "'";
    EXPECT_EQ(seconds, 7) << bad;
  }
  for (const char* good : {"0.001", "1", "2.5", "1e3", "86400"}) {
    CLI::App app;
    double seconds = 7;
    add_seconds_option(&app, "--timeout", seconds, "test");
    EXPECT_NO_THROW(app.parse(std::vector<std::string>{good, "--timeout"})) << good;
    EXPECT_EQ(seconds, std::stod(good));
  }
}

}  // namespace
}  // namespace signet::cli
