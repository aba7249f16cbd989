#include "cli/demo.hpp"

#include "workload/workload.hpp"

#include <strata/testing/manual_clock.hpp>

#include <fmt/format.h>
#include <fmt/ostream.h>

#include <chrono>
#include <memory>
#include <ostream>
#include <string>

namespace strata::cli {
namespace {

using SteadyTime = std::chrono::steady_clock;

// Stands in for a database read: burns `cost` of real CPU time, then builds the row.
Bytes load_from_database(std::uint64_t id, std::chrono::microseconds cost) {
  const auto until = SteadyTime::now() + cost;
  while (SteadyTime::now() < until) {
  }
  return Bytes::adopt(fmt::format(R"({{"id":{},"status":"rendering","progress":{}}})", id, id % 100));
}

std::string policy_name(EvictionPolicy policy) {
  return policy == EvictionPolicy::lru ? "LRU" : "W-TinyLFU";
}

}  // namespace

int run_demo(const DemoOptions& options, std::ostream& out) {
  // Simulated time drives expiry: each request advances it by 0.5 ms (2,000 requests/s), so
  // the TTL plays out in a run that takes about a second of real time.
  auto clock = std::make_shared<testing::ManualClock>();
  MemoryStoreOptions store_options;
  store_options.capacity_bytes = options.capacity_mib * 1024 * 1024;
  store_options.policy = options.policy;
  store_options.expected_entry_bytes = 256;
  store_options.clock = clock;
  MemoryStore store(store_options);

  fmt::print(out, "strata demo: cache-aside reads on the embedded in-process tier (no Redis configured)\n");
  fmt::print(out, "  L1: {}, {} MiB budget, {} shards, {} s TTL\n", policy_name(options.policy),
             options.capacity_mib, store.shard_count(), options.ttl.count());
  fmt::print(out, "  workload: {} reads of {} keys (Zipf {}), 2,000 reads per simulated second; "
                  "a database read costs {} us\n\n",
             options.requests, options.keys, options.zipf_exponent, options.loader_cost.count());

  const workload::ZipfDistribution popularity(options.keys, options.zipf_exponent);
  workload::Random random(7);
  std::size_t database_reads = 0;
  std::size_t bytes_served = 0;

  const auto started = SteadyTime::now();
  for (std::size_t request = 0; request < options.requests; ++request) {
    clock->advance(std::chrono::microseconds(500));
    const std::uint64_t id = popularity.sample(random);
    const std::string key = fmt::format("demo:job:{}", id);
    std::optional<Bytes> value = store.get(key);
    if (!value) {
      ++database_reads;
      value = load_from_database(id, options.loader_cost);
      store.set_for(key, *value, options.ttl);
    }
    bytes_served += value->size();
  }
  const auto elapsed = std::chrono::duration<double>(SteadyTime::now() - started).count();
  const double uncached = static_cast<double>(options.requests) *
                          std::chrono::duration<double>(options.loader_cost).count();

  const MemoryStoreStats stats = store.stats();
  fmt::print(out, "  {:<34} {:>14}\n", "reads served", options.requests);
  fmt::print(out, "  {:<34} {:>14}\n", "L1 hits", stats.hits);
  fmt::print(out, "  {:<34} {:>14}\n", "L1 misses", stats.misses);
  fmt::print(out, "  {:<34} {:>13.1f}%\n", "hit ratio", 100.0 * stats.hit_ratio());
  fmt::print(out, "  {:<34} {:>14}\n", "database reads", database_reads);
  fmt::print(out, "  {:<34} {:>13.1f}%\n", "database reads avoided",
             100.0 * (1.0 - static_cast<double>(database_reads) / static_cast<double>(options.requests)));
  fmt::print(out, "  {:<34} {:>13.3f}s\n", "wall time with L1", elapsed);
  fmt::print(out, "  {:<34} {:>13.3f}s\n", "wall time if every read hit the DB", uncached);
  fmt::print(out, "  {:<34} {:>13.1f}x\n", "speed-up", elapsed > 0 ? uncached / elapsed : 0.0);
  fmt::print(out, "  {:<34} {:>14}\n", "entries evicted (size)", stats.evictions_by_size);
  fmt::print(out, "  {:<34} {:>14}\n", "newcomers declined (admission)", stats.admission_rejections);
  fmt::print(out, "  {:<34} {:>14}\n", "entries expired (TTL)", stats.evictions_by_expiry);
  fmt::print(out, "  {:<34} {:>14}\n", "entries resident", stats.entries);
  fmt::print(out, "  {:<34} {:>10} / {}\n", "bytes used / budget", stats.bytes_used, stats.capacity_bytes);

  // Expiry: let every entry's TTL pass, then sweep incrementally.
  clock->advance(options.ttl);
  std::size_t swept = 0;
  while (const std::size_t batch = store.sweep_expired(1024)) swept += batch;
  fmt::print(out, "\n  after {} s more, sweep_expired reclaimed {} entries; {} remain\n",
             options.ttl.count(), swept, store.size());

  const bool ok = stats.bytes_used <= stats.capacity_bytes && store.size() == 0 &&
                  stats.hits + stats.misses == options.requests && bytes_served > 0;
  fmt::print(out, "  {}\n", ok ? "ok: budget respected, every expired entry reclaimed"
                                : "FAILED: the store broke an invariant (see figures above)");
  return ok ? 0 : 1;
}

}  // namespace strata::cli
