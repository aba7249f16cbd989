// strata::redis::Connection against a real redis-server started by the fixture.
#include <strata/redis/connection.hpp>

#include "support/async_test.hpp"
#include "support/fault_proxy.hpp"
#include "support/redis_fixture.hpp"
#include "support/redis_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace strata::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using strata::testing::poll_until;
using strata::testing::RedisServer;
using strata::testing::run_async;
using ::testing::HasSubstr;

using ConnectionRedisTest = strata::testing::SharedRedisServerTest;

TEST_F(ConnectionRedisTest, BasicCommands) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    Connection connection(executor, options());
    const auto connected = co_await connection.connect();
    CO_ASSERT_TRUE(connected.has_value());
    EXPECT_TRUE(connection.is_connected());

    auto set = co_await connection.exec(Request("SET", "greeting", "hello"));
    CO_ASSERT_TRUE(set.has_value());
    EXPECT_TRUE(set->is_status("OK"));
    auto get = co_await connection.exec(Request("GET", "greeting"));
    CO_ASSERT_TRUE(get.has_value());
    EXPECT_EQ(get->as_string(), "hello");
    auto missing = co_await connection.exec(Request("GET", "nothing-here"));
    CO_ASSERT_TRUE(missing.has_value());
    EXPECT_TRUE(missing->is_nil());
    auto counter = co_await connection.exec(Request("INCRBY", "counter", "41"));
    EXPECT_EQ(counter->integer_value(), 41);
    auto wrong_type = co_await connection.exec(Request("LPUSH", "greeting", "x"));
    CO_ASSERT_TRUE(wrong_type.has_value());  // a Redis error reply is a reply, not a failure
    EXPECT_TRUE(wrong_type->is_error());
    EXPECT_THAT(wrong_type->text(), HasSubstr("WRONGTYPE"));
    Request pipeline;
    pipeline.push({"RPUSH", "l", "a", "b"}).push({"LRANGE", "l", "0", "-1"});
    auto list = co_await connection.exec_all(std::move(pipeline));
    CO_ASSERT_TRUE(list.has_value());
    EXPECT_EQ((*list)[1], Reply::array({Reply::string("a"), Reply::string("b")}));
  });
  EXPECT_THAT(server_->cli({"CLIENT", "LIST"}), ::testing::Not(HasSubstr("name=strata ")))
      << "the connection must be closed when it goes out of scope";
}

TEST_F(ConnectionRedisTest, BinaryKeysAndValuesWithNulBytes) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    Connection connection(executor, options());
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    const std::string key("k\0e\r\ny", 6);
    std::string value;
    for (int byte = 0; byte < 256; ++byte) value.push_back(static_cast<char>(byte));
    CO_ASSERT_TRUE((co_await connection.exec(Request("SET", key, value))).has_value());
    auto got = co_await connection.exec(Request("GET", key));
    CO_ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->text(), value);
    auto other = co_await connection.exec(Request("GET", std::string("k\0e", 3)));
    EXPECT_TRUE(other->is_nil());
  });
}

TEST_F(ConnectionRedisTest, SixteenMebibyteValue) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    Connection connection(executor, options());
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    std::string value(16 * 1024 * 1024, '\0');
    for (std::size_t i = 0; i < value.size(); ++i) value[i] = static_cast<char>(i * 2654435761U >> 24);
    auto set = co_await connection.exec(Request("SET", "big", value), 10s);
    CO_ASSERT_TRUE(set.has_value());
    auto got = co_await connection.exec(Request("GET", "big"), 10s);
    CO_ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->text().size(), value.size());
    EXPECT_TRUE(got->text() == value);
  });
}

TEST_F(ConnectionRedisTest, TenThousandInFlightRequestsAreAnsweredInOrder) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    Connection connection(executor, options());
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    constexpr int kRequests = 10'000;
    std::vector<std::int64_t> seen(kRequests, -1);
    int done = 0;
    asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
    for (int i = 0; i < kRequests; ++i) {
      // INCR executes in arrival order, so request i must get i + 1.
      asio::co_spawn(executor, [&, i]() -> asio::awaitable<void> {
        auto reply = co_await connection.exec(Request("INCR", "sequence"), 10s);
        if (reply && reply->is_integer()) seen[static_cast<std::size_t>(i)] = reply->integer_value();
        if (++done == kRequests) all_done.cancel();
      }, asio::detached);
    }
    EXPECT_GT(connection.pending(), 1000U) << "requests should be in flight together";
    // Wait only if something is still out: a cancel() with no waiter wakes nobody.
    if (done < kRequests) co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    for (int i = 0; i < kRequests; ++i) {
      CO_ASSERT_TRUE(seen[static_cast<std::size_t>(i)] == i + 1);
    }
  });
}

// Far more request bytes than one connection keeps unanswered (128 KiB): the rest wait in the
// queue and go out as replies come back, one oversized request among them going alone.
TEST_F(ConnectionRedisTest, RequestsBeyondTheUnansweredByteBudgetAllGoOutAndAreAnswered) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    Connection connection(executor, options());
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    constexpr int kCallers = 64;
    auto value_for = [](int i) {
      return std::string(i == kCallers / 2 ? 1024 * 1024 : 48 * 1024, static_cast<char>('a' + i % 26));
    };
    int done = 0;
    int failures = 0;
    asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
    for (int i = 0; i < kCallers; ++i) {
      asio::co_spawn(executor, [&, i]() -> asio::awaitable<void> {
        auto reply = co_await connection.exec(Request("SET", "budget:" + std::to_string(i), value_for(i)), 10s);
        if (!reply || !reply->is_status("OK")) ++failures;
        if (++done == kCallers) all_done.cancel();
      }, asio::detached);
    }
    EXPECT_GT(connection.pending(), 32U) << "the callers' requests should be queued together";
    if (done < kCallers) co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    EXPECT_EQ(failures, 0);
    for (int i = 0; i < kCallers; ++i) {
      auto got = co_await connection.exec(Request("GET", "budget:" + std::to_string(i)), 10s);
      CO_ASSERT_TRUE(got.has_value());
      EXPECT_TRUE(got->text() == value_for(i)) << "key " << i;
    }
  });
}

TEST_F(ConnectionRedisTest, CommandTimeoutLeavesTheConnectionUsable) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    Connection connection(executor, options());
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    auto slow = co_await connection.exec(Request("DEBUG", "SLEEP", "0.5"), 100ms);
    CO_ASSERT_TRUE(!slow.has_value());
    EXPECT_EQ(slow.error(), Error::command_timeout);
    EXPECT_TRUE(connection.is_connected());
    // The late reply to DEBUG SLEEP is discarded; the next request gets its own reply.
    auto ping = co_await connection.exec(Request("ECHO", "after the timeout"), 3s);
    CO_ASSERT_TRUE(ping.has_value());
    EXPECT_EQ(ping->as_string(), "after the timeout");
  });
}

TEST_F(ConnectionRedisTest, CancellingACallerAbandonsItsRequestAndKeepsTheConnection) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    Connection connection(executor, options());
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    CO_ASSERT_TRUE((co_await connection.exec(Request("SET", "kept", "value"))).has_value());
    asio::cancellation_signal cancel;
    std::optional<Result<Reply>> slow;
    asio::co_spawn(executor, connection.exec(Request("DEBUG", "SLEEP", "0.3"), 20s),
                   asio::bind_cancellation_slot(cancel.slot(), [&](std::exception_ptr, Result<Reply> result) {
                     slow = std::move(result);
                   }));
    co_await poll_until([&] { return connection.pending() == 1; });
    cancel.emit(asio::cancellation_type::terminal);
    co_await poll_until([&] { return slow.has_value(); });
    CO_ASSERT_TRUE(!slow->has_value());
    EXPECT_EQ(slow->error(), Error::cancelled);
    EXPECT_TRUE(connection.is_connected());
    // DEBUG SLEEP's late +OK is dropped; the GET behind it gets its own reply.
    auto kept = co_await connection.exec(Request("GET", "kept"), 3s);
    CO_ASSERT_TRUE(kept.has_value());
    EXPECT_EQ(kept->as_string(), "value");
  });
}

TEST_F(ConnectionRedisTest, DestroyingTheIoContextDestroysCallersStillWaitingForAReply) {
  // The caller's frame owns the connection, whose request owns the suspended caller: only the
  // io_context's shutdown can break that cycle, as it does for callers waiting in asio itself.
  auto frame_destroyed = std::make_shared<bool>(false);
  auto request_written = std::make_shared<bool>(false);
  {
    asio::io_context io;
    // Parameters, not lambda captures: the frame must own what it uses.
    auto wait_forever = [](std::shared_ptr<bool> destroyed, std::shared_ptr<bool> waiting) -> asio::awaitable<void> {
      struct OnDestroy {
        std::shared_ptr<bool> flag;
        ~OnDestroy() { *flag = true; }
      } on_destroy{std::move(destroyed)};
      Connection connection(co_await asio::this_coro::executor, options());
      if (!(co_await connection.connect()).has_value()) co_return;
      *waiting = true;  // set in the same step as the write: from here on the caller is suspended
      co_await connection.exec(Request("BLPOP", "never", "0"), 20s);
    };
    asio::co_spawn(io, wait_forever(frame_destroyed, request_written), asio::detached);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!*request_written && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
    ASSERT_TRUE(*request_written);
    EXPECT_FALSE(*frame_destroyed);
  }
  EXPECT_TRUE(*frame_destroyed);
}

TEST(ConnectionFaults, DestroyingTheIoContextWhileACallerWaitsToConnectLeavesNoDanglingWaiter) {
  // The io_context's shutdown destroys the newest timer's waiter first: the caller in
  // wait_connected goes while the connection lives on in its owner's frame, whose destruction
  // then closes the connection and wakes every waiter it still knows of.
  auto waiter_registered = std::make_shared<bool>(false);
  auto owner_destroyed = std::make_shared<bool>(false);
  {
    asio::io_context io;
    auto wait_to_connect = [](std::shared_ptr<Connection> connection,
                              std::shared_ptr<bool> registered) -> asio::awaitable<void> {
      *registered = true;  // same step as the registration below
      (void)co_await connection->wait_connected(60s);
    };
    auto own_connection = [wait_to_connect](std::shared_ptr<bool> registered,
                                            std::shared_ptr<bool> destroyed) -> asio::awaitable<void> {
      struct OnDestroy {
        std::shared_ptr<bool> flag;
        ~OnDestroy() { *flag = true; }
      } on_destroy{std::move(destroyed)};
      auto executor = co_await asio::this_coro::executor;
      // Never connected: nothing but the waiter's timer and this frame's timer is pending.
      auto connection = std::make_shared<Connection>(executor, parse_url("redis://127.0.0.1:1"));
      asio::co_spawn(executor, wait_to_connect(connection, std::move(registered)), asio::detached);
      asio::steady_timer hold(executor, 60s);  // older than the waiter's timer
      (void)co_await hold.async_wait(asio::as_tuple(asio::use_awaitable));
    };
    asio::co_spawn(io, own_connection(waiter_registered, owner_destroyed), asio::detached);
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!*waiter_registered && std::chrono::steady_clock::now() < deadline) io.run_one_for(100ms);
    ASSERT_TRUE(*waiter_registered);
    io.poll();  // the waiter reaches its wait
    EXPECT_FALSE(*owner_destroyed);
  }
  // Under AddressSanitizer, a waiter left registered is a heap-use-after-free right here.
  EXPECT_TRUE(*owner_destroyed);
}

TEST_F(ConnectionRedisTest, ClientKillFailsPendingRequestsAtOnce) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    ConnectionOptions opts = options();
    opts.client_name = "victim";
    opts.reconnect = false;  // so that the state right after the kill can be checked
    Connection connection(executor, opts);
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    // A blocking pop keeps the request pending until the server side goes away.
    std::optional<Result<Reply>> blocked;
    asio::co_spawn(executor, [&]() -> asio::awaitable<void> {
      blocked = co_await connection.exec(Request("BLPOP", "never", "0"), 20s);
    }, asio::detached);
    co_await poll_until([] { return server_->cli({"CLIENT", "LIST"}).find("cmd=blpop") != std::string::npos; }, 5ms);
    EXPECT_THAT(server_->cli({"CLIENT", "KILL", "USER", "default"}), ::testing::Not(HasSubstr("ERR")));
    co_await poll_until([&] { return blocked.has_value(); });
    CO_ASSERT_TRUE(!blocked->has_value());
    EXPECT_EQ(blocked->error(), Error::connection_lost);
    EXPECT_FALSE(connection.is_connected());
    EXPECT_THAT(connection.last_error(), HasSubstr("closed the connection"));
    auto after = co_await connection.exec(Request("PING"));
    EXPECT_EQ(after.error(), Error::not_connected);
  });
}

TEST_F(ConnectionRedisTest, ReconnectsAfterClientKill) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    ConnectionOptions opts = options();
    opts.client_name = "comeback";
    Connection connection(executor, opts);
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    EXPECT_THAT(server_->cli({"CLIENT", "KILL", "USER", "default"}), ::testing::Not(HasSubstr("ERR")));
    // The kill is noticed by the next read; a request in flight then fails at once.
    auto during = co_await connection.exec(Request("BLPOP", "never", "0"), 5s);
    EXPECT_FALSE(during.has_value());
    CO_ASSERT_TRUE(co_await connection.wait_connected(5s));
    auto after = co_await connection.exec(Request("PING"));
    CO_ASSERT_TRUE(after.has_value());
    EXPECT_TRUE(after->is_status("PONG"));
    EXPECT_THAT(server_->cli({"CLIENT", "LIST"}), HasSubstr("name=comeback"));
  });
}

TEST(ConnectionFaults, ServerKilledWithRequestsInFlight) {
  RedisServer server;
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Connection connection(executor, parse_url(server.url()));
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    constexpr int kRequests = 50;
    int failed_with_connection_lost = 0;
    int done = 0;
    asio::steady_timer all_done(executor, asio::steady_timer::time_point::max());
    for (int i = 0; i < kRequests; ++i) {
      asio::co_spawn(executor, [&]() -> asio::awaitable<void> {
        // Long deadlines: if these fail quickly it is because the connection broke, not a timeout.
        auto reply = co_await connection.exec(Request("BLPOP", "queue", "0"), 30s);
        if (!reply && reply.error() == Error::connection_lost) ++failed_with_connection_lost;
        if (++done == kRequests) all_done.cancel();
      }, asio::detached);
    }
    // Until every request is in (or, wrongly, one has already finished).
    co_await poll_until([&] { return connection.pending() == kRequests || done > 0; });
    EXPECT_EQ(connection.pending(), static_cast<std::size_t>(kRequests));
    server.kill();
    // Wait only if something is still out: a cancel() with no waiter wakes nobody.
    if (done < kRequests) co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    EXPECT_EQ(failed_with_connection_lost, kRequests);
    EXPECT_EQ(connection.pending(), 0U);

    // While the server is down: fail fast, no hang.
    auto while_down = co_await connection.exec(Request("PING"));
    CO_ASSERT_TRUE(!while_down.has_value());
    EXPECT_TRUE(while_down.error() == Error::not_connected || while_down.error() == Error::circuit_open)
        << while_down.error().message();

    // The server comes back on the same port: the client reconnects by itself.
    server.start();
    CO_ASSERT_TRUE(co_await connection.wait_connected(10s));
    auto back = co_await connection.exec(Request("PING"));
    CO_ASSERT_TRUE(back.has_value());
    EXPECT_TRUE(back->is_status("PONG"));
  }, 30s);
}

TEST(ConnectionFaults, QueueWhileDisconnectedIsBoundedAndDrainsOnReconnect) {
  RedisServer server;
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    // Breaker off: this test is about queueing, and failed reconnect attempts would open it.
    ConnectionOptions opts = parse_url(server.url() + "?queue_while_disconnected=true&max_pending=2"
                                                      "&reconnect_backoff_initial=20ms&reconnect_backoff_max=100ms"
                                                      "&breaker_failures=0");
    Connection connection(executor, opts);
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    server.kill();
    // The kill is noticed on the next exchange.
    auto noticed = co_await connection.exec(Request("PING"), 200ms);
    CO_ASSERT_TRUE(!noticed.has_value());

    std::vector<std::optional<Result<Reply>>> waiting(2);
    for (std::size_t i = 0; i < waiting.size(); ++i) {
      asio::co_spawn(executor, [&, i]() -> asio::awaitable<void> {
        waiting[i] = co_await connection.exec(Request("ECHO", std::to_string(i)), 10s);
      }, asio::detached);
    }
    // Until both wait in the queue (or, wrongly, one was already answered).
    co_await poll_until([&] { return connection.pending() == 2 || waiting[0] || waiting[1]; });
    EXPECT_EQ(connection.pending(), 2U);
    auto overflow = co_await connection.exec(Request("PING"), 10s);
    CO_ASSERT_TRUE(!overflow.has_value());
    EXPECT_EQ(overflow.error(), Error::queue_full);

    server.start();
    CO_ASSERT_TRUE(co_await connection.wait_connected(10s));
    co_await poll_until([&] { return waiting[0].has_value() && waiting[1].has_value(); });
    CO_ASSERT_TRUE(waiting[0]->has_value() && waiting[1]->has_value());
    EXPECT_EQ((*waiting[0])->as_string(), "0");
    EXPECT_EQ((*waiting[1])->as_string(), "1");
  }, 30s);
}

TEST(ConnectionFaults, CircuitBreakerFailsFastThenOneProbeCloses) {
  RedisServer server;
  strata::testing::FaultProxy proxy(server.port());
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    ConnectionOptions opts =
        parse_url("redis://127.0.0.1:" + std::to_string(proxy.port()) + "?breaker_failures=2&breaker_cooldown=300ms");
    Connection connection(executor, opts);
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    // The server stops answering (every byte is held): two timeouts in a row open the circuit.
    strata::testing::Faults stall;
    stall.stall = true;
    proxy.set(stall);
    auto first = co_await connection.exec(Request("PING"), 20ms);
    auto second = co_await connection.exec(Request("PING"), 20ms);
    EXPECT_EQ(first.error(), Error::command_timeout);
    EXPECT_EQ(second.error(), Error::command_timeout);
    // Open: a command with an hour to wait comes back at once, though no reply can come (it
    // would otherwise hold this test until run_async's bound fails it).
    auto fast = co_await connection.exec(Request("PING"), std::chrono::hours(1));
    CO_ASSERT_TRUE(!fast.has_value());
    EXPECT_EQ(fast.error(), Error::circuit_open);
    EXPECT_THAT(connection.last_error(), HasSubstr("circuit open"));
    // The server answers again. Until the cool-down ends commands still fail fast; then one
    // probe goes through, succeeds, and closes the circuit.
    proxy.set(strata::testing::Faults{});
    Result<Reply> probe = make_error_code(Error::circuit_open);
    while (!probe.has_value()) {
      probe = co_await connection.exec(Request("PING"), 2s);
      if (!probe.has_value()) {
        EXPECT_EQ(probe.error(), Error::circuit_open);
        asio::steady_timer pause(executor, 10ms);
        co_await pause.async_wait(asio::use_awaitable);
      }
    }
    EXPECT_TRUE(probe->is_status("PONG"));
    auto normal = co_await connection.exec(Request("PING"), 2s);
    CO_ASSERT_TRUE(normal.has_value());
  }, 30s);
}

TEST(ConnectionFaults, AclUserAndPasswords) {
  // redis-server joins command-line words into config lines, so each ACL rule is its own word.
  RedisServer server({"--user", "default", "off", "--user", "app", "on", ">s3cret", "~*", "&*", "+@all"});
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    ConnectionOptions good = parse_url(server.url());
    good.username = "app";
    good.password = "s3cret";
    Connection authenticated(executor, good);
    CO_ASSERT_TRUE((co_await authenticated.connect()).has_value());
    auto whoami = co_await authenticated.exec(Request("ACL", "WHOAMI"));
    EXPECT_EQ(whoami->as_string(), "app");

    ConnectionOptions bad = good;
    bad.password = "wrong";
    Connection refused(executor, bad);
    const auto result = co_await refused.connect();
    CO_ASSERT_TRUE(!result.has_value());
    EXPECT_EQ(result.error(), Error::authentication_failed);
    EXPECT_THAT(refused.last_error(), HasSubstr("AUTH refused: WRONGPASS"));
    EXPECT_FALSE(refused.is_connected());
  });
}

TEST(ConnectionFaults, PasswordOnlyAuthAndDatabaseSelection) {
  RedisServer server({"--requirepass", "hunter2"});
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    ConnectionOptions opts = parse_url("redis://:hunter2@127.0.0.1:" + std::to_string(server.port()) + "/3");
    Connection connection(executor, opts);
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    CO_ASSERT_TRUE((co_await connection.exec(Request("SET", "in-db-3", "yes"))).has_value());
    EXPECT_THAT(server.cli({"-n", "3", "GET", "in-db-3"}, "hunter2"), HasSubstr("yes"));
    EXPECT_THAT(server.cli({"-n", "0", "EXISTS", "in-db-3"}, "hunter2"), HasSubstr("0"));

    ConnectionOptions no_password = opts;
    no_password.password.clear();
    no_password.database = 0;
    no_password.client_name.clear();  // nothing in the handshake: the first command meets NOAUTH
    Connection unauthenticated(executor, no_password);
    CO_ASSERT_TRUE((co_await unauthenticated.connect()).has_value());
    auto denied = co_await unauthenticated.exec(Request("GET", "x"));
    CO_ASSERT_TRUE(denied.has_value());
    EXPECT_TRUE(denied->is_error());
    EXPECT_THAT(denied->text(), HasSubstr("NOAUTH"));
  });
}

TEST(ConnectionFaults, ConnectRefusedIsAnErrorNotAHang) {
  const std::uint16_t port = strata::testing::free_loopback_port();
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Connection connection(executor, parse_url("redis://127.0.0.1:" + std::to_string(port)));
    const auto result = co_await connection.connect();
    CO_ASSERT_TRUE(!result.has_value());
    EXPECT_EQ(result.error(), asio::error::connection_refused);
    EXPECT_THAT(connection.last_error(), HasSubstr("cannot connect to 127.0.0.1:"));
  });
}

// A peer that accepts TCP but never answers: the handshake must time out, not hang.
TEST(ConnectionFaults, SilentPeerTimesOutTheHandshake) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    asio::ip::tcp::acceptor acceptor(executor, {asio::ip::make_address("127.0.0.1"), 0});
    asio::ip::tcp::socket peer(executor);
    acceptor.async_accept(peer, [](boost::system::error_code) {});
    ConnectionOptions opts = parse_url("redis://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()) +
                                       "?connect_timeout=200ms");
    Connection connection(executor, opts);
    const auto started = std::chrono::steady_clock::now();
    const auto result = co_await connection.connect();
    CO_ASSERT_TRUE(!result.has_value());
    EXPECT_EQ(result.error(), Error::connect_timeout);
    EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    EXPECT_THAT(connection.last_error(), HasSubstr("took longer than 200 ms"));
  });
}

// A peer that answers with something that is not RESP: a protocol error, and the connection
// is dropped rather than misreading later replies.
TEST(ConnectionFaults, GarbageFromThePeerIsAProtocolError) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    asio::ip::tcp::acceptor acceptor(executor, {asio::ip::make_address("127.0.0.1"), 0});
    ConnectionOptions opts = parse_url("redis://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()));
    opts.client_name.clear();
    Connection connection(executor, opts);
    // With no handshake to send, connect() is done once the kernel has completed the TCP
    // handshake; accepting afterwards is fine.
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    asio::ip::tcp::socket peer = co_await acceptor.async_accept(asio::use_awaitable);
    std::optional<Result<Reply>> reply;
    asio::co_spawn(executor, [&]() -> asio::awaitable<void> {
      reply = co_await connection.exec(Request("GET", "k"), 5s);
    }, asio::detached);
    const std::string garbage = "HTTP/1.1 400 Bad Request\r\n\r\n";
    co_await asio::async_write(peer, asio::buffer(garbage), asio::use_awaitable);
    co_await poll_until([&] { return reply.has_value(); });
    CO_ASSERT_TRUE(!reply->has_value());
    EXPECT_EQ(reply->error(), Error::protocol_error);
    EXPECT_FALSE(connection.is_connected());
    EXPECT_THAT(connection.last_error(), HasSubstr("not RESP"));
  });
}

}  // namespace
}  // namespace strata::redis
