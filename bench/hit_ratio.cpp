// Hit-ratio simulator: LRU and W-TinyLFU (the real MemoryStore, one shard) against Belady's
// optimal, on deterministic synthetic traces, at cache sizes of 0.1%, 1% and 10% of the keys.
//
//   build/release/bench/strata_bench_hit_ratio            # full run (1M keys, 4M requests)
//   build/release/bench/strata_bench_hit_ratio --keys 20000 --requests 100000   # smoke
#include "trace/optimal.hpp"
#include "workload/workload.hpp"

#include <strata/memory_store.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace {

using strata::EvictionPolicy;
using strata::workload::TraceKind;
using strata::workload::TraceSpec;

constexpr std::size_t kKeyBytes = sizeof(std::uint64_t);
constexpr std::size_t kEntryCharge = strata::MemoryStore::charge_of(kKeyBytes, 0);

strata::bench::SimulationResult simulate_store(EvictionPolicy policy,
                                               const std::vector<std::uint64_t>& trace,
                                               std::size_t entries) {
  strata::MemoryStoreOptions options;
  options.capacity_bytes = std::max<std::size_t>(entries, 1) * kEntryCharge;
  options.shard_count = 1;
  options.policy = policy;
  options.expected_entry_bytes = kEntryCharge;
  strata::MemoryStore store(options);
  strata::bench::SimulationResult result;
  result.requests = trace.size();
  char key[kKeyBytes];
  for (const std::uint64_t id : trace) {
    std::memcpy(key, &id, kKeyBytes);
    const std::string_view k(key, kKeyBytes);
    if (store.get(k)) {
      ++result.hits;
    } else {
      store.set(k, strata::Bytes());
    }
  }
  return result;
}

struct Row {
  std::string trace;
  bool zipf = false;
  double size_fraction = 0;
  std::size_t entries = 0;
  double lru = 0, tinylfu = 0, optimal = 0, static_top = 0;
};

// Runs independent jobs on every core.
void run_parallel(std::vector<std::function<void()>>& jobs) {
  std::atomic<std::size_t> next{0};
  std::vector<std::thread> workers;
  const unsigned count = std::max(1U, std::thread::hardware_concurrency());
  for (unsigned w = 0; w < count; ++w) {
    workers.emplace_back([&] {
      for (std::size_t i = next++; i < jobs.size(); i = next++) jobs[i]();
    });
  }
  for (auto& worker : workers) worker.join();
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Hit ratio of LRU, W-TinyLFU and Belady's optimal on synthetic traces"};
  std::size_t keys = 1'000'000;
  std::size_t requests = 4'000'000;
  app.add_option("--keys", keys, "Distinct keys in the Zipf and loop traces")
      ->check(CLI::Range(std::size_t{1000}, std::size_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--requests", requests, "Requests per trace")
      ->check(CLI::Range(std::size_t{1000}, std::size_t{1'000'000'000}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  std::vector<std::pair<TraceSpec, bool>> specs;  // spec, is a plain Zipf trace
  for (const double s : {0.6, 0.8, 1.0, 1.2}) {
    specs.push_back({TraceSpec{fmt::format("zipf-{:.1f}", s), TraceKind::zipf, keys, requests, s}, true});
  }
  TraceSpec scans{"zipf-0.9+scans", TraceKind::zipf_with_scans, keys, requests, 0.9};
  scans.scan_share = 0.2;
  scans.scan_length = std::max<std::size_t>(keys / 50, 100);
  specs.push_back({scans, false});
  specs.push_back({TraceSpec{"loop", TraceKind::loop, keys, requests}, false});
  specs.push_back({TraceSpec{"zipf-1.0-shift", TraceKind::shifting_zipf, keys, requests, 1.0}, false});

  const double fractions[] = {0.001, 0.01, 0.1};
  const auto started = std::chrono::steady_clock::now();

  std::vector<std::vector<std::uint64_t>> traces(specs.size());
  {
    std::vector<std::function<void()>> jobs;
    for (std::size_t t = 0; t < specs.size(); ++t) {
      jobs.emplace_back([&, t] { traces[t] = strata::workload::make_trace(specs[t].first); });
    }
    run_parallel(jobs);
  }

  std::vector<Row> rows;
  for (std::size_t t = 0; t < specs.size(); ++t) {
    for (const double fraction : fractions) {
      Row row;
      row.trace = specs[t].first.name;
      row.zipf = specs[t].second;
      row.size_fraction = fraction;
      row.entries = std::max<std::size_t>(1, static_cast<std::size_t>(static_cast<double>(keys) * fraction));
      rows.push_back(row);
    }
  }
  std::vector<std::function<void()>> jobs;
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto* trace = &traces[r / std::size(fractions)];
    Row* row = &rows[r];
    jobs.emplace_back([=] { row->lru = simulate_store(EvictionPolicy::lru, *trace, row->entries).hit_ratio(); });
    jobs.emplace_back([=] { row->tinylfu = simulate_store(EvictionPolicy::w_tinylfu, *trace, row->entries).hit_ratio(); });
    jobs.emplace_back([=] { row->optimal = strata::bench::simulate_optimal(*trace, row->entries).hit_ratio(); });
    jobs.emplace_back([=] { row->static_top = strata::bench::simulate_static_top(*trace, row->entries).hit_ratio(); });
  }
  run_parallel(jobs);

  fmt::print("Hit ratio (%), {} keys, {} requests per trace; W-TinyLFU and LRU are strata::MemoryStore\n\n",
             keys, requests);
  fmt::print("{:<16} {:>6} {:>9} {:>8} {:>10} {:>8} {:>8} {:>12} {:>12}\n", "trace", "size", "entries",
             "LRU", "W-TinyLFU", "TOP-K", "OPT", "TinyLFU-LRU", "OPT-TinyLFU");
  std::vector<std::string> below_lru;
  std::vector<std::string> beyond_five_of_optimal;
  for (const Row& row : rows) {
    const double gain = 100 * (row.tinylfu - row.lru);
    const double gap = 100 * (row.optimal - row.tinylfu);
    fmt::print("{:<16} {:>5.1f}% {:>9} {:>8.2f} {:>10.2f} {:>8.2f} {:>8.2f} {:>+12.2f} {:>12.2f}\n", row.trace,
               100 * row.size_fraction, row.entries, 100 * row.lru, 100 * row.tinylfu,
               100 * row.static_top, 100 * row.optimal, gain, gap);
    const std::string cell = fmt::format("{} at {:.1f}%", row.trace, 100 * row.size_fraction);
    if (row.tinylfu + 1e-9 < row.lru) below_lru.push_back(fmt::format("{} ({:+.2f})", cell, gain));
    if (row.zipf && row.size_fraction == 0.01 && gap > 5.0) {
      beyond_five_of_optimal.push_back(fmt::format("{} ({:.2f} behind OPT, {:.2f} behind TOP-K)", cell,
                                                   gap, 100 * (row.static_top - row.tinylfu)));
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  auto verdict = [](const std::vector<std::string>& exceptions) {
    if (exceptions.empty()) return std::string("yes");
    std::string text = "NO:";
    for (const auto& exception : exceptions) text += "\n    " + exception;
    return text;
  };
  fmt::print("\nW-TinyLFU >= LRU on every trace and size: {}\n", verdict(below_lru));
  fmt::print("W-TinyLFU within 5 points of OPT on the Zipf traces at 1%: {}\n",
             verdict(beyond_five_of_optimal));
  fmt::print("TOP-K: the K most requested keys held from the start (the frequency-ranking bound);\n"
             "OPT: Belady with bypass (offline, knows the future).\n({:.1f} s)\n", seconds);
  return 0;
}
