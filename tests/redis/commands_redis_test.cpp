// Scripts, SCAN and the pool against a real redis-server.
#include <strata/redis/commands.hpp>
#include <strata/redis/pool.hpp>

#include "support/async_test.hpp"
#include "support/redis_fixture.hpp"
#include "support/redis_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

namespace strata::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using strata::testing::RedisServer;
using strata::testing::run_async;
using ::testing::HasSubstr;

using CommandsRedisTest = strata::testing::SharedRedisServerTest;

TEST(Script, KnowsItsSha1) {
  // echo -n "return 1" | sha1sum
  EXPECT_EQ(Script("return 1").sha1(), "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
}

TEST_F(CommandsRedisTest, ScriptRunsByShaAndReloadsItselfAfterScriptFlush) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    Connection connection(executor, options());
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    const Script set_and_count(
        "redis.call('SET', KEYS[1], ARGV[1]); return redis.call('STRLEN', KEYS[1])");

    // Arguments built outside the co_await expressions (GCC 12 and braced temporaries).
    const std::vector<std::string> keys{"k"};
    const std::vector<std::string> hello{"hello"};
    const std::vector<std::string> hello_world{"hello world"};
    const std::vector<std::string> none;
    auto first = co_await run_script(connection, set_and_count, keys, hello);
    CO_ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->integer_value(), 5);
    EXPECT_THAT(server_->cli({"SCRIPT", "EXISTS", set_and_count.sha1()}), HasSubstr("1"));

    EXPECT_THAT(server_->cli({"SCRIPT", "FLUSH"}), HasSubstr("OK"));
    auto after_flush = co_await run_script(connection, set_and_count, keys, hello_world);
    CO_ASSERT_TRUE(after_flush.has_value());
    EXPECT_EQ(after_flush->integer_value(), 11);
    EXPECT_THAT(server_->cli({"SCRIPT", "EXISTS", set_and_count.sha1()}), HasSubstr("1"));

    const Script broken("return redis.call('NOPE')");
    auto failed = co_await run_script(connection, broken, none, none);
    CO_ASSERT_TRUE(failed.has_value());
    EXPECT_TRUE(failed->is_error());  // a script error is Redis' answer, not a transport failure
  });
}

TEST_F(CommandsRedisTest, ScanVisitsOneHundredThousandKeysInBatches) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    Connection connection(executor, options());
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    constexpr int kKeys = 100'000;
    for (int base = 0; base < kKeys; base += 1000) {
      Request batch;
      for (int i = base; i < base + 1000; ++i) {
        batch.push({"SET", "library:" + std::to_string(i), "x"});
      }
      CO_ASSERT_TRUE((co_await connection.exec_all(std::move(batch), 10s)).has_value());
    }
    CO_ASSERT_TRUE((co_await connection.exec(Request("SADD", "other:set", "a"))).has_value());

    Scanner scanner(connection, ScanOptions{"library:*", 1000, {}});
    std::set<std::string> seen;
    int batches = 0;
    while (!scanner.done()) {
      auto batch = co_await scanner.next(5s);
      CO_ASSERT_TRUE(batch.has_value());
      ++batches;
      for (auto& key : *batch) {
        EXPECT_TRUE(key.starts_with("library:")) << key;
        seen.insert(std::move(key));
      }
    }
    EXPECT_EQ(seen.size(), static_cast<std::size_t>(kKeys));
    EXPECT_GT(batches, 10) << "SCAN must come back in many batches, not one";

    Scanner sets(connection, ScanOptions{"", 1000, "set"});
    std::set<std::string> set_keys;
    while (!sets.done()) {
      auto batch = co_await sets.next(5s);
      CO_ASSERT_TRUE(batch.has_value());
      set_keys.insert(batch->begin(), batch->end());
    }
    EXPECT_EQ(set_keys, std::set<std::string>{"other:set"});

    Scanner bad(connection, ScanOptions{"", 10, "no-such-type"});
    auto refused = co_await bad.next();
    // Redis 7.0 answers an unknown TYPE with an empty batch; a newer one with an error. Either
    // way nothing is returned, and an error is reported as such.
    if (!refused) {
      EXPECT_EQ(refused.error(), Error::unexpected_reply);
      EXPECT_THAT(bad.last_error(), HasSubstr("SCAN answered"));
    } else {
      EXPECT_TRUE(refused->empty());
    }
  }, 60s);
}

TEST_F(CommandsRedisTest, PoolSpreadsRequestsOverItsConnections) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    ConnectionOptions opts = options();
    opts.pool_size = 4;
    opts.client_name = "pooled";
    Pool pool(executor, opts);
    CO_ASSERT_TRUE((co_await pool.connect()).has_value());
    EXPECT_EQ(pool.connected(), 4U);
    const std::string clients = server_->cli({"CLIENT", "LIST"});
    std::size_t named = 0;
    for (std::size_t at = clients.find("name=pooled "); at != std::string::npos;
         at = clients.find("name=pooled ", at + 1)) {
      ++named;
    }
    EXPECT_EQ(named, 4U);

    // 400 blocking pops stay pending until released, so the spread can be read exactly:
    // least-loaded choice puts 100 on each connection.
    constexpr int kRequests = 400;
    int served = 0;
    int done = 0;
    asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
    for (int i = 0; i < kRequests; ++i) {
      asio::co_spawn(executor, [&]() -> asio::awaitable<void> {
        auto reply = co_await pool.exec(Request("BLPOP", "jobs", "20"), 30s);
        if (reply && reply->is_array()) ++served;
        if (++done == kRequests) all_done.cancel();
      }, asio::detached);
    }
    co_await strata::testing::poll_until([&] {
      std::size_t pending = 0;
      for (std::size_t i = 0; i < pool.size(); ++i) pending += pool.connection(i).pending();
      return pending >= kRequests;
    });
    for (std::size_t i = 0; i < pool.size(); ++i) EXPECT_EQ(pool.connection(i).pending(), 100U);

    Connection producer(executor, options());
    CO_ASSERT_TRUE((co_await producer.connect()).has_value());
    std::vector<std::string> push{"RPUSH", "jobs"};
    for (int i = 0; i < kRequests; ++i) push.push_back(std::to_string(i));
    Request release;
    release.push(push);
    CO_ASSERT_TRUE((co_await producer.exec(std::move(release))).has_value());
    // Wait only if something is still out: a cancel() with no waiter wakes nobody.
    if (done < kRequests) co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    EXPECT_EQ(served, kRequests);
  }, 60s);
}

TEST(PoolFaults, ConnectFailsOnlyWhenNoConnectionCouldConnect) {
  const std::uint16_t port = strata::testing::free_loopback_port();
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    ConnectionOptions opts = parse_url("redis://127.0.0.1:" + std::to_string(port) + "?reconnect=false");
    opts.pool_size = 3;
    Pool pool(executor, opts);
    auto result = co_await pool.connect();
    CO_ASSERT_TRUE(!result.has_value());
    EXPECT_EQ(result.error(), asio::error::connection_refused);
    EXPECT_EQ(pool.connected(), 0U);
    auto request = co_await pool.exec(Request("PING"));
    EXPECT_EQ(request.error(), Error::not_connected);
  });
}

}  // namespace
}  // namespace strata::redis
