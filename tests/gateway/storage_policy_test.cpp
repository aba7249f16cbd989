// The storage decision as a table: one row per response shape and request kind, with what the
// gateway must do with it.

#include "gateway/storage_policy.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strata::gateway {
namespace {

using namespace std::chrono_literals;

enum class Route { unmatched_public, unmatched_rfc9111, rule_ttl, rule_no_ttl, rule_shared_credentials, per_user };

struct Row {
  const char* name;
  Route route;
  bool credentialed;
  std::vector<Header> headers;
  unsigned status;
  bool store;
  const char* reason;  // when not stored
  bool shared_with_credentials;
  std::chrono::seconds ttl;
  bool uncacheable_for_now;
};

Rule rule_for(Route route) {
  Rule rule;
  rule.name = "r";
  rule.path = "/r/{id}";
  rule.tags = {"item:{id}"};
  if (route == Route::rule_ttl || route == Route::rule_shared_credentials || route == Route::per_user) rule.ttl = 30s;
  if (route == Route::rule_shared_credentials) rule.credentials = CredentialPolicy::shared;
  if (route == Route::per_user) rule.per_user = true;
  rule.negative_statuses = {404};
  rule.negative_ttl = 5s;
  return rule;
}

const std::vector<Row> kRows = {
    // Never stored, whatever the route: the response belongs to its requester.
    {"set-cookie", Route::rule_ttl, false, {{"set-cookie", "s=1"}, {"cache-control", "public, max-age=60"}}, 200, false, "set-cookie", false, 0s, true},
    {"private under a shared rule", Route::rule_ttl, false, {{"cache-control", "private, max-age=60"}}, 200, false, "private", false, 0s, true},
    {"private under a per-user rule", Route::per_user, true, {{"cache-control", "private"}}, 200, true, "", false, 30s, false},
    {"vary star", Route::rule_ttl, false, {{"vary", "*"}}, 200, false, "vary-star", false, 0s, true},
    {"vary star after a name", Route::rule_ttl, false, {{"vary", "X-Lang, *"}}, 200, false, "vary-star", false, 0s, true},
    {"vary on an unkeyed header", Route::rule_ttl, false, {{"vary", "X-Lang"}}, 200, false, "vary-unkeyed:x-lang", false, 0s, true},
    {"no-store", Route::rule_ttl, false, {{"cache-control", "no-store"}}, 200, false, "no-store", false, 0s, true},
    {"no-store overridden by Surrogate-Control", Route::rule_ttl, false, {{"cache-control", "no-store"}, {"surrogate-control", "max-age=20"}}, 200, true, "", true, 20s, false},
    {"no-cache under a rule ttl", Route::rule_ttl, false, {{"cache-control", "no-cache"}}, 200, false, "no-cache", false, 0s, true},
    {"an Age that is not a number", Route::rule_ttl, false, {{"age", "1.5"}}, 200, false, "invalid-age", false, 0s, true},
    {"two Age lines", Route::unmatched_rfc9111, false, {{"cache-control", "max-age=60"}, {"age", "0"}, {"age", "0"}}, 200, false, "invalid-age", false, 0s, true},
    {"an Age list", Route::unmatched_rfc9111, false, {{"cache-control", "max-age=60"}, {"age", "0, 7200"}}, 200, false, "invalid-age", false, 0s, true},
    {"server error", Route::rule_ttl, false, {}, 500, false, "status", false, 0s, false},
    {"404 without a negative rule, no lifetime", Route::unmatched_rfc9111, false, {}, 404, false, "status", false, 0s, true},
    {"404 with the origin's max-age", Route::unmatched_rfc9111, false, {{"cache-control", "max-age=60"}}, 404, true, "", false, 60s, false},
    {"302 with the origin's max-age under a rule ttl", Route::rule_ttl, false, {{"cache-control", "max-age=20"}}, 302, true, "", false, 20s, false},
    {"206 is never stored whole", Route::unmatched_rfc9111, false, {{"cache-control", "max-age=60"}}, 206, false, "status", false, 0s, true},
    {"599 with must-understand", Route::unmatched_rfc9111, false, {{"cache-control", "max-age=60, must-understand"}}, 599, false, "must-understand", false, 0s, false},
    {"599 with max-age", Route::unmatched_rfc9111, false, {{"cache-control", "max-age=60"}}, 599, true, "", false, 60s, false},
    {"no-store with must-understand and a known status", Route::unmatched_rfc9111, false, {{"cache-control", "max-age=60, no-store, must-understand"}}, 200, true, "", false, 60s, false},
    {"404 under a negative rule", Route::rule_ttl, false, {}, 404, true, "", false, 5s, false},
    // Rules: the rule's ttl for anonymous requests.
    {"no Cache-Control under a rule ttl", Route::rule_ttl, false, {}, 200, true, "", false, 30s, false},
    {"max-age under a rule ttl", Route::rule_ttl, false, {{"cache-control", "max-age=600"}}, 200, true, "", false, 30s, false},
    {"no lifetime under a rule without ttl", Route::rule_no_ttl, false, {}, 200, false, "no-lifetime", false, 0s, true},
    {"max-age under a rule without ttl", Route::rule_no_ttl, false, {{"cache-control", "max-age=90"}}, 200, true, "", false, 90s, false},
    // Credentials under a shared entry (RFC 9111 3.5): only with the origin's permission.
    {"credentials, private: personal, says nothing of the entry", Route::rule_ttl, true, {{"cache-control", "private"}}, 200, false, "private", false, 0s, false},
    {"credentials, Set-Cookie", Route::unmatched_public, true, {{"set-cookie", "s=2"}}, 200, false, "set-cookie", false, 0s, false},
    {"credentials, no Cache-Control, rule ttl", Route::rule_ttl, true, {}, 200, false, "credentials", false, 0s, false},
    {"credentials, max-age, rule ttl", Route::rule_ttl, true, {{"cache-control", "max-age=60"}}, 200, false, "credentials", false, 0s, false},
    {"credentials, no-cache", Route::rule_ttl, true, {{"cache-control", "no-cache"}}, 200, false, "credentials", false, 0s, false},
    {"credentials, public", Route::rule_ttl, true, {{"cache-control", "public, max-age=60"}}, 200, true, "", true, 30s, false},
    {"credentials, s-maxage", Route::rule_no_ttl, true, {{"cache-control", "s-maxage=40"}}, 200, true, "", true, 40s, false},
    {"credentials, must-revalidate", Route::rule_no_ttl, true, {{"cache-control", "max-age=50, must-revalidate"}}, 200, true, "", true, 50s, false},
    {"credentials, proxy-revalidate is not permission", Route::rule_no_ttl, true, {{"cache-control", "max-age=50, proxy-revalidate"}}, 200, false, "credentials", false, 0s, false},
    {"credentials, Surrogate-Control", Route::rule_ttl, true, {{"surrogate-control", "max-age=25"}}, 200, true, "", true, 25s, false},
    {"credentials, 404 under a negative rule", Route::rule_ttl, true, {}, 404, false, "credentials", false, 0s, false},
    {"credentials on a rule that shares them", Route::rule_shared_credentials, false, {}, 200, true, "", true, 30s, false},
    {"credentials, unmatched, public", Route::unmatched_public, true, {{"cache-control", "public, max-age=60"}}, 200, true, "", true, 60s, false},
    {"credentials, unmatched rfc9111, max-age", Route::unmatched_rfc9111, true, {{"cache-control", "max-age=60"}}, 200, false, "credentials", false, 0s, false},
    // Unmatched routes.
    {"unmatched, no Cache-Control", Route::unmatched_public, false, {}, 200, false, "not-public", false, 0s, true},
    {"unmatched, max-age without public", Route::unmatched_public, false, {{"cache-control", "max-age=60"}}, 200, false, "not-public", false, 0s, true},
    {"unmatched, public", Route::unmatched_public, false, {{"cache-control", "public, max-age=60"}}, 200, true, "", true, 60s, false},
    {"unmatched rfc9111, max-age", Route::unmatched_rfc9111, false, {{"cache-control", "max-age=60"}}, 200, true, "", false, 60s, false},
    {"unmatched rfc9111, max-age minus Age", Route::unmatched_rfc9111, false, {{"cache-control", "max-age=60"}, {"age", "45"}}, 200, true, "", false, 15s, false},
    {"unmatched rfc9111, s-maxage wins", Route::unmatched_rfc9111, false, {{"cache-control", "max-age=60, s-maxage=5"}}, 200, true, "", true, 5s, false},
    {"unmatched rfc9111, no-cache", Route::unmatched_rfc9111, false, {{"cache-control", "no-cache, max-age=60"}}, 200, false, "no-cache", false, 0s, true},
    {"unmatched rfc9111, Expires from Date", Route::unmatched_rfc9111, false,
     {{"date", "Sun, 06 Nov 1994 08:49:37 GMT"}, {"expires", "Sun, 06 Nov 1994 08:50:37 GMT"}}, 200, true, "", false, 60s, false},
    {"unmatched rfc9111, nothing", Route::unmatched_rfc9111, false, {}, 200, false, "no-lifetime", false, 0s, true},
};

TEST(StoragePolicy, EveryResponseShapeAndRequestKind) {
  for (const auto& row : kRows) {
    SCOPED_TRACE(row.name);
    StoredResponse response;
    response.status = row.status;
    response.headers = row.headers;
    const Rule rule = rule_for(row.route);
    const bool unmatched = row.route == Route::unmatched_public || row.route == Route::unmatched_rfc9111;
    const std::vector<std::string> keyed;
    const Variables variables{{"id", "7"}};
    StorageContext context;
    context.rule = unmatched ? nullptr : &rule;
    context.unmatched = row.route == Route::unmatched_rfc9111 ? UnmatchedRoutes::rfc9111 : UnmatchedRoutes::public_only;
    context.keyed_by_user = row.route == Route::per_user;
    context.credentialed = row.credentialed && row.route != Route::per_user;
    context.keyed_headers = &keyed;
    context.variables = &variables;
    context.invalidation_header = "x-strata-invalidate";
    const auto decision = decide_storage(response, context);
    EXPECT_EQ(decision.store, row.store);
    if (!row.store) {
      EXPECT_EQ(decision.reason, row.reason);
    }
    if (row.store) {
      EXPECT_EQ(decision.ttl, row.ttl);
      EXPECT_EQ(decision.shared_with_credentials, row.shared_with_credentials);
      if (!unmatched) {
        EXPECT_EQ(decision.tags, std::vector<std::string>{"item:7"});
      }
    }
    EXPECT_EQ(decision.uncacheable_for_now, row.uncacheable_for_now);
  }
}

TEST(StoragePolicy, StaleWindowsComeFromTheRuleAndTheOriginUnlessRevalidationIsRequired) {
  Rule rule = rule_for(Route::rule_ttl);
  rule.stale_while_revalidate = 10s;
  rule.stale_if_error = 100s;
  const std::vector<std::string> keyed;
  StorageContext context;
  context.rule = &rule;
  context.keyed_headers = &keyed;
  StoredResponse response;
  response.headers = {{"cache-control", "stale-if-error=300"}};
  EXPECT_EQ(decide_storage(response, context).stale, 300s);
  response.headers = {{"cache-control", "max-age=5"}};
  EXPECT_EQ(decide_storage(response, context).stale, 100s);
  for (const char* directive : {"must-revalidate", "proxy-revalidate"}) {
    response.headers = {{"cache-control", directive}};
    EXPECT_EQ(decide_storage(response, context).stale, 0s) << directive;
  }
}

TEST(StoragePolicy, VaryOnAcceptEncodingIsSatisfiedByNegotiationOnly) {
  const Rule rule = rule_for(Route::rule_ttl);
  const std::vector<std::string> keyed;
  StorageContext context;
  context.rule = &rule;
  context.keyed_headers = &keyed;
  StoredResponse response;
  response.headers = {{"vary", "Accept-Encoding"}, {"content-encoding", "gzip"}};
  EXPECT_EQ(decide_storage(response, context).reason, "vary-unkeyed:accept-encoding");
  context.negotiates_codings = true;
  EXPECT_TRUE(decide_storage(response, context).store);
  response.headers = {{"vary", "accept-encoding, X-Lang"}};
  EXPECT_EQ(decide_storage(response, context).reason, "vary-unkeyed:x-lang");
}

TEST(StoragePolicy, VaryOnKeyedHeadersIsStoredAndTagsComeFromTheOriginToo) {
  const Rule rule = rule_for(Route::rule_ttl);
  const std::vector<std::string> keyed{"accept-language"};
  StorageContext context;
  context.rule = &rule;
  context.keyed_headers = &keyed;
  StoredResponse response;
  response.headers = {{"vary", "Accept-Language"}, {"cache-tag", "a, b"}, {"surrogate-key", "c d"}};
  const auto decision = decide_storage(response, context);
  EXPECT_TRUE(decision.store);
  EXPECT_EQ(decision.tags, (std::vector<std::string>{"a", "b", "c", "d"}));
}

}  // namespace
}  // namespace strata::gateway
