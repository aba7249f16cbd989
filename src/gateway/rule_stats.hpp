#pragma once

// Per-rule figures for operators: requests, outcomes, latency, bytes the cache served in the
// origin's place and why responses were not stored, for each configured rule and for requests no
// rule matched. Counters are found by rule name, so they survive a SIGHUP that keeps the name;
// label values are the configured names and so bounded by the configuration (and by kMaxRules).

#include "gateway/reason_counts.hpp"

#include <strata/cache/stats.hpp>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace strata::gateway {

// Entry ages at which audited hits are tallied (seconds, upper bounds; the last is "older").
inline constexpr std::array<std::int64_t, 18> kAuditAgeBounds = {
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600, 43200, 86400, INT64_MAX};

enum class AuditResult : std::uint8_t { identical, differing, error };

// Audited hits by the age of the entry served: how many, and how many differed from the origin.
struct AuditAges {
  std::array<std::uint64_t, kAuditAgeBounds.size()> audited{};
  std::array<std::uint64_t, kAuditAgeBounds.size()> differing{};
};

struct RuleSnapshot {
  std::string name;
  std::uint64_t requests = 0;
  std::uint64_t hits = 0;         // served from L1 or Redis
  std::uint64_t stale = 0;        // served stale (stale-while-revalidate, stale-if-error)
  std::uint64_t misses = 0;       // fetched from the origin for the cache (and revalidations)
  std::uint64_t bypass = 0;       // sent around the cache
  std::uint64_t bytes_saved = 0;  // body bytes served from the cache instead of the origin
  std::vector<std::pair<std::string_view, std::uint64_t>> not_stored;
  LatencyHistogram latency;  // until the response was ready to write
  // The staleness audit.
  std::uint64_t audited = 0, identical = 0, differing = 0, audit_errors = 0;
  AuditAges ages;  // of the identical and differing ones

  [[nodiscard]] double hit_ratio() const noexcept {
    const auto served = hits + stale + misses;
    return served == 0 ? 0.0 : static_cast<double>(hits + stale) / static_cast<double>(served);
  }
};

class RuleCounters {
public:
  explicit RuleCounters(std::string name) : name_(std::move(name)) {}

  // One answered request: its X-Cache outcome (HIT, STALE, MISS, REVALIDATED, BYPASS, or empty),
  // why it was not stored or not served from the cache, how long it took, its body's size.
  void record(std::string_view outcome, std::string_view reason, std::chrono::nanoseconds elapsed,
              std::uint64_t body_bytes) noexcept;
  // One audited hit: what the origin said of the entry served `age_seconds` after it was stored.
  void record_audit(AuditResult result, std::int64_t age_seconds) noexcept;
  [[nodiscard]] RuleSnapshot snapshot() const;
  void reset() noexcept;
  [[nodiscard]] const std::string& name() const noexcept { return name_; }

private:
  using Cell = std::atomic<std::uint64_t>;
  std::string name_;
  Cell requests_{0}, hits_{0}, stale_{0}, misses_{0}, bypass_{0}, bytes_saved_{0}, latency_sum_ns_{0};
  std::array<Cell, LatencyHistogram::kBuckets> latency_{};
  Cell audited_{0}, identical_{0}, differing_{0}, audit_errors_{0};
  std::array<Cell, kAuditAgeBounds.size()> audited_by_age_{};
  std::array<Cell, kAuditAgeBounds.size()> differing_by_age_{};
  ReasonCounts not_stored_;
};

class RuleStats {
public:
  // Rule names beyond this many share the counters named "other".
  static constexpr std::size_t kMaxRules = 64;
  static constexpr std::string_view kUnmatched = "(unmatched)";

  // The counters for `name`, created on first use; stable for the RuleStats' life.
  RuleCounters& for_rule(std::string_view name);
  // Every rule counted, in the order first seen.
  [[nodiscard]] std::vector<RuleSnapshot> snapshot() const;
  void reset();

private:
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<RuleCounters>, std::less<>> by_name_;
  std::vector<RuleCounters*> ordered_;
};

}  // namespace strata::gateway
