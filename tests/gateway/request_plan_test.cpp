// Request planning as tables: the key a request names, the query the origin sees, and which of
// the client's header fields reach the origin.

#include "gateway/request_plan.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strata::gateway {
namespace {

RuleStats rule_stats;  // the counters every Runtime here points into

namespace http = boost::beast::http;
using Fields = std::vector<std::pair<std::string, std::string>>;

Request get(std::string_view target, const Fields& fields = {}) {
  Request request(http::verb::get, target, 11);
  for (const auto& [name, value] : fields) request.insert(name, value);
  return request;
}

Target target_of(std::string_view raw) {
  std::string error;
  auto target = normalize_target(raw, &error);
  EXPECT_TRUE(target.has_value()) << raw << ": " << error;
  return target.value_or(Target{});
}

GatewayConfig config_with(std::vector<Rule> rules) {
  GatewayConfig config;
  config.origin.host = "127.0.0.1";
  config.origin.port = 9;
  config.identity.header = "x-user-id";
  config.identity.trusted_proxies = {"10.0.0.0/8"};
  config.rules = std::move(rules);
  return config;
}

Rule rule_for(std::string path, std::vector<std::string> query = {"*"}, std::vector<std::string> headers = {},
              bool per_user = false) {
  Rule rule;
  rule.name = "r";
  std::string error;
  rule.name_space = PathTemplate::compile(path, &error)->default_namespace();  // as the config parser does
  rule.path = std::move(path);
  rule.query = std::move(query);
  rule.headers = std::move(headers);
  rule.per_user = per_user;
  return rule;
}

TEST(RequestPlan, CanonicalQueryOrdersAndEncodesOneWay) {
  struct Row {
    std::string raw;
    std::vector<std::string> keyed;  // empty: no rule (all parameters)
    std::string expected;
  };
  const std::vector<Row> rows = {
      {"", {}, ""},
      {"b=2&a=1", {}, "a=1&b=2"},
      {"b=2&a=1", {"*"}, "a=1&b=2"},
      {"a=2&a=1", {}, "a=2&a=1"},                  // repeated names keep their order
      {"q=a+b&r=a%20b", {}, "q=a%20b&r=a%20b"},    // '+' and %20 are the same space
      {"x=%7e&y=~", {}, "x=~&y=~"},                // unreserved escapes decoded
      {"x=%2f&y=/", {}, "x=%2F&y=%2F"},            // reserved characters always escaped
      {"flag&=v", {}, "=v&flag="},                 // a bare name has an empty value
      {"page=2&sort=asc&utm=x", {"sort", "page"}, "sort=asc&page=2"},  // the rule's order, others dropped
      {"utm=x", {"page"}, ""},
  };
  for (const auto& row : rows) {
    const auto* keyed = row.keyed.empty() ? nullptr : &row.keyed;
    EXPECT_EQ(canonical_query(row.raw, keyed), row.expected) << row.raw;
  }
}

TEST(RequestPlan, EquivalentRequestsNameOneEntryAndOthersDoNot) {
  const Runtime runtime(config_with({rule_for("/api/items", {"page"}, {"x-tenant"}),
                                     rule_for("/api/me", {"*"}, {}, true)}),
                        rule_stats);
  const auto plan = [&](std::string_view raw, const Fields& fields = {},
                        const std::optional<std::string>& user = std::nullopt) {
    const auto target = target_of(raw);
    auto [rule, variables] = runtime.match("GET", target.path);
    return plan_entry(runtime, rule, std::move(variables), target, get(raw, fields), user);
  };
  struct Row {
    EntryPlan a;
    EntryPlan b;
    bool same;
  };
  const std::vector<Row> rows = {
      {plan("/api/items?page=1", {{"X-Tenant", "t1"}}), plan("/api//items/./?page=1&utm=z", {{"x-tenant", "t1"}}),
       false},  // the trailing slash names another resource
      {plan("/api/items?page=1", {{"X-Tenant", "t1"}}), plan("/api//items?utm=z&page=1", {{"x-tenant", "t1"}}), true},
      {plan("/api/items?page=1", {{"X-Tenant", "t1"}}), plan("/api/items?page=1", {{"X-Tenant", "t2"}}), false},
      {plan("/api/items?page=1", {{"X-Tenant", "t1"}}), plan("/api/items?page=1"), false},
      {plan("/api/items?page=1"), plan("/api/items?page=2"), false},
      {plan("/api/me", {}, "alice"), plan("/api/me", {}, "alice"), true},
      {plan("/api/me", {}, "alice"), plan("/api/me", {}, "bob"), false},
      {plan("/other?b=1&a=2"), plan("/other?a=2&b=1"), true},  // no rule: every parameter, sorted
      {plan("/other?a=1"), plan("/other?a=2"), false},
  };
  for (std::size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].a.key == rows[i].b.key, rows[i].same)
        << "row " << i << ": " << rows[i].a.key.to_string() << " vs " << rows[i].b.key.to_string();
  }
}

TEST(RequestPlan, PlanNamesNamespaceUpstreamTargetUserAndKeyedHeaders) {
  const Runtime runtime(config_with({rule_for("/api/items/{id}", {"page"}, {"x-tenant"}),
                                     rule_for("/api/me", {"*"}, {}, true)}),
                        rule_stats);
  const auto items = target_of("/api/items/7?utm=x&page=3");
  auto [rule, variables] = runtime.match("GET", items.path);
  ASSERT_NE(rule, nullptr);
  const auto plan = plan_entry(runtime, rule, std::move(variables), items, get("/"), std::string("alice"));
  EXPECT_EQ(plan.key.name_space(), "items");
  EXPECT_EQ(plan.upstream_target, "/api/items/7?page=3");  // unkeyed parameters never reach the origin
  EXPECT_EQ(plan.keyed_headers, std::vector<std::string>{"x-tenant"});
  EXPECT_EQ(plan.user, std::nullopt);  // the rule is not per user: the user is not in its key
  EXPECT_EQ(plan.variables.at("id"), "7");
  EXPECT_EQ(plan.variables.at("user"), "alice");  // but invalidation templates may name it

  const auto me = target_of("/api/me");
  auto [me_rule, me_variables] = runtime.match("GET", me.path);
  const auto personal = plan_entry(runtime, me_rule, std::move(me_variables), me, get("/api/me"), std::string("alice"));
  EXPECT_EQ(personal.user, std::optional<std::string>("alice"));
  EXPECT_NE(personal.key.to_string().find("alice"), std::string::npos);

  const auto unmatched = target_of("/elsewhere");
  const auto plain = plan_entry(runtime, nullptr, {}, unmatched, get("/elsewhere"), std::string("alice"));
  EXPECT_EQ(plain.key.name_space(), "http");
  EXPECT_EQ(plain.user, std::nullopt);
}

TEST(RequestPlan, VariantPlanKeepsTheUrlKeyAndSeparatesVariants) {
  const Runtime runtime(config_with({}), rule_stats);
  const auto target = target_of("/page");
  const auto url = plan_entry(runtime, nullptr, {}, target, get("/page"), std::nullopt);
  auto index = std::make_shared<VariantIndex>();
  index->headers = {"accept-language"};
  index->generation = "g1";
  const auto english = plan_variant(url, get("/page", {{"Accept-Language", "en"}}), index);
  const auto english_again = plan_variant(url, get("/page", {{"accept-language", " en "}}), index);
  const auto french = plan_variant(url, get("/page", {{"Accept-Language", "fr"}}), index);
  EXPECT_EQ(english.url_key, url.key);
  EXPECT_EQ(english.variant_of, index);
  EXPECT_NE(english.key, url.key);
  EXPECT_EQ(english.key, english_again.key);
  EXPECT_NE(english.key, french.key);
  EXPECT_EQ(english.key_parts, url.key_parts);  // a variant's variants are keyed from the URL

  auto next_generation = std::make_shared<VariantIndex>(*index);
  next_generation->generation = "g2";
  EXPECT_NE(plan_variant(url, get("/page", {{"Accept-Language", "en"}}), next_generation).key, english.key);
}

TEST(RequestPlan, UpstreamRequestForwardsOnlyWhatTheOriginMaySee) {
  const Runtime runtime(config_with({}), rule_stats);
  struct Row {
    std::string name;
    std::string value;
    std::string peer;
    bool for_cache;
    bool forwarded;
  };
  const std::vector<Row> rows = {
      {"Accept", "application/json", "127.0.0.1", true, true},
      {"Authorization", "Bearer t", "127.0.0.1", false, true},
      {"Connection", "keep-alive", "127.0.0.1", false, false},
      {"Keep-Alive", "timeout=5", "127.0.0.1", false, false},
      {"TE", "trailers", "127.0.0.1", false, false},
      {"Upgrade", "websocket", "127.0.0.1", false, false},
      {"Host", "example.com", "127.0.0.1", false, false},  // the origin's own Host is set by the pool
      {"Expect", "100-continue", "127.0.0.1", false, false},
      {"Forwarded", "for=1.2.3.4", "127.0.0.1", false, false},           // stripped by default
      {"X-Forwarded-Host", "evil.example", "127.0.0.1", true, false},    // stripped by default
      {"X-User-Id", "alice", "127.0.0.1", false, false},                 // identity from an untrusted peer
      {"X-User-Id", "alice", "10.1.2.3", false, true},                   // from a trusted proxy
      {"If-None-Match", "\"a\"", "127.0.0.1", true, false},              // the cache answers conditionals
      {"If-None-Match", "\"a\"", "127.0.0.1", false, true},
      {"If-Modified-Since", "Mon, 01 Jan 2024 00:00:00 GMT", "127.0.0.1", true, false},
      {"Range", "bytes=0-1", "127.0.0.1", true, false},
      {"Range", "bytes=0-1", "127.0.0.1", false, true},
      {"If-Range", "\"a\"", "127.0.0.1", true, false},
  };
  for (const auto& row : rows) {
    RequestContext context;
    context.peer = row.peer;
    const auto upstream =
        upstream_request(runtime, get("/x", {{row.name, row.value}}), "/x", context, row.for_cache, {});
    const bool present = upstream.find(row.name) != upstream.end();
    EXPECT_EQ(present, row.forwarded) << row.name << " from " << row.peer << (row.for_cache ? " (cache)" : " (pass)");
    if (present) {
      EXPECT_EQ(upstream[row.name], row.value) << row.name;
    }
  }
}

TEST(RequestPlan, UpstreamRequestHeadersTheGatewaySetsItself) {
  const Runtime runtime(config_with({}), rule_stats);
  RequestContext context;
  context.peer = "127.0.0.1";

  Request head(http::verb::head, "/x", 11);
  head.set(http::field::accept_encoding, "br;q=1, gzip;q=0.5");
  head.set("Connection", "close, X-Private");
  head.set("X-Private", "hop");
  head.set("X-Forwarded-For", "192.0.2.1");
  const auto for_cache = upstream_request(runtime, head, "/x?a=1", context, true, {});
  EXPECT_EQ(for_cache.method(), http::verb::get);  // HEAD is answered from the stored GET
  EXPECT_EQ(for_cache.target(), "/x?a=1");
  EXPECT_EQ(for_cache[http::field::accept_encoding], "gzip");
  EXPECT_EQ(for_cache.find("X-Private"), for_cache.end());  // named in Connection: hop-by-hop
  EXPECT_EQ(for_cache["X-Forwarded-For"], "192.0.2.1, 127.0.0.1");

  Request identity_only = get("/x", {{"Accept-Encoding", "gzip;q=0, br"}});
  const auto identity = upstream_request(runtime, identity_only, "/x", context, true, {});
  EXPECT_EQ(identity.find(http::field::accept_encoding), identity.end());  // the origin sends identity

  Request post(http::verb::post, "/x", 11);
  post.set(http::field::accept_encoding, "br");
  post.body() = "payload";
  const auto passed = upstream_request(runtime, post, "/x", context, false, {});
  EXPECT_EQ(passed.method(), http::verb::post);
  EXPECT_EQ(passed.body(), "payload");
  EXPECT_EQ(passed[http::field::accept_encoding], "br");  // a passed request negotiates with the origin

  // A header the rule keys on reaches the origin even when it is on the stripped list.
  const auto keyed = upstream_request(runtime, get("/x", {{"X-Forwarded-Proto", "https"}}), "/x", context, true,
                                      {"x-forwarded-proto"});
  EXPECT_EQ(keyed["X-Forwarded-Proto"], "https");
}

}  // namespace
}  // namespace strata::gateway
