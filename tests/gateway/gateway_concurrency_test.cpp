// The gateway's threads under ThreadSanitizer: two I/O threads serving hits, misses, per-user
// entries and pass-through while invalidations, admin calls and a configuration reload land
// concurrently.

#include "gateway/harness.hpp"
#include "gateway/identity.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace strata::testing {
namespace {

using ::testing::HasSubstr;

const std::string kSecret = "concurrency-test-secret-01";

std::string config(bool cache_jobs) {
  return std::string(R"(
origin = "{origin}"
[admin]
token_sha256 = ")") + gateway::sha256_hex("admin") + R"("
[identity]
source = "jwt"
jwt_secret = ")" + kSecret + R"("
[[rules]]
path = "/jobs/{id}"
ttl = "60s"
tags = ["job:{id}"]
cache = )" + (cache_jobs ? "true" : "false") + R"(
[[rules]]
path = "/me/{section}"
ttl = "60s"
per_user = true
[[rules]]
method = "POST"
path = "/jobs/{id}"
invalidate_tags = ["job:{id}"]
)";
}

TEST(GatewayConcurrency, ServingInvalidatingAndReloadingAtOnce) {
  std::atomic<int> served{0};
  TestOrigin origin([&](const OriginRequestSeen& request) {
    OriginAnswer answer;
    const auto auth = request.headers.find("authorization");
    answer.body = request.target + " #" + std::to_string(++served) +
                  (auth == request.headers.end() ? "" : " for " + auth->second.substr(auth->second.size() - 8));
    return answer;
  });
  GatewayUnderTest gateway(config(true), origin.url());
  const auto port = gateway.port();
  std::atomic<bool> stop{false};
  std::atomic<int> failures{0};
  std::atomic<int> leaks{0};
  std::vector<std::thread> clients;
  for (int c = 0; c < 3; ++c) {
    clients.emplace_back([&, c] {
      const std::string token = hs256_jwt(kSecret, R"({"sub":"user)" + std::to_string(c) + R"("})");
      const std::string tail = token.substr(token.size() - 8);
      for (int i = 0; i < 150 && !stop; ++i) {
        const auto jobs = http_get(port, "/jobs/" + std::to_string(i % 7));
        if (jobs.status != 200) ++failures;
        const auto mine = http_get(port, "/me/profile", {{"Authorization", "Bearer " + token}});
        if (mine.status != 200) ++failures;
        if (mine.body.find(" for " + tail) == std::string::npos) ++leaks;
      }
    });
  }
  clients.emplace_back([&] {
    for (int i = 0; i < 60 && !stop; ++i) {
      if (http_request(port, "POST", "/jobs/" + std::to_string(i % 7), {}, "x").status != 200) ++failures;
      const auto admin = http_request(port, "POST", "/api/cache/invalidate", {{"Authorization", "Bearer admin"}},
                                      R"({"tags":["job:3"],"namespaces":["me"]})");
      if (admin.status != 200) ++failures;
    }
  });
  clients.emplace_back([&] {
    for (int i = 0; i < 20; ++i) {
      auto next = gateway::parse_config("listen = \"127.0.0.1:0\"\n" + [&] {
        std::string text = config(i % 2 == 0);
        text.replace(text.find("{origin}"), 8, origin.url());
        return text;
      }(), "reload.toml");
      (void)gateway.gateway().reload(next);
      std::this_thread::yield();
    }
  });
  for (auto& client : clients) client.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(leaks.load(), 0);
  EXPECT_THAT(http_get(port, "/api/cache/stats", {{"Authorization", "Bearer admin"}}).body, HasSubstr("\"hits\""));
}

}  // namespace
}  // namespace strata::testing
