// Throughput of strata::MemoryStore against the baseline most code bases start with: an
// std::unordered_map + std::list LRU behind one std::mutex, written here. Both store the same
// shared immutable values, are bounded by the same byte budget, and serve hits without copying.
//
//   build/release/bench/strata_bench_memory_store --benchmark_repetitions=5
//   build/release/bench/strata_bench_memory_store --benchmark_min_time=0.01 --keys 2000  # smoke
#include "workload/workload.hpp"

#include <strata/memory_store.hpp>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace {

using strata::Bytes;

// The baseline: one lock around a hash map and a recency list, evicting by bytes.
class MutexLru {
public:
  explicit MutexLru(std::size_t capacity_bytes) : capacity_(capacity_bytes) {}

  std::optional<Bytes> get(std::string_view key) {
    std::lock_guard lock(mutex_);
    const auto it = index_.find(key);
    if (it == index_.end()) return std::nullopt;
    recency_.splice(recency_.end(), recency_, it->second);
    return it->second->value;
  }

  void set(std::string_view key, Bytes value) {
    std::lock_guard lock(mutex_);
    const std::size_t charge = strata::MemoryStore::charge_of(key.size(), value.size());
    if (const auto it = index_.find(key); it != index_.end()) {
      bytes_ = bytes_ - it->second->charge + charge;
      it->second->value = std::move(value);
      it->second->charge = charge;
      recency_.splice(recency_.end(), recency_, it->second);
    } else {
      recency_.push_back(Entry{std::string(key), std::move(value), charge});
      index_.emplace(recency_.back().key, std::prev(recency_.end()));
      bytes_ += charge;
    }
    while (bytes_ > capacity_ && !recency_.empty()) {
      bytes_ -= recency_.front().charge;
      index_.erase(recency_.front().key);
      recency_.pop_front();
    }
  }

private:
  struct Entry {
    std::string key;
    Bytes value;
    std::size_t charge;
  };
  struct Hash {
    using is_transparent = void;
    std::size_t operator()(std::string_view key) const noexcept {
      return std::hash<std::string_view>{}(key);
    }
  };
  std::mutex mutex_;
  std::list<Entry> recency_;
  std::unordered_map<std::string_view, std::list<Entry>::iterator, Hash, std::equal_to<>> index_;
  std::size_t bytes_ = 0;
  std::size_t capacity_;
};

std::size_t g_keys = 100'000;  // resident keys; --keys overrides

struct Workload {
  std::vector<std::string> keys;          // resident keys
  std::vector<std::string> absent_keys;   // never stored
  std::vector<Bytes> values;              // distinct buffers, so readers do not share one count
};

const Workload& workload_for(std::size_t value_size) {
  static std::map<std::size_t, Workload> cache;
  static std::mutex mutex;
  std::lock_guard lock(mutex);
  Workload& workload = cache[value_size];
  if (workload.keys.empty()) {
    for (std::size_t i = 0; i < g_keys; ++i) {
      workload.keys.push_back(fmt::format("user:{}:profile", strata::workload::scramble(i) % 100'000'000));
      workload.absent_keys.push_back(fmt::format("absent:{}:profile", i));
    }
    for (std::size_t i = 0; i < 1024; ++i) workload.values.push_back(Bytes::copy_of(std::string(value_size, 'v')));
  }
  return workload;
}

std::size_t budget_for(std::size_t value_size) {
  return g_keys * strata::MemoryStore::charge_of(32, value_size);
}

template <typename Store>
std::unique_ptr<Store> make_store(std::size_t value_size);

template <>
std::unique_ptr<strata::MemoryStore> make_store(std::size_t value_size) {
  strata::MemoryStoreOptions options;
  options.capacity_bytes = budget_for(value_size);
  options.expected_entry_bytes = strata::MemoryStore::charge_of(24, value_size);
  return std::make_unique<strata::MemoryStore>(options);
}

template <>
std::unique_ptr<MutexLru> make_store(std::size_t value_size) {
  return std::make_unique<MutexLru>(budget_for(value_size));
}

enum class Operation { get_hit, get_miss, set, mixed_90_10 };

// One store per benchmark run, shared by its threads; built before the threads start.
template <typename Store>
std::unique_ptr<Store> g_store;

template <typename Store>
void prepare(const benchmark::State& state) {
  const auto value_size = static_cast<std::size_t>(state.range(0));
  const Workload& workload = workload_for(value_size);
  g_store<Store> = make_store<Store>(value_size);
  for (std::size_t i = 0; i < workload.keys.size(); ++i) {
    g_store<Store>->set(workload.keys[i], workload.values[i % workload.values.size()]);
  }
}

template <typename Store>
void release(const benchmark::State&) {
  g_store<Store>.reset();
}

template <typename Store, Operation op>
void run(benchmark::State& state) {
  const Workload& workload = workload_for(static_cast<std::size_t>(state.range(0)));
  Store& store = *g_store<Store>;
  strata::workload::Random random(static_cast<std::uint64_t>(state.thread_index()) + 1);
  const std::size_t count = workload.keys.size();
  std::size_t found = 0;
  for (auto _ : state) {
    const std::size_t i = random.next_below(count);
    switch (op) {
      case Operation::get_hit:
        found += store.get(workload.keys[i]).has_value();
        break;
      case Operation::get_miss:
        found += store.get(workload.absent_keys[i]).has_value();
        break;
      case Operation::set:
        store.set(workload.keys[i], workload.values[i % workload.values.size()]);
        break;
      case Operation::mixed_90_10:
        if (random.next_below(10) == 0) {
          store.set(workload.keys[i], workload.values[i % workload.values.size()]);
        } else {
          found += store.get(workload.keys[i]).has_value();
        }
        break;
    }
  }
  benchmark::DoNotOptimize(found);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

const char* operation_name(Operation op) {
  switch (op) {
    case Operation::get_hit: return "get (hit)";
    case Operation::get_miss: return "get (miss)";
    case Operation::set: return "set";
    case Operation::mixed_90_10: return "90/10 get/set";
  }
  return "?";
}

template <typename Store, Operation op>
void register_one(const char* store_name) {
  benchmark::RegisterBenchmark(fmt::format("{}/{}", operation_name(op), store_name).c_str(),
                               run<Store, op>)
      ->Setup(prepare<Store>)
      ->Teardown(release<Store>)
      ->Arg(100)
      ->Arg(4096)
      ->Threads(1)
      ->Threads(2)
      ->UseRealTime();
}

template <Operation op>
void register_pair() {
  register_one<strata::MemoryStore, op>("strata");
  register_one<MutexLru, op>("baseline");
}

// Collects every run while printing the usual console output, for the side-by-side table.
class ComparisonReporter : public benchmark::ConsoleReporter {
public:
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      if (run.error_occurred || run.run_type != Run::RT_Iteration) continue;
      const std::string& name = run.run_name.function_name;
      const auto slash = name.rfind('/');
      const auto counter = run.counters.find("items_per_second");
      if (slash == std::string::npos || counter == run.counters.end()) continue;
      const Key key{name.substr(0, slash), std::stoul(run.run_name.args), run.threads};
      (name.substr(slash + 1) == "strata" ? strata_ : baseline_)[key].push_back(counter->second.value);
    }
  }

  void print_table() const {
    fmt::print("\nMemoryStore vs. mutex+unordered_map LRU baseline (operations per second, "
               "all threads; median of {} repetitions)\n\n",
               strata_.empty() ? 0 : strata_.begin()->second.size());
    fmt::print("{:<16} {:>7} {:>8} {:>15} {:>15} {:>8}\n", "operation", "value", "threads",
               "strata", "baseline", "ratio");
    for (const auto& [key, strata_rates] : strata_) {
      const auto baseline = baseline_.find(key);
      if (baseline == baseline_.end()) continue;
      const auto& [operation, value_size, threads] = key;
      const double strata_rate = median(strata_rates);
      const double baseline_rate = median(baseline->second);
      fmt::print("{:<16} {:>6}B {:>8} {:>15.0f} {:>15.0f} {:>7.2f}x\n", operation, value_size,
                 threads, strata_rate, baseline_rate, strata_rate / baseline_rate);
    }
  }

private:
  using Key = std::tuple<std::string, std::size_t, std::int64_t>;

  static double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
  }

  std::map<Key, std::vector<double>> strata_;
  std::map<Key, std::vector<double>> baseline_;
};

}  // namespace

int main(int argc, char** argv) {
  // Our own flag first; Google Benchmark rejects flags it does not know.
  std::vector<char*> args;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--keys=", 7) == 0) {
      g_keys = std::stoul(argv[i] + 7);
    } else if (std::strcmp(argv[i], "--keys") == 0 && i + 1 < argc) {
      g_keys = std::stoul(argv[++i]);
    } else {
      args.push_back(argv[i]);
    }
  }
  // Memory-latency-bound figures drift with whatever else the machine does: unless told
  // otherwise, run 5 interleaved repetitions and report medians.
  std::string repetitions = "--benchmark_repetitions=5";
  std::string interleave = "--benchmark_enable_random_interleaving=true";
  const bool repetitions_given = std::any_of(args.begin(), args.end(), [](const char* arg) {
    return std::strncmp(arg, "--benchmark_repetitions", 23) == 0;
  });
  if (!repetitions_given) {
    args.push_back(repetitions.data());
    args.push_back(interleave.data());
  }
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  if (benchmark::ReportUnrecognizedArguments(count, args.data())) return 1;

  register_pair<Operation::get_hit>();
  register_pair<Operation::get_miss>();
  register_pair<Operation::set>();
  register_pair<Operation::mixed_90_10>();

  ComparisonReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_table();
  benchmark::Shutdown();
  return 0;
}
