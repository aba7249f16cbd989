// Pub/sub against a real redis-server: delivery, patterns, unsubscribing, and re-subscription
// (with its "messages may have been lost" event) after the server restarts.
#include <strata/redis/connection.hpp>
#include <strata/redis/subscriber.hpp>

#include "support/async_test.hpp"
#include "support/redis_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <vector>

namespace strata::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using strata::testing::RedisServer;
using strata::testing::run_async;

// Collects what a Subscriber reports and lets a test await a count of messages or an event.
struct Inbox {
  explicit Inbox(asio::any_io_executor executor) : signal(executor, asio::steady_timer::time_point::max()) {}

  Subscriber::MessageHandler messages() {
    return [this](const Message& message) {
      received.push_back(message);
      signal.cancel();
    };
  }
  Subscriber::EventHandler events() {
    return [this](SubscriberEvent event) {
      seen.push_back(event);
      signal.cancel();
    };
  }
  // Waits (bounded) until `done()` holds.
  template <typename Condition>
  asio::awaitable<bool> until(Condition done, std::chrono::milliseconds limit = 10s) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) co_return false;
      signal.expires_at(deadline);
      co_await signal.async_wait(asio::as_tuple(asio::use_awaitable));
    }
    co_return true;
  }

  asio::steady_timer signal;
  std::vector<Message> received;
  std::vector<SubscriberEvent> seen;
};

asio::awaitable<std::int64_t> publish(Connection& publisher, const std::string& channel, const std::string& payload) {
  auto receivers = co_await publisher.exec(Request("PUBLISH", channel, payload));
  co_return receivers && receivers->is_integer() ? receivers->integer_value() : -1;
}

TEST(SubscriberRedis, DeliversChannelAndPatternMessages) {
  RedisServer server;
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Inbox inbox(executor);
    Subscriber subscriber(executor, parse_url(server.url()), inbox.messages(), inbox.events());
    CO_ASSERT_TRUE((co_await subscriber.connect()).has_value());
    EXPECT_EQ(inbox.seen, std::vector<SubscriberEvent>{SubscriberEvent::connected});
    const std::vector<std::string> channels{"strata:invalidate"};
    const std::vector<std::string> patterns{"cache:*"};
    CO_ASSERT_TRUE((co_await subscriber.subscribe(channels)).has_value());
    CO_ASSERT_TRUE((co_await subscriber.psubscribe(patterns)).has_value());

    Connection publisher(executor, parse_url(server.url()));
    CO_ASSERT_TRUE((co_await publisher.connect()).has_value());
    const std::string binary("key\0with\r\nbytes", 15);
    EXPECT_EQ(co_await publish(publisher, "strata:invalidate", binary), 1);
    EXPECT_EQ(co_await publish(publisher, "cache:users", "drop user:7"), 1);
    EXPECT_EQ(co_await publish(publisher, "elsewhere", "nobody"), 0);
    CO_ASSERT_TRUE(co_await inbox.until([&] { return inbox.received.size() >= 2; }));
    EXPECT_EQ(inbox.received[0].channel, "strata:invalidate");
    EXPECT_EQ(inbox.received[0].payload, binary);
    EXPECT_TRUE(inbox.received[0].pattern.empty());
    EXPECT_EQ(inbox.received[1].pattern, "cache:*");
    EXPECT_EQ(inbox.received[1].channel, "cache:users");
    EXPECT_EQ(inbox.received[1].payload, "drop user:7");

    CO_ASSERT_TRUE((co_await subscriber.unsubscribe(channels)).has_value());
    CO_ASSERT_TRUE((co_await subscriber.punsubscribe(patterns)).has_value());
    EXPECT_EQ(co_await publish(publisher, "strata:invalidate", "after"), 0);
    EXPECT_EQ(co_await publish(publisher, "cache:users", "after"), 0);
  });
}

TEST(SubscriberRedis, ResubscribesAfterTheServerRestartsAndSaysMessagesMayBeLost) {
  RedisServer server;
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Inbox inbox(executor);
    ConnectionOptions opts = parse_url(server.url() + "?reconnect_backoff_initial=20ms&reconnect_backoff_max=200ms");
    Subscriber subscriber(executor, opts, inbox.messages(), inbox.events());
    CO_ASSERT_TRUE((co_await subscriber.connect()).has_value());
    const std::vector<std::string> channels{"bus"};
    const std::vector<std::string> patterns{"tag:*"};
    CO_ASSERT_TRUE((co_await subscriber.subscribe(channels)).has_value());
    CO_ASSERT_TRUE((co_await subscriber.psubscribe(patterns)).has_value());

    server.kill();
    CO_ASSERT_TRUE(co_await inbox.until([&] { return inbox.seen.size() >= 2; }));
    EXPECT_EQ(inbox.seen[1], SubscriberEvent::disconnected);
    EXPECT_FALSE(subscriber.is_connected());

    server.start();
    CO_ASSERT_TRUE(co_await inbox.until([&] { return inbox.seen.size() >= 3; }));
    EXPECT_EQ(inbox.seen[2], SubscriberEvent::resubscribed);

    Connection publisher(executor, parse_url(server.url()));
    CO_ASSERT_TRUE((co_await publisher.connect()).has_value());
    // The re-subscription is written right after the reconnect; wait until Redis has it.
    asio::steady_timer tick(executor);
    for (int i = 0; i < 2000; ++i) {
      auto numsub = co_await publisher.exec(Request("PUBSUB", "NUMSUB", "bus"));
      auto numpat = co_await publisher.exec(Request("PUBSUB", "NUMPAT"));
      if (numsub && numsub->elements().size() == 2 && numsub->elements()[1].integer_value() == 1 && numpat &&
          numpat->integer_value() == 1) {
        break;
      }
      tick.expires_after(1ms);
      co_await tick.async_wait(asio::use_awaitable);
    }
    EXPECT_EQ(co_await publish(publisher, "bus", "after restart"), 1);
    EXPECT_EQ(co_await publish(publisher, "tag:job:7", "pattern after restart"), 1);
    CO_ASSERT_TRUE(co_await inbox.until([&] { return inbox.received.size() >= 2; }));
    EXPECT_EQ(inbox.received[0].payload, "after restart");
    EXPECT_EQ(inbox.received[1].channel, "tag:job:7");
  }, 30s);
}

TEST(SubscriberRedis, SubscribingWhileDisconnectedTakesEffectOnConnect) {
  RedisServer server;
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Inbox inbox(executor);
    Subscriber subscriber(executor, parse_url(server.url()), inbox.messages(), inbox.events());
    const std::vector<std::string> channels{"early"};
    auto before = co_await subscriber.subscribe(channels);
    EXPECT_EQ(before.error(), Error::not_connected);
    CO_ASSERT_TRUE((co_await subscriber.connect()).has_value());
    Connection publisher(executor, parse_url(server.url()));
    CO_ASSERT_TRUE((co_await publisher.connect()).has_value());
    std::int64_t receivers = 0;
    asio::steady_timer tick(executor);
    for (int i = 0; i < 2000 && receivers == 0; ++i) {
      receivers = co_await publish(publisher, "early", "hello");
      tick.expires_after(1ms);
      co_await tick.async_wait(asio::use_awaitable);
    }
    EXPECT_EQ(receivers, 1);
    CO_ASSERT_TRUE(co_await inbox.until([&] { return !inbox.received.empty(); }));
    EXPECT_EQ(inbox.received[0].channel, "early");
  });
}

}  // namespace
}  // namespace strata::redis
