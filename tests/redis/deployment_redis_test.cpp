// The Client on a real Redis Cluster (3 masters by redis-cli --cluster create) and on a real
// Sentinel setup (master, replica, 3 sentinels): routing, MOVED and ASK, resharding and a
// failover under live traffic.
#include <strata/redis/client.hpp>

#include "redis/cluster_slot.hpp"
#include "support/async_test.hpp"
#include "support/redis_deployments.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>

namespace strata::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using strata::testing::poll_until;
using strata::testing::RedisCluster;
using strata::testing::run_async;
using strata::testing::SentinelSetup;
using ::testing::HasSubstr;

// A key whose slot is `slot`: "k<n>" for the first n that lands there.
std::string key_in_slot(int slot, int skip = 0) {
  for (int n = 0;; ++n) {
    std::string key = "k" + std::to_string(n);
    if (key_slot(key) == slot && skip-- == 0) return key;
  }
}

class ClusterTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() { cluster_ = std::make_unique<RedisCluster>(3); }
  static void TearDownTestSuite() { cluster_.reset(); }
  void SetUp() override { cluster_->flush_all(); }

  static Deployment deployment() { return parse_deployment_url(cluster_->url() + "?topology_refresh=500ms"); }

  static inline std::unique_ptr<RedisCluster> cluster_;
};

TEST_F(ClusterTest, RoutesEveryKeyToTheMasterThatOwnsItsSlot) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto client = Client::create(executor, deployment());
    CO_ASSERT_TRUE((co_await client->connect()).has_value());
    EXPECT_TRUE(client->sharded());
    EXPECT_EQ(client->masters().size(), 3u);
    for (int i = 0; i < 300; ++i) {
      const std::string key = "user:" + std::to_string(i);
      const std::string value = "v" + std::to_string(i);
      auto stored = co_await client->exec(key, Request("SET", key, value));
      CO_ASSERT_TRUE(stored.has_value());
      EXPECT_TRUE(stored->is_status("OK")) << stored->describe();
    }
    for (int i = 0; i < 300; ++i) {
      const std::string key = "user:" + std::to_string(i);
      auto read = co_await client->exec(key, Request("GET", key));
      CO_ASSERT_TRUE(read.has_value());
      EXPECT_EQ(read->as_string(), std::optional<std::string_view>("v" + std::to_string(i)));
    }
    client->close();
  });
  // Each key sits on the node that owns its slot (asked of the servers themselves).
  for (int i = 0; i < 300; i += 37) {
    const std::string key = "user:" + std::to_string(i);
    auto& owner = cluster_->node(cluster_->owner_of(key_slot(key)));
    EXPECT_THAT(owner.cli({"GET", key}), HasSubstr("v" + std::to_string(i))) << key;
  }
}

TEST_F(ClusterTest, KeysWithOneHashTagShareANodeForScripts) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto client = Client::create(executor, deployment());
    CO_ASSERT_TRUE((co_await client->connect()).has_value());
    const Script copy("redis.call('SET', KEYS[2], redis.call('GET', KEYS[1])); return 1");
    const std::vector<std::string> keys{"{order:7}:draft", "{order:7}:final"};
    const std::vector<std::string> none;
    auto set = co_await client->exec(keys[0], Request("SET", keys[0], "paid"));
    CO_ASSERT_TRUE(set.has_value());
    auto ran = co_await client->run_script(copy, keys, none);
    CO_ASSERT_TRUE(ran.has_value());
    EXPECT_EQ(ran->integer_value(), 1) << ran->describe();
    auto final_value = co_await client->exec(keys[1], Request("GET", keys[1]));
    CO_ASSERT_TRUE(final_value.has_value());
    EXPECT_EQ(final_value->as_string(), std::optional<std::string_view>("paid"));
    client->close();
  });
}

TEST_F(ClusterTest, FollowsMovedAfterASlotMoves) {
  const int slot = key_slot("moving-key");
  const std::size_t from = cluster_->owner_of(slot);
  const std::size_t to = (from + 1) % 3;
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto client = Client::create(executor, deployment());
    CO_ASSERT_TRUE((co_await client->connect()).has_value());
    auto set = co_await client->exec("moving-key", Request("SET", "moving-key", "before"));
    CO_ASSERT_TRUE(set.has_value());
    cluster_->move_slot(slot, from, to);  // blocking: the client is idle meanwhile
    // The client's map still names the old owner: MOVED, followed transparently.
    auto read = co_await client->exec("moving-key", Request("GET", "moving-key"));
    CO_ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->as_string(), std::optional<std::string_view>("before")) << read->describe();
    auto write = co_await client->exec("moving-key", Request("SET", "moving-key", "after"));
    CO_ASSERT_TRUE(write.has_value());
    EXPECT_TRUE(write->is_status("OK")) << write->describe();
    client->close();
  });
  EXPECT_THAT(cluster_->node(to).cli({"GET", "moving-key"}), HasSubstr("after"));
  cluster_->move_slot(slot, to, from);  // leave the cluster as the other tests expect it
}

TEST_F(ClusterTest, FollowsAskWhileASlotIsMigrating) {
  const std::string staying = key_in_slot(1000);
  const std::string arriving = key_in_slot(1000, 1);
  const std::size_t from = cluster_->owner_of(1000);
  const std::size_t to = (from + 1) % 3;
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto client = Client::create(executor, deployment());
    CO_ASSERT_TRUE((co_await client->connect()).has_value());
    auto set = co_await client->exec(staying, Request("SET", staying, "old"));
    CO_ASSERT_TRUE(set.has_value());
    cluster_->begin_slot_move(1000, from, to);
    cluster_->migrate_keys(1000, from, to);  // `staying` is now on the target; the slot is not
    // The source answers ASK for a key it no longer has; the client asks the target with ASKING.
    auto read = co_await client->exec(staying, Request("GET", staying));
    CO_ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->as_string(), std::optional<std::string_view>("old")) << read->describe();
    auto write = co_await client->exec(arriving, Request("SET", arriving, "new"));
    CO_ASSERT_TRUE(write.has_value());
    EXPECT_TRUE(write->is_status("OK")) << write->describe();
    client->close();
  });
  cluster_->finish_slot_move(1000, to);
  EXPECT_THAT(cluster_->node(to).cli({"GET", arriving}), HasSubstr("new"));
  cluster_->move_slot(1000, to, from);
}

TEST_F(ClusterTest, ReshardingUnderLiveTrafficFailsNoRequest) {
  const int slot = key_slot("live:0");
  const std::size_t from = cluster_->owner_of(slot);
  const std::size_t to = (from + 2) % 3;
  std::atomic<bool> resharded{false};
  std::atomic<int> requests{0};
  std::atomic<int> failures{0};
  std::string first_failure;
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto client = Client::create(executor, deployment());
    CO_ASSERT_TRUE((co_await client->connect()).has_value());
    // Keys of the moving slot and of others, written and read back in a loop.
    std::vector<std::string> keys;
    for (int i = 0; i < 20; ++i) keys.push_back(key_in_slot(slot, i));
    for (int i = 0; i < 20; ++i) keys.push_back("live:" + std::to_string(i));
    std::thread reshard([&] {
      cluster_->move_slot(slot, from, to);
      resharded = true;
    });
    int round = 0;
    while (!resharded || round < 3) {
      ++round;
      for (const auto& key : keys) {
        const std::string value = key + "#" + std::to_string(round);
        auto write = co_await client->exec(key, Request("SET", key, value));
        auto read = co_await client->exec(key, Request("GET", key));
        requests += 2;
        const bool ok = write && write->is_status("OK") && read &&
                        read->as_string() == std::optional<std::string_view>(value);
        if (!ok) {
          if (failures++ == 0) {
            first_failure = key + ": " + (write ? write->describe() : write.error().message()) + " / " +
                            (read ? read->describe() : read.error().message()) + " / " + client->last_error();
          }
        }
      }
    }
    reshard.join();
    client->close();
  }, 120s);
  EXPECT_EQ(failures.load(), 0) << first_failure;
  EXPECT_GT(requests.load(), 0);
  EXPECT_EQ(cluster_->owner_of(slot), to);
  cluster_->move_slot(slot, to, from);
}

TEST(ClusterFailover, ACrashedMasterIsReplacedByItsReplicaAndTheClientFollows) {
  RedisCluster cluster(3, 1);
  const int slot = key_slot("survivor");
  const std::size_t master = cluster.owner_of(slot);
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto client = Client::create(executor, parse_deployment_url(cluster.url() + "?topology_refresh=200ms&command_timeout=300ms"));
    CO_ASSERT_TRUE((co_await client->connect()).has_value());
    auto set = co_await client->exec("survivor", Request("SET", "survivor", "1"));
    CO_ASSERT_TRUE(set.has_value());
    // WAIT: the replica has the write before its master dies.
    auto replicated = co_await client->exec("survivor", Request("WAIT", "1", "2000"));
    CO_ASSERT_TRUE(replicated.has_value());
    EXPECT_EQ(replicated->integer_value(), 1);
    cluster.node(master).kill();
    // Calls fail (as results) until the replica is promoted, then succeed on it.
    asio::steady_timer pause(executor);
    bool served = false;
    for (int attempt = 0; attempt < 300 && !served; ++attempt) {
      auto read = co_await client->exec("survivor", Request("GET", "survivor"));
      served = read && read->as_string() == std::optional<std::string_view>("1");
      if (!served) {
        pause.expires_after(50ms);
        co_await pause.async_wait(asio::use_awaitable);
      }
    }
    EXPECT_TRUE(served) << client->last_error();
    client->close();
  }, 60s);
  EXPECT_NE(cluster.owner_of(slot), master);
}

// ---------------------------------------------------------------------------------------------

TEST(SentinelDeployment, FindsTheMasterThroughTheSentinels) {
  SentinelSetup setup;
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto client = Client::create(executor, parse_deployment_url(setup.url()));
    CO_ASSERT_TRUE((co_await client->connect()).has_value());
    auto set = co_await client->exec("k", Request("SET", "k", "v"));
    CO_ASSERT_TRUE(set.has_value());
    EXPECT_TRUE(set->is_status("OK")) << set->describe();
    client->close();
  });
  EXPECT_THAT(setup.data_node(setup.master_port()).cli({"GET", "k"}), HasSubstr("v"));
}

TEST(SentinelDeployment, AuthenticatesToSentinelsAndDataNodesSeparately) {
  SentinelSetup setup("data-secret", "sentinel-secret");
  const std::string base = "redis+sentinel://:data-secret@" + setup.url().substr(std::string("redis+sentinel://").size());
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto client = Client::create(executor, parse_deployment_url(base + "?sentinel_password=sentinel-secret"));
    CO_ASSERT_TRUE((co_await client->connect()).has_value());
    auto set = co_await client->exec("k", Request("SET", "k", "v"));
    CO_ASSERT_TRUE(set.has_value());
    EXPECT_TRUE(set->is_status("OK")) << set->describe();
    client->close();

    // Without the sentinels' password the master cannot be found, and the error says why.
    auto refused = Client::create(executor, parse_deployment_url(base + "?reconnect=false"));
    EXPECT_FALSE((co_await refused->connect()).has_value());
    EXPECT_THAT(refused->last_error(), HasSubstr("sentinel"));
    refused->close();
  });
}

TEST(SentinelDeployment, TalksTlsToSentinelsThatRequireIt) {
  strata::testing::TestCertificates certificates;
  SentinelSetup setup({}, {}, &certificates);
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto client = Client::create(executor, parse_deployment_url(setup.url() + "?sentinel_tls=true&sentinel_tls_ca_file=" +
                                                                 certificates.ca_file()));
    CO_ASSERT_TRUE((co_await client->connect()).has_value());
    auto set = co_await client->exec("k", Request("SET", "k", "over-tls-sentinels"));
    CO_ASSERT_TRUE(set.has_value());
    EXPECT_TRUE(set->is_status("OK")) << set->describe();
    client->close();

    // Plain TCP to a TLS-only sentinel finds no master, and says which sentinel failed.
    auto plain = Client::create(executor, parse_deployment_url(setup.url() + "?reconnect=false&connect_timeout=500ms"));
    EXPECT_FALSE((co_await plain->connect()).has_value());
    EXPECT_THAT(plain->last_error(), HasSubstr("sentinel 127.0.0.1:"));
    plain->close();
  });
  EXPECT_THAT(setup.data_node(setup.master_port()).cli({"GET", "k"}), HasSubstr("over-tls-sentinels"));
}

TEST(SentinelDeployment, AnUnknownMasterNameIsAClearError) {
  SentinelSetup setup;
  const std::string url = setup.url().substr(0, setup.url().rfind('/')) + "/no-such-master?reconnect=false";
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto client = Client::create(executor, parse_deployment_url(url));
    EXPECT_FALSE((co_await client->connect()).has_value());
    EXPECT_THAT(client->last_error(), HasSubstr("does not know master 'no-such-master'"));
    client->close();
  });
}

TEST(SentinelDeployment, FollowsAFailoverUnderLoadAndLosesNoAcknowledgedWrite) {
  SentinelSetup setup;
  const std::uint16_t old_master = setup.master_port();
  std::atomic<bool> switched{false};
  std::uint16_t new_master = 0;
  int acknowledged_after_switch = 0;
  std::string last_acknowledged;
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto client = Client::create(
        executor, parse_deployment_url(setup.url() + "?command_timeout=300ms&reconnect_backoff_max=200ms"));
    CO_ASSERT_TRUE((co_await client->connect()).has_value());
    std::thread failover([&] {
      new_master = setup.failover();
      switched = true;
    });
    // Writes keep going through the switch; failures are results, never exceptions. Once the
    // sentinels name the new master, acknowledged writes must land there.
    asio::steady_timer pause(executor);
    const auto give_up = std::chrono::steady_clock::now() + 60s;
    for (int i = 0; acknowledged_after_switch < 50 && std::chrono::steady_clock::now() < give_up; ++i) {
      const bool after = switched.load();
      const std::string value = std::to_string(i);
      auto write = co_await client->exec("counter", Request("SET", "counter", value));
      if (write && write->is_status("OK") && after) {
        ++acknowledged_after_switch;
        last_acknowledged = value;
      }
      if (!write || !write->is_status("OK")) {
        pause.expires_after(5ms);
        co_await pause.async_wait(asio::use_awaitable);
      }
    }
    failover.join();
    client->close();
  }, 90s);
  ASSERT_TRUE(switched.load());
  ASSERT_NE(new_master, old_master);
  EXPECT_EQ(acknowledged_after_switch, 50);
  EXPECT_THAT(setup.data_node(new_master).cli({"GET", "counter"}), HasSubstr(last_acknowledged));
}

}  // namespace
}  // namespace strata::redis
