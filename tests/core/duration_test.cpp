// Durations as every configuration writes them: a number and its unit, never a bare number.

#include "core/duration.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <string>

namespace strata::core {
namespace {

using namespace std::chrono_literals;

TEST(Duration, ANumberAndItsUnit) {
  EXPECT_EQ(parse_duration("250ms"), 250ms);
  EXPECT_EQ(parse_duration("30s"), 30s);
  EXPECT_EQ(parse_duration("5m"), 5min);
  EXPECT_EQ(parse_duration("2h"), 2h);
  EXPECT_EQ(parse_duration("1d"), 24h);
  EXPECT_EQ(parse_duration("0s"), 0ms);
}

TEST(Duration, ANumberWithoutItsUnitOrAnythingElseIsRefused) {
  for (const std::string text : {"", "30", "s", "-1s", "+1s", "3 s", " 3s", "3s ", "1.5s", "5min", "3S", "1w",
                                 "99999999999999999d", "99999999999999999999ms"}) {
    EXPECT_EQ(parse_duration(text), std::nullopt) << '"' << text << '"';
  }
}

}  // namespace
}  // namespace strata::core
