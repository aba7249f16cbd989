#include "gateway/pass_marks.hpp"

#include <gtest/gtest.h>

#include <string>

namespace strata::gateway {
namespace {

using namespace std::chrono_literals;

TEST(PassMarks, AMarkLastsUntilItsTimeAndIsThenForgotten) {
  PassMarks marks;
  const Clock::time_point start{};
  EXPECT_FALSE(marks.marked(Key("n", {"k"}), start));
  marks.mark(Key("n", {"k"}), start, start + 30s);
  EXPECT_TRUE(marks.marked(Key("n", {"k"}), start + 29s));
  EXPECT_FALSE(marks.marked(Key("n", {"other"}), start + 29s));
  EXPECT_FALSE(marks.marked(Key("n", {"k"}), start + 30s));
  EXPECT_EQ(marks.size(), 0U);
}

TEST(PassMarks, StaysWithinItsCapacity) {
  PassMarks marks(64);
  const Clock::time_point start{};
  for (int i = 0; i < 10000; ++i) marks.mark(Key("n", {"key" + std::to_string(i)}), start, start + 30s);
  EXPECT_LE(marks.size(), 64U);
  EXPECT_TRUE(marks.marked(Key("n", {"key9999"}), start + 1s));  // the newest mark survives
  // Marks that ended are dropped first when a shard is full.
  PassMarks expiring(16);
  expiring.mark(Key("n", {"old"}), start, start + 1s);
  for (int i = 0; i < 100; ++i) expiring.mark(Key("n", {"new" + std::to_string(i)}), start + 2s, start + 60s);
  EXPECT_LE(expiring.size(), 16U);
}

}  // namespace
}  // namespace strata::gateway
