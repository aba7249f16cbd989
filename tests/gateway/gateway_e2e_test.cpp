// The gateway end to end on the embedded L1 tier: a real origin on a loopback port, the gateway
// serving on another, requests over real sockets.

#include "gateway/harness.hpp"
#include "gateway/http_cache.hpp"
#include "gateway/identity.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <boost/json/parse.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <random>
#include <regex>
#include <set>
#include <thread>

namespace strata::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

const std::string kJwtSecret = "gateway-test-secret-0123";
const std::string kAdminToken = "admin-token-for-tests";

std::string user_token(const std::string& user, bool admin = false) {
  return hs256_jwt(kJwtSecret, R"({"sub":")" + user + R"(")" + (admin ? R"(,"role":"admin")" : "") + "}");
}
Fields as_user(const std::string& user) { return {{"Authorization", "Bearer " + user_token(user)}}; }
Fields as_admin() { return {{"Authorization", "Bearer " + kAdminToken}}; }

// What the origin believes the caller is: the JWT's subject.
std::string subject_of(const OriginRequestSeen& request) {
  auto found = request.headers.find("authorization");
  if (found == request.headers.end()) return "anonymous";
  return jwt_subject(found->second);
}

// The origin: every answer says which request it was for and how many the origin has served
// for that target, so a test can tell a cached answer from a fresh one.
class Origin {
public:
  Origin()
      : server_([this](const OriginRequestSeen& request) { return answer(request); }) {}

  OriginAnswer answer(const OriginRequestSeen& request) {
    const auto n = ++served_[request.target];
    OriginAnswer out;
    const std::string path = request.target.substr(0, request.target.find('?'));
    out.body = "path=" + request.target + " n=" + std::to_string(n) + " user=" + subject_of(request);
    out.headers.emplace_back("Content-Type", "text/plain");
    if (path.rfind("/api/me/", 0) == 0) out.headers.emplace_back("Cache-Control", "private");
    if (path == "/api/any/cookie") {
      out.headers.emplace_back("Set-Cookie", "session=" + std::to_string(next_cookie_++) + "; HttpOnly");
      out.delay = 100ms;
    }
    if (path == "/api/any/nostore") out.headers.emplace_back("Cache-Control", "no-store");
    if (path == "/api/any/varystar") out.headers.emplace_back("Vary", "*");
    if (path == "/api/any/private") out.headers.emplace_back("Cache-Control", "private, max-age=60");
    if (path == "/api/any/error") out.status = 500;
    if (path.rfind("/api/missing/", 0) == 0) out.status = 404;
    if (path == "/api/any/slow") out.delay = 300ms;
    if (path.rfind("/api/hung/", 0) == 0 && hung_) out.delay = 3s;  // accepts, then answers far too late
    if (path == "/api/hung/strict") out.headers.emplace_back("Cache-Control", "must-revalidate");
    if (path == "/api/any/big") out.body.append(2 * 1024 * 1024, 'x');
    if (path == "/api/any/etag") {
      out.headers.emplace_back("ETag", "\"v1\"");
      out.headers.emplace_back("Last-Modified", "Sun, 06 Nov 1994 08:49:37 GMT");
    }
    if (path == "/api/any/tagged") out.headers.emplace_back("Cache-Tag", "product:1, catalog");
    if (path.rfind("/public/", 0) == 0) out.headers.emplace_back("Cache-Control", "public, max-age=60");
    if (path == "/rfc/fresh") out.headers.emplace_back("Cache-Control", "max-age=60");
    if (path == "/rfc/aged") {
      out.headers.emplace_back("Cache-Control", "max-age=60");
      out.headers.emplace_back("Age", "50");
    }
    if (path == "/rfc/expires") {
      const auto now = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      out.headers.emplace_back("Date", gateway::format_http_date(now));
      out.headers.emplace_back("Expires", gateway::format_http_date(now + 30));
    }
    if (request.method == "POST" && path == "/api/notify") out.headers.emplace_back("X-Strata-Invalidate", "tag=job:1");
    if (request.method != "GET" && request.method != "HEAD") out.status = 201;
    return out;
  }

  TestOrigin& server() { return server_; }
  std::string url() const { return server_.url(); }
  std::size_t count(const std::string& target) const { return server_.count(target); }
  void hang(bool on) { hung_ = on; }

private:
  std::map<std::string, std::atomic<int>> served_;
  std::atomic<int> next_cookie_{1};
  std::atomic<bool> hung_{false};
  TestOrigin server_;
};

const std::string kConfig = R"(
origin = "{origin}"
[limits]
max_cacheable_bytes = 65536
max_request_body_bytes = 1024
[admin]
token_sha256 = ")" + gateway::sha256_hex("admin-token-for-tests") + R"("
[identity]
source = "jwt"
jwt_secret = "gateway-test-secret-0123"
[[rules]]
path = "/api/jobs/{id}"
ttl = "30s"
query = ["verbose"]
tags = ["job:{id}"]
[[rules]]
path = "/api/library/paged"
namespace = "library"
ttl = "300s"
query = ["page", "per_page", "sort_by", "order"]
[[rules]]
path = "/api/me/{section}"
ttl = "60s"
per_user = true
[[rules]]
method = "POST"
path = "/api/meetings"
invalidate_namespaces = ["session", "analytics"]
[[rules]]
method = "PUT"
path = "/api/meetings/{id}"
invalidate_tags = ["meeting:{id}"]
[[rules]]
path = "/api/meetings/{id}"
ttl = "60s"
tags = ["meeting:{id}"]
[[rules]]
path = "/api/analytics"
namespace = "analytics"
ttl = "600s"
[[rules]]
path = "/api/stale/{id}"
ttl = "10s"
stale_while_revalidate = "30s"
stale_if_error = "300s"
[[rules]]
path = "/api/hung/{id}"
ttl = "10s"
stale_if_error = "300s"
soft_timeout = "200ms"
[[rules]]
path = "/api/missing/{id}"
ttl = "60s"
negative_statuses = [404]
negative_ttl = "5s"
[[rules]]
path = "/api/live/{id}"
cache = false
[[rules]]
path = "/api/any/{name}"
ttl = "60s"
)";

class GatewayEndToEnd : public ::testing::Test {
protected:
  GatewayEndToEnd() : clock_(std::make_shared<ManualClock>()), gateway_(kConfig, origin_.url(), clock_) {}
  std::uint16_t port() const { return gateway_.port(); }
  HttpResult get(const std::string& target, const Fields& fields = {}) { return http_get(port(), target, fields); }

  Origin origin_;
  std::shared_ptr<ManualClock> clock_;
  GatewayUnderTest gateway_;
};

TEST_F(GatewayEndToEnd, MissThenHitSaysSoInEveryHeader) {
  auto first = get("/api/jobs/1");
  ASSERT_EQ(first.status, 200U) << first.error;
  EXPECT_EQ(first.header("x-cache"), "MISS");
  EXPECT_THAT(first.header("cache-status"), HasSubstr("fwd=miss"));
  EXPECT_EQ(first.header("age"), "0");
  clock_->advance(3s);
  auto second = get("/api/jobs/1");
  EXPECT_EQ(second.header("x-cache"), "HIT");
  EXPECT_THAT(second.header("cache-status"), HasSubstr("strata; hit"));
  EXPECT_EQ(second.header("age"), "3");
  EXPECT_EQ(second.body, first.body);
  EXPECT_EQ(origin_.count("/api/jobs/1"), 1U);
  // The key is shown to admin callers only.
  EXPECT_THAT(second.header("cache-status"), Not(HasSubstr("key=")));
  auto as_admin_caller = get("/api/jobs/1", {{"Authorization", "Bearer " + user_token("root", true)}});
  EXPECT_THAT(as_admin_caller.header("cache-status"), HasSubstr("key=\"jobs:/api/jobs/1:"));
}

TEST_F(GatewayEndToEnd, QueryParameterOrderAndUnkeyedParametersShareOneEntry) {
  auto first = get("/api/library/paged?sort_by=title&page=2&per_page=10&utm_source=mail");
  auto second = get("/api/library/paged?per_page=10&page=2&sort_by=title");
  EXPECT_EQ(first.header("x-cache"), "MISS");
  EXPECT_EQ(second.header("x-cache"), "HIT");
  EXPECT_EQ(second.body, first.body);
  auto other_page = get("/api/library/paged?page=3&per_page=10&sort_by=title");
  EXPECT_EQ(other_page.header("x-cache"), "MISS");
  // The origin got the keyed parameters only, in the rule's order: what it answered is what the
  // key says.
  EXPECT_EQ(origin_.count("/api/library/paged?page=2&per_page=10&sort_by=title"), 1U);
}

TEST_F(GatewayEndToEnd, HeadIsAnsweredFromTheGetEntry) {
  auto head_first = http_request(port(), "HEAD", "/api/jobs/9");
  EXPECT_EQ(head_first.status, 200U);
  EXPECT_EQ(head_first.header("x-cache"), "MISS");
  EXPECT_TRUE(head_first.body.empty());
  auto get_after = get("/api/jobs/9");
  EXPECT_EQ(get_after.header("x-cache"), "HIT");
  EXPECT_EQ(head_first.header("content-length"), std::to_string(get_after.body.size()));
  auto head_again = http_request(port(), "HEAD", "/api/jobs/9");
  EXPECT_EQ(head_again.header("x-cache"), "HIT");
  for (const auto& seen : origin_.server().seen()) EXPECT_EQ(seen.method, "GET");
}

TEST_F(GatewayEndToEnd, ConditionalRequestsAreAnswered304FromTheCache) {
  ASSERT_EQ(get("/api/any/etag").status, 200U);
  auto by_etag = get("/api/any/etag", {{"If-None-Match", "\"v1\""}});
  EXPECT_EQ(by_etag.status, 304U);
  EXPECT_EQ(by_etag.header("etag"), "\"v1\"");
  EXPECT_TRUE(by_etag.body.empty());
  EXPECT_EQ(get("/api/any/etag", {{"If-None-Match", "\"v0\""}}).status, 200U);
  EXPECT_EQ(get("/api/any/etag", {{"If-Modified-Since", "Mon, 07 Nov 1994 00:00:00 GMT"}}).status, 304U);
  EXPECT_EQ(get("/api/any/etag", {{"If-Modified-Since", "Sat, 05 Nov 1994 00:00:00 GMT"}}).status, 200U);
  EXPECT_EQ(origin_.count("/api/any/etag"), 1U);
  // The origin never saw the client's validators: it must send the full body for the cache.
  for (const auto& seen : origin_.server().seen()) EXPECT_EQ(seen.headers.count("if-none-match"), 0U);
}

TEST_F(GatewayEndToEnd, UsersNeverSeeEachOthersDataUnderConcurrentRandomTraffic) {
  const std::vector<std::string> sections{"profile", "settings", "orders", "profile;x.css"};
  std::vector<std::pair<std::string, std::string>> plan;  // user, target
  std::mt19937 random(20261122);
  for (int i = 0; i < 600; ++i) {
    plan.emplace_back("user" + std::to_string(random() % 24), "/api/me/" + sections[random() % sections.size()]);
  }
  std::size_t hits = 0;
  for (int round = 0; round < 2; ++round) {  // the first round fills, the second reads entries
    const auto results = concurrent_requests(port(), plan.size(), [&](std::size_t i) {
      return std::make_pair(plan[i].second, as_user(plan[i].first));
    });
    for (std::size_t i = 0; i < plan.size(); ++i) {
      ASSERT_EQ(results[i].status, 200U) << results[i].error;
      EXPECT_THAT(results[i].body, HasSubstr(" user=" + plan[i].first)) << plan[i].second;
      EXPECT_THAT(results[i].body, HasSubstr("path=" + plan[i].second));
      hits += results[i].header("x-cache") == "HIT" ? 1 : 0;
    }
  }
  EXPECT_GE(hits, plan.size());  // per-user entries were stored and reused, not bypassed
  // Without an identity there is no per-user entry to read or write.
  auto anonymous = get("/api/me/profile");
  EXPECT_EQ(anonymous.header("x-cache"), "BYPASS");
  EXPECT_THAT(anonymous.body, HasSubstr("user=anonymous"));
  auto forged = get("/api/me/profile", {{"Authorization", "Bearer " + hs256_jwt("wrong-secret-wrong-secret", R"({"sub":"user1"})")}});
  EXPECT_EQ(forged.header("x-cache"), "BYPASS");
}

TEST_F(GatewayEndToEnd, SetCookieReachesOnlyItsOwnClientEvenWhenCoalesced) {
  const auto results = concurrent_requests(port(), 100, [](std::size_t) { return std::make_pair(std::string("/api/any/cookie"), Fields{}); });
  std::set<std::string> cookies;
  for (const auto& result : results) {
    ASSERT_EQ(result.status, 200U) << result.error;
    ASSERT_EQ(result.set_cookies.size(), 1U);
    cookies.insert(result.set_cookies.front());
    EXPECT_NE(result.header("x-cache"), "HIT");
  }
  EXPECT_EQ(cookies.size(), 100U);  // nobody got somebody else's session
  auto later = get("/api/any/cookie");
  EXPECT_NE(later.header("x-cache"), "HIT");
}

TEST_F(GatewayEndToEnd, NoStorePrivateAndVaryStarAreNotStored) {
  for (const char* path : {"/api/any/nostore", "/api/any/private", "/api/any/varystar"}) {
    EXPECT_EQ(get(path).status, 200U);
    auto again = get(path);
    EXPECT_NE(again.header("x-cache"), "HIT") << path;
    EXPECT_EQ(origin_.count(path), 2U) << path;
  }
}

TEST_F(GatewayEndToEnd, ServerErrorsAreNotStoredButNegativeRulesAre) {
  EXPECT_EQ(get("/api/any/error").status, 500U);
  EXPECT_EQ(get("/api/any/error").status, 500U);
  EXPECT_EQ(origin_.count("/api/any/error"), 2U);
  EXPECT_EQ(get("/api/missing/1").status, 404U);
  auto cached = get("/api/missing/1");
  EXPECT_EQ(cached.status, 404U);
  EXPECT_EQ(cached.header("x-cache"), "HIT");
  clock_->advance(6s);  // negative_ttl is 5 s, shorter than the rule's ttl
  EXPECT_EQ(get("/api/missing/1").header("x-cache"), "MISS");
}

TEST_F(GatewayEndToEnd, MutationRulesInvalidateNamespacesAndTags) {
  get("/api/analytics");
  EXPECT_EQ(get("/api/analytics").header("x-cache"), "HIT");
  auto created = http_request(port(), "POST", "/api/meetings", {{"Content-Type", "application/json"}}, "{}");
  EXPECT_EQ(created.status, 201U);
  EXPECT_EQ(created.header("x-cache"), "BYPASS");
  EXPECT_EQ(get("/api/analytics").header("x-cache"), "MISS");

  get("/api/meetings/5");
  get("/api/meetings/6");
  EXPECT_EQ(http_request(port(), "PUT", "/api/meetings/5", {}, "{}").status, 201U);
  EXPECT_EQ(get("/api/meetings/5").header("x-cache"), "MISS");
  EXPECT_EQ(get("/api/meetings/6").header("x-cache"), "HIT");
}

TEST_F(GatewayEndToEnd, TheOriginNamesWhatAMutationInvalidates) {
  get("/api/jobs/1");
  get("/api/any/tagged");
  EXPECT_EQ(get("/api/jobs/1").header("x-cache"), "HIT");
  auto response = http_request(port(), "POST", "/api/notify", {}, "x");
  EXPECT_EQ(response.status, 201U);
  EXPECT_EQ(response.header("x-strata-invalidate"), "");  // for the gateway, not the client
  EXPECT_EQ(get("/api/jobs/1").header("x-cache"), "MISS");
  // Cache-Tag from a response is an ordinary tag.
  auto admin = http_request(port(), "DELETE", "/api/cache/invalidate/catalog", as_admin());
  EXPECT_EQ(admin.status, 200U);
  EXPECT_EQ(get("/api/any/tagged").header("x-cache"), "MISS");
}

TEST_F(GatewayEndToEnd, AdminEndpointsRefuseCallersWithoutTheRightCredentials) {
  auto nobody = get("/api/cache/stats");
  EXPECT_EQ(nobody.status, 401U);
  EXPECT_THAT(nobody.body, HasSubstr("\"error\":\"unauthorized\""));
  EXPECT_EQ(get("/api/cache/stats", {{"Authorization", "Bearer not-the-token"}}).status, 403U);
  EXPECT_EQ(get("/api/cache/stats", as_user("mallory")).status, 403U);
  EXPECT_EQ(get("/metrics", as_user("mallory")).status, 403U);
  EXPECT_EQ(http_request(port(), "POST", "/api/cache/clear").status, 401U);
  auto by_token = get("/api/cache/stats", as_admin());
  EXPECT_EQ(by_token.status, 200U);
  EXPECT_THAT(by_token.body, HasSubstr("\"cache_enabled\":true"));
  EXPECT_THAT(by_token.body, HasSubstr("\"hit_rate\""));
  auto by_jwt = get("/api/cache/info", {{"Authorization", "Bearer " + user_token("root", true)}});
  EXPECT_EQ(by_jwt.status, 200U);
  EXPECT_THAT(by_jwt.body, HasSubstr("\"rules\":12"));
  auto metrics = get("/metrics", as_admin());
  EXPECT_THAT(metrics.body, HasSubstr("strata_gateway_requests_total"));
  EXPECT_THAT(metrics.body, HasSubstr("strata_cache_"));
  auto health = get("/api/cache/health", as_admin());
  EXPECT_THAT(health.body, HasSubstr("\"status\":\"ok\""));
  EXPECT_EQ(get("/health").status, 200U);  // liveness needs no credentials and shows nothing
  EXPECT_EQ(http_request(port(), "GET", "/api/cache/clear", as_admin()).status, 405U);
  EXPECT_EQ(get("/api/cache/nothing-here", as_admin()).status, 404U);
}

TEST_F(GatewayEndToEnd, StatsAndMetricsCountEachRuleOnItsOwn) {
  get("/api/jobs/1");
  get("/api/jobs/1");
  get("/api/jobs/1");
  get("/api/any/nostore");
  get("/api/any/nostore");  // marked uncacheable by the first: around the cache
  get("/api/live/1");
  get("/elsewhere");
  auto stats = http_get(port(), "/api/cache/stats", as_admin());
  ASSERT_EQ(stats.status, 200U);
  const auto body = boost::json::parse(stats.body).as_object();
  std::map<std::string, boost::json::object> rules;
  for (const auto& rule : body.at("rules").as_array()) {
    rules[std::string(rule.at("name").as_string())] = rule.as_object();
  }
  const auto& jobs = rules.at("GET /api/jobs/{id}");
  EXPECT_EQ(jobs.at("requests").to_number<int>(), 3);
  EXPECT_EQ(jobs.at("hits").to_number<int>(), 2);
  EXPECT_EQ(jobs.at("misses").to_number<int>(), 1);
  EXPECT_DOUBLE_EQ(jobs.at("hit_rate").to_number<double>(), 66.67);
  // Two hits served the body the origin sent once.
  const auto job_body = get("/api/jobs/1").body;
  EXPECT_EQ(jobs.at("bytes_saved").to_number<std::size_t>(), 2 * job_body.size());
  EXPECT_EQ(jobs.at("latency").at("count").to_number<int>(), 3);
  EXPECT_GT(jobs.at("latency").at("p99_us").to_number<double>(), 0.0);
  const auto& any = rules.at("GET /api/any/{name}");
  EXPECT_EQ(any.at("misses").to_number<int>(), 1);
  EXPECT_EQ(any.at("bypass").to_number<int>(), 1);
  EXPECT_EQ(any.at("not_stored").at("no-store").to_number<int>(), 1);
  EXPECT_EQ(any.at("not_stored").as_object().size(), 1U);  // a bypass is not a response left unstored
  EXPECT_EQ(rules.at("GET /api/live/{id}").at("bypass").to_number<int>(), 1);
  EXPECT_EQ(rules.at("(unmatched)").at("requests").to_number<int>(), 1);
  EXPECT_EQ(rules.count("GET /api/analytics"), 1U);  // configured, not yet asked for: zeros
  EXPECT_EQ(rules.at("GET /api/analytics").at("requests").to_number<int>(), 0);

  const auto metrics = http_get(port(), "/metrics", as_admin()).body;
  EXPECT_THAT(metrics, HasSubstr("strata_gateway_rule_hits_total{rule=\"GET /api/jobs/{id}\"} 3\n"));  // with the one above
  EXPECT_THAT(metrics, HasSubstr("strata_gateway_rule_not_stored_total{rule=\"GET /api/any/{name}\",reason=\"no-store\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("strata_gateway_rule_response_seconds_count{rule=\"GET /api/jobs/{id}\"} 4\n"));
  EXPECT_THAT(metrics, HasSubstr("strata_gateway_rule_response_seconds_bucket{rule=\"(unmatched)\",le=\"+Inf\"} 1\n"));

  EXPECT_EQ(http_request(port(), "POST", "/api/cache/reset-stats", as_admin()).status, 200U);
  const auto reset = boost::json::parse(http_get(port(), "/api/cache/stats", as_admin()).body).as_object();
  for (const auto& rule : reset.at("rules").as_array()) EXPECT_EQ(rule.at("requests").to_number<int>(), 0) << rule;
}

TEST_F(GatewayEndToEnd, AdminInvalidationByKeyPathTagNamespacePatternAndUser) {
  auto post = [&](const std::string& target, const std::string& body, const Fields& fields = as_admin()) {
    return http_request(port(), "POST", target, fields, body);
  };
  get("/api/jobs/1");
  get("/api/jobs/2");
  get("/api/jobs/3");
  get("/api/analytics");
  get("/api/library/paged?page=1");
  get("/api/me/profile", as_user("ann"));
  get("/api/me/profile", as_user("bob"));

  auto by_path = post("/api/cache/invalidate", R"({"paths":["/api/jobs/1"]})");
  EXPECT_EQ(by_path.status, 200U);
  EXPECT_THAT(by_path.body, HasSubstr("\"affected\":1"));
  EXPECT_EQ(get("/api/jobs/1").header("x-cache"), "MISS");

  const auto status = get("/api/jobs/2", {{"Authorization", "Bearer " + user_token("root", true)}}).header("cache-status");
  std::smatch key;
  ASSERT_TRUE(std::regex_search(status, key, std::regex("key=\"([^\"]+)\"")));
  EXPECT_EQ(post("/api/cache/invalidate", R"({"keys":[")" + key[1].str() + R"("]})").status, 200U);
  EXPECT_EQ(get("/api/jobs/2").header("x-cache"), "MISS");

  EXPECT_EQ(post("/api/cache/invalidate", R"({"tags":["job:3"]})").status, 200U);
  EXPECT_EQ(get("/api/jobs/3").header("x-cache"), "MISS");

  EXPECT_EQ(post("/api/cache/invalidate/analytics", "").status, 200U);
  EXPECT_EQ(get("/api/analytics").header("x-cache"), "MISS");

  EXPECT_EQ(post("/api/cache/invalidate", R"({"patterns":["library:*"]})").status, 200U);
  EXPECT_EQ(get("/api/library/paged?page=1").header("x-cache"), "MISS");

  // A user drops their own entries, and only theirs; it needs their identity, not admin rights.
  EXPECT_EQ(post("/api/cache/invalidate/user", "", {}).status, 401U);
  EXPECT_EQ(post("/api/cache/invalidate/user", "", as_user("ann")).status, 200U);
  EXPECT_EQ(get("/api/me/profile", as_user("ann")).header("x-cache"), "MISS");
  EXPECT_EQ(get("/api/me/profile", as_user("bob")).header("x-cache"), "HIT");

  EXPECT_EQ(post("/api/cache/clear", "").status, 200U);
  EXPECT_EQ(get("/api/me/profile", as_user("bob")).header("x-cache"), "MISS");

  // Malformed bodies say which field is wrong.
  auto bad = post("/api/cache/invalidate", R"({"tags":"job:1"})");
  EXPECT_EQ(bad.status, 400U);
  EXPECT_THAT(bad.body, HasSubstr("\\\"tags\\\" must be an array"));
  EXPECT_THAT(post("/api/cache/invalidate", R"({"tagz":["a"]})").body, HasSubstr("unknown field"));
  EXPECT_EQ(post("/api/cache/invalidate", "{not json").status, 400U);
  EXPECT_EQ(post("/api/cache/invalidate", "{}").status, 400U);
}

TEST_F(GatewayEndToEnd, ExtendTtlKeepsAnEntryFreshLonger) {
  get("/api/jobs/7");
  clock_->advance(25s);
  auto extended = http_request(port(), "POST", "/api/cache/extend-ttl", as_admin(),
                               R"({"paths":["/api/jobs/7"],"ttl_seconds":60})");
  EXPECT_EQ(extended.status, 200U);
  EXPECT_THAT(extended.body, HasSubstr("\"affected\":1"));
  clock_->advance(20s);  // 45 s after the load: past the rule's 30 s, inside the extension
  EXPECT_EQ(get("/api/jobs/7").header("x-cache"), "HIT");
  EXPECT_EQ(http_request(port(), "POST", "/api/cache/extend-ttl", as_admin(), R"({"paths":["/x"]})").status, 400U);
}

TEST_F(GatewayEndToEnd, StaleWhileRevalidateThenStaleIfErrorWithTheOriginStopped) {
  const auto first = get("/api/stale/1");
  EXPECT_THAT(first.body, HasSubstr("n=1"));
  clock_->advance(15s);  // 5 s past fresh: inside stale-while-revalidate
  const auto stale = get("/api/stale/1");
  EXPECT_EQ(stale.header("x-cache"), "STALE");
  EXPECT_EQ(stale.body, first.body);
  // The refresh happened in the background; wait for it, then it is served.
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (origin_.count("/api/stale/1") < 2 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  HttpResult refreshed;
  for (int attempt = 0; attempt < 200; ++attempt) {
    refreshed = get("/api/stale/1");
    if (refreshed.body.find("n=2") != std::string::npos) break;
  }
  EXPECT_EQ(refreshed.header("x-cache"), "HIT");
  EXPECT_THAT(refreshed.body, HasSubstr("n=2"));

  origin_.server().stop();
  clock_->advance(100s);  // past stale-while-revalidate, inside stale-if-error
  const auto rescued = get("/api/stale/1");
  EXPECT_EQ(rescued.status, 200U);
  EXPECT_EQ(rescued.header("x-cache"), "STALE");
  EXPECT_THAT(rescued.body, HasSubstr("n=2"));
  clock_->advance(400s);  // past every window
  const auto failed = get("/api/stale/1");
  EXPECT_EQ(failed.status, 502U);
  EXPECT_THAT(failed.body, HasSubstr("origin_unavailable"));
  EXPECT_EQ(get("/api/jobs/404").status, 502U);
  origin_.server().start();
  EXPECT_EQ(get("/api/jobs/404").status, 200U);
}

TEST_F(GatewayEndToEnd, AHungOriginCostsAStaleRequestTheSoftTimeoutNotTheResponseTimeout) {
  const auto first = get("/api/hung/1");
  ASSERT_THAT(first.body, HasSubstr("n=1"));
  clock_->advance(15s);  // stale, inside stale_if_error
  origin_.hang(true);
  const auto began = std::chrono::steady_clock::now();
  const auto rescued = get("/api/hung/1");
  const auto took = std::chrono::steady_clock::now() - began;
  EXPECT_EQ(rescued.status, 200U);
  EXPECT_EQ(rescued.header("x-cache"), "STALE");
  EXPECT_EQ(rescued.body, first.body);
  // The origin answers after 3 s; the stale copy came after the 200 ms soft timeout.
  EXPECT_LT(took, 2s) << std::chrono::duration_cast<std::chrono::milliseconds>(took).count() << " ms";
  // The fetch went on in the background: once the origin answers, the next request gets it.
  origin_.hang(false);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  HttpResult refreshed;
  do {
    refreshed = get("/api/hung/1");
  } while (refreshed.body.find("n=2") == std::string::npos && std::chrono::steady_clock::now() < deadline);
  EXPECT_THAT(refreshed.body, HasSubstr("n=2"));
  EXPECT_EQ(origin_.count("/api/hung/1"), 2U);
}

TEST_F(GatewayEndToEnd, AStaleCopyTheOriginForbidsWaitsForTheRefreshAfterTheSoftTimeoutNotForASecondFetch) {
  const auto first = get("/api/hung/strict");
  ASSERT_THAT(first.body, HasSubstr("n=1"));
  clock_->advance(15s);  // stale; the origin's must-revalidate forbids serving it so
  origin_.hang(true);
  const auto answered = get("/api/hung/strict");
  EXPECT_EQ(answered.status, 200U);
  // The refresh the soft timeout left running is the answer: the origin was asked once more,
  // not once for the refresh and again for this request.
  EXPECT_THAT(answered.body, HasSubstr("n=2"));
  EXPECT_NE(answered.header("x-cache"), "STALE");
  EXPECT_EQ(origin_.count("/api/hung/strict"), 2U);
}

TEST_F(GatewayEndToEnd, AThousandConcurrentMissesReachTheOriginOnce) {
  const auto results = concurrent_requests(port(), 1000, [](std::size_t) { return std::make_pair(std::string("/api/any/slow"), Fields{}); });
  std::size_t collapsed = 0;
  for (const auto& result : results) {
    ASSERT_EQ(result.status, 200U) << result.error;
    EXPECT_THAT(result.body, HasSubstr("n=1"));
    collapsed += result.header("cache-status").find("collapsed") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(origin_.count("/api/any/slow"), 1U);
  EXPECT_GT(collapsed, 0U);
}

TEST_F(GatewayEndToEnd, RoutingHeadersTheKeyDoesNotHoldNeverReachTheOrigin) {
  get("/api/jobs/5", {{"X-Forwarded-Host", "evil.example"}, {"X-HTTP-Method-Override", "DELETE"},
                      {"X-Original-URL", "/admin"}, {"Forwarded", "host=evil"}});
  const auto seen = origin_.server().seen();
  ASSERT_EQ(seen.size(), 1U);
  for (const char* name : {"x-forwarded-host", "x-http-method-override", "x-original-url", "forwarded"}) {
    EXPECT_EQ(seen[0].headers.count(name), 0U) << name;
  }
  EXPECT_EQ(seen[0].headers.at("host"), "127.0.0.1:" + std::to_string(origin_.server().port()));
  EXPECT_EQ(seen[0].headers.at("x-forwarded-for"), "127.0.0.1");
}

TEST_F(GatewayEndToEnd, PathConfusionCannotPutOnePagesAnswerUnderAnotherKey) {
  for (const char* target : {"/api/me/..%2fprofile", "/static/..%2f..%2fapi/me/profile", "/api/me%2fprofile", "/api/me/%00"}) {
    const auto refused = get(target, as_user("victim"));
    EXPECT_EQ(refused.status, 400U) << target;
  }
  EXPECT_EQ(origin_.server().total(), 0U);
  // Dot segments are resolved before routing, so this is the per-user rule, keyed by the user.
  get("/static/../api/me/profile", as_user("victim"));
  const auto attacker = get("/api/me/profile", as_user("attacker"));
  EXPECT_THAT(attacker.body, HasSubstr("user=attacker"));
  EXPECT_EQ(origin_.server().seen().front().target, "/api/me/profile");
}

TEST_F(GatewayEndToEnd, MalformedAndOversizedRequestsAreRefusedAndServingGoesOn) {
  EXPECT_THAT(raw_exchange(port(), "NOT HTTP AT ALL\r\n\r\n"), HasSubstr("400 Bad Request"));
  EXPECT_THAT(raw_exchange(port(), "GET /api/jobs/1 HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(20000, 'a') + "\r\n\r\n"),
              AllOf(HasSubstr("400 Bad Request"), HasSubstr("max_header_bytes")));
  EXPECT_THAT(raw_exchange(port(), "POST /api/meetings HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + std::string(5000, 'b')),
              AllOf(HasSubstr("413"), HasSubstr("max_request_body_bytes")));
  EXPECT_THAT(raw_exchange(port(), "POST /api/meetings HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
              HasSubstr("400 Bad Request"));
  EXPECT_THAT(raw_exchange(port(), "POST /api/meetings HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc"),
              HasSubstr("400 Bad Request"));
  EXPECT_EQ(origin_.server().total(), 0U);  // none of it reached the origin
  EXPECT_EQ(get("/api/jobs/1").status, 200U);
}

// Whether `bytes` are the beginning of a valid request that needs more bytes to be complete.
bool incomplete_request(const std::string& bytes) {
  namespace http = boost::beast::http;
  http::request_parser<http::string_body> parser;
  parser.eager(true);
  boost::system::error_code error;
  std::size_t used = 0;
  do {
    used += parser.put(boost::asio::buffer(bytes.data() + used, bytes.size() - used), error);
  } while (!error && used < bytes.size() && !parser.is_done());
  return error == http::error::need_more || (!error && !parser.is_done());
}

TEST_F(GatewayEndToEnd, RandomBytesNeverCrashOrHangTheServer) {
  std::mt19937 random(7);
  const std::string pieces[] = {"GET ", "POST ", "/api/jobs/1", " HTTP/1.1\r\n", "Host: x\r\n", "Content-Length: ",
                                "Transfer-Encoding: chunked\r\n", "\r\n", "5\r\nhello\r\n0\r\n\r\n", "%00", ":", "\n",
                                "X-Cache: HIT\r\n", "99999999999999999999", "\x00\xff\xfe"};
  for (int i = 0; i < 150; ++i) {
    std::string bytes;
    const int count = 1 + static_cast<int>(random() % 12);
    for (int p = 0; p < count; ++p) {
      if (random() % 4 == 0) {
        for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<char>(random() % 256));
      } else {
        bytes += pieces[random() % std::size(pieces)];
      }
    }
    const auto answer = raw_exchange(port(), bytes, std::chrono::milliseconds(300));
    // Whatever came back is HTTP. Nothing may come back only when the bytes are the start of a
    // request that is not complete yet (the server is rightly waiting for the rest).
    if (answer.empty()) {
      EXPECT_TRUE(incomplete_request(bytes)) << "no answer to " << ::testing::PrintToString(bytes);
    } else {
      EXPECT_EQ(answer.rfind("HTTP/1.1 ", 0), 0U) << answer.substr(0, 80);
    }
  }
  EXPECT_EQ(get("/api/jobs/1").status, 200U);
}

TEST_F(GatewayEndToEnd, PipelinedRequestsAreAnsweredInOrder) {
  const std::string pipelined = "GET /api/jobs/1 HTTP/1.1\r\nHost: x\r\n\r\n"
                                "GET /api/jobs/2 HTTP/1.1\r\nHost: x\r\n\r\n"
                                "GET /api/jobs/1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
  const auto answers = raw_exchange(port(), pipelined);
  const auto first = answers.find("path=/api/jobs/1 n=1");
  const auto second = answers.find("path=/api/jobs/2 n=1");
  const auto third = answers.find("path=/api/jobs/1 n=1", first + 1);
  ASSERT_NE(first, std::string::npos) << answers;
  ASSERT_NE(second, std::string::npos) << answers;
  ASSERT_NE(third, std::string::npos) << answers;
  EXPECT_LT(first, second);
  EXPECT_LT(second, third);
  EXPECT_NE(answers.find("X-Cache: HIT", second), std::string::npos);  // the third came from the cache
}

TEST_F(GatewayEndToEnd, BodiesOverTheCacheableLimitStreamThroughUncached) {
  const auto first = get("/api/any/big");
  ASSERT_EQ(first.status, 200U) << first.error;
  EXPECT_EQ(first.body.size(), 2U * 1024 * 1024 + std::string("path=/api/any/big n=1 user=anonymous").size());
  EXPECT_EQ(first.body.back(), 'x');
  const auto second = get("/api/any/big");
  EXPECT_EQ(second.body.size(), first.body.size());
  EXPECT_NE(second.header("x-cache"), "HIT");
  EXPECT_EQ(origin_.count("/api/any/big"), 2U);
}

TEST_F(GatewayEndToEnd, UnmatchedRoutesAreCachedOnlyWhenTheOriginSaysPublic) {
  get("/public/logo");
  EXPECT_EQ(get("/public/logo").header("x-cache"), "HIT");
  get("/plain/page");
  EXPECT_NE(get("/plain/page").header("x-cache"), "HIT");
  EXPECT_EQ(get("/api/live/1").header("x-cache"), "BYPASS");
}

TEST_F(GatewayEndToEnd, PooledConnectionsTheOriginClosedAreNotReused) {
  EXPECT_EQ(get("/api/jobs/1").status, 200U);  // leaves a keep-alive connection in the pool
  origin_.server().stop();                     // the origin closes it (as Node does after 5 s idle)
  origin_.server().start();
  // A POST may not be retried blindly; it must not be sent on the dead connection either.
  const auto created = http_request(port(), "POST", "/api/meetings", {}, "{}");
  EXPECT_EQ(created.status, 201U) << created.body;
  EXPECT_EQ(get("/api/jobs/2").status, 200U);
}

TEST_F(GatewayEndToEnd, ReloadAppliesNewRulesToLaterRequests) {
  get("/api/jobs/1");
  EXPECT_EQ(get("/api/jobs/1").header("x-cache"), "HIT");
  // A new origin needs a restart: reported, not applied; the rule change applies at once.
  auto changed = gateway::parse_config("listen = \"127.0.0.1:0\"\norigin = \"http://127.0.0.1:1\""
                                       "\n[[rules]]\npath = \"/api/jobs/{id}\"\ncache = false\n",
                                       "reloaded.toml");
  const auto not_applied = gateway_.gateway().reload(changed);
  EXPECT_THAT(not_applied, HasSubstr("origin"));
  const auto after = get("/api/jobs/1");
  EXPECT_EQ(after.status, 200U);
  EXPECT_EQ(after.header("x-cache"), "BYPASS");
}

TEST(GatewayAdminListener, TheAdminApiCanLiveOnItsOwnListenerOnly) {
  Origin origin;
  GatewayUnderTest gateway("origin = \"{origin}\"\n[admin]\nlisten = \"127.0.0.1:0\"\nexpose_on_main_listener = false\n"
                           "token_sha256 = \"" + gateway::sha256_hex(kAdminToken) + "\"\n",
                           origin.url());
  ASSERT_TRUE(gateway.admin_port());
  EXPECT_EQ(http_get(gateway.port(), "/api/cache/stats", as_admin()).status, 404U);
  EXPECT_EQ(http_get(gateway.port(), "/metrics", as_admin()).status, 404U);
  EXPECT_EQ(http_get(*gateway.admin_port(), "/api/cache/stats", as_admin()).status, 200U);
  EXPECT_EQ(http_get(*gateway.admin_port(), "/api/cache/stats").status, 401U);  // still needs the token
  EXPECT_EQ(origin.server().total(), 0U);  // none of it was proxied
}

TEST(GatewayTrustedHeader, AnIdentityHeaderCountsOnlyFromTrustedProxies) {
  Origin origin;
  const std::string rules = "origin = \"{origin}\"\n[identity]\nsource = \"header\"\nheader = \"X-User\"\n{trust}"
                            "[[rules]]\npath = \"/api/me/{section}\"\nttl = \"60s\"\nper_user = true\n";
  auto with = [&](const std::string& trust) {
    std::string text = rules;
    text.replace(text.find("{trust}"), 7, trust);
    return text;
  };
  {
    // The default trusts loopback, where this test's client connects from.
    GatewayUnderTest gateway(with(""), origin.url());
    http_get(gateway.port(), "/api/me/a", {{"X-User", "alice"}});
    EXPECT_EQ(http_get(gateway.port(), "/api/me/a", {{"X-User", "alice"}}).header("x-cache"), "HIT");
    EXPECT_EQ(origin.server().seen().back().headers.count("x-user"), 1U);
  }
  {
    GatewayUnderTest gateway(with("trusted_proxies = [\"10.0.0.0/8\"]\n"), origin.url());
    const auto forged = http_get(gateway.port(), "/api/me/b", {{"X-User", "alice"}});
    EXPECT_EQ(forged.header("x-cache"), "BYPASS");  // no identity: no per-user entry
    const auto seen = origin.server().seen().back();
    EXPECT_EQ(seen.target, "/api/me/b");
    EXPECT_EQ(seen.headers.count("x-user"), 0U);  // and the origin never sees the forged header
  }
}

TEST(GatewayRfc9111Routes, FreshnessFromMaxAgeExpiresAndAgeWithoutPublic) {
  Origin origin;
  auto clock = std::make_shared<ManualClock>();
  GatewayUnderTest gateway("unmatched_routes = \"rfc9111\"\norigin = \"{origin}\"\n", origin.url(), clock);
  auto get = [&](const std::string& target, const Fields& fields = {}) { return http_get(gateway.port(), target, fields); };
  get("/rfc/fresh");
  EXPECT_EQ(get("/rfc/fresh").header("x-cache"), "HIT");
  // Authorization without public / s-maxage / must-revalidate: not for a shared cache.
  get("/rfc/fresh?x=1", {{"Authorization", "Bearer t"}});
  EXPECT_NE(get("/rfc/fresh?x=1", {{"Authorization", "Bearer t"}}).header("x-cache"), "HIT");
  get("/rfc/expires");
  EXPECT_EQ(get("/rfc/expires").header("x-cache"), "HIT");
  get("/rfc/aged");
  EXPECT_EQ(get("/rfc/aged").header("x-cache"), "HIT");
  clock->advance(std::chrono::seconds(11));  // max-age 60 minus Age 50: stale after 10 s
  EXPECT_EQ(get("/rfc/aged").header("x-cache"), "MISS");
  EXPECT_EQ(get("/rfc/fresh").header("x-cache"), "HIT");
  clock->advance(std::chrono::seconds(20));  // Expires was Date + 30 s
  EXPECT_EQ(get("/rfc/expires").header("x-cache"), "MISS");
  // The default policy would have cached none of these (no `public`).
  GatewayUnderTest strict("origin = \"{origin}\"\n", origin.url());
  http_get(strict.port(), "/rfc/fresh");
  EXPECT_NE(http_get(strict.port(), "/rfc/fresh").header("x-cache"), "HIT");
}

}  // namespace
}  // namespace strata::testing

namespace strata::testing {
namespace {

// Every line the access log holds once the gateway that wrote it has stopped (its writer drains
// on the way out).
std::vector<boost::json::object> access_lines(const std::string& path) {
  std::ifstream file(path);
  std::vector<boost::json::object> lines;
  for (std::string line; std::getline(file, line);) lines.push_back(boost::json::parse(line).as_object());
  return lines;
}

TEST(GatewayAccessLog, OneLinePerRequestSaysWhyAndNeverNamesACredential) {
  TestOrigin origin([](const OriginRequestSeen& request) {
    OriginAnswer answer;
    answer.body = "body of " + request.target;
    if (request.target.rfind("/fresh", 0) == 0) answer.headers = {{"Cache-Control", "public, max-age=60"}};
    if (request.target.rfind("/private", 0) == 0) answer.headers = {{"Cache-Control", "private, max-age=60"}};
    return answer;
  });
  const std::string log_path = ::testing::TempDir() + "strata-access-" + std::to_string(::getpid()) + ".log";
  std::remove(log_path.c_str());
  const std::string admin_token = "access-log-admin";
  std::string metrics;
  {
    GatewayUnderTest gateway("origin = \"{origin}\"\n[admin]\ntoken_sha256 = \"" + gateway::sha256_hex(admin_token) +
                                 "\"\n[access_log]\nenabled = true\npath = \"" + log_path + "\"\n",
                             origin.url());
    EXPECT_EQ(http_get(gateway.port(), "/fresh?token=q-s3cr3t").header("x-cache"), "MISS");
    EXPECT_EQ(http_get(gateway.port(), "/fresh?token=q-s3cr3t").header("x-cache"), "HIT");
    EXPECT_THAT(http_get(gateway.port(), "/private").header("cache-status"), HasSubstr("detail=private"));
    EXPECT_EQ(http_request(gateway.port(), "POST", "/fresh", {{"Authorization", "Bearer h-s3cr3t"}}, "x").status, 200U);
    metrics = http_get(gateway.port(), "/metrics", {{"Authorization", "Bearer " + admin_token}}).body;
  }
  EXPECT_THAT(metrics, HasSubstr("strata_gateway_not_stored_total{reason=\"private\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("strata_gateway_bypass_reason_total{reason=\"method\"} 1\n"));

  std::ifstream raw(log_path);
  const std::string text((std::istreambuf_iterator<char>(raw)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text.find("s3cr3t"), std::string::npos) << text;
  const auto lines = access_lines(log_path);
  ASSERT_EQ(lines.size(), 5U) << text;  // the four requests and the metrics scrape
  // A line is written once its response is; two requests on two connections may be logged in
  // either order, so each is found by what it says.
  const auto line_where = [&](std::string_view method, std::string_view path, std::string_view cache) {
    for (const auto& line : lines) {
      if (line.at("method").as_string() == method && line.at("path").as_string() == path &&
          line.at("cache").as_string() == cache) {
        return line;
      }
    }
    ADD_FAILURE() << "no " << method << " " << path << " " << cache << " line in\n" << text;
    return boost::json::object{};
  };
  const auto miss = line_where("GET", "/fresh", "MISS");
  EXPECT_TRUE(miss.at("reason").is_null());
  EXPECT_FALSE(miss.at("upstream_ms").is_null());
  const auto hit = line_where("GET", "/fresh", "HIT");
  EXPECT_TRUE(hit.at("upstream_ms").is_null());
  EXPECT_EQ(hit.at("bytes").as_int64(), static_cast<std::int64_t>(std::string("body of /fresh?token=q-s3cr3t").size()));
  EXPECT_EQ(line_where("GET", "/private", "MISS").at("reason").as_string(), "private");
  EXPECT_EQ(line_where("POST", "/fresh", "BYPASS").at("reason").as_string(), "method");
  for (const auto& line : lines) EXPECT_EQ(line.at("client").as_string(), "127.0.0.1");
  std::remove(log_path.c_str());
}

TEST(GatewayAccessLog, ASampleOfZeroLogsNothingAndAnUnwritablePathIsAConfigError) {
  TestOrigin origin([](const OriginRequestSeen&) { return OriginAnswer{}; });
  const std::string log_path = ::testing::TempDir() + "strata-access-none-" + std::to_string(::getpid()) + ".log";
  std::remove(log_path.c_str());
  {
    GatewayUnderTest gateway("origin = \"{origin}\"\n[access_log]\nenabled = true\nsample = 0\npath = \"" + log_path + "\"\n",
                             origin.url());
    for (int i = 0; i < 20; ++i) EXPECT_EQ(http_get(gateway.port(), "/x").status, 200U);
  }
  EXPECT_TRUE(access_lines(log_path).empty());
  std::remove(log_path.c_str());
  // Under a regular file: no directory there, for root either.
  const std::string unwritable = log_path + ".file/a.log";
  std::ofstream(log_path + ".file") << "a file, not a directory";
  try {
    GatewayUnderTest gateway("origin = \"{origin}\"\n[access_log]\nenabled = true\npath = \"" + unwritable + "\"\n",
                             origin.url());
    ADD_FAILURE() << "an access log that cannot be opened was accepted";
  } catch (const gateway::ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("access_log.path"));
    EXPECT_THAT(error.what(), HasSubstr(unwritable));
  }
  std::remove((log_path + ".file").c_str());
}

}  // namespace
}  // namespace strata::testing
