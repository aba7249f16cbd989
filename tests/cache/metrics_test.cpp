#include "cache/metrics.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <barrier>
#include <cmath>
#include <random>
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
  EXPECT_EQ(stats.l2_latency.counts[LatencyHistogram::bucket_of(1'000)], stats.l2_latency.count);
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

TEST(LatencyHistogram, BucketsAreExactTo32NanosecondsThen32PerPowerOfTwo) {
  using H = LatencyHistogram;
  EXPECT_EQ(H::bucket_of(0), 0U);
  EXPECT_EQ(H::bucket_of(1), 0U);
  EXPECT_EQ(H::bucket_of(2), 1U);
  EXPECT_EQ(H::bucket_of(32), 31U);
  EXPECT_EQ(H::bucket_of(33), 32U);
  EXPECT_EQ(H::bucket_of(64), 63U);   // (63, 64]
  EXPECT_EQ(H::bucket_of(65), 64U);   // (64, 66]: two nanoseconds wide from 64 on
  EXPECT_EQ(H::bucket_of(66), 64U);
  EXPECT_EQ(H::bucket_of(std::uint64_t{1} << 37), H::kBuckets - 2);
  EXPECT_EQ(H::bucket_of((std::uint64_t{1} << 37) + 1), H::kBuckets - 1);
  EXPECT_EQ(H::bucket_of(~std::uint64_t{0}), H::kBuckets - 1);
  // Every bucket holds exactly (lower, upper], the buckets tile the range, and none is wider
  // than 1/32 of its lower bound.
  for (std::size_t i = 0; i + 1 < H::kBuckets; ++i) {
    const auto lower = H::lower_bound_ns(i);
    const auto upper = H::upper_bound_ns(i);
    ASSERT_LT(lower, upper) << i;
    ASSERT_EQ(H::bucket_of(upper), i) << i;
    ASSERT_EQ(H::bucket_of(lower + 1), i) << i;
    if (i > 0) ASSERT_EQ(H::bucket_of(lower), i - 1) << i;
    ASSERT_EQ(upper, H::lower_bound_ns(i + 1)) << i;
    if (lower >= 32) ASSERT_LE(upper - lower, lower / 32) << i;
  }
  for (unsigned exponent = 5; exponent <= 37; ++exponent) {  // a bound on every power of two
    const auto power = std::uint64_t{1} << exponent;
    EXPECT_EQ(H::upper_bound_ns(H::bucket_of(power)), power) << exponent;
  }
}

TEST(LatencyHistogram, QuantilesAreWithinThreePercentOfTheExactOnes) {
  // Latencies spread over five decades (100 ns to 10 s, log-uniform) and a narrow cluster, as
  // L1 hits, Redis round trips and loaders give.
  std::mt19937_64 random(7);
  std::vector<std::uint64_t> samples;
  std::uniform_real_distribution<double> decades(2.0, 10.0);
  for (int i = 0; i < 100'000; ++i) samples.push_back(static_cast<std::uint64_t>(std::pow(10.0, decades(random))));
  std::normal_distribution<double> cluster(180'000.0, 4'000.0);
  for (int i = 0; i < 50'000; ++i) samples.push_back(static_cast<std::uint64_t>(std::max(1.0, cluster(random))));
  LatencyHistogram histogram;
  for (auto ns : samples) {
    ++histogram.counts[LatencyHistogram::bucket_of(ns)];
    ++histogram.count;
    histogram.sum_ns += ns;
  }
  std::sort(samples.begin(), samples.end());
  for (double q : {0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999, 1.0}) {
    const auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(samples.size())));
    const auto exact = static_cast<double>(samples[rank - 1]);
    const auto reported = static_cast<double>(histogram.quantile(q).count());
    EXPECT_LE(std::abs(reported - exact) / exact, 0.03) << "q=" << q << " exact " << exact << " reported " << reported;
  }
  // Coarse power-of-two counts (what Prometheus gets) are exact.
  for (unsigned exponent = 7; exponent <= 34; ++exponent) {
    const auto bound = std::uint64_t{1} << exponent;
    const auto exact = static_cast<std::uint64_t>(std::upper_bound(samples.begin(), samples.end(), bound) - samples.begin());
    EXPECT_EQ(histogram.count_at_most(bound), exact) << bound;
  }
  EXPECT_EQ(LatencyHistogram{}.quantile(0.5).count(), 0);
}

}  // namespace
}  // namespace strata::cache
