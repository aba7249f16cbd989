// The gateway while Redis misbehaves, through a fault-injecting proxy in front of a real
// redis-server: stalled, slow, cutting replies in the middle. Invariants: every client request
// is answered; none waits on Redis much past the cache's Redis deadline, even though the
// connection's own command timeout is far longer; once the fault ends, hits come from Redis
// again; no connection is left behind.

#include "gateway/harness.hpp"
#include "gateway/identity.hpp"
#include "support/fault_proxy.hpp"
#include "support/redis_server.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace strata::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

// The cache's Redis deadline in these tests, and how far past it a request may finish (the
// origin's answer, and sanitizer builds on two busy cores). The connection's command timeout
// (10 s) is what a request would wait without the deadline.
constexpr auto kRedisDeadline = 150ms;
constexpr auto kMargin = 1500ms;

std::string config(std::uint16_t redis_port) {
  return R"(
origin = "{origin}"
[cache]
redis_url = "redis://127.0.0.1:)" + std::to_string(redis_port) + R"(?command_timeout=10s&breaker_cooldown=300ms"
redis_deadline = ")" + std::to_string(kRedisDeadline.count()) + R"(ms"
l1 = false
[[rules]]
path = "/api/jobs/{id}"
ttl = "60s"
stale_if_error = "600s"
)";
}

class GatewayRedisFaults : public ::testing::Test {
protected:
  GatewayRedisFaults()
      : origin_([this](const OriginRequestSeen& request) {
          OriginAnswer answer;
          answer.body = request.target + " v" + std::to_string(++served_);
          return answer;
        }),
        proxy_(redis_.port()),
        gateway_(config(proxy_.port()), origin_.url()) {}

  // Fetches every job once (MISS: stored in Redis) and checks the next read is a Redis hit.
  void warm(int jobs) {
    for (int id = 0; id < jobs; ++id) ASSERT_EQ(get(id).status, 200U);
    ASSERT_THAT(get(0).header("cache-status"), HasSubstr("detail=l2"));
  }
  HttpResult get(int id) { return http_get(gateway_.port(), "/api/jobs/" + std::to_string(id)); }

  // Requests every job `rounds` times while the fault is on: each must be answered 200 within
  // the deadline and the margin.
  void expect_answered_in_time(int jobs, int rounds) {
    for (int round = 0; round < rounds; ++round) {
      for (int id = 0; id < jobs; ++id) {
        const auto began = std::chrono::steady_clock::now();
        const auto answer = get(id);
        const auto took = std::chrono::steady_clock::now() - began;
        EXPECT_EQ(answer.status, 200U) << "job " << id << " round " << round;
        EXPECT_LT(took, kRedisDeadline + kMargin)
            << "job " << id << " round " << round << " took "
            << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
      }
    }
  }

  // After the fault: hits come from Redis again (the breaker let a probe through) within 10 s.
  void expect_redis_hits_again() {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    std::string status;
    while (std::chrono::steady_clock::now() < deadline) {
      status = get(0).header("cache-status");
      if (status.find("detail=l2") != std::string::npos) return;
      std::this_thread::sleep_for(20ms);
    }
    FAIL() << "no Redis hit within 10 s of the fault ending; last Cache-Status: " << status;
  }

  std::atomic<int> served_{0};
  RedisServer redis_;
  TestOrigin origin_;
  FaultProxy proxy_;
  GatewayUnderTest gateway_;
};

TEST_F(GatewayRedisFaults, StalledRedisCostsARequestNoMoreThanTheDeadline) {
  warm(5);
  const auto redis_connections = proxy_.open_connections();  // the pool and the bus
  for (int stall_round = 0; stall_round < 2; ++stall_round) {
    Faults stall;
    stall.stall = true;
    proxy_.set(stall);
    expect_answered_in_time(5, 3);
    // Many at once: the stall must not make them queue behind one another.
    const auto began = std::chrono::steady_clock::now();
    const auto results = concurrent_requests(gateway_.port(), 20, [](std::size_t i) {
      return std::pair<std::string, Fields>{"/api/jobs/" + std::to_string(i % 5), {}};
    });
    EXPECT_LT(std::chrono::steady_clock::now() - began, kRedisDeadline + kMargin);
    for (const auto& result : results) EXPECT_EQ(result.status, 200U);
    proxy_.set(Faults{});
    expect_redis_hits_again();
    // Timed-out commands leave their connections in use: no connection is opened beside them
    // and none is left behind.
    EXPECT_EQ(proxy_.open_connections(), redis_connections) << "after stall " << stall_round;
  }
}

TEST_F(GatewayRedisFaults, SlowRedisIsGoneAroundAndUsedAgainWhenFast) {
  warm(3);
  Faults slow;
  slow.latency = kRedisDeadline * 3;
  proxy_.set(slow);
  expect_answered_in_time(3, 2);
  slow.latency = 5ms;
  proxy_.set(slow);
  expect_redis_hits_again();
}

TEST_F(GatewayRedisFaults, RepliesCutMidwayAreAnsweredFromTheOrigin) {
  warm(3);
  Faults cut;
  cut.reset_after_server_bytes = 20;  // inside the first reply of every new connection
  proxy_.set(cut);
  proxy_.reset_connections();
  expect_answered_in_time(3, 2);
  proxy_.set(Faults{});
  expect_redis_hits_again();
}

TEST_F(GatewayRedisFaults, FragmentedRepliesStillHit) {
  warm(3);
  Faults fragmented;
  fragmented.one_byte_writes = true;
  proxy_.set(fragmented);
  for (int id = 0; id < 3; ++id) {
    const auto hit = get(id);
    EXPECT_EQ(hit.status, 200U);
    EXPECT_THAT(hit.header("cache-status"), HasSubstr("detail=l2")) << "job " << id;
  }
}

// Two gateways share Redis; one loses its link (connections reset, new ones refused) while the
// other invalidates an entry both hold. Messages on the bus are lost meanwhile. Once the link is
// back, the cut-off gateway must not serve the entry the acknowledged invalidation removed.
TEST(GatewayRedisFaultsCoherence, AnInvalidationMissedDuringAnOutageIsNotServedOnceRedisIsBack) {
  RedisServer redis;
  std::atomic<int> version{1};
  TestOrigin origin([&](const OriginRequestSeen& request) {
    OriginAnswer answer;
    answer.body = request.target + " v" + std::to_string(version.load());
    return answer;
  });
  FaultProxy link(redis.port());
  const std::string admin_token = "coherence-admin";
  auto config_for = [&](std::uint16_t port) {
    return R"(
origin = "{origin}"
[admin]
token_sha256 = ")" + gateway::sha256_hex(admin_token) + R"("
[cache]
redis_url = "redis://127.0.0.1:)" + std::to_string(port) + R"(?breaker_cooldown=200ms&reconnect_backoff_max=200ms"
redis_deadline = "1s"
[[rules]]
path = "/api/jobs/{id}"
ttl = "300s"
tags = ["job:{id}"]
)";
  };
  GatewayUnderTest writer(config_for(redis.port()), origin.url());
  GatewayUnderTest cut_off(config_for(link.port()), origin.url());
  const auto original = http_get(writer.port(), "/api/jobs/1");
  ASSERT_EQ(original.body, "/api/jobs/1 v1");
  ASSERT_EQ(http_get(cut_off.port(), "/api/jobs/1").body, original.body);  // now in its L1 too

  const auto clears = [&] {
    const auto stats = http_get(cut_off.port(), "/api/cache/stats", {{"Authorization", "Bearer " + admin_token}});
    const auto at = stats.body.find("\"l1_clears\":");
    return at == std::string::npos ? -1 : std::stoi(stats.body.substr(at + 12));
  };
  const int clears_before = clears();
  Faults outage;
  outage.refuse = true;
  link.set(outage);
  link.reset_connections();  // the bus message below never reaches the cut-off gateway
  version = 2;
  const auto invalidated = http_request(writer.port(), "POST", "/api/cache/invalidate",
                                        {{"Authorization", "Bearer " + admin_token}}, R"({"tags":["job:1"]})");
  ASSERT_EQ(invalidated.status, 200U);
  ASSERT_THAT(invalidated.body, HasSubstr("\"ok\":true"));  // acknowledged by Redis

  link.set(Faults{});
  // The cut-off gateway may have missed messages: when its bus is back it clears its L1
  // (l1_clears). From then on, never the entry the invalidation removed.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (clears() <= clears_before && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(20ms);
  ASSERT_GT(clears(), clears_before) << "the cut-off gateway never cleared its L1 after its link came back";
  // From then on, never the entry the invalidation removed.
  for (int i = 0; i < 20; ++i) EXPECT_EQ(http_get(cut_off.port(), "/api/jobs/1").body, "/api/jobs/1 v2") << i;
}

}  // namespace
}  // namespace strata::testing
