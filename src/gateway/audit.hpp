#pragma once

// The staleness audit: is the cache serving what the origin would answer now? A sampled fraction
// of hits is fetched again from the origin in the background, after the client has its answer
// (conditionally when the entry has the origin's validator, with the same identity as the hit,
// never an unsafe method), and the two representations are compared after content decoding.
// Per rule the results are tallied by the age of the entry served; from them, the longest TTL
// whose stale ratio stays under a target with 95% confidence. A differing entry is dropped, so
// the next client gets the new data, and is counted as a missed invalidation.

#include "gateway/http_cache.hpp"
#include "gateway/rule_stats.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>

namespace strata::gateway {

// One audited hit, for the access log: never the content, never a header.
struct AuditEvent {
  std::chrono::system_clock::time_point time;
  std::string rule;    // the rule's name, or "(unmatched)"
  std::string target;  // the request target; the access log keeps its path only
  std::int64_t age_seconds = 0;
  AuditResult result = AuditResult::identical;
};
std::string_view audit_result_name(AuditResult result) noexcept;  // identical, stale, error

// Whether `fresh` (the origin's answer now) is the representation `served` was: the same status
// and the same content once both are decoded (gzip, br, zstd). Bodies that do not decode within
// `max_bytes` compare by their stored bytes.
bool same_representation(const StoredResponse& served, const StoredResponse& fresh, std::size_t max_bytes);

// The longest TTL (one of kAuditAgeBounds) whose observed stale ratio (differing among the
// audited hits at most that old) stays under `target` with 95% confidence (Wilson score
// interval), or none with the reason.
struct TtlAdvice {
  std::optional<std::int64_t> ttl_seconds;
  std::uint64_t samples = 0;       // audited hits at most that old
  double stale_ratio = 0.0;        // observed, at that TTL
  double stale_upper_bound = 0.0;  // 95% upper bound of the stale ratio
  std::string reason;              // why there is no suggestion, or what limits it
};
TtlAdvice advise_ttl(const AuditAges& ages, double target);

// The upper bound of the 95% Wilson score interval of `successes` out of `trials`.
double wilson_upper(std::uint64_t successes, std::uint64_t trials);

// Admission of audits: a sampled fraction of hits, at most `rate` a second (a token bucket
// holding one second's worth) and `concurrency` at once. Thread-safe.
class AuditGate {
public:
  AuditGate(double rate, std::size_t concurrency);

  // Whether this hit is in the sampled `fraction` (a per-thread generator; no lock).
  [[nodiscard]] static bool sampled(double fraction) noexcept;
  // An audit may start now: true takes a token and a slot (end() gives the slot back); false
  // counts it as skipped.
  bool try_begin(std::chrono::steady_clock::time_point now);
  void end() noexcept;
  [[nodiscard]] std::uint64_t skipped() const noexcept { return skipped_.load(std::memory_order_relaxed); }

private:
  const double rate_;
  const std::size_t concurrency_;
  std::mutex mutex_;
  double tokens_;
  std::chrono::steady_clock::time_point refilled_{};
  std::size_t running_ = 0;
  std::atomic<std::uint64_t> skipped_{0};
};

}  // namespace strata::gateway
