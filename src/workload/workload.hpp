#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

// Deterministic synthetic workloads for the demo, the benchmarks and the hit-ratio simulator.
// Everything here is generated from a seed with our own generators (not <random>'s
// distributions, whose output differs between standard libraries), so a trace is the same on
// every machine.
namespace strata::workload {

// SplitMix64: tiny, fast, and passes BigCrush; plenty for workload generation.
class Random {
public:
  explicit Random(std::uint64_t seed) noexcept : state_(seed) {}
  std::uint64_t next() noexcept;
  // Uniform in [0, 1).
  double next_unit() noexcept;
  // Uniform in [0, bound).
  std::uint64_t next_below(std::uint64_t bound) noexcept;

private:
  std::uint64_t state_;
};

// Ranks 0..n-1 drawn with probability proportional to 1 / (rank + 1)^exponent.
class ZipfDistribution {
public:
  ZipfDistribution(std::size_t n, double exponent);
  std::size_t sample(Random& random) const;
  [[nodiscard]] std::size_t size() const noexcept { return cdf_.size(); }
  // Probability mass of the `count` most popular ranks: the hit ratio of a perfect LFU cache
  // of `count` entries on an infinite trace.
  [[nodiscard]] double head_mass(std::size_t count) const;

private:
  std::vector<double> cdf_;
};

// A bijection on 64-bit ids, so that popular ranks do not map to neighbouring keys.
std::uint64_t scramble(std::uint64_t rank) noexcept;

enum class TraceKind {
  zipf,            // independent draws from Zipf(exponent) over `keys`
  zipf_with_scans, // Zipf, with bursts of one-off keys (never seen again) mixed in
  loop,            // keys 0..keys-1 in order, over and over
  shifting_zipf,   // Zipf whose popular keys change completely halfway through
};

struct TraceSpec {
  std::string name;
  TraceKind kind = TraceKind::zipf;
  std::size_t keys = 1'000'000;
  std::size_t requests = 4'000'000;
  double exponent = 1.0;
  // zipf_with_scans: share of requests that belong to scans, and the length of one scan.
  double scan_share = 0.2;
  std::size_t scan_length = 20'000;
  std::uint64_t seed = 42;
};

std::vector<std::uint64_t> make_trace(const TraceSpec& spec);

}  // namespace strata::workload
