#pragma once

#include <strata/cache/stats.hpp>

#include <atomic>
#include <bit>
#include <array>
#include <chrono>
#include <cstdint>
#include <string_view>

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
    counts_[bucket].fetch_add(1, std::memory_order_relaxed);  // the count is the buckets' sum
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
    sum_ns_.store(0, std::memory_order_relaxed);
  }

private:
  std::array<std::atomic<std::uint64_t>, LatencyHistogram::kBuckets> counts_{};
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

// Every counter once: its name (JSON key, Prometheus <prefix>_<name>_total), its meaning, where
// it is counted and where a snapshot holds it. Snapshots, resets and both renderings walk this.
struct CounterField {
  std::string_view name;
  std::string_view help;
  Counter Metrics::*live;
  std::uint64_t CacheStats::*snapshot;
  bool tier_hit = false;  // rendered in Prometheus as hits_total{tier=...}, not on its own
};

inline constexpr std::array<CounterField, 20> kCounterFields{{
    {"l1_hits", "Lookups answered from L1.", &Metrics::l1_hits, &CacheStats::l1_hits, true},
    {"l2_hits", "Lookups answered from Redis.", &Metrics::l2_hits, &CacheStats::l2_hits, true},
    {"misses", "Lookups that found nothing servable.", &Metrics::misses, &CacheStats::misses},
    {"sets", "Values written.", &Metrics::sets, &CacheStats::sets},
    {"deletes", "Entries removed or expired by key.", &Metrics::deletes, &CacheStats::deletes},
    {"invalidations", "Tag, user, namespace, pattern and clear invalidations.",
     &Metrics::invalidations, &CacheStats::invalidations},
    {"errors", "Backend failures, undecodable entries and failed loads.", &Metrics::errors,
     &CacheStats::errors},
    {"stale_served", "Stale values served by fail-safe.", &Metrics::stale_served,
     &CacheStats::stale_served},
    {"loader_calls", "Loader invocations.", &Metrics::loader_calls, &CacheStats::loader_calls},
    {"loader_errors", "Loader invocations that threw.", &Metrics::loader_errors,
     &CacheStats::loader_errors},
    {"loader_timeouts", "Loads that reached a soft or hard timeout.", &Metrics::loader_timeouts,
     &CacheStats::loader_timeouts},
    {"coalesced_waits", "Callers that waited for another caller's load.", &Metrics::coalesced_waits,
     &CacheStats::coalesced_waits},
    {"eager_refreshes", "Background refreshes started by a late hit.", &Metrics::eager_refreshes,
     &CacheStats::eager_refreshes},
    {"l2_errors", "Redis failures, timeouts and open-circuit rejections.", &Metrics::l2_errors,
     &CacheStats::l2_errors},
    {"l2_writes_dropped", "Writes to Redis given up.", &Metrics::l2_writes_dropped,
     &CacheStats::l2_writes_dropped},
    {"corrupt_entries", "Stored values that failed to decode or verify.", &Metrics::corrupt_entries,
     &CacheStats::corrupt_entries},
    {"fills_discarded", "Loaded values not stored because of a concurrent invalidation.",
     &Metrics::fills_discarded, &CacheStats::fills_discarded},
    {"l1_clears", "L1 cleared because invalidations may have been missed.", &Metrics::l1_clears,
     &CacheStats::l1_clears},
    {"bus_messages", "Invalidation messages received from other processes.", &Metrics::bus_messages,
     &CacheStats::bus_messages},
    {"bus_gaps", "Lost invalidation messages detected.", &Metrics::bus_gaps, &CacheStats::bus_gaps},
}};

}  // namespace strata::cache
