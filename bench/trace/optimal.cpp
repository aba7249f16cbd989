#include "trace/optimal.hpp"

#include <algorithm>
#include <functional>
#include <limits>
#include <queue>
#include <unordered_map>
#include <utility>

namespace strata::bench {

SimulationResult simulate_optimal(const std::vector<std::uint64_t>& trace, std::size_t capacity) {
  constexpr std::size_t kNever = std::numeric_limits<std::size_t>::max();
  const std::size_t n = trace.size();

  // Dense ids, then the position of each request's next occurrence.
  std::unordered_map<std::uint64_t, std::uint32_t> dense;
  dense.reserve(n / 2);
  std::vector<std::uint32_t> ids(n);
  for (std::size_t i = 0; i < n; ++i) {
    ids[i] = dense.try_emplace(trace[i], static_cast<std::uint32_t>(dense.size())).first->second;
  }
  std::vector<std::size_t> next_use(n);
  std::vector<std::size_t> upcoming(dense.size(), kNever);
  for (std::size_t i = n; i-- > 0;) {
    next_use[i] = upcoming[ids[i]];
    upcoming[ids[i]] = i;
  }

  // resident_next[id]: the next use of a cached id (kNever if not cached). The max-heap holds
  // (next use, id) pairs; pairs that no longer match resident_next are stale and skipped.
  std::vector<std::size_t> resident_next(dense.size(), kNever);
  std::vector<bool> resident(dense.size(), false);
  std::priority_queue<std::pair<std::size_t, std::uint32_t>> furthest;
  std::size_t size = 0;
  SimulationResult result;
  result.requests = n;

  auto top_valid = [&]() {
    while (!furthest.empty()) {
      const auto [next, id] = furthest.top();
      if (resident[id] && resident_next[id] == next) return;
      furthest.pop();
    }
  };

  for (std::size_t i = 0; i < n; ++i) {
    const std::uint32_t id = ids[i];
    const std::size_t next = next_use[i];
    if (resident[id]) {
      ++result.hits;
      resident_next[id] = next;
      furthest.emplace(next, id);
      continue;
    }
    if (next == kNever || capacity == 0) continue;  // never needed again: bypass
    if (size == capacity) {
      top_valid();
      const auto [victim_next, victim] = furthest.top();
      if (victim_next <= next) continue;  // every cached key is needed sooner: bypass
      furthest.pop();
      resident[victim] = false;
      --size;
    }
    resident[id] = true;
    resident_next[id] = next;
    furthest.emplace(next, id);
    ++size;
  }
  return result;
}

SimulationResult simulate_static_top(const std::vector<std::uint64_t>& trace, std::size_t capacity) {
  std::unordered_map<std::uint64_t, std::uint64_t> counts;
  counts.reserve(trace.size() / 2);
  for (const std::uint64_t key : trace) ++counts[key];
  std::vector<std::uint64_t> frequencies;
  frequencies.reserve(counts.size());
  for (const auto& [key, count] : counts) frequencies.push_back(count);
  const std::size_t kept = std::min(capacity, frequencies.size());
  std::partial_sort(frequencies.begin(), frequencies.begin() + static_cast<std::ptrdiff_t>(kept),
                    frequencies.end(), std::greater<>());
  SimulationResult result;
  result.requests = trace.size();
  for (std::size_t i = 0; i < kept; ++i) result.hits += frequencies[i];
  return result;
}

}  // namespace strata::bench
