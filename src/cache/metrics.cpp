#include "cache/metrics.hpp"

namespace strata::cache {
namespace {

std::atomic<std::uint64_t> next_serial{1};

// Adds `from` (cells some thread may be writing) into `into`.
void add_into(LatencyHistogram& into, const MetricsBlock::Histogram& from) {
  for (std::size_t i = 0; i < LatencyHistogram::kBuckets; ++i) {
    into.counts[i] += from.counts[i].load(std::memory_order_relaxed);
  }
  into.sum_ns += from.sum_ns.load(std::memory_order_relaxed);
}

}  // namespace

Metrics::Metrics() : serial_(next_serial.fetch_add(1, std::memory_order_relaxed)) { overflow_.shared = true; }

Metrics::~Metrics() = default;

Metrics::Block& Metrics::find_or_add_block() noexcept {
  const std::thread::id self = std::this_thread::get_id();
  Block* found = nullptr;
  {
    std::lock_guard lock(mutex_);
    // A thread that dropped this Metrics from its memo (it counts for several caches) finds its
    // block again; a new thread may take over the block of an ended one with the same id.
    for (const auto& block : blocks_) {
      if (block->owner == self) found = block.get();
    }
    if (found == nullptr && blocks_.size() < kMaxBlocks) {
      // Never throws in practice (a few KiB); if it did, noexcept ends the program, as an
      // allocation failure on the hit path would anyway.
      blocks_.push_back(std::make_unique<Block>());
      found = blocks_.back().get();
      found->owner = self;
    }
    if (found == nullptr) found = &overflow_;
  }
  MetricsMemo& seen = metrics_memo;
  const std::size_t slot = seen.next++ % seen.serials.size();
  seen.serials[slot] = serial_;
  seen.blocks[slot] = found;
  return *found;
}

Metrics::Totals Metrics::totals_locked() const {
  Totals totals;
  auto add_block = [&totals](const Block& block) {
    for (std::size_t i = 0; i < kCounts; ++i) totals.counts[i] += block.counts[i].load(std::memory_order_relaxed);
    for (std::size_t i = 0; i < kLatencies; ++i) {
      add_into(totals.histograms[i], block.histograms[i]);
    }
  };
  for (const auto& block : blocks_) add_block(*block);
  add_block(overflow_);
  return totals;
}

void Metrics::fill(CacheStats& out) const {
  std::lock_guard lock(mutex_);
  const Totals now = totals_locked();
  // Every cell only grows, so each total is at least what reset() took as its baseline.
  for (const auto& field : kCounterFields) {
    const auto i = static_cast<std::size_t>(field.count);
    out.*field.snapshot = now.counts[i] - baseline_.counts[i];
  }
  LatencyHistogram* const histograms[kLatencies] = {&out.l1_latency, &out.l2_latency, &out.loader_latency};
  for (std::size_t i = 0; i < kLatencies; ++i) {
    LatencyHistogram& histogram = *histograms[i];
    histogram = LatencyHistogram{};
    for (std::size_t bucket = 0; bucket < LatencyHistogram::kBuckets; ++bucket) {
      histogram.counts[bucket] = now.histograms[i].counts[bucket] - baseline_.histograms[i].counts[bucket];
      histogram.count += histogram.counts[bucket];
    }
    histogram.sum_ns = now.histograms[i].sum_ns - baseline_.histograms[i].sum_ns;
  }
}

void Metrics::reset() {
  // The cells are not zeroed: their owners write them without atomic read-modify-writes, so a
  // store of zero could be overwritten by an increment begun before it.
  std::lock_guard lock(mutex_);
  baseline_ = totals_locked();
}

}  // namespace strata::cache
