#include "workload/workload.hpp"

#include <gtest/gtest.h>

#include <set>
#include <unordered_map>

namespace strata::workload {
namespace {

TEST(Workload, TracesAreDeterministicForASeed) {
  TraceSpec spec;
  spec.keys = 1000;
  spec.requests = 5000;
  EXPECT_EQ(make_trace(spec), make_trace(spec));
  TraceSpec other = spec;
  other.seed = spec.seed + 1;
  EXPECT_NE(make_trace(spec), make_trace(other));
}

TEST(Workload, ZipfFollowsItsExponent) {
  const ZipfDistribution zipf(1000, 1.0);
  Random random(1);
  std::vector<int> counts(1000);
  constexpr int kDraws = 200'000;
  for (int i = 0; i < kDraws; ++i) ++counts[zipf.sample(random)];
  // P(rank 0) / P(rank 1) = 2 for s = 1.
  EXPECT_NEAR(static_cast<double>(counts[0]) / counts[1], 2.0, 0.1);
  EXPECT_NEAR(static_cast<double>(counts[0]) / kDraws, zipf.head_mass(1), 0.01);
}

TEST(Workload, LoopVisitsEveryKeyInTurn) {
  TraceSpec spec;
  spec.kind = TraceKind::loop;
  spec.keys = 10;
  spec.requests = 25;
  const auto trace = make_trace(spec);
  EXPECT_EQ(std::set<std::uint64_t>(trace.begin(), trace.end()).size(), 10U);
  EXPECT_EQ(trace[0], trace[10]);
  EXPECT_EQ(trace[3], trace[23]);
}

TEST(Workload, ScansAreOneOffKeysOfTheRequestedShare) {
  TraceSpec spec;
  spec.kind = TraceKind::zipf_with_scans;
  spec.keys = 1000;
  spec.requests = 200'000;
  spec.scan_share = 0.2;
  spec.scan_length = 500;
  const auto trace = make_trace(spec);
  std::unordered_map<std::uint64_t, int> seen;
  for (const auto key : trace) ++seen[key];
  std::size_t one_off = 0;
  for (const auto& [key, count] : seen) one_off += count == 1;
  const double share = static_cast<double>(one_off) / static_cast<double>(trace.size());
  EXPECT_NEAR(share, 0.2, 0.05);
}

TEST(Workload, ShiftingZipfChangesItsMostPopularKeyHalfway) {
  TraceSpec spec;
  spec.kind = TraceKind::shifting_zipf;
  spec.keys = 1000;
  spec.requests = 100'000;
  spec.exponent = 1.2;
  const auto trace = make_trace(spec);
  auto most_frequent = [](auto begin, auto end) {
    std::unordered_map<std::uint64_t, int> counts;
    for (auto it = begin; it != end; ++it) ++counts[*it];
    return std::max_element(counts.begin(), counts.end(),
                            [](auto& a, auto& b) { return a.second < b.second; })->first;
  };
  const auto middle = trace.begin() + static_cast<std::ptrdiff_t>(trace.size() / 2);
  EXPECT_EQ(most_frequent(trace.begin(), middle), scramble(0));
  EXPECT_EQ(most_frequent(middle, trace.end()), scramble(500));
}

TEST(Workload, InvalidSpecIsRefusedWithItsName) {
  TraceSpec spec;
  spec.name = "empty";
  spec.requests = 0;
  EXPECT_THROW(make_trace(spec), std::invalid_argument);
  EXPECT_THROW(ZipfDistribution(0, 1.0), std::invalid_argument);
}

}  // namespace
}  // namespace strata::workload
