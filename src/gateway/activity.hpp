#pragma once

// What the dashboard shows beyond the counters: the gateway's traffic second by second over the
// last minutes, and the latest invalidations with what asked for them. Both are bounded rings.

#include "gateway/gateway.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

namespace strata::gateway {

// The gateway's counters at one moment; rates are the differences between two.
struct TrafficSample {
  std::int64_t unix_ms = 0;
  std::uint64_t requests = 0, hits = 0, stale = 0, misses = 0, bypass = 0, origin_errors = 0;
};

class TrafficHistory {
public:
  explicit TrafficHistory(std::size_t capacity = 600) : capacity_(capacity) {}

  // Samples `counters` when the second of `now` differs from the last sample's: called on every
  // request, it costs one relaxed load when the second has not changed.
  void maybe_sample(const GatewayCounters& counters, std::chrono::steady_clock::time_point now);
  // The latest samples, oldest first.
  [[nodiscard]] std::vector<TrafficSample> recent(std::size_t at_most) const;

private:
  std::size_t capacity_;
  std::atomic<std::int64_t> sampled_second_{-1};
  mutable std::mutex mutex_;
  std::deque<TrafficSample> samples_;
};

struct InvalidationEvent {
  std::int64_t unix_ms = 0;
  std::string source;  // "admin", "rule <name>", "origin header", "write to the URL"
  std::string what;    // "tag job:1", "namespace library", "path /api/jobs/1"
  std::uint64_t affected = 0;
  bool complete = true;  // false: Redis missed it (replayed when it answers)
};

class RecentInvalidations {
public:
  explicit RecentInvalidations(std::size_t capacity = 50) : capacity_(capacity) {}
  void add(std::string source, std::string what, const Outcome& outcome);
  // Newest first.
  [[nodiscard]] std::vector<InvalidationEvent> recent() const;

private:
  std::size_t capacity_;
  mutable std::mutex mutex_;
  std::deque<InvalidationEvent> events_;
};

}  // namespace strata::gateway
