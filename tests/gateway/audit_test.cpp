// The staleness audit against a real origin on loopback whose resources change at moments the
// test chooses: stale serves are found when no invalidation reaches the gateway and not when one
// does, at the ages the changes imply; conditional and coded answers compare by content; the
// rate holds; a per-user entry is audited with its own user's identity and no other. Ages come
// from a manual clock, so they are exact.

#include "gateway/access_log.hpp"
#include "gateway/audit.hpp"
#include "gateway/compression.hpp"
#include "gateway/harness.hpp"
#include "gateway/identity.hpp"

#include <boost/json/parse.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace strata::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

const std::string kToken = "audit-admin-token";
const Fields kAdmin = {{"Authorization", "Bearer " + kToken}};

std::string config(const std::string& rules, const std::string& audit = "rate = 1000\nconcurrency = 8\n") {
  return "origin = \"{origin}\"\n[admin]\ntoken_sha256 = \"" + gateway::sha256_hex(kToken) +
         "\"\n[identity]\nsource = \"header\"\nheader = \"X-User\"\ntrusted_proxies = [\"127.0.0.0/8\"]\n[audit]\n" +
         audit + rules;
}

const std::string kItems = "[[rules]]\nname = \"items\"\npath = \"/api/items/{id}\"\nttl = \"300s\"\naudit = 1.0\n"
                           "tags = [\"item:{id}\"]\n";

// The /audit answer for one rule, once `audited` audits are in (or after 5 s: then as it is).
boost::json::object audit_of(std::uint16_t port, const std::string& rule, std::uint64_t audited) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  boost::json::object found;
  do {
    const auto answer = http_get(port, "/api/cache/audit", kAdmin);
    EXPECT_EQ(answer.status, 200U) << answer.body;
    const auto body = boost::json::parse(answer.body);
    for (const auto& item : body.at("rules").as_array()) {
      if (item.at("name").as_string() == rule) found = item.as_object();
    }
    if (!found.empty() && found.at("audit").at("audited").to_number<std::uint64_t>() >= audited) return found;
    std::this_thread::sleep_for(5ms);
  } while (std::chrono::steady_clock::now() < deadline);
  ADD_FAILURE() << "fewer than " << audited << " audits of " << rule << " within 5 s";
  return found;
}

class Audit : public ::testing::Test {
protected:
  Audit()
      : origin_([this](const OriginRequestSeen& request) {
          std::lock_guard lock(mutex_);
          seen_.push_back(request);
          OriginAnswer answer;
          if (request.method != "GET") {
            if (request.method == "PUT") ++version_;
            answer.status = 204;
            return answer;
          }
          const auto user = request.headers.count("x-user") != 0 ? request.headers.at("x-user") : std::string("-");
          const int version = request.target.find("/me/") != std::string::npos ? user_version_[user] : version_.load();
          answer.body = "{\"target\":\"" + request.target + "\",\"user\":\"" + user + "\",\"v\":" + std::to_string(version) + "}";
          if (etags_) {
            const std::string etag = "\"v" + std::to_string(version) + "\"";
            answer.headers.emplace_back("ETag", etag);
            const auto match = request.headers.find("if-none-match");
            if (match != request.headers.end() && match->second == etag) {
              answer.status = 304;
              answer.body.clear();
            }
          }
          if (gzip_first_ && answers_++ == 0) {
            answer.body = *gateway::encode(gateway::Coding::gzip, answer.body, 6);
            answer.headers.emplace_back("Content-Encoding", "gzip");
          }
          return answer;
        }) {}

  std::vector<OriginRequestSeen> seen() {
    std::lock_guard lock(mutex_);
    return seen_;
  }

  std::mutex mutex_;
  std::vector<OriginRequestSeen> seen_;
  std::atomic<int> version_{1};
  std::map<std::string, int> user_version_{{"alice", 1}, {"bob", 1}};
  bool etags_ = false;
  bool gzip_first_ = false;
  std::atomic<int> answers_{0};
  TestOrigin origin_;
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
};

TEST_F(Audit, AChangeNoInvalidationReachedIsFoundAtItsAgeAndTheEntryIsRefreshed) {
  GatewayUnderTest gateway(config(kItems), origin_.url(), clock_);
  ASSERT_EQ(http_get(gateway.port(), "/api/items/1").header("x-cache"), "MISS");
  clock_->advance(20s);
  EXPECT_EQ(http_get(gateway.port(), "/api/items/1").header("x-cache"), "HIT");  // audited: still v1
  audit_of(gateway.port(), "items", 1);
  ++version_;  // written behind the gateway's back
  clock_->advance(20s);
  const auto stale = http_get(gateway.port(), "/api/items/1");
  EXPECT_EQ(stale.header("x-cache"), "HIT");
  EXPECT_THAT(stale.body, HasSubstr("\"v\":1"));
  const auto rule = audit_of(gateway.port(), "items", 2);
  const auto& audit = rule.at("audit").as_object();
  EXPECT_EQ(audit.at("identical").to_number<int>(), 1);
  EXPECT_EQ(audit.at("stale").to_number<int>(), 1);
  EXPECT_DOUBLE_EQ(audit.at("stale_rate").to_number<double>(), 50.0);
  // The identical one at 20 s (<= 30), the stale one at 40 s (<= 60).
  const auto& ages = audit.at("by_age").as_array();
  ASSERT_EQ(ages.size(), 2U);
  EXPECT_EQ(ages[0].at("age_le_seconds").to_number<int>(), 30);
  EXPECT_EQ(ages[0].at("stale").to_number<int>(), 0);
  EXPECT_EQ(ages[1].at("age_le_seconds").to_number<int>(), 60);
  EXPECT_EQ(ages[1].at("stale").to_number<int>(), 1);
  // The stale entry was dropped: the next client gets v2, and the miss is counted.
  const auto fresh = http_get(gateway.port(), "/api/items/1");
  EXPECT_EQ(fresh.header("x-cache"), "MISS");
  EXPECT_THAT(fresh.body, HasSubstr("\"v\":2"));
  const auto stats = boost::json::parse(http_get(gateway.port(), "/api/cache/stats", kAdmin).body);
  EXPECT_EQ(stats.at("audit").at("missed_invalidations").to_number<int>(), 1);
  const auto metrics = http_get(gateway.port(), "/metrics", kAdmin).body;
  EXPECT_THAT(metrics, HasSubstr("strata_gateway_rule_audits_total{rule=\"items\",result=\"stale\"} 1\n"));
  EXPECT_THAT(metrics, HasSubstr("strata_gateway_missed_invalidations_total 1\n"));
  // Audits are GETs like a miss would send, never the client's method or body.
  for (const auto& request : seen()) EXPECT_EQ(request.method, "GET");
}

TEST_F(Audit, WithTheInvalidationRuleNoStaleServeIsFound) {
  GatewayUnderTest gateway(config(kItems + "[[rules]]\nmethod = \"PUT\"\npath = \"/api/items/{id}\"\n"
                                            "invalidate_tags = [\"item:{id}\"]\n"),
                           origin_.url(), clock_);
  for (int round = 0; round < 5; ++round) {
    http_get(gateway.port(), "/api/items/1");  // a miss after each write, hits otherwise
    clock_->advance(10s);
    http_get(gateway.port(), "/api/items/1");
    audit_of(gateway.port(), "items", static_cast<std::uint64_t>(round + 1));
    ASSERT_EQ(http_request(gateway.port(), "PUT", "/api/items/1", {}, "{}").status, 204U);
  }
  const auto rule = audit_of(gateway.port(), "items", 5);
  EXPECT_EQ(rule.at("audit").at("stale").to_number<int>(), 0);
  EXPECT_EQ(rule.at("audit").at("identical").to_number<int>(), 5);
}

TEST_F(Audit, AnEntryWithTheOriginsValidatorIsAuditedConditionally) {
  etags_ = true;
  GatewayUnderTest gateway(config(kItems), origin_.url(), clock_);
  http_get(gateway.port(), "/api/items/7");
  http_get(gateway.port(), "/api/items/7");
  const auto rule = audit_of(gateway.port(), "items", 1);
  EXPECT_EQ(rule.at("audit").at("identical").to_number<int>(), 1);
  const auto requests = seen();
  ASSERT_EQ(requests.size(), 2U);
  EXPECT_EQ(requests[1].headers.at("if-none-match"), "\"v1\"");  // answered 304
}

TEST_F(Audit, ACompressedEntryAndAnIdentityAnswerWithTheSameContentAreTheSame) {
  gzip_first_ = true;
  GatewayUnderTest gateway(config(kItems), origin_.url(), clock_);
  http_get(gateway.port(), "/api/items/3", {{"Accept-Encoding", "gzip"}});  // stored gzipped as the origin sent it
  http_get(gateway.port(), "/api/items/3");
  const auto rule = audit_of(gateway.port(), "items", 1);
  EXPECT_EQ(rule.at("audit").at("identical").to_number<int>(), 1);
  EXPECT_EQ(rule.at("audit").at("stale").to_number<int>(), 0);
}

TEST_F(Audit, TheRateHoldsAndWhatItRefusesIsCounted) {
  GatewayUnderTest gateway(config(kItems, "rate = 2\nconcurrency = 1\n"), origin_.url(), clock_);
  http_get(gateway.port(), "/api/items/1");
  const auto began = std::chrono::steady_clock::now();
  for (int i = 0; i < 60; ++i) http_get(gateway.port(), "/api/items/1");
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  const auto audited = audit_of(gateway.port(), "items", 1).at("audit").at("audited").to_number<double>();
  // A second's worth at once (2), then 2 a second.
  EXPECT_LE(audited, 2 + 2 * seconds + 1);
  const auto skipped = boost::json::parse(http_get(gateway.port(), "/api/cache/audit", kAdmin).body)
                           .at("skipped_by_limits").to_number<double>();
  EXPECT_GE(skipped, 60 - audited - 1);
  EXPECT_EQ(origin_.total(), 1U + static_cast<std::size_t>(audited));
}

TEST_F(Audit, APerUserEntryIsAuditedAsItsOwnUserAndNoOther) {
  GatewayUnderTest gateway(config("[[rules]]\nname = \"me\"\npath = \"/api/me/{section}\"\nttl = \"300s\"\n"
                                  "per_user = true\naudit = 1.0\n"),
                           origin_.url(), clock_);
  for (const char* user : {"alice", "bob"}) http_get(gateway.port(), "/api/me/profile", {{"X-User", user}});
  {
    std::lock_guard lock(mutex_);
    ++user_version_["alice"];  // only alice's data changes
  }
  clock_->advance(5s);
  for (const char* user : {"alice", "bob"}) {
    const auto hit = http_get(gateway.port(), "/api/me/profile", {{"X-User", user}});
    EXPECT_THAT(hit.body, HasSubstr(std::string("\"user\":\"") + user + "\""));
  }
  const auto rule = audit_of(gateway.port(), "me", 2);
  EXPECT_EQ(rule.at("audit").at("stale").to_number<int>(), 1);      // alice's
  EXPECT_EQ(rule.at("audit").at("identical").to_number<int>(), 1);  // bob's
  // Each user's miss and audit went to the origin as that user, and nothing else did.
  std::map<std::string, int> by_user;
  for (const auto& request : seen()) by_user[request.headers.at("x-user")] += 1;
  EXPECT_EQ(by_user, (std::map<std::string, int>{{"alice", 2}, {"bob", 2}}));
  EXPECT_EQ(http_get(gateway.port(), "/api/me/profile", {{"X-User", "alice"}}).header("x-cache"), "MISS");
  EXPECT_EQ(http_get(gateway.port(), "/api/me/profile", {{"X-User", "bob"}}).header("x-cache"), "HIT");
}

TEST_F(Audit, TheSuggestionConvergesOnAResourceRewrittenEveryMinute) {
  // The origin's data changes on every whole minute of the test's clock, and nothing tells the
  // gateway. One request a second, every hit audited: entries are identical up to about 59 s old,
  // then stale. Over twenty minutes the advice settles on the longest bucket that keeps the stale
  // ratio under the target: 30 s for 1% (the 60 s bucket holds one stale hit in ~59), 60 s for 5%.
  for (const auto& [target, expected] : {std::pair{"0.01", 30}, std::pair{"0.05", 60}}) {
    version_ = 0;
    GatewayUnderTest gateway(config(kItems, std::string("rate = 100000\nconcurrency = 8\nstale_target = ") + target + "\n"),
                             origin_.url(), clock_);
    std::uint64_t hits = 0;
    for (int second = 0; second < 20 * 60; ++second) {
      version_ = second / 60;
      if (http_get(gateway.port(), "/api/items/1").header("x-cache") == "HIT") {
        audit_of(gateway.port(), "items", ++hits);  // each audit done before the clock moves on
      }
      clock_->advance(1s);
    }
    const auto suggestion = audit_of(gateway.port(), "items", hits).at("audit").at("suggestion");
    ASSERT_FALSE(suggestion.at("ttl_seconds").is_null()) << suggestion;
    EXPECT_EQ(suggestion.at("ttl_seconds").to_number<int>(), expected) << target << ": " << suggestion;
  }
}

TEST(AuditAdvice, TheSuggestionIsTheLongestTtlUnderTheTargetWithConfidence) {
  gateway::AuditAges ages;
  // A resource rewritten every 60 s with no invalidation: hits up to 10 s old are never stale,
  // from 15 s on increasingly so.
  ages.audited[0] = 400;  // <= 1 s
  ages.audited[3] = 400;  // <= 10 s
  ages.audited[4] = 200;  // <= 15 s
  ages.differing[4] = 30;
  ages.audited[6] = 200;  // <= 60 s
  ages.differing[6] = 100;
  const auto advice = gateway::advise_ttl(ages, 0.01);
  ASSERT_TRUE(advice.ttl_seconds);
  EXPECT_EQ(*advice.ttl_seconds, 10);
  EXPECT_EQ(advice.samples, 800U);
  EXPECT_DOUBLE_EQ(advice.stale_ratio, 0.0);
  EXPECT_LT(advice.stale_upper_bound, 0.01);
  // Too few samples to be 95% sure of 1%, however clean they are.
  gateway::AuditAges few;
  few.audited[3] = 50;
  const auto unsure = gateway::advise_ttl(few, 0.01);
  EXPECT_FALSE(unsure.ttl_seconds);
  EXPECT_THAT(unsure.reason, HasSubstr("about 381 are needed, 50 so far"));
  EXPECT_FALSE(gateway::advise_ttl(gateway::AuditAges{}, 0.01).ttl_seconds);
  // Clean up to the oldest age seen, and nothing older: that age, not a day.
  gateway::AuditAges young;
  young.audited[3] = 1000;  // <= 10 s
  const auto bounded = gateway::advise_ttl(young, 0.01);
  ASSERT_TRUE(bounded.ttl_seconds);
  EXPECT_EQ(*bounded.ttl_seconds, 10);
  EXPECT_THAT(bounded.reason, HasSubstr("a longer TTL may hold too (not observed)"));
  EXPECT_NEAR(gateway::wilson_upper(0, 380), 0.01, 0.0005);
  EXPECT_NEAR(gateway::wilson_upper(10, 100), 0.1744, 0.001);
}

TEST(AuditLog, AnAuditLineNamesTheRuleAndAgeNeverTheContent) {
  const gateway::AuditEvent event{std::chrono::system_clock::time_point(std::chrono::seconds(1'700'000'000)), "items",
                                  "/api/items/1?token=secret", 40, gateway::AuditResult::differing};
  EXPECT_EQ(gateway::format_audit_line(event, gateway::AccessLogFormat::json),
            R"({"time":"2023-11-14T22:13:20.000Z","audit":"stale","rule":"items","path":"/api/items/1","age_s":40})");
  EXPECT_EQ(gateway::format_audit_line(event, gateway::AccessLogFormat::common),
            R"(- - - [14/Nov/2023:22:13:20 +0000] "AUDIT /api/items/1" audit=stale rule="items" age_s=40)");
}

}  // namespace
}  // namespace strata::testing
