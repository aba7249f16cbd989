#pragma once

// Counts by reason, for /metrics: why responses were not stored, why requests went around the
// cache. Reasons are the Cache-Status details ("vary-unkeyed:x-lang" counts as "vary-unkeyed");
// a reason not in the list counts as "other". Lock-free: one relaxed increment per count.

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::gateway {

class ReasonCounts {
public:
  static constexpr std::array<std::string_view, 25> kReasons = {
      "set-cookie",   "private",      "vary-star",       "vary-unkeyed",     "vary-changed",
      "vary-limit",   "must-understand", "no-store",     "invalid-age",      "invalidating",
      "status",       "credentials",  "no-cache",        "not-public",       "no-lifetime",
      "too-large",    "origin-unavailable", "method",    "rule",             "no-identity",
      "request-body", "uncacheable",  "must-revalidate", "content-encoding", "other"};

  void add(std::string_view reason) noexcept;
  void reset() noexcept;
  // (reason, count) for every reason counted at least once, in the order of kReasons.
  [[nodiscard]] std::vector<std::pair<std::string_view, std::uint64_t>> snapshot() const;

private:
  std::array<std::atomic<std::uint64_t>, kReasons.size()> counts_{};
};

}  // namespace strata::gateway
