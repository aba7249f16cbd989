#pragma once

#include <strata/cache/stats.hpp>

#include <atomic>
#include <bit>
#include <chrono>
#include <cstdint>

namespace strata::cache {

// Lock-free histogram behind LatencyHistogram snapshots.
class AtomicHistogram {
public:
  void record(std::chrono::nanoseconds elapsed) noexcept {
    const auto ns = static_cast<std::uint64_t>(elapsed.count() < 0 ? 0 : elapsed.count());
    // Bucket i holds (128 * 2^(i-1), 128 * 2^i]; bit_width(ceil(ns / 128)) finds it.
    const auto scaled = (ns + 127) / 128;
    std::size_t bucket = scaled <= 1 ? 0 : static_cast<std::size_t>(std::bit_width(scaled - 1));
    if (bucket >= LatencyHistogram::kBuckets) bucket = LatencyHistogram::kBuckets - 1;
    counts_[bucket].fetch_add(1, std::memory_order_relaxed);
    count_.fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(ns, std::memory_order_relaxed);
  }
  [[nodiscard]] LatencyHistogram snapshot() const noexcept {
    LatencyHistogram out;
    for (std::size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
      out.counts[i] = counts_[i].load(std::memory_order_relaxed);
      out.count += out.counts[i];
    }
    out.sum_ns = sum_ns_.load(std::memory_order_relaxed);
    return out;
  }
  void reset() noexcept {
    for (auto& count : counts_) count.store(0, std::memory_order_relaxed);
    count_.store(0, std::memory_order_relaxed);
    sum_ns_.store(0, std::memory_order_relaxed);
  }

private:
  std::array<std::atomic<std::uint64_t>, LatencyHistogram::kBuckets> counts_{};
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> sum_ns_{0};
};

using Counter = std::atomic<std::uint64_t>;

struct Metrics {
  Counter l1_hits{0}, l2_hits{0}, misses{0}, sets{0}, deletes{0}, invalidations{0}, errors{0},
      stale_served{0}, loader_calls{0}, loader_errors{0}, loader_timeouts{0}, coalesced_waits{0},
      eager_refreshes{0}, l2_errors{0}, l2_writes_dropped{0}, corrupt_entries{0},
      fills_discarded{0}, l1_clears{0}, bus_messages{0}, bus_gaps{0};
  AtomicHistogram l1_latency, l2_latency, loader_latency;

  static void bump(Counter& counter, std::uint64_t by = 1) noexcept {
    counter.fetch_add(by, std::memory_order_relaxed);
  }
  void fill(CacheStats& out) const noexcept;
  void reset() noexcept;
};

}  // namespace strata::cache
