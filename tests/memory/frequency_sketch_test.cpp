#include "memory/frequency_sketch.hpp"

#include <gtest/gtest.h>

#include <cstdint>

namespace strata::memory {
namespace {

std::uint64_t item(std::uint64_t n) { return n * 0x9e3779b97f4a7c15ULL + 12345; }

TEST(FrequencySketch, CountsUpToFifteenThenSaturates) {
  FrequencySketch sketch(1024);
  EXPECT_EQ(sketch.frequency(item(1)), 0U);
  for (unsigned i = 1; i <= 15; ++i) {
    EXPECT_TRUE(sketch.increment(item(1)));
    EXPECT_EQ(sketch.frequency(item(1)), i);
  }
  EXPECT_FALSE(sketch.increment(item(1)));
  EXPECT_EQ(sketch.frequency(item(1)), FrequencySketch::kMaxCount);
}

TEST(FrequencySketch, HalvingDividesEveryCounterByTwo) {
  FrequencySketch sketch(1024);
  for (int i = 0; i < 15; ++i) sketch.increment(item(1));
  for (int i = 0; i < 6; ++i) sketch.increment(item(2));
  sketch.increment(item(3));
  sketch.halve();
  EXPECT_EQ(sketch.frequency(item(1)), 7U);
  EXPECT_EQ(sketch.frequency(item(2)), 3U);
  EXPECT_EQ(sketch.frequency(item(3)), 0U);
}

TEST(FrequencySketch, EstimatesAreNeverBelowTheTrueCountAndRarelyFarAbove) {
  constexpr std::uint64_t kItems = 1000;
  FrequencySketch sketch(kItems);
  // Item n is seen n % 8 times.
  for (std::uint64_t n = 0; n < kItems; ++n) {
    for (std::uint64_t k = 0; k < n % 8; ++k) sketch.increment(item(n));
  }
  int overestimated_by_more_than_two = 0;
  for (std::uint64_t n = 0; n < kItems; ++n) {
    const unsigned estimate = sketch.frequency(item(n));
    EXPECT_GE(estimate, n % 8) << "count-min must never underestimate (item " << n << ")";
    if (estimate > n % 8 + 2) ++overestimated_by_more_than_two;
  }
  EXPECT_LT(overestimated_by_more_than_two, 10);
}

TEST(Doorkeeper, RemembersWhatWasPutUntilCleared) {
  Doorkeeper doorkeeper(1000);
  EXPECT_FALSE(doorkeeper.contains(item(5)));
  EXPECT_FALSE(doorkeeper.put(item(5)));  // first time: not present before
  EXPECT_TRUE(doorkeeper.contains(item(5)));
  EXPECT_TRUE(doorkeeper.put(item(5)));
  doorkeeper.clear();
  EXPECT_FALSE(doorkeeper.contains(item(5)));
}

TEST(Doorkeeper, FalsePositiveRateStaysLowAtItsExpectedLoad) {
  Doorkeeper doorkeeper(10'000);
  for (std::uint64_t n = 0; n < 10'000; ++n) doorkeeper.put(item(n));
  int false_positives = 0;
  for (std::uint64_t n = 1'000'000; n < 1'010'000; ++n) false_positives += doorkeeper.contains(item(n));
  EXPECT_LT(false_positives, 500);  // under 5%
}

TEST(TinyLfu, FirstSightingLivesInTheDoorkeeperOnly) {
  TinyLfu filter(1000);
  filter.record(item(1));
  EXPECT_EQ(filter.frequency(item(1)), 1U);
  filter.record(item(1));
  filter.record(item(1));
  EXPECT_EQ(filter.frequency(item(1)), 3U);
  EXPECT_EQ(filter.frequency(item(2)), 0U);
}

TEST(TinyLfu, AgesAfterTenTimesCapacityAdditions) {
  TinyLfu filter(10'000);
  ASSERT_EQ(filter.sample_size(), 100'000U);
  for (int i = 0; i < 9; ++i) filter.record(item(1));
  EXPECT_EQ(filter.frequency(item(1)), 9U);  // 1 in the doorkeeper + 8 in the sketch
  // Fill up the sample with other items until just before the reset.
  std::uint64_t other = 1'000'000;
  while (filter.additions() + 1 < filter.sample_size()) filter.record(item(other++));
  EXPECT_EQ(filter.resets(), 0U);
  EXPECT_EQ(filter.frequency(item(1)), 9U);
  filter.record(item(other));
  EXPECT_EQ(filter.resets(), 1U);
  // Sketch halved (8 -> 4) and the doorkeeper cleared.
  EXPECT_EQ(filter.frequency(item(1)), 4U);
  EXPECT_EQ(filter.additions(), filter.sample_size() / 2);
}

TEST(TinyLfu, GrowsOnlyWhenMoreEntriesAreResidentThanItWasSizedFor) {
  TinyLfu filter(100);
  filter.ensure_capacity(50);
  EXPECT_EQ(filter.capacity(), 100U);
  filter.ensure_capacity(101);
  EXPECT_EQ(filter.capacity(), 200U);
  EXPECT_EQ(filter.sample_size(), 2000U);
  filter.ensure_capacity(1000);
  EXPECT_EQ(filter.capacity(), 1000U);
}

}  // namespace
}  // namespace strata::memory
