#include "cache/metrics.hpp"

#include <gtest/gtest.h>

#include <barrier>
#include <thread>
#include <vector>

namespace strata::cache {
namespace {

using std::chrono::nanoseconds;

// Runs `work(thread index)` on `threads` threads at once and waits for them.
template <typename Work>
void on_threads(int threads, Work work) {
  std::barrier start(threads);
  std::vector<std::jthread> running;
  for (int t = 0; t < threads; ++t) {
    running.emplace_back([&, t] {
      start.arrive_and_wait();
      work(t);
    });
  }
}

TEST(Metrics, CountsFromManyThreadsAddUpExactly) {
  Metrics metrics;
  constexpr int kThreads = 8;
  constexpr int kEach = 20'000;
  on_threads(kThreads, [&](int) {
    for (int i = 0; i < kEach; ++i) {
      metrics.bump(Count::l2_hits);
      metrics.bump(Count::errors, 2);
      metrics.record(Latency::l2, nanoseconds(1'000));
    }
  });
  CacheStats stats;
  metrics.fill(stats);
  EXPECT_EQ(stats.l2_hits, std::uint64_t{kThreads} * kEach);
  EXPECT_EQ(stats.errors, std::uint64_t{kThreads} * kEach * 2);
  EXPECT_EQ(stats.l1_hits, 0U);
  EXPECT_EQ(stats.l2_latency.count, std::uint64_t{kThreads} * kEach);
  EXPECT_EQ(stats.l2_latency.sum_ns, std::uint64_t{kThreads} * kEach * 1'000);
  EXPECT_EQ(stats.l2_latency.counts[Metrics::bucket_of(1'000)], stats.l2_latency.count);
  EXPECT_EQ(stats.l1_latency.count, 0U);
}

TEST(Metrics, SnapshotsWhileThreadsCountNeverGoBackwards) {
  Metrics metrics;
  std::atomic<bool> done{false};
  std::jthread counter([&] {
    for (int i = 0; i < 200'000; ++i) metrics.bump(Count::l1_hits);
    done = true;
  });
  std::uint64_t last = 0;
  while (!done) {
    CacheStats stats;
    metrics.fill(stats);
    ASSERT_GE(stats.l1_hits, last);
    last = stats.l1_hits;
  }
  counter.join();
  CacheStats stats;
  metrics.fill(stats);
  EXPECT_EQ(stats.l1_hits, 200'000U);
}

TEST(Metrics, ResetCountsFromZeroAgainWhateverThreadCountedBefore) {
  Metrics metrics;
  on_threads(4, [&](int) {
    for (int i = 0; i < 1'000; ++i) metrics.bump(Count::misses);
    metrics.record(Latency::loader, nanoseconds(5'000'000));
  });
  metrics.reset();
  CacheStats after_reset;
  metrics.fill(after_reset);
  EXPECT_EQ(after_reset.misses, 0U);
  EXPECT_EQ(after_reset.loader_latency.count, 0U);
  EXPECT_EQ(after_reset.loader_latency.sum_ns, 0U);
  on_threads(4, [&](int) { metrics.bump(Count::misses, 3); });
  CacheStats later;
  metrics.fill(later);
  EXPECT_EQ(later.misses, 12U);
}

TEST(Metrics, ThreadsBeyondTheBlockLimitShareOneAndLoseNothing) {
  Metrics metrics;
  constexpr int kThreads = static_cast<int>(Metrics::kMaxBlocks) + 16;
  constexpr int kEach = 2'000;
  // All alive at once, so that no thread can take over the block of one that ended.
  on_threads(kThreads, [&](int) {
    for (int i = 0; i < kEach; ++i) metrics.bump(Count::sets);
  });
  CacheStats stats;
  metrics.fill(stats);
  EXPECT_EQ(stats.sets, std::uint64_t{kThreads} * kEach);
}

TEST(Metrics, OneThreadCountsForManyInstancesWithoutMixingThem) {
  // More instances than a thread remembers at once: each must keep its own counts when the
  // thread comes back to it.
  std::vector<std::unique_ptr<Metrics>> all;
  for (int i = 0; i < 9; ++i) all.push_back(std::make_unique<Metrics>());
  for (int round = 0; round < 3; ++round) {
    for (std::size_t i = 0; i < all.size(); ++i) all[i]->bump(Count::deletes, i + 1);
  }
  for (std::size_t i = 0; i < all.size(); ++i) {
    CacheStats stats;
    all[i]->fill(stats);
    EXPECT_EQ(stats.deletes, 3 * (i + 1)) << i;
  }
  // A destroyed instance's memo entries never serve a new one, even at the same address.
  all[0].reset();
  all[0] = std::make_unique<Metrics>();
  all[0]->bump(Count::deletes);
  CacheStats fresh;
  all[0]->fill(fresh);
  EXPECT_EQ(fresh.deletes, 1U);
}

TEST(Metrics, BucketsFollowThePowersOfTwoFrom128Nanoseconds) {
  EXPECT_EQ(Metrics::bucket_of(0), 0U);
  EXPECT_EQ(Metrics::bucket_of(128), 0U);
  EXPECT_EQ(Metrics::bucket_of(129), 1U);
  EXPECT_EQ(Metrics::bucket_of(256), 1U);
  EXPECT_EQ(Metrics::bucket_of(257), 2U);
  EXPECT_EQ(Metrics::bucket_of(~std::uint64_t{0} / 2), LatencyHistogram::kBuckets - 1);
}

}  // namespace
}  // namespace strata::cache
