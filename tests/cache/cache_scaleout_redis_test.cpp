// The cache on a Redis Cluster and on Sentinel, with what only those have: the bus across
// cluster nodes, fills racing invalidations across slots, resharding under live traffic, a
// master crash with replica promotion, and a Sentinel failover under load. Real servers only.

#include <strata/cache.hpp>

#include "redis/cluster_slot.hpp"
#include "support/async_test.hpp"
#include "support/cache_options.hpp"
#include "support/fill_race.hpp"
#include "support/redis_deployments.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace strata {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::poll_until;
using testing::run_async;
using ::testing::HasSubstr;

CacheOptions options_for(const std::string& url) { return testing::cache_options_for(url); }

class CacheClusterTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() { cluster_ = std::make_unique<testing::RedisCluster>(3); }
  static void TearDownTestSuite() { cluster_.reset(); }
  void SetUp() override { cluster_->flush_all(); }
  static std::string url() { return cluster_->url() + "?topology_refresh=500ms"; }
  // The server's own answer for an entry key, asked of the node that owns it.
  static std::string stored(const std::string& entry_key) {
    return cluster_->node(cluster_->owner_of(redis::key_slot(entry_key))).cli({"EXISTS", entry_key});
  }
  static inline std::unique_ptr<testing::RedisCluster> cluster_;
};

TEST_F(CacheClusterTest, EntriesSpreadOverEveryMasterWhileControlKeysShareOneSlot) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options_for(url()));
    CO_ASSERT_TRUE(co_await cache.start());
    EntryOptions tagged;
    tagged.tags = {"library"};
    for (int i = 0; i < 60; ++i) co_await cache.set(Key::of("library", i), std::string("page"), tagged);
  });
  for (std::size_t node = 0; node < 3; ++node) {
    EXPECT_NE(cluster_->node(node).cli({"DBSIZE"}), "0\n") << "node " << node << " holds no entry";
  }
  // One namespace spread over every master: no node carries a whole namespace.
  std::set<std::size_t> owners;
  for (int i = 0; i < 60; ++i) owners.insert(cluster_->owner_of(redis::key_slot("test:library:g0:" + std::to_string(i))));
  EXPECT_EQ(owners.size(), 3u);
  EXPECT_EQ(redis::key_slot("{test}#epoch"), redis::key_slot("{test}#members:library"));
}

TEST_F(CacheClusterTest, TwoInstancesStayCoherentThroughTheBusAcrossNodes) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache a(executor, options_for(url()));
    Cache b(executor, options_for(url()));
    CO_ASSERT_TRUE(co_await a.start());
    CO_ASSERT_TRUE(co_await b.start());
    std::uint64_t sent_by_a = 0;
    auto heard_all = [&](Cache& listener, std::uint64_t sent) {
      return poll_until([&listener, sent] { return listener.stats().bus_messages == sent; });
    };
    EntryOptions tagged;
    tagged.tags = {"job:1"};
    const auto key = Key::of("jobs", 1);
    co_await a.set(key, std::string("v1"), tagged);
    co_await heard_all(b, ++sent_by_a);
    EXPECT_EQ(co_await b.get(key), "v1");
    co_await a.set(key, std::string("v2"), tagged);
    co_await heard_all(b, ++sent_by_a);
    EXPECT_EQ(co_await b.get(key), "v2");
    co_await a.invalidate_tag("job:1");
    co_await heard_all(b, ++sent_by_a);
    EXPECT_FALSE((co_await b.get(key)).has_value());
    co_await a.set(Key::of("library", 1), std::string("p1"));
    co_await heard_all(b, ++sent_by_a);
    co_await a.invalidate_pattern("library:*");
    co_await heard_all(b, ++sent_by_a);
    EXPECT_FALSE((co_await b.get(Key::of("library", 1))).has_value());
    co_await a.set(Key::of("library", 2), std::string("p2"));
    co_await heard_all(b, ++sent_by_a);
    co_await a.clear();
    co_await heard_all(b, ++sent_by_a);
    EXPECT_FALSE((co_await b.get(Key::of("library", 2))).has_value());
    EXPECT_EQ(b.stats().bus_gaps, 0U);
    EXPECT_EQ(a.stats().l2_errors + b.stats().l2_errors, 0U);
  });
  EXPECT_EQ(stored("test:library:g0:2"), "0\n");
}

// The stale-set race across slots: the fill is admitted in the control slot before another
// instance invalidates the tag, and stores in the entry's slot after it. The invalidation
// marked the entry (it found it in the tag's member set), so the store is refused.
TEST_F(CacheClusterTest, AFillRacingATagInvalidationFromAnotherInstanceIsRefused) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache reader(executor, options_for(url()));
    Cache writer(executor, options_for(url()));
    co_await reader.start();
    co_await writer.start();
    EntryOptions tagged;
    tagged.tags = {"meeting:4"};
    // Arguments built outside the co_await expression (GCC 12 and temporaries in it).
    const Key key = Key::of("analytics", 4);
    std::function<asio::awaitable<void>()> invalidate = [&]() -> asio::awaitable<void> {
      co_await writer.invalidate_tag("meeting:4");
    };
    (void)co_await testing::fill_racing(executor, reader, key, tagged, invalidate);
    EXPECT_EQ(reader.stats().fills_discarded, 1U);
    EXPECT_FALSE((co_await writer.get(Key::of("analytics", 4), tagged)).has_value());
  });
  EXPECT_EQ(stored("test:analytics:g0:4"), "0\n");
}

TEST_F(CacheClusterTest, AFillRacingAClearIsRefusedEvenWhenTheScanAlreadyPassedItsNode) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache reader(executor, options_for(url()));
    Cache writer(executor, options_for(url()));
    co_await reader.start();
    co_await writer.start();
    const Key key = Key::of("report", 9);
    const EntryOptions defaults;
    std::function<asio::awaitable<void>()> invalidate = [&]() -> asio::awaitable<void> { co_await writer.clear(); };
    (void)co_await testing::fill_racing(executor, reader, key, defaults, invalidate);
    EXPECT_EQ(reader.stats().fills_discarded, 1U);
  });
  EXPECT_EQ(stored("test:report:g0:9"), "0\n");
}

TEST_F(CacheClusterTest, ReshardingEntryAndControlSlotsUnderLiveTrafficFailsNoCacheCall) {
  const int entry_slot = redis::key_slot("test:live:g0:0");
  const int control_slot = redis::key_slot("{test}#epoch");
  const std::size_t entry_from = cluster_->owner_of(entry_slot);
  const std::size_t control_from = cluster_->owner_of(control_slot);
  std::atomic<bool> resharded{false};
  CacheStats seen;
  int calls = 0, wrong = 0;
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options_for(url()));
    CO_ASSERT_TRUE(co_await cache.start());
    std::thread reshard([&] {
      cluster_->move_slot(entry_slot, entry_from, (entry_from + 1) % 3);
      cluster_->move_slot(control_slot, control_from, (control_from + 1) % 3);
      resharded = true;
    });
    EntryOptions tagged;
    tagged.tags = {"live"};
    EntryOptions l2_only = tagged;
    l2_only.use_l1 = false;  // every call meets Redis
    for (int round = 0; !resharded || round < 3; ++round) {
      for (int i = 0; i < 20; ++i) {
        const auto key = Key::of("live", i);
        const std::string value = std::to_string(round);
        co_await cache.set(key, value, tagged);
        auto read = co_await cache.get_or_set<std::string>(key, [] { return std::string("loader"); }, l2_only);
        ++calls;
        if (read != value) ++wrong;
      }
      if (round % 5 == 0) co_await cache.invalidate_tag("live");
    }
    reshard.join();
    seen = cache.stats();
  }, 120s);
  EXPECT_GT(calls, 0);
  EXPECT_EQ(wrong, 0);
  EXPECT_EQ(seen.l2_errors, 0U);
  EXPECT_EQ(seen.l2_writes_dropped, 0U);
  cluster_->move_slot(entry_slot, (entry_from + 1) % 3, entry_from);
  cluster_->move_slot(control_slot, (control_from + 1) % 3, control_from);
}

TEST(CacheClusterFailover, AMasterCrashIsServedFromL1AndTheLoaderThenTheReplicaTakesOver) {
  testing::RedisCluster cluster(3, 1);
  const std::string entry = "test:orders:g0:1";
  const std::size_t master = cluster.owner_of(redis::key_slot(entry));
  int loads = 0;
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto options = options_for(cluster.url() + "?topology_refresh=200ms&command_timeout=300ms");
    Cache cache(executor, options);
    CO_ASSERT_TRUE(co_await cache.start());
    auto loader = [&loads] {
      ++loads;
      return std::string("order-") + std::to_string(loads);
    };
    EXPECT_EQ(co_await cache.get_or_set<std::string>(Key::of("orders", 1), loader), "order-1");
    // Replication is asynchronous: without this, a busy machine can promote a replica that never
    // received the entry, and L1 (cleared when Redis recovers) would rightly reload it.
    EXPECT_EQ(cluster.node(master).cli({"WAIT", "1", "5000"}), "1\n") << "the replica did not acknowledge in 5 s";
    cluster.node(master).kill();
    // During the switch every call is answered: from L1, or by the loader when L1 is skipped.
    EntryOptions l2_only;
    l2_only.use_l1 = false;
    // What a failure needs to be understood: whether L1 was cleared (and why), and Redis errors.
    auto state = [&cache, &loads] {
      const auto seen = cache.stats();
      return fmt::format("after {} loads: l1_clears {}, l2_errors {}, bus_gaps {}", loads, seen.l1_clears,
                         seen.l2_errors, seen.bus_gaps);
    };
    for (int i = 0; i < 20; ++i) {
      EXPECT_EQ(co_await cache.get_or_set<std::string>(Key::of("orders", 1), loader), "order-1")
          << "call " << i << ", " << state();
      auto fresh = co_await cache.get_or_set<std::string>(Key::of("orders", 2), loader, l2_only);
      EXPECT_THAT(fresh, HasSubstr("order-"));
    }
    // After the promotion writes land on the new master again.
    asio::steady_timer pause(executor);
    bool written = false;
    for (int attempt = 0; attempt < 200 && !written; ++attempt) {
      const bool acknowledged = (co_await cache.set(Key::of("orders", 1), std::string("after-failover"))).ok();
      written = acknowledged && cluster.owner_of(redis::key_slot(entry)) != master &&
                cluster.node(cluster.owner_of(redis::key_slot(entry))).cli({"EXISTS", entry}) == "1\n";
      if (!written) {
        pause.expires_after(50ms);
        co_await pause.async_wait(asio::use_awaitable);
      }
    }
    EXPECT_TRUE(written) << state();
  }, 90s);
}

TEST(CacheSentinel, AFailoverUnderLoadLosesNoInvalidationAcknowledgedAfterTheSwitch) {
  testing::SentinelSetup setup;
  const std::uint16_t old_master = setup.master_port();
  std::atomic<bool> switched{false};
  std::uint16_t new_master = 0;
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    const std::string url = setup.url() + "?command_timeout=300ms&reconnect_backoff_max=200ms";
    Cache a(executor, options_for(url));
    Cache b(executor, options_for(url));
    CO_ASSERT_TRUE(co_await a.start());
    CO_ASSERT_TRUE(co_await b.start());
    std::thread failover([&] {
      new_master = setup.failover();
      switched = true;
    });
    // Load through the switch: no call throws, whatever Redis does meanwhile.
    int version = 0;
    while (!switched) {
      ++version;
      co_await a.set(Key::of("profile", 7), std::to_string(version));
      (void)co_await b.get_or_set<std::string>(Key::of("profile", 8), [] { return std::string("x"); });
    }
    failover.join();
    // After the switch: a write, then an invalidation that Redis acknowledged (it returned and
    // counted no error), must hold for every instance and on the new master.
    asio::steady_timer pause(executor);
    bool stored = false;
    for (int attempt = 0; attempt < 200 && !stored; ++attempt) {
      stored = (co_await a.set(Key::of("profile", 7), std::string("current"))).ok();
      if (!stored) {
        pause.expires_after(50ms);
        co_await pause.async_wait(asio::use_awaitable);
      }
    }
    EXPECT_TRUE(stored);
    // B holds the value in its L1 before the invalidation.
    std::optional<std::string> held;
    for (int attempt = 0; attempt < 200 && held != "current"; ++attempt) {
      held = co_await b.get<std::string>(Key::of("profile", 7));
      if (held != "current") {
        pause.expires_after(10ms);
        co_await pause.async_wait(asio::use_awaitable);
      }
    }
    EXPECT_EQ(held, "current");
    auto removed = co_await a.remove(Key::of("profile", 7));
    EXPECT_TRUE(removed.ok()) << removed.message;
    EntryOptions l2_only;
    l2_only.use_l1 = false;
    EXPECT_FALSE((co_await b.get<std::string>(Key::of("profile", 7), l2_only)).has_value());
    // B's L1 drops it when the bus message arrives (awaited, bounded by the test's deadline).
    for (int attempt = 0; attempt < 500 && held.has_value(); ++attempt) {
      held = co_await b.get<std::string>(Key::of("profile", 7));
      if (held) {
        pause.expires_after(10ms);
        co_await pause.async_wait(asio::use_awaitable);
      }
    }
    EXPECT_FALSE(held.has_value()) << "instance B still serves the invalidated value from L1";
  }, 120s);
  ASSERT_NE(new_master, old_master);
  EXPECT_EQ(setup.data_node(new_master).cli({"EXISTS", "test:profile:g0:7"}), "0\n");
}

}  // namespace
}  // namespace strata
