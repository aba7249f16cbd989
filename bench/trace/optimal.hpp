#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace strata::bench {

// Belady's optimal policy for unit-sized entries, with bypass: on a miss the requested key is
// cached only if it is requested again sooner than the cached key requested furthest in the
// future (which it then replaces). No online policy can hit more often on the same trace, so
// it bounds what an admission+eviction policy like W-TinyLFU can achieve. O(n log n).
struct SimulationResult {
  std::uint64_t hits = 0;
  std::uint64_t requests = 0;
  [[nodiscard]] double hit_ratio() const noexcept {
    return requests == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(requests);
  }
};

SimulationResult simulate_optimal(const std::vector<std::uint64_t>& trace, std::size_t capacity);

// A cache that holds, from the start and forever, the `capacity` keys requested most often over
// the whole trace. On a trace of independent draws (Zipf) this is the best any policy that
// ranks keys by frequency can do; Belady can do better only by knowing the order of requests.
SimulationResult simulate_static_top(const std::vector<std::uint64_t>& trace, std::size_t capacity);

}  // namespace strata::bench
