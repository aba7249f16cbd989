// InvalidationMarks: what a reader concludes from the invalidations this process knows of.

#include "cache/marks.hpp"

#include <gtest/gtest.h>

#include <chrono>

namespace strata::cache {
namespace {

using namespace std::chrono_literals;

const Clock::time_point kNow{1h};

TEST(InvalidationMarksTest, AnEntryFilledBeforeATagsEpochIsInvalidatedAndOneFilledAtOrAfterItIsNot) {
  InvalidationMarks marks(10s);
  EXPECT_FALSE(marks.epoch_invalidates(0, {"t"})) << "nothing marked yet";
  marks.mark_tag("t", 10, kNow);
  EXPECT_TRUE(marks.epoch_invalidates(9, {"t"}));
  EXPECT_TRUE(marks.epoch_invalidates(9, {"other", "t"}));
  EXPECT_FALSE(marks.epoch_invalidates(10, {"t"}));
  EXPECT_FALSE(marks.epoch_invalidates(11, {"t"}));
  EXPECT_FALSE(marks.epoch_invalidates(9, {"other"})) << "another tag's invalidation does not apply";
  EXPECT_FALSE(marks.epoch_invalidates(9, {})) << "an untagged entry is untouched by tag marks";
}

TEST(InvalidationMarksTest, InvalidatingEverythingAppliesToEveryEntryFilledBeforeIt) {
  InvalidationMarks marks(10s);
  marks.mark_tag("t", 10, kNow);
  marks.mark_everything(20, kNow);
  EXPECT_TRUE(marks.epoch_invalidates(19, {}));
  EXPECT_TRUE(marks.epoch_invalidates(15, {"unrelated"}));
  EXPECT_FALSE(marks.epoch_invalidates(20, {"t"}));
  // A later mark with an older epoch (heard late on the bus) does not move epochs backwards.
  marks.mark_tag("t", 5, kNow);
  EXPECT_TRUE(marks.epoch_invalidates(9, {"t"}));
  EXPECT_FALSE(marks.epoch_invalidates(20, {"t"}));
}

TEST(InvalidationMarksTest, KeyMarksDoNotTakePartInEpochChecks) {
  InvalidationMarks marks(10s);
  marks.mark_key("app:ns:g0:1", 30, kNow);
  EXPECT_FALSE(marks.epoch_invalidates(1, {})) << "a key's own marks are checked by sequence, not epoch";
  EXPECT_TRUE(marks.invalidated_since(0, "app:ns:g0:1", {}));
}

}  // namespace
}  // namespace strata::cache
