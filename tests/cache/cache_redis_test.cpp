// What only the L1 + Redis mode has: several processes sharing Redis, entries that someone else
// wrote or damaged, Redis failing, Redis-side costs. Each test runs against a real redis-server.

#include <strata/cache.hpp>
#include <strata/redis/commands.hpp>
#include <strata/redis/connection.hpp>
#include <strata/testing/manual_clock.hpp>

#include "support/async_test.hpp"
#include "support/cache_options.hpp"
#include "support/fault_proxy.hpp"
#include "support/fill_race.hpp"
#include "support/redis_fixture.hpp"
#include "support/redis_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <thread>

namespace strata {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::poll_until;
using testing::run_async;
using ::testing::HasSubstr;

class CacheRedisTest : public testing::SharedRedisServerTest {
protected:
  CacheOptions cache_options(std::string url = {}) {
    CacheOptions result = testing::cache_options_for(url.empty() ? server_->url() : url);
    result.clock = clock_;
    return result;
  }
  // The number of calls Redis counted for one command since CONFIG RESETSTAT.
  static long command_calls(const std::string& command) {
    const std::string stats = server_->cli({"INFO", "commandstats"});
    const auto at = stats.find("cmdstat_" + command + ":calls=");
    if (at == std::string::npos) return 0;
    return std::stol(stats.substr(at + command.size() + 15));
  }
  std::shared_ptr<testing::ManualClock> clock_ = std::make_shared<testing::ManualClock>();
};

TEST_F(CacheRedisTest, TwoInstancesOnSeparateConnectionsStayCoherent) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache a(executor, cache_options());
    Cache b(executor, cache_options());
    CO_ASSERT_TRUE(co_await a.start());
    CO_ASSERT_TRUE(co_await b.start());
    // Every write or invalidation publishes exactly one message; wait until the other instance
    // has heard all of them so far.
    std::uint64_t sent_by_a = 0, sent_by_b = 0;
    auto heard_all = [&](Cache& listener, std::uint64_t sent) {
      return poll_until([&listener, sent] { return listener.stats().bus_messages == sent; });
    };
    EntryOptions tagged;
    tagged.tags = {"job:1"};
    const auto key = Key::of("jobs", 1);
    co_await a.set(key, std::string("v1"), tagged);
    co_await heard_all(b, ++sent_by_a);
    auto first = co_await b.fetch<std::string>(key, [] { return std::string("loader"); }, tagged);
    EXPECT_EQ(first.value, "v1");
    EXPECT_EQ(first.source, Source::l2);
    EXPECT_EQ((co_await b.fetch<std::string>(key, [] { return std::string("loader"); }, tagged)).source,
              Source::l1);

    co_await a.set(key, std::string("v2"), tagged);  // B holds v1 in its L1 until the bus says
    co_await heard_all(b, ++sent_by_a);
    EXPECT_EQ(co_await b.get(key), "v2");

    co_await a.invalidate_tag("job:1");
    co_await heard_all(b, ++sent_by_a);
    EXPECT_FALSE((co_await b.get(key)).has_value());

    co_await b.set(key, std::string("v3"));
    co_await heard_all(a, ++sent_by_b);
    EXPECT_EQ(co_await a.get(key), "v3");
    co_await b.invalidate_namespace("jobs");
    co_await heard_all(a, ++sent_by_b);
    EXPECT_FALSE((co_await a.get(key)).has_value());

    co_await a.set(Key::of("library", 1), std::string("p1"));
    co_await heard_all(b, ++sent_by_a);
    EXPECT_EQ(co_await b.get(Key::of("library", 1)), "p1");
    co_await a.invalidate_pattern("library:*");
    co_await heard_all(b, ++sent_by_a);
    EXPECT_FALSE((co_await b.get(Key::of("library", 1))).has_value());

    co_await a.set(Key::of("library", 2), std::string("p2"));
    co_await heard_all(b, ++sent_by_a);
    EXPECT_EQ(co_await b.get(Key::of("library", 2)), "p2");
    co_await a.clear();
    co_await heard_all(b, ++sent_by_a);
    EXPECT_FALSE((co_await b.get(Key::of("library", 2))).has_value());
    EXPECT_EQ(b.stats().bus_gaps, 0U);
    EXPECT_EQ(a.stats().bus_gaps, 0U);
  });
}

TEST_F(CacheRedisTest, AFillRacingAnInvalidationFromAnotherInstanceIsRefusedByRedis) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache reader(executor, cache_options());
    Cache writer(executor, cache_options());
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
    EXPECT_EQ(server_->cli({"EXISTS", "test:analytics:g0:4"}), "0\n");
  });
}

TEST_F(CacheRedisTest, InspectShowsBothTiersWithoutCountingOrServingAnything) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, cache_options());
    co_await cache.start();
    EntryOptions options;
    options.ttl = 30s;
    options.stale_ttl = 60s;
    options.tags = {"job:1"};
    co_await cache.set(Key::of("jobs", 1), std::string(3000, 'p'), options);
    clock_->advance(5s);
    const auto before = cache.stats();
    auto seen = co_await cache.inspect(Key::of("jobs", 1));
    EXPECT_EQ(seen.storage_key, "test:jobs:g0:1");
    CO_ASSERT_TRUE(seen.l1.has_value());
    CO_ASSERT_TRUE(seen.l2.has_value());
    EXPECT_TRUE(seen.l2_checked);
    for (const auto* copy : {&*seen.l1, &*seen.l2}) {
      EXPECT_EQ(copy->fresh_until_ms - copy->created_ms, 30000);
      EXPECT_EQ(copy->stale_until_ms - copy->fresh_until_ms, 60000);
      EXPECT_EQ(seen.now_ms - copy->created_ms, 5000);
      EXPECT_THAT(copy->tags, ::testing::ElementsAre("job:1"));
      EXPECT_EQ(copy->codec, "raw");
      EXPECT_EQ(copy->value, std::string(3000, 'p'));
      EXPECT_FALSE(copy->invalidated);
    }
    EXPECT_LT(seen.l2->stored_bytes, 3000U);  // compressed in Redis
    EXPECT_GT(seen.l1->stored_bytes, 3000U);  // L1 charges the key, the value and the entry
    EXPECT_EQ(seen.served(), &*seen.l1);
    const auto after = cache.stats();
    EXPECT_EQ(after.hits(), before.hits());
    EXPECT_EQ(after.misses, before.misses);

    // A tag invalidation: Redis drops the entry; L1's copy stays until it is next read, marked.
    co_await cache.invalidate_tag("job:1");
    seen = co_await cache.inspect(Key::of("jobs", 1));
    CO_ASSERT_TRUE(seen.l1.has_value());
    EXPECT_TRUE(seen.l1->invalidated);
    EXPECT_FALSE(seen.l2.has_value());
    EXPECT_EQ(seen.served(), nullptr);

    const auto absent = co_await cache.inspect(Key::of("jobs", 2));
    EXPECT_FALSE(absent.l1 || absent.l2);
    EXPECT_TRUE(absent.l2_checked);
    EXPECT_TRUE(absent.l2_error.empty());
    // What is not an entry is reported, and left where it is.
    redis::Connection raw(executor, this->options());
    CO_ASSERT_TRUE(co_await raw.connect());
    (void)co_await raw.exec(redis::Request("SET", "test:jobs:g0:3", "not an envelope"));
    const auto foreign = co_await cache.inspect(Key::of("jobs", 3));
    EXPECT_FALSE(foreign.l2.has_value());
    EXPECT_THAT(foreign.l2_error, HasSubstr("not a Strata envelope"));
    auto exists = co_await raw.exec(redis::Request("EXISTS", "test:jobs:g0:3"));
    EXPECT_EQ(exists->integer_value(), 1);
  });
}

TEST_F(CacheRedisTest, CountPatternCountsWhatInvalidatePatternThenRemoves) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, cache_options());
    co_await cache.start();
    for (int page = 1; page <= 25; ++page) co_await cache.set(Key::of("library", "page", page), std::string("p"));
    co_await cache.set(Key::of("jobs", 1), std::string("j"));
    const auto counted = co_await cache.count_pattern("library:page:*");
    EXPECT_TRUE(counted.ok());
    EXPECT_EQ(counted.affected, 25U);
    EXPECT_EQ((co_await cache.count_pattern("library:page:1*")).affected, 11U);  // 1, 10-19
    EXPECT_TRUE((co_await cache.get<std::string>(Key::of("library", "page", 3))).has_value());  // nothing removed
    const auto removed = co_await cache.invalidate_pattern("library:page:*");
    EXPECT_EQ(removed.affected, counted.affected);
    EXPECT_EQ((co_await cache.count_pattern("library:page:*")).affected, 0U);
    EXPECT_EQ((co_await cache.count_pattern("jobs:*")).affected, 1U);
  });
}

TEST_F(CacheRedisTest, UndecodableEntriesAreMissesDeletedCountedAndNeverReturned) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, cache_options());
    co_await cache.start();
    redis::Connection raw(executor, options());
    CO_ASSERT_TRUE(co_await raw.connect());

    // Foreign bytes, a non-string value, and a real envelope cut short.
    (void)co_await raw.exec(redis::Request("SET", "test:jobs:g0:1", "{\"status\":\"hacked\"}"));
    (void)co_await raw.exec(redis::Request("LPUSH", "test:jobs:g0:2", "x"));
    co_await cache.set(Key::of("jobs", 3), std::string(5000, 'z'));
    auto stored = co_await raw.exec(redis::Request("GET", "test:jobs:g0:3"));
    CO_ASSERT_TRUE(stored && stored->is_string());
    const std::string truncated = stored->text().substr(0, stored->text().size() / 2);
    (void)co_await raw.exec(redis::Request("SET", "test:jobs:g0:3", truncated));

    Cache reader(executor, cache_options());  // an empty L1: reads go to Redis
    co_await reader.start();
    for (int id : {1, 2, 3}) {
      EXPECT_FALSE((co_await reader.get(Key::of("jobs", id))).has_value()) << id;
      auto exists = co_await raw.exec(redis::Request("EXISTS", "test:jobs:g0:" + std::to_string(id)));
      EXPECT_EQ(exists->integer_value(), 0) << "entry " << id << " was not deleted";
    }
    EXPECT_EQ(reader.stats().corrupt_entries, 3U);
    EXPECT_EQ(reader.stats().errors, 3U);
    // The loader replaces what was deleted.
    EXPECT_EQ(co_await reader.get_or_set<std::string>(Key::of("jobs", 1), [] { return std::string("ok"); }), "ok");
  });
}

TEST_F(CacheRedisTest, WithASecretEntriesWrittenWithoutItAreRejected) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto signed_options = cache_options();
    signed_options.integrity_secret = "correct horse battery staple";
    Cache attacker(executor, cache_options());  // write access to Redis, no secret
    co_await attacker.start();
    co_await attacker.set(Key::of("profiles", "alice"), std::string("{\"role\":\"admin\"}"));

    Cache service(executor, signed_options);
    co_await service.start();
    EXPECT_FALSE((co_await service.get(Key::of("profiles", "alice"))).has_value());
    EXPECT_EQ(service.stats().corrupt_entries, 1U);
    co_await service.set(Key::of("profiles", "bob"), std::string("{\"role\":\"user\"}"));
    Cache replica(executor, signed_options);
    co_await replica.start();
    EXPECT_EQ(co_await replica.get(Key::of("profiles", "bob")), "{\"role\":\"user\"}");
  });
}

TEST_F(CacheRedisTest, ATagOnTenThousandKeysIsInvalidatedCompletely) {
  run_async(
      [&](asio::any_io_executor executor) -> asio::awaitable<void> {
        Cache cache(executor, cache_options());
        co_await cache.start();
        EntryOptions tagged;
        tagged.tags = {"library:42"};
        for (int i = 0; i < 10000; ++i) co_await cache.set(Key::of("games", i), std::string("g"), tagged);
        co_await cache.set(Key::of("games", "untagged"), std::string("u"));
        const auto outcome = co_await cache.invalidate_tag("library:42");
        EXPECT_TRUE(outcome);
        EXPECT_EQ(outcome.affected, 10000U);
        redis::Connection raw(executor, options());
        CO_ASSERT_TRUE(co_await raw.connect());
        redis::Scanner scanner(raw, redis::ScanOptions{"test:games:*", 1000, ""});
        std::vector<std::string> left;
        while (!scanner.done()) {
          auto batch = co_await scanner.next();
          CO_ASSERT_TRUE(batch.has_value());
          for (auto& key : *batch) {
            // Write marks (short-lived, they stop older fills from overwriting) are not entries.
            if (!key.ends_with("#mark")) left.push_back(std::move(key));
          }
        }
        EXPECT_THAT(left, ::testing::ElementsAre("test:games:g0:untagged"));
        Cache fresh(executor, cache_options());
        co_await fresh.start();
        for (int i : {0, 4999, 9999}) EXPECT_FALSE((co_await fresh.get(Key::of("games", i))).has_value());
        EXPECT_EQ(co_await fresh.get(Key::of("games", "untagged")), "u");
      },
      120s);
}

TEST_F(CacheRedisTest, NamespaceInvalidationIsOneWriteWhateverTheNamespaceHolds) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, cache_options());
    co_await cache.start();
    for (int i = 0; i < 1000; ++i) co_await cache.set(Key::of("session", i), std::string("s"));
    server_->cli({"CONFIG", "RESETSTAT"});
    EXPECT_TRUE(co_await cache.invalidate_namespace("session"));
    EXPECT_EQ(command_calls("incr"), 1);
    for (const char* other : {"set", "del", "unlink", "scan", "evalsha", "eval", "get"}) {
      EXPECT_EQ(command_calls(other), 0) << other;
    }
    EXPECT_FALSE((co_await cache.get(Key::of("session", 7))).has_value());
  });
}

TEST_F(CacheRedisTest, TheLeaseLockRunsTheLoaderOnceAcrossInstances) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    EntryOptions locked;
    locked.distributed_lock = true;
    Cache a(executor, cache_options());
    Cache b(executor, cache_options());
    co_await a.start();
    co_await b.start();
    int loads = 0;
    int answered = 0;
    auto expensive = [&]() -> asio::awaitable<std::string> {
      ++loads;
      asio::steady_timer work(co_await asio::this_coro::executor, 100ms);
      co_await work.async_wait(asio::use_awaitable);
      co_return "report";
    };
    for (int i = 0; i < 1000; ++i) {
      Cache& cache = i % 2 == 0 ? a : b;
      asio::co_spawn(
          executor,
          [&]() -> asio::awaitable<void> {
            EXPECT_EQ(co_await cache.get_or_set<std::string>(Key::of("reports", "q3"), expensive, locked),
                      "report");
            ++answered;
          },
          asio::detached);
    }
    co_await poll_until([&] { return answered == 1000; });
    EXPECT_EQ(loads, 1);
    EXPECT_EQ(a.stats().loader_calls + b.stats().loader_calls, 1U);
    EXPECT_EQ(server_->cli({"EXISTS", "{test:reports:g0:q3}#lock"}), "0\n") << "the lease was released";
  });
}

TEST_F(CacheRedisTest, LostBusMessagesClearL1) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, cache_options());
    co_await cache.start();
    co_await cache.set(Key::of("jobs", 1), std::string("v1"));
    EXPECT_EQ(cache.stats().l1_entries, 1U);
    server_->cli({"PUBLISH", "test#bus", "1|other|1|K|0|test:jobs:g0:99"});
    server_->cli({"PUBLISH", "test#bus", "1|other|3|K|0|test:jobs:g0:98"});  // 2 was lost
    co_await poll_until([&] { return cache.stats().bus_gaps == 1; });
    EXPECT_EQ(cache.stats().l1_entries, 0U);
    EXPECT_GE(cache.stats().l1_clears, 1U);
    EXPECT_EQ(co_await cache.get(Key::of("jobs", 1)), "v1") << "L2 still has it";
  });
}

TEST_F(CacheRedisTest, RedisKilledUnderLoadNeverFailsACallAndL1IsClearedWhenItReturns) {
  testing::RedisServer server;
  run_async(
      [&](asio::any_io_executor executor) -> asio::awaitable<void> {
        auto opts = cache_options(server.url() + "?command_timeout=200ms&connect_timeout=200ms"
                                                 "&reconnect_backoff_max=100ms&breaker_cooldown=200ms");
        opts.clock = nullptr;
        Cache cache(executor, opts);
        CO_ASSERT_TRUE(co_await cache.start());
        int loads = 0;
        auto loader = [&] { return "row " + std::to_string(++loads); };
        int calls = 0;
        // Every round reads keys no earlier round wrote: each get_or_set is a miss, whatever the
        // timing, so each one must reach the loader.
        auto work = [&](int round) -> asio::awaitable<void> {
          for (int i = 0; i < 50; ++i) {
            const auto value = co_await cache.get_or_set<std::string>(Key::of("jobs", round, i), loader);
            EXPECT_TRUE(value.starts_with("row ")) << value;
            co_await cache.set(Key::of("jobs", "w"), std::string("x"));
            (void)co_await cache.get(Key::of("jobs", "w"));
            ++calls;
          }
        };
        co_await work(1);
        EXPECT_EQ(loads, 50);
        server.kill();
        const auto errors_before = cache.stats().errors;
        co_await work(2);  // no exception reaches us; the loader answers
        EXPECT_EQ(calls, 100);
        EXPECT_GT(cache.stats().errors, errors_before);
        EXPECT_FALSE(cache.stats().redis_available);
        EXPECT_EQ(loads, 100);
        const auto clears_before = cache.stats().l1_clears;
        server.start();
        // Traffic notices that Redis is back (the bus notices on its own, too).
        asio::steady_timer pause(executor);
        while (!cache.stats().redis_available || cache.stats().l1_clears == clears_before) {
          (void)co_await cache.get(Key::of("jobs", "w"));
          pause.expires_after(10ms);
          co_await pause.async_wait(asio::use_awaitable);
        }
        co_await work(3);
        EXPECT_EQ(loads, 150);
        EXPECT_TRUE(cache.stats().redis_available) << "stats: " << to_json(cache.stats());
      },
      60s);
}

// An invalidation made while Redis cannot be reached is applied to Redis when it answers again:
// Redis stays up with the old entry, only this client's circuit is open, so nothing else would
// ever remove it before its TTL.
TEST_F(CacheRedisTest, InvalidationsRedisMissedAreReplayedWhenItAnswersAgain) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    // The writer reaches Redis through a proxy that can stall it: no reply, for as long as the
    // test says, so that the breaker opens on timeouts the test controls.
    testing::FaultProxy proxy(server_->port());
    auto fragile = cache_options("redis://127.0.0.1:" + std::to_string(proxy.port()) +
                                 "/?pool_size=1&breaker_failures=2&breaker_cooldown=300ms");
    fragile.clock = nullptr;
    fragile.redis_deadline = 50ms;
    Cache writer(executor, fragile);
    co_await writer.start();
    EntryOptions tagged;
    tagged.tags = {"meeting:8"};
    co_await writer.set(Key::of("meetings", 8), std::string("old"), tagged);
    co_await writer.set(Key::of("session", 1), std::string("old"));

    EntryOptions redis_only;
    redis_only.use_l1 = false;
    testing::Faults stall;
    stall.stall = true;
    proxy.set(stall);
    (void)co_await writer.get(Key::of("other", 1), redis_only);  // two timeouts open the writer's circuit
    (void)co_await writer.get(Key::of("other", 2), redis_only);
    auto tag = co_await writer.invalidate_tag("meeting:8");  // refused at once: circuit open
    auto name_space = co_await writer.invalidate_namespace("session");
    EXPECT_FALSE(tag.ok());
    EXPECT_EQ(tag.error, CacheError::redis_unavailable);
    EXPECT_EQ(tag.error.category().name(), std::string("strata.cache"));
    EXPECT_THAT(tag.message, HasSubstr("Redis follows when it answers again"));
    EXPECT_FALSE(name_space.ok());
    proxy.set(testing::Faults{});

    // Redis answers again (after the pause and the cool-down): the next call replays both.
    asio::steady_timer pause(executor);
    while (!writer.stats().redis_available) {
      pause.expires_after(20ms);
      co_await pause.async_wait(asio::use_awaitable);
      (void)co_await writer.get(Key::of("other", 3), redis_only);
    }
    Cache reader(executor, cache_options());  // another process, empty L1
    co_await reader.start();
    co_await poll_until([&] { return server_->cli({"EXISTS", "test:meetings:g0:8"}) == "0\n"; }, 10ms);
    EXPECT_FALSE((co_await reader.get(Key::of("meetings", 8), tagged)).has_value());
    EXPECT_FALSE((co_await reader.get(Key::of("session", 1))).has_value());
  });
}

TEST_F(CacheRedisTest, AnL1CopyNeverOutlivesTheEntryInRedis) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto opts = cache_options();
    opts.defaults.l1_ttl = std::chrono::hours(1);
    Cache writer(executor, opts);
    Cache reader(executor, opts);
    co_await writer.start();
    co_await reader.start();
    EntryOptions short_lived;
    short_lived.ttl = 10s;
    co_await writer.set(Key::of("prices", 1), std::string("9.99"), short_lived);
    EXPECT_EQ(co_await reader.get(Key::of("prices", 1)), "9.99");  // now in the reader's L1
    clock_->advance(10s);
    EXPECT_FALSE((co_await reader.get(Key::of("prices", 1))).has_value());
  });
}

}  // namespace
}  // namespace strata
