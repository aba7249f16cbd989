// The gateway on L1 + a real redis-server: L2 hits, coherence between two gateway instances,
// and Redis dying under load without a single failed client request.

#include "gateway/harness.hpp"
#include "gateway/identity.hpp"
#include "support/redis_deployments.hpp"
#include "support/redis_server.hpp"

#include <boost/json/parse.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace strata::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const std::string kAdminToken = "admin-token-for-tests";

std::string config(bool l1) {
  return std::string(R"(
origin = "{origin}"
[admin]
token_sha256 = ")") + gateway::sha256_hex(kAdminToken) + R"("
[cache]
redis_url = "{redis}"
redis_deadline = "1s"
l1 = )" + (l1 ? "true" : "false") + R"(
[[rules]]
path = "/api/jobs/{id}"
ttl = "60s"
tags = ["job:{id}"]
)";
}

std::string with_redis_url(std::string text, const std::string& url) {
  const auto at = text.find("{redis}");
  text.replace(at, 7, url);
  return text;
}

std::string with_redis(std::string text, const RedisServer& redis) { return with_redis_url(std::move(text), redis.url()); }

// GETs `path` until its body is no longer `old_body` (an invalidation reached this instance; a
// bus message may take a moment) or 5 s pass, and returns the last answer.
HttpResult get_until_changed(std::uint16_t port, const std::string& path, const std::string& old_body) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  HttpResult after;
  do {
    after = http_get(port, path);
  } while (after.body == old_body && std::chrono::steady_clock::now() < deadline);
  return after;
}

class GatewayWithRedis : public ::testing::Test {
protected:
  GatewayWithRedis()
      : origin_([this](const OriginRequestSeen& request) {
          OriginAnswer answer;
          answer.body = request.target + " v" + std::to_string(++served_);
          return answer;
        }) {}
  std::atomic<int> served_{0};
  RedisServer redis_;
  TestOrigin origin_;
};

TEST_F(GatewayWithRedis, WithL1OffEveryHitComesFromRedis) {
  GatewayUnderTest gateway(with_redis(config(false), redis_), origin_.url());
  EXPECT_EQ(http_get(gateway.port(), "/api/jobs/1").header("x-cache"), "MISS");
  const auto hit = http_get(gateway.port(), "/api/jobs/1");
  EXPECT_EQ(hit.header("x-cache"), "HIT");
  EXPECT_THAT(hit.header("cache-status"), HasSubstr("detail=l2"));
  EXPECT_THAT(redis_.cli({"--scan", "--pattern", "strata:jobs:*"}), HasSubstr("strata:jobs:g"));
}

TEST_F(GatewayWithRedis, HealthReportsRedisLatencyAndMemory) {
  GatewayUnderTest gateway(with_redis(config(true), redis_), origin_.url());
  const auto healthy = http_get(gateway.port(), "/api/cache/health", {{"Authorization", "Bearer " + kAdminToken}});
  EXPECT_EQ(healthy.status, 200U);
  EXPECT_THAT(healthy.body, HasSubstr("\"available\":true"));
  EXPECT_THAT(healthy.body, HasSubstr("\"latency_ms\""));
  EXPECT_THAT(healthy.body, HasSubstr("\"used_memory_human\":\""));
  EXPECT_THAT(healthy.body, HasSubstr("\"maxmemory_human\":\""));
  redis_.kill();
  const auto degraded = http_get(gateway.port(), "/api/cache/health", {{"Authorization", "Bearer " + kAdminToken}});
  EXPECT_EQ(degraded.status, 200U);
  EXPECT_THAT(degraded.body, HasSubstr("\"status\":\"degraded\""));
  EXPECT_THAT(degraded.body, HasSubstr("\"available\":false"));
  EXPECT_EQ(http_get(gateway.port(), "/api/jobs/1").status, 200U);  // and it keeps serving
}

TEST_F(GatewayWithRedis, TwoInstancesStayCoherentAfterAnInvalidationSentToOne) {
  GatewayUnderTest first(with_redis(config(true), redis_), origin_.url());
  GatewayUnderTest second(with_redis(config(true), redis_), origin_.url());
  const auto original = http_get(first.port(), "/api/jobs/7");
  EXPECT_EQ(original.header("x-cache"), "MISS");
  const auto shared = http_get(second.port(), "/api/jobs/7");
  EXPECT_EQ(shared.header("x-cache"), "HIT");  // from Redis, then in the second's L1 too
  EXPECT_EQ(shared.body, original.body);
  EXPECT_EQ(http_get(second.port(), "/api/jobs/7").header("x-cache"), "HIT");

  const auto invalidated = http_request(first.port(), "POST", "/api/cache/invalidate",
                                        {{"Authorization", "Bearer " + kAdminToken}}, R"({"tags":["job:7"]})");
  ASSERT_EQ(invalidated.status, 200U);
  EXPECT_THAT(invalidated.body, HasSubstr("\"ok\":true"));
  // Acknowledged: from now on neither instance serves the old body (the second instance's L1
  // is dropped by the bus message, which may take a moment to arrive; its Redis copy is gone
  // already, and a fill marks it stale through the tag's epoch).
  EXPECT_NE(get_until_changed(second.port(), "/api/jobs/7", original.body).body, original.body);
  EXPECT_NE(http_get(first.port(), "/api/jobs/7").body, original.body);
}

TEST_F(GatewayWithRedis, TwoGatewaysShareVariantsAndAWriteThroughOneRemovesEveryVariantFromBoth) {
  std::atomic<int> served{0};
  TestOrigin origin([&](const OriginRequestSeen& request) {
    OriginAnswer answer;
    if (request.method != "GET") {
      answer.status = 204;
      return answer;
    }
    const auto language = request.headers.find("accept-language");
    answer.body = "lang=" + (language == request.headers.end() ? std::string("none") : language->second) + " v" +
                  std::to_string(++served);
    answer.headers = {{"Cache-Control", "public, max-age=300"}, {"Vary", "Accept-Language"}};
    return answer;
  });
  const std::string text =
      with_redis("origin = \"{origin}\"\nunmatched_routes = \"rfc9111\"\n[cache]\nredis_url = \"{redis}\"\n", redis_);
  GatewayUnderTest first(text, origin.url());
  GatewayUnderTest second(text, origin.url());
  const auto get = [](const GatewayUnderTest& gateway, const std::string& language) {
    return http_get(gateway.port(), "/docs", {{"Accept-Language", language}});
  };
  const auto english = get(first, "en");
  const auto french = get(first, "fr");
  ASSERT_EQ(english.header("x-cache"), "MISS");
  ASSERT_EQ(french.header("x-cache"), "MISS");
  const auto english_shared = get(second, "en");
  const auto french_shared = get(second, "fr");
  EXPECT_EQ(english_shared.header("x-cache"), "HIT");
  EXPECT_EQ(french_shared.header("x-cache"), "HIT");
  EXPECT_EQ(english_shared.body, english.body);
  EXPECT_EQ(french_shared.body, french.body);

  ASSERT_EQ(http_request(first.port(), "PUT", "/docs", {}, "new text").status, 204U);
  // The second gateway's L1 learns of it over the bus, which may take a moment.
  for (const auto& [language, old_body] : {std::pair{"en", english.body}, std::pair{"fr", french.body}}) {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    HttpResult after;
    do {
      after = get(second, language);
    } while (after.body == old_body && std::chrono::steady_clock::now() < deadline);
    EXPECT_NE(after.body, old_body) << language;
    EXPECT_THAT(after.body, HasSubstr(std::string("lang=") + language + " "));
  }
}

TEST_F(GatewayWithRedis, InspectFollowsTheVariantIndexToTheRequestsVariantInRedis) {
  TestOrigin origin([&](const OriginRequestSeen& request) {
    OriginAnswer answer;
    const auto language = request.headers.find("accept-language");
    answer.body = "lang=" + (language == request.headers.end() ? std::string("none") : language->second);
    answer.headers = {{"Cache-Control", "public, max-age=300"}, {"Vary", "Accept-Language"}, {"ETag", "\"v1\""}};
    return answer;
  });
  const std::string text = with_redis("origin = \"{origin}\"\nunmatched_routes = \"rfc9111\"\n[admin]\ntoken_sha256 = \"" +
                                          gateway::sha256_hex(kAdminToken) + "\"\n[cache]\nredis_url = \"{redis}\"\n",
                                      redis_);
  GatewayUnderTest writer(text, origin.url());
  ASSERT_EQ(http_get(writer.port(), "/docs", {{"Accept-Language", "fr"}}).header("x-cache"), "MISS");
  GatewayUnderTest reader(text, origin.url());  // an empty L1: what it shows comes from Redis
  const Fields admin = {{"Authorization", "Bearer " + kAdminToken}};
  const auto inspect = [&](const std::string& language) {
    const auto answer = http_request(reader.port(), "POST", "/api/cache/inspect", admin,
                                     R"({"path":"/docs","headers":{"Accept-Language":")" + language + R"("}})");
    EXPECT_EQ(answer.status, 200U) << answer.body;
    return boost::json::parse(answer.body).as_object();
  };
  const auto french = inspect("fr");
  const auto& index = french.at("entry").as_object();
  EXPECT_EQ(index.at("state").as_string(), "fresh");
  EXPECT_EQ(index.at("served_from").as_string(), "redis");
  EXPECT_FALSE(index.contains("l1"));
  EXPECT_EQ(index.at("varies_on").as_array().at(0).as_string(), "accept-language");
  const auto& variant = index.at("variant").as_object();
  EXPECT_EQ(variant.at("state").as_string(), "fresh");
  EXPECT_EQ(variant.at("etag").as_string(), "\"v1\"");
  EXPECT_EQ(variant.at("body_bytes").to_number<int>(), 7);  // "lang=fr"
  EXPECT_EQ(inspect("de").at("entry").at("variant").at("state").as_string(), "absent");
  // Inspecting filled nothing: the reader's first request is still an L2 hit.
  EXPECT_THAT(http_get(reader.port(), "/docs", {{"Accept-Language", "fr"}}).header("cache-status"), HasSubstr("detail=l2"));

  const auto bad = http_request(reader.port(), "POST", "/api/cache/inspect", admin, R"({"path":"docs"})");
  EXPECT_EQ(bad.status, 400U);
  EXPECT_THAT(bad.body, HasSubstr("path: "));
  EXPECT_EQ(http_request(reader.port(), "POST", "/api/cache/inspect", admin, R"({"target":"/docs"})").status, 400U);
  EXPECT_EQ(http_request(reader.port(), "POST", "/api/cache/inspect", {}, R"({"path":"/docs"})").status, 401U);
}

TEST_F(GatewayWithRedis, RedisKilledDuringLoadFailsNoClientRequest) {
  // L1 off: every request goes through Redis, so every request meets the dead server.
  GatewayUnderTest gateway(with_redis(config(false), redis_), origin_.url());
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> served{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 4; ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; !stop && i < 100000; ++i) {
        const auto result = http_get(gateway.port(), "/api/jobs/" + std::to_string((i * 4 + c) % 50));
        if (result.status != 200) ++failures;
        ++served;
      }
    });
  }
  // Whether `count` requests were answered within 20 s: requests must go on being served while
  // Redis is dead, not merely eventually.
  auto served_reaches = [&](int count) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    while (served < count && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    return served >= count;
  };
  const bool before_kill = served_reaches(300);
  redis_.kill();
  const int at_kill = served;
  const bool while_dead = served_reaches(at_kill + 600);
  redis_.start();
  const int at_restart = served;
  const bool after_restart = served_reaches(at_restart + 300);
  stop = true;
  for (auto& client : clients) client.join();
  EXPECT_TRUE(before_kill) << "fewer than 300 requests served in 20 s before Redis died";
  EXPECT_TRUE(while_dead) << "fewer than 600 requests served in the 20 s after Redis died";
  EXPECT_TRUE(after_restart) << "fewer than 300 requests served in 20 s after Redis came back";
  EXPECT_EQ(failures.load(), 0);
}

TEST_F(GatewayWithRedis, TwoGatewaysOnARedisClusterShareEntriesAndInvalidations) {
  testing::RedisCluster cluster(3);
  GatewayUnderTest first(with_redis_url(config(true), cluster.url()), origin_.url());
  GatewayUnderTest second(with_redis_url(config(true), cluster.url()), origin_.url());
  const auto original = http_get(first.port(), "/api/jobs/9");
  EXPECT_EQ(original.header("x-cache"), "MISS");
  const auto shared = http_get(second.port(), "/api/jobs/9");
  EXPECT_EQ(shared.header("x-cache"), "HIT");  // from the cluster node that owns the key
  EXPECT_EQ(shared.body, original.body);
  const auto invalidated = http_request(first.port(), "POST", "/api/cache/invalidate",
                                        {{"Authorization", "Bearer " + kAdminToken}}, R"({"tags":["job:9"]})");
  ASSERT_EQ(invalidated.status, 200U);
  EXPECT_THAT(invalidated.body, HasSubstr("\"ok\":true"));
  EXPECT_NE(get_until_changed(second.port(), "/api/jobs/9", original.body).body, original.body);
  const auto health = http_get(first.port(), "/api/cache/health", {{"Authorization", "Bearer " + kAdminToken}});
  EXPECT_THAT(health.body, HasSubstr("\"available\":true"));
}

}  // namespace
}  // namespace strata::testing
