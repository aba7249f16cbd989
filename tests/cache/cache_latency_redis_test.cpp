// Redis' responsiveness while the cache does bulk work. The server's own SLOWLOG is the measure
// (how long each command ran inside Redis, whatever our process's scheduling or sanitizers), and
// a client PINGing all along must be answered while the work goes on.

#include <strata/cache.hpp>
#include <strata/redis/connection.hpp>

#include "support/async_test.hpp"
#include "support/cache_options.hpp"
#include "support/redis_fixture.hpp"
#include "support/redis_server.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/this_coro.hpp>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <thread>

namespace strata {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::poll_until;
using testing::run_async;

class CacheLatencyRedisTest : public testing::SharedRedisServerTest {
protected:
  static CacheOptions cache_options() { return testing::cache_options_for(server_->url()); }
};

TEST_F(CacheLatencyRedisTest, PatternInvalidationOverAHundredThousandKeysNeverBlocksRedis) {
  server_->cli({"DEBUG", "POPULATE", "100000", "test:library:g0:item"});
  server_->cli({"DEBUG", "POPULATE", "1000", "test:jobs:g0:item"});
  server_->cli({"CONFIG", "SET", "slowlog-log-slower-than", "10000"});
  server_->cli({"SLOWLOG", "RESET"});
  // A client on its own thread measuring every PING round trip while the invalidation runs.
  std::atomic<bool> done{false};
  std::atomic<long> worst_ping_us{0};
  std::atomic<long> pings{0};
  long pings_before = 0;
  long pings_after = 0;
  std::thread pinger([&] {
    asio::io_context io;
    asio::co_spawn(
        io,
        [&]() -> asio::awaitable<void> {
          redis::Connection connection(co_await asio::this_coro::executor, options());
          (void)co_await connection.connect();
          while (!done) {
            const auto start = std::chrono::steady_clock::now();
            (void)co_await connection.exec(redis::Request("PING"));
            const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count();
            worst_ping_us = std::max<long>(worst_ping_us, us);
            ++pings;
          }
          connection.close();
        },
        asio::detached);
    io.run_for(120s);
  });
  run_async(
      [&](asio::any_io_executor executor) -> asio::awaitable<void> {
        Cache cache(executor, cache_options());
        co_await cache.start();
        co_await poll_until([&] { return pings > 10; });
        pings_before = pings;
        const auto outcome = co_await cache.invalidate_pattern("library:*");
        pings_after = pings;
        EXPECT_TRUE(outcome);
        EXPECT_EQ(outcome.affected, 100000U);
      },
      120s);
  done = true;
  pinger.join();
  EXPECT_EQ(server_->cli({"DBSIZE"}), "1000\n");
  EXPECT_EQ(server_->cli({"SLOWLOG", "LEN"}), "0\n") << server_->cli({"SLOWLOG", "GET"});
  // Redis answered other clients while the keys went, batch by batch.
  EXPECT_GT(pings_after, pings_before) << "no PING was answered during the invalidation";
  std::printf("pattern invalidation of 100000 keys: %ld PINGs meanwhile, worst round trip %ld us\n",
              pings_after - pings_before, worst_ping_us.load());
  server_->cli({"CONFIG", "SET", "slowlog-log-slower-than", "10000"});
}

}  // namespace
}  // namespace strata
