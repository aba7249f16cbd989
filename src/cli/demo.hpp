#pragma once

#include <strata/memory_store.hpp>

#include <cstddef>
#include <cstdint>
#include <chrono>
#include <iosfwd>

namespace strata::cli {

struct DemoOptions {
  std::size_t requests = 100'000;
  std::size_t keys = 20'000;
  double zipf_exponent = 0.9;
  std::size_t capacity_mib = 2;
  EvictionPolicy policy = EvictionPolicy::w_tinylfu;
  std::chrono::microseconds loader_cost{100};
  std::chrono::seconds ttl{30};
};

// Runs a cache-aside workload against the embedded L1 tier and reports what happened.
// Returns a process exit code.
int run_demo(const DemoOptions& options, std::ostream& out);

}  // namespace strata::cli
