// The cache called from several threads at once (an io_context run by four threads), on L1
// alone and with Redis: single flight holds across threads, and mixed traffic with
// invalidations never serves a value from before an invalidation the caller saw complete.
// Built and run under ThreadSanitizer in CI.

#include <strata/cache.hpp>

#include "support/cache_options.hpp"
#include "support/redis_deployments.hpp"
#include "support/redis_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace strata {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

enum class Tier { l1_only, redis, cluster };

class CacheConcurrencyTest : public ::testing::TestWithParam<Tier> {
protected:
  static void TearDownTestSuite() {
    server_.reset();
    cluster_.reset();
  }
  // Servers start on first use (CTest runs each test in its own process).
  CacheOptions options() {
    CacheOptions result = testing::cache_options_for({}, "concurrency");
    if (GetParam() == Tier::redis) {
      if (!server_) server_ = std::make_unique<testing::RedisServer>();
      server_->cli({"FLUSHALL"});
      result.redis_url = server_->url();
    } else if (GetParam() == Tier::cluster) {
      if (!cluster_) cluster_ = std::make_unique<testing::RedisCluster>(3);
      cluster_->flush_all();
      result.redis_url = cluster_->url();
    }
    return result;
  }
  // Runs `work` on four threads until `done` or 60 s, whichever comes first.
  template <typename Done>
  static void run_threads(asio::io_context& io, Done done) {
    auto guard = asio::make_work_guard(io);
    std::vector<std::thread> threads;
    for (int i = 0; i < 4; ++i) threads.emplace_back([&] { io.run_for(60s); });
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!done() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    guard.reset();
    io.stop();
    for (auto& thread : threads) thread.join();
    EXPECT_TRUE(done()) << "the work did not finish within 60 s";
  }
  static inline std::unique_ptr<testing::RedisServer> server_;
  static inline std::unique_ptr<testing::RedisCluster> cluster_;
};

TEST_P(CacheConcurrencyTest, ConcurrentMissesOnManyThreadsRunTheLoaderOncePerKey) {
  asio::io_context io;
  auto cache = std::make_unique<Cache>(io.get_executor(), options());
  std::atomic<int> started{0};
  std::atomic<int> loads{0};
  std::atomic<int> answered{0};
  std::atomic<int> wrong{0};
  asio::co_spawn(io, [&]() -> asio::awaitable<void> { (void)co_await cache->start(); ++started; }, asio::detached);
  for (int i = 0; i < 400; ++i) {
    // Each caller on its own strand, so callers really run on different threads.
    asio::co_spawn(
        asio::make_strand(io),
        [&, i]() -> asio::awaitable<void> {
          const int key = i % 8;
          auto value = co_await cache->get_or_set<int>(Key::of("cold", key), [&, key]() -> asio::awaitable<int> {
            ++loads;
            asio::steady_timer slow(co_await asio::this_coro::executor, 30ms);
            co_await slow.async_wait(asio::use_awaitable);
            co_return key * 10;
          });
          if (value != key * 10) ++wrong;
          ++answered;
        },
        asio::detached);
  }
  run_threads(io, [&] { return answered == 400; });
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(loads, 8);
  EXPECT_EQ(cache->stats().loader_calls, 8U);
  cache.reset();
}

TEST_P(CacheConcurrencyTest, MixedTrafficWithInvalidationsStaysConsistent) {
  asio::io_context io;
  auto cache = std::make_unique<Cache>(io.get_executor(), options());
  std::atomic<int> finished{0};
  std::atomic<int> stale_after_invalidation{0};
  // version[k] is the "database": bumped before each invalidation of k.
  std::array<std::atomic<int>, 4> version{};
  constexpr int kWorkers = 16;
  for (int worker = 0; worker < kWorkers; ++worker) {
    asio::co_spawn(
        asio::make_strand(io),
        [&, worker]() -> asio::awaitable<void> {
          for (int round = 0; round < 60; ++round) {
            const int k = (worker + round) % 4;
            EntryOptions entry;
            entry.tags = {"item:" + std::to_string(k)};
            if ((worker + round) % 7 == 0) {
              const int mine = version[k].fetch_add(1) + 1;  // the database write
              co_await cache->invalidate_tag("item:" + std::to_string(k));
              // After the invalidation returned, no value older than that write is served.
              const int seen = co_await cache->get_or_set<int>(Key::of("items", k), [&, k] { return version[k].load(); },
                                                               entry);
              if (seen < mine) ++stale_after_invalidation;
            } else if ((worker + round) % 5 == 0) {
              co_await cache->remove(Key::of("items", k));
            } else {
              (void)co_await cache->get_or_set<int>(Key::of("items", k), [&, k] { return version[k].load(); }, entry);
            }
          }
          ++finished;
        },
        asio::detached);
  }
  run_threads(io, [&] { return finished == kWorkers; });
  EXPECT_EQ(stale_after_invalidation, 0);
  const auto stats = cache->stats();
  EXPECT_GT(stats.hits(), 0U);
  EXPECT_GT(stats.invalidations, 0U);
  cache.reset();
}

INSTANTIATE_TEST_SUITE_P(Tiers, CacheConcurrencyTest, ::testing::Values(Tier::l1_only, Tier::redis, Tier::cluster),
                         [](const ::testing::TestParamInfo<Tier>& tier) {
                           switch (tier.param) {
                             case Tier::l1_only: return "L1Only";
                             case Tier::redis: return "L1AndRedis";
                             case Tier::cluster: return "L1AndCluster";
                           }
                           return "unknown";
                         });

}  // namespace
}  // namespace strata
