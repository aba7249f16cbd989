// Single flight: one load per key, never joined across an invalidation, never run twice for a
// value that was just stored.

#include "cache/single_flight.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace strata::cache {
namespace {

using Table = SingleFlight<int>;

auto never_invalidated() {
  return [](std::uint64_t) { return false; };
}
auto nothing_finished() {
  return []() -> std::optional<int> { return std::nullopt; };
}

TEST(SingleFlight, TheFirstCallerLeadsAndLaterOnesWaitForItsLoad) {
  Table table;
  auto first = table.join("k", 1, never_invalidated(), nothing_finished());
  auto second = table.join("k", 1, never_invalidated(), nothing_finished());
  EXPECT_TRUE(first.leader);
  EXPECT_FALSE(second.leader);
  EXPECT_EQ(first.flight, second.flight);
  EXPECT_EQ(table.running(), 1u);
  auto other_key = table.join("j", 1, never_invalidated(), nothing_finished());
  EXPECT_TRUE(other_key.leader);
  EXPECT_NE(other_key.flight, first.flight);
}

TEST(SingleFlight, AfterTheLoadEndsTheNextCallerLeadsANewOne) {
  Table table;
  auto first = table.join("k", 1, never_invalidated(), nothing_finished());
  table.end("k", first.flight);
  EXPECT_EQ(table.running(), 0u);
  auto next = table.join("k", 2, never_invalidated(), nothing_finished());
  EXPECT_TRUE(next.leader);
  EXPECT_NE(next.flight, first.flight);
}

TEST(SingleFlight, ACallerAfterAnInvalidationLeadsANewLoadThatTheOldOnesEndDoesNotRemove) {
  Table table;
  auto before = table.join("k", 5, never_invalidated(), nothing_finished());
  std::optional<std::uint64_t> asked_about;
  auto after = table.join(
      "k", 9,
      [&](std::uint64_t began) {
        asked_about = began;
        return true;  // an invalidation of "k" since sequence 5
      },
      nothing_finished());
  EXPECT_EQ(asked_about, 5u);  // the running load's own start
  EXPECT_TRUE(after.leader);
  EXPECT_NE(after.flight, before.flight);
  table.end("k", before.flight);  // the old load ends: the new one keeps its place
  auto joiner = table.join("k", 9, never_invalidated(), nothing_finished());
  EXPECT_FALSE(joiner.leader);
  EXPECT_EQ(joiner.flight, after.flight);
}

TEST(SingleFlight, ALoadThatFinishedSinceTheLookupIsTakenInsteadOfLoadingAgain) {
  Table table;
  auto taken = table.join("k", 1, never_invalidated(), []() -> std::optional<int> { return 42; });
  EXPECT_FALSE(taken.leader);
  ASSERT_TRUE(taken.flight->finished());
  EXPECT_EQ(taken.flight->result(), 42);
  EXPECT_EQ(table.running(), 0u);  // nothing left behind for later callers to join
}

TEST(SingleFlight, AFinishedValueAlsoAnswersACallerWhoseRunningLoadWasInvalidated) {
  Table table;
  auto old_load = table.join("k", 1, never_invalidated(), nothing_finished());
  auto taken = table.join(
      "k", 2, [](std::uint64_t) { return true; }, []() -> std::optional<int> { return 7; });
  EXPECT_FALSE(taken.leader);
  EXPECT_EQ(taken.flight->result(), 7);
  EXPECT_NE(taken.flight, old_load.flight);
  EXPECT_EQ(table.running(), 1u);  // the old load still ends for those waiting on it
}

TEST(SingleFlight, ARunningLoadIsJoinedWithoutAskingForAFinishedValue) {
  Table table;
  auto first = table.join("k", 1, never_invalidated(), nothing_finished());
  bool asked = false;
  auto second = table.join("k", 1, never_invalidated(), [&]() -> std::optional<int> {
    asked = true;
    return 1;
  });
  EXPECT_FALSE(asked);
  EXPECT_EQ(second.flight, first.flight);
}

TEST(SingleFlight, OfManyThreadsMissingOneKeyAtOnceExactlyOneLeads) {
  Table table;
  constexpr int kThreads = 4;
  constexpr int kRounds = 500;
  for (int round = 0; round < kRounds; ++round) {
    const std::string key = "k" + std::to_string(round);
    std::atomic<int> leaders{0};
    std::vector<Table::FlightPtr> flights(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) {
      threads.emplace_back([&, i] {
        auto joined = table.join(key, 1, never_invalidated(), nothing_finished());
        if (joined.leader) ++leaders;
        flights[i] = joined.flight;
      });
    }
    for (auto& thread : threads) thread.join();
    ASSERT_EQ(leaders.load(), 1) << "round " << round;
    for (const auto& flight : flights) ASSERT_EQ(flight, flights.front());
    table.end(key, flights.front());
  }
  EXPECT_EQ(table.running(), 0u);
}

}  // namespace
}  // namespace strata::cache
