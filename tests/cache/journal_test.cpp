// The journal of invalidations Redis missed: replayed in order, never lost, bounded.

#include "cache/journal.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strata::cache {
namespace {

using Entry = InvalidationJournal::Entry;

TEST(InvalidationJournal, ReplaysWhatItRememberedOldestFirstAndOnce) {
  InvalidationJournal journal(10);
  EXPECT_TRUE(journal.empty());
  journal.remember(Invalidation::key, "p:jobs:g0:1");
  journal.remember(Invalidation::tag, "job:1");
  journal.remember(Invalidation::name_space, "jobs");
  EXPECT_FALSE(journal.empty());
  const std::vector<Entry> expected{
      {Invalidation::key, "p:jobs:g0:1"}, {Invalidation::tag, "job:1"}, {Invalidation::name_space, "jobs"}};
  EXPECT_EQ(journal.take(), expected);
  EXPECT_TRUE(journal.empty());
  EXPECT_TRUE(journal.take().empty());
}

TEST(InvalidationJournal, WhatAReplayCouldNotApplyComesBackBeforeNewerOnes) {
  InvalidationJournal journal(10);
  journal.remember(Invalidation::tag, "a");
  journal.remember(Invalidation::tag, "b");
  auto work = journal.take();
  journal.remember(Invalidation::tag, "c");  // made while the replay ran
  work.erase(work.begin());                  // "a" applied, then Redis failed again
  journal.give_back(std::move(work));
  const std::vector<Entry> expected{{Invalidation::tag, "b"}, {Invalidation::tag, "c"}};
  EXPECT_EQ(journal.take(), expected);
}

TEST(InvalidationJournal, PastItsCapacityItReplaysOneClearOfEverything) {
  InvalidationJournal journal(3);
  for (int i = 0; i < 5; ++i) journal.remember(Invalidation::key, "k" + std::to_string(i));
  const std::vector<Entry> clear{{Invalidation::clear, ""}};
  EXPECT_EQ(journal.take(), clear);
  EXPECT_TRUE(journal.empty());
  // A clear that fails is kept, and so is one the give-back itself overflows into.
  journal.give_back(clear);
  EXPECT_EQ(journal.take(), clear);
  journal.remember(Invalidation::key, "x");
  journal.give_back({{Invalidation::key, "1"}, {Invalidation::key, "2"}, {Invalidation::key, "3"}});
  EXPECT_EQ(journal.take(), clear);
}

}  // namespace
}  // namespace strata::cache
