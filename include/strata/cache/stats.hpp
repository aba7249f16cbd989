#pragma once

// Cache::stats() returns a snapshot by value: taking one is safe from any thread while the
// cache runs, and the snapshot never changes afterwards.

#include <array>
#include <bit>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace strata {

// A latency distribution in log-linear buckets: one per nanosecond up to 32 ns, then 32 per
// power of two. A bucket holds (lower_bound_ns, upper_bound_ns] and is at most 1/32 of its lower
// bound wide, so a quantile (reported as the middle of its bucket) is within 1.6% of the exact
// one. Bucket bounds fall on every power of two, so coarser power-of-two buckets (Prometheus')
// add up exactly. Durations above 2^37 ns (137 s) share the last bucket.
struct LatencyHistogram {
  static constexpr unsigned kSubBucketBits = 5;
  static constexpr std::size_t kSubBuckets = std::size_t{1} << kSubBucketBits;
  static constexpr unsigned kMaxExponent = 37;
  static constexpr std::size_t kBuckets = kSubBuckets + (kMaxExponent - kSubBucketBits) * kSubBuckets + 1;
  std::array<std::uint64_t, kBuckets> counts{};  // per bucket, not cumulative
  std::uint64_t count = 0;
  std::uint64_t sum_ns = 0;

  [[nodiscard]] static constexpr std::size_t bucket_of(std::uint64_t ns) noexcept {
    const std::uint64_t below = ns == 0 ? 0 : ns - 1;  // buckets include their upper bound
    if (below < kSubBuckets) return static_cast<std::size_t>(below);
    const auto exponent = static_cast<unsigned>(std::bit_width(below)) - 1;
    if (exponent >= kMaxExponent) return kBuckets - 1;
    const auto sub = static_cast<std::size_t>(below >> (exponent - kSubBucketBits)) - kSubBuckets;
    return kSubBuckets + (exponent - kSubBucketBits) * kSubBuckets + sub;
  }
  // The bounds of bucket i: it holds durations d with lower < d <= upper (the last bucket is
  // unbounded above, and bucket 0 also holds 0).
  [[nodiscard]] static constexpr std::uint64_t lower_bound_ns(std::size_t bucket) noexcept {
    if (bucket < kSubBuckets) return bucket;
    if (bucket == kBuckets - 1) return std::uint64_t{1} << kMaxExponent;
    const std::size_t group = (bucket - kSubBuckets) / kSubBuckets;
    const std::size_t sub = (bucket - kSubBuckets) % kSubBuckets;
    return static_cast<std::uint64_t>(kSubBuckets + sub) << group;
  }
  [[nodiscard]] static constexpr std::uint64_t upper_bound_ns(std::size_t bucket) noexcept {
    return bucket == kBuckets - 1 ? ~std::uint64_t{0} : lower_bound_ns(bucket + 1);
  }
  // Quantile q (0 < q <= 1): the middle of the bucket holding it; zero when empty.
  [[nodiscard]] std::chrono::nanoseconds quantile(double q) const noexcept;
  [[nodiscard]] std::chrono::nanoseconds mean() const noexcept {
    return std::chrono::nanoseconds(count == 0 ? 0 : sum_ns / count);
  }
  // How many durations were at most `ns`, exactly when `ns` is a bucket's upper bound (every
  // power of two is).
  [[nodiscard]] std::uint64_t count_at_most(std::uint64_t ns) const noexcept;
};

// A snapshot of a Cache's counters since it started or since reset_stats().
struct CacheStats {
  std::uint64_t l1_hits = 0;
  std::uint64_t l2_hits = 0;
  std::uint64_t misses = 0;           // lookups that found nothing servable
  std::uint64_t sets = 0;             // values written (explicitly or after a load)
  std::uint64_t deletes = 0;          // remove() and expire() calls
  std::uint64_t invalidations = 0;    // tag, user, namespace, pattern and clear calls
  std::uint64_t errors = 0;           // L2 failures, undecodable entries, failed loads
  std::uint64_t stale_served = 0;     // fail-safe answers
  std::uint64_t loader_calls = 0;
  std::uint64_t loader_errors = 0;    // loader threw
  std::uint64_t loader_timeouts = 0;  // soft or hard timeout reached
  std::uint64_t coalesced_waits = 0;  // callers that waited for another caller's load
  std::uint64_t eager_refreshes = 0;
  std::uint64_t l2_errors = 0;        // Redis failed, timed out, or its circuit was open
  std::uint64_t l2_writes_dropped = 0;
  std::uint64_t corrupt_entries = 0;  // undecodable or failing integrity; deleted
  std::uint64_t fills_discarded = 0;  // loads not stored: an invalidation happened meanwhile
  std::uint64_t l1_clears = 0;        // L1 dropped because invalidations may have been missed
  std::uint64_t bus_messages = 0;     // invalidations received from other processes
  std::uint64_t bus_gaps = 0;         // lost bus messages detected
  double uptime_seconds = 0.0;
  bool redis_enabled = false;
  bool redis_available = false;
  std::size_t l1_entries = 0;
  std::size_t l1_bytes = 0;
  std::size_t l1_capacity_bytes = 0;
  std::uint64_t l1_evictions = 0;            // resident entries evicted to make room
  std::uint64_t l1_admission_rejections = 0;  // newcomers W-TinyLFU judged colder than what they would evict
  LatencyHistogram l1_latency;
  LatencyHistogram l2_latency;
  LatencyHistogram loader_latency;

  [[nodiscard]] std::uint64_t hits() const noexcept { return l1_hits + l2_hits; }
  [[nodiscard]] std::uint64_t total_requests() const noexcept { return hits() + misses; }
  [[nodiscard]] double hit_rate() const noexcept {
    const auto total = total_requests();
    return total == 0 ? 0.0 : static_cast<double>(hits()) / static_cast<double>(total);
  }
};

// JSON with the seeds' field names (hits, misses, sets, deletes, errors, total_requests,
// hit_rate, uptime_seconds, ...) plus every other counter and latency quantiles.
[[nodiscard]] std::string to_json(const CacheStats& stats);
// The series of one Prometheus histogram (_bucket, _sum, _count), each carrying `labels`
// (`rule="jobs"`; empty for none). Bucket bounds are 2^e ns for e from `first_exponent` to 34
// (17 s) in steps of `exponent_step`, in seconds. The caller writes HELP and TYPE once per name.
void append_prometheus_histogram(std::string& out, std::string_view name, std::string_view labels,
                                 const LatencyHistogram& histogram, unsigned first_exponent = 7,
                                 unsigned exponent_step = 1);
// Prometheus text exposition format, every metric named <metric_prefix>_...
[[nodiscard]] std::string to_prometheus(const CacheStats& stats,
                                        std::string_view metric_prefix = "strata_cache");

}  // namespace strata
