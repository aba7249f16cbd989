#pragma once

#include <strata/cache/stats.hpp>

#include <array>
#include <atomic>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string_view>
#include <thread>
#include <vector>

namespace strata::cache {

// What a cache counts. Each is a field of CacheStats; kCounterFields below names them.
enum class Count : std::uint8_t {
  l1_hits, l2_hits, misses, sets, deletes, invalidations, errors, stale_served, loader_calls,
  loader_errors, loader_timeouts, coalesced_waits, eager_refreshes, l2_errors, l2_writes_dropped,
  corrupt_entries, fills_discarded, l1_clears, bus_messages, bus_gaps,
};
inline constexpr std::size_t kCounts = static_cast<std::size_t>(Count::bus_gaps) + 1;

enum class Latency : std::uint8_t { l1, l2, loader };
inline constexpr std::size_t kLatencies = 3;

// One thread's cells of one Metrics: only that thread writes them (except the shared block).
struct alignas(64) MetricsBlock {  // its own cache lines: no false sharing between threads
  using Cell = std::atomic<std::uint64_t>;
  struct Histogram {
    std::array<Cell, LatencyHistogram::kBuckets> counts{};
    Cell sum_ns{0};
  };
  std::array<Cell, kCounts> counts{};
  std::array<Histogram, kLatencies> histograms{};
  std::thread::id owner;
  bool shared = false;  // the block of the threads beyond Metrics::kMaxBlocks

  void add(Cell& to, std::uint64_t by) noexcept {
    if (shared) {
      to.fetch_add(by, std::memory_order_relaxed);
    } else {
      to.store(to.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
    }
  }
};

// A thread's recent Metrics (by serial) and its block in each, checked before any lock is taken.
struct MetricsMemo {
  std::array<std::uint64_t, 4> serials{};
  std::array<MetricsBlock*, 4> blocks{};
  unsigned next = 0;
};
inline thread_local MetricsMemo metrics_memo;

// A cache's counters and latency histograms. Every thread that counts gets its own block of
// cells, which only it writes: a load and a store, where a shared counter needs a locked
// read-modify-write (three per hit, ~5 ns each on this VM, more under contention between
// threads). A snapshot sums the blocks. Threads beyond kMaxBlocks share one more block, written
// with atomic additions.
class Metrics {
public:
  static constexpr std::size_t kMaxBlocks = 64;

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  void bump(Count count, std::uint64_t by = 1) noexcept {
    Block& block = mine();
    block.add(block.counts[static_cast<std::size_t>(count)], by);
  }
  void record(Latency latency, std::chrono::nanoseconds elapsed) noexcept {
    const auto ns = static_cast<std::uint64_t>(elapsed.count() < 0 ? 0 : elapsed.count());
    Block& block = mine();
    Histogram& histogram = block.histograms[static_cast<std::size_t>(latency)];
    block.add(histogram.counts[LatencyHistogram::bucket_of(ns)], 1);  // the count is the buckets' sum
    block.add(histogram.sum_ns, ns);
  }
  // Everything counted since construction or the last reset().
  void fill(CacheStats& out) const;
  void reset();

private:
  // The totals a snapshot reports, as plain numbers.
  struct Totals {
    std::array<std::uint64_t, kCounts> counts{};
    std::array<LatencyHistogram, kLatencies> histograms{};
  };
  using Block = MetricsBlock;
  using Histogram = MetricsBlock::Histogram;
  Block& mine() noexcept {
    MetricsMemo& seen = metrics_memo;
    for (std::size_t i = 0; i < seen.serials.size(); ++i) {
      if (seen.serials[i] == serial_) return *seen.blocks[i];
    }
    return find_or_add_block();
  }
  Block& find_or_add_block() noexcept;
  Totals totals_locked() const;

  const std::uint64_t serial_;  // never reused: a memo entry of a destroyed Metrics never matches
  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Block>> blocks_;
  Block overflow_;
  Totals baseline_;  // the totals at the last reset()
};

// Every counter once: its name (JSON key, Prometheus <prefix>_<name>_total), its meaning, where
// it is counted and where a snapshot holds it. Snapshots, resets and both renderings walk this.
struct CounterField {
  std::string_view name;
  std::string_view help;
  Count count;
  std::uint64_t CacheStats::*snapshot;
  bool tier_hit = false;  // rendered in Prometheus as hits_total{tier=...}, not on its own
};

inline constexpr std::array<CounterField, 20> kCounterFields{{
    {"l1_hits", "Lookups answered from L1.", Count::l1_hits, &CacheStats::l1_hits, true},
    {"l2_hits", "Lookups answered from Redis.", Count::l2_hits, &CacheStats::l2_hits, true},
    {"misses", "Lookups that found nothing servable.", Count::misses, &CacheStats::misses},
    {"sets", "Values written.", Count::sets, &CacheStats::sets},
    {"deletes", "Entries removed or expired by key.", Count::deletes, &CacheStats::deletes},
    {"invalidations", "Tag, user, namespace, pattern and clear invalidations.",
     Count::invalidations, &CacheStats::invalidations},
    {"errors", "Backend failures, undecodable entries and failed loads.", Count::errors,
     &CacheStats::errors},
    {"stale_served", "Stale values served by fail-safe.", Count::stale_served,
     &CacheStats::stale_served},
    {"loader_calls", "Loader invocations.", Count::loader_calls, &CacheStats::loader_calls},
    {"loader_errors", "Loader invocations that threw.", Count::loader_errors,
     &CacheStats::loader_errors},
    {"loader_timeouts", "Loads that reached a soft or hard timeout.", Count::loader_timeouts,
     &CacheStats::loader_timeouts},
    {"coalesced_waits", "Callers that waited for another caller's load.", Count::coalesced_waits,
     &CacheStats::coalesced_waits},
    {"eager_refreshes", "Background refreshes started by a late hit.", Count::eager_refreshes,
     &CacheStats::eager_refreshes},
    {"l2_errors", "Redis failures, timeouts and open-circuit rejections.", Count::l2_errors,
     &CacheStats::l2_errors},
    {"l2_writes_dropped", "Writes to Redis given up.", Count::l2_writes_dropped,
     &CacheStats::l2_writes_dropped},
    {"corrupt_entries", "Stored values that failed to decode or verify.", Count::corrupt_entries,
     &CacheStats::corrupt_entries},
    {"fills_discarded", "Loaded values not stored because of a concurrent invalidation.",
     Count::fills_discarded, &CacheStats::fills_discarded},
    {"l1_clears", "L1 cleared because invalidations may have been missed.", Count::l1_clears,
     &CacheStats::l1_clears},
    {"bus_messages", "Invalidation messages received from other processes.", Count::bus_messages,
     &CacheStats::bus_messages},
    {"bus_gaps", "Lost invalidation messages detected.", Count::bus_gaps, &CacheStats::bus_gaps},
}};
static_assert([] {
  for (std::size_t i = 0; i < kCounterFields.size(); ++i) {
    if (static_cast<std::size_t>(kCounterFields[i].count) != i) return false;
  }
  return kCounterFields.size() == kCounts;
}(), "kCounterFields lists every Count once, in the enum's order");

}  // namespace strata::cache
