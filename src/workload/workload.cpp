#include "workload/workload.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace strata::workload {

std::uint64_t Random::next() noexcept {
  std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double Random::next_unit() noexcept {
  return static_cast<double>(next() >> 11) * 0x1.0p-53;
}

std::uint64_t Random::next_below(std::uint64_t bound) noexcept {
  // Lemire's multiply-shift; the bias is negligible for bounds far below 2^64.
  __extension__ using Wide = unsigned __int128;
  return static_cast<std::uint64_t>((static_cast<Wide>(next()) * bound) >> 64);
}

ZipfDistribution::ZipfDistribution(std::size_t n, double exponent) {
  if (n == 0) throw std::invalid_argument("ZipfDistribution: n must be at least 1");
  if (!(exponent >= 0.0)) throw std::invalid_argument("ZipfDistribution: exponent must be >= 0");
  cdf_.resize(n);
  double total = 0.0;
  for (std::size_t rank = 0; rank < n; ++rank) {
    total += 1.0 / std::pow(static_cast<double>(rank + 1), exponent);
    cdf_[rank] = total;
  }
  for (double& value : cdf_) value /= total;
  cdf_.back() = 1.0;
}

std::size_t ZipfDistribution::sample(Random& random) const {
  const double u = random.next_unit();
  const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
  return static_cast<std::size_t>(std::min<std::ptrdiff_t>(it - cdf_.begin(),
                                                           static_cast<std::ptrdiff_t>(cdf_.size() - 1)));
}

double ZipfDistribution::head_mass(std::size_t count) const {
  if (count == 0) return 0.0;
  return cdf_[std::min(count, cdf_.size()) - 1];
}

std::uint64_t scramble(std::uint64_t rank) noexcept {
  // The SplitMix64 finaliser is a bijection on 64-bit values.
  std::uint64_t z = rank + 0x9e3779b97f4a7c15ULL;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

std::vector<std::uint64_t> make_trace(const TraceSpec& spec) {
  if (spec.keys == 0 || spec.requests == 0) {
    throw std::invalid_argument("TraceSpec '" + spec.name + "': keys and requests must be positive");
  }
  std::vector<std::uint64_t> trace;
  trace.reserve(spec.requests);
  Random random(spec.seed);

  switch (spec.kind) {
    case TraceKind::zipf: {
      const ZipfDistribution zipf(spec.keys, spec.exponent);
      while (trace.size() < spec.requests) trace.push_back(scramble(zipf.sample(random)));
      break;
    }
    case TraceKind::zipf_with_scans: {
      const ZipfDistribution zipf(spec.keys, spec.exponent);
      // One-off keys live above the Zipf key space so they never collide with it.
      std::uint64_t next_one_off = spec.keys;
      const double scan_start_probability =
          spec.scan_share / (static_cast<double>(spec.scan_length) * (1.0 - spec.scan_share));
      while (trace.size() < spec.requests) {
        if (random.next_unit() < scan_start_probability) {
          for (std::size_t i = 0; i < spec.scan_length && trace.size() < spec.requests; ++i) {
            trace.push_back(scramble(next_one_off++));
          }
        } else {
          trace.push_back(scramble(zipf.sample(random)));
        }
      }
      break;
    }
    case TraceKind::loop: {
      for (std::size_t i = 0; trace.size() < spec.requests; ++i) {
        trace.push_back(scramble(i % spec.keys));
      }
      break;
    }
    case TraceKind::shifting_zipf: {
      const ZipfDistribution zipf(spec.keys, spec.exponent);
      const std::size_t half = spec.requests / 2;
      while (trace.size() < spec.requests) {
        const std::uint64_t rank = zipf.sample(random);
        // Second half: the same shape, but the popular ranks land on keys that were cold.
        const std::uint64_t key = trace.size() < half ? rank : (rank + spec.keys / 2) % spec.keys;
        trace.push_back(scramble(key));
      }
      break;
    }
  }
  return trace;
}

}  // namespace strata::workload
