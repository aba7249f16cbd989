// Readers, writers, expiry and eviction at once. Built and run under TSan in CI (label
// "concurrency"); bounded by operation counts, never by time.
#include <strata/memory_store.hpp>
#include <strata/testing/manual_clock.hpp>

#include "workload/workload.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <charconv>
#include <latch>
#include <string>
#include <thread>
#include <vector>

namespace strata {
namespace {

using namespace std::chrono_literals;

#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
constexpr int kOperationsPerThread = 20'000;
#else
constexpr int kOperationsPerThread = 200'000;
#endif

std::string key_for(std::uint64_t id) { return "user:" + std::to_string(id) + ":profile"; }

TEST(MemoryStoreConcurrency, ConcurrentWritersNeverPushItPastItsCapacity) {
  constexpr std::size_t kCapacity = 256 * 1024;
  MemoryStoreOptions options;
  options.capacity_bytes = kCapacity;
  options.shard_count = 4;
  MemoryStore store(options);

  constexpr int kWriters = 4;
  std::atomic<int> writers_left{kWriters};
  std::atomic<std::size_t> largest_seen{0};
  std::latch start(kWriters + 1);

  std::vector<std::thread> threads;
  for (int w = 0; w < kWriters; ++w) {
    threads.emplace_back([&, w] {
      workload::Random random(static_cast<std::uint64_t>(w) + 1);
      start.arrive_and_wait();
      for (int i = 0; i < kOperationsPerThread; ++i) {
        const std::size_t size = random.next_below(3000);
        store.set(key_for(random.next_below(5000)), Bytes::copy_of(std::string(size, 'w')));
      }
      writers_left.fetch_sub(1);
    });
  }
  threads.emplace_back([&] {
    start.arrive_and_wait();
    while (writers_left.load() > 0) {
      const std::size_t used = store.bytes_used();
      std::size_t previous = largest_seen.load();
      while (used > previous && !largest_seen.compare_exchange_weak(previous, used)) {
      }
      std::this_thread::yield();
    }
  });
  for (auto& thread : threads) thread.join();

  EXPECT_LE(largest_seen.load(), kCapacity);
  const MemoryStoreStats stats = store.stats();
  EXPECT_LE(stats.bytes_used, kCapacity);
  EXPECT_GT(stats.evictions_by_size + stats.admission_rejections, 0U);
  EXPECT_EQ(stats.inserts + stats.updates + stats.rejected_too_large,
            static_cast<std::uint64_t>(kWriters) * kOperationsPerThread);
}

// Every value records the key it belongs to and when it expires, so a reader can prove that
// what it got is neither another key's value nor an expired one.
std::string value_for(const std::string& key, Clock::time_point expires_at) {
  return key + "|" + std::to_string(expires_at.time_since_epoch().count());
}

TEST(MemoryStoreConcurrency, ReadersWritersExpiryAndEvictionTogether) {
  auto clock = std::make_shared<testing::ManualClock>();
  MemoryStoreOptions options;
  options.capacity_bytes = 128 * 1024;
  options.shard_count = 8;
  options.clock = clock;
  MemoryStore store(options);

  constexpr std::uint64_t kKeys = 2000;
  std::atomic<bool> stop{false};
  std::atomic<std::uint64_t> reads{0};
  std::atomic<std::uint64_t> wrong_values{0};
  std::atomic<std::uint64_t> expired_values{0};
  std::latch start(6);
  std::vector<std::thread> workers;

  // Writers with TTLs from 1 to 50 ms. Each write also moves time on by 10 us, so however the
  // threads are scheduled, the run spans far more simulated time than any TTL.
  for (int w = 0; w < 2; ++w) {
    workers.emplace_back([&, w] {
      workload::Random random(100 + static_cast<std::uint64_t>(w));
      start.arrive_and_wait();
      for (int i = 0; i < kOperationsPerThread; ++i) {
        clock->advance(10us);
        const std::string key = key_for(random.next_below(kKeys));
        const auto ttl = std::chrono::milliseconds(1 + random.next_below(50));
        const auto expires_at = clock->now() + ttl;
        store.set(key, Bytes::adopt(value_for(key, expires_at)), expires_at);
      }
    });
  }
  for (int r = 0; r < 2; ++r) {  // readers checking what they get
    workers.emplace_back([&, r] {
      workload::Random random(200 + static_cast<std::uint64_t>(r));
      start.arrive_and_wait();
      for (int i = 0; i < kOperationsPerThread; ++i) {
        const std::string key = key_for(random.next_below(kKeys));
        const auto before = clock->now();
        const auto value = store.get(key);
        reads.fetch_add(1);
        if (!value) continue;
        const std::string_view text = value->view();
        const auto bar = text.rfind('|');
        if (bar == std::string_view::npos || text.substr(0, bar) != key) {
          wrong_values.fetch_add(1);
          continue;
        }
        std::int64_t expires_ns = 0;
        std::from_chars(text.data() + bar + 1, text.data() + text.size(), expires_ns);
        // The store read the clock at or after `before`, and serves only while now < expiry.
        if (expires_ns <= before.time_since_epoch().count()) expired_values.fetch_add(1);
      }
    });
  }
  workers.emplace_back([&] {  // incremental sweeping
    start.arrive_and_wait();
    while (!stop.load()) store.sweep_expired(64);
  });
  workers.emplace_back([&] {  // erasures and the occasional clear
    workload::Random random(300);
    start.arrive_and_wait();
    for (int i = 0; !stop.load(); ++i) {
      store.erase(key_for(random.next_below(kKeys)));
      if (i % 5000 == 4999) store.clear();
      std::this_thread::yield();
    }
  });

  for (int i = 0; i < 4; ++i) workers[static_cast<std::size_t>(i)].join();
  stop.store(true);
  for (std::size_t i = 4; i < workers.size(); ++i) workers[i].join();

  EXPECT_EQ(wrong_values.load(), 0U);
  EXPECT_EQ(expired_values.load(), 0U);
  const MemoryStoreStats stats = store.stats();
  EXPECT_EQ(stats.hits + stats.misses, reads.load());
  EXPECT_LE(stats.bytes_used, options.capacity_bytes);
  EXPECT_GT(stats.hits, 0U);
  EXPECT_GT(stats.evictions_by_expiry, 0U);

  // Let every TTL pass: nothing may be served any more, and sweeping empties the store.
  clock->advance(1s);
  for (std::uint64_t id = 0; id < kKeys; ++id) ASSERT_FALSE(store.get(key_for(id)).has_value());
  while (store.sweep_expired(1000) > 0) {
  }
  EXPECT_EQ(store.size(), 0U);
}

}  // namespace
}  // namespace strata
