#include "gateway/reason_counts.hpp"

#include <algorithm>

namespace strata::gateway {

void ReasonCounts::add(std::string_view reason) noexcept {
  const auto name = reason.substr(0, reason.find(':'));
  const auto found = std::find(kReasons.begin(), kReasons.end() - 1, name);
  counts_[static_cast<std::size_t>(found - kReasons.begin())].fetch_add(1, std::memory_order_relaxed);
}

void ReasonCounts::reset() noexcept {
  for (auto& count : counts_) count.store(0, std::memory_order_relaxed);
}

std::vector<std::pair<std::string_view, std::uint64_t>> ReasonCounts::snapshot() const {
  std::vector<std::pair<std::string_view, std::uint64_t>> out;
  for (std::size_t i = 0; i < kReasons.size(); ++i) {
    if (const auto count = counts_[i].load(std::memory_order_relaxed); count != 0) out.emplace_back(kReasons[i], count);
  }
  return out;
}

}  // namespace strata::gateway
