// Freshness and age as tables (RFC 9111 4.2): the origin's Age, the age on arrival, the
// explicit lifetime and the age a served response shows.

#include "gateway/freshness.hpp"
#include "gateway/storage_policy.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strata::gateway {
namespace {

using namespace std::chrono_literals;

StoredResponse with_headers(std::vector<Header> headers) {
  StoredResponse response;
  response.status = 200;
  response.headers = std::move(headers);
  return response;
}

TEST(Freshness, UpstreamAgeIsOneNonNegativeInteger) {
  struct Row {
    std::vector<Header> headers;
    std::optional<std::int64_t> expected;
  };
  const std::vector<Row> rows = {
      {{}, 0},
      {{{"age", "0"}}, 0},
      {{{"age", "120"}}, 120},
      {{{"age", "99999999999999999999"}}, std::int64_t{1} << 31},  // RFC 9111 1.2.2
      {{{"age", "-1"}}, std::nullopt},
      {{{"age", "1.5"}}, std::nullopt},
      {{{"age", "10, 20"}}, std::nullopt},
      {{{"age", "10"}, {"age", "10"}}, std::nullopt},
      {{{"age", ""}}, std::nullopt},
      {{{"age", " 5"}}, std::nullopt},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(upstream_age(with_headers(row.headers)), row.expected) << ::testing::PrintToString(row.headers);
  }
}

TEST(Freshness, ArrivalAgeAddsTheResponseDelayInWholeSeconds) {
  EXPECT_EQ(initial_age(0, 0ms), 0);
  EXPECT_EQ(initial_age(0, 999ms), 0);
  EXPECT_EQ(initial_age(0, 2500ms), 2);
  EXPECT_EQ(initial_age(10, 3s), 13);
  EXPECT_EQ(initial_age(10, -5s), 10);  // a clock that stepped back adds nothing
  EXPECT_EQ(initial_age(std::int64_t{1} << 31, 10s), std::int64_t{1} << 31);
}

TEST(Freshness, ExplicitLifetimeInRfcOrder) {
  struct Row {
    std::string name;
    std::vector<Header> headers;
    std::optional<std::chrono::seconds> expected;
  };
  const std::vector<Row> rows = {
      {"none", {}, std::nullopt},
      {"max-age", {{"cache-control", "max-age=60"}}, 60s},
      {"s-maxage before max-age", {{"cache-control", "max-age=60, s-maxage=5"}}, 5s},
      {"Surrogate-Control before both", {{"cache-control", "s-maxage=5"}, {"surrogate-control", "max-age=90"}}, 90s},
      {"max-age before Expires",
       {{"cache-control", "max-age=7"}, {"date", "Mon, 01 Jan 2024 00:00:00 GMT"}, {"expires", "Mon, 01 Jan 2024 01:00:00 GMT"}},
       7s},
      {"Expires - Date", {{"date", "Mon, 01 Jan 2024 00:00:00 GMT"}, {"expires", "Mon, 01 Jan 2024 01:00:00 GMT"}}, 3600s},
      {"Expires in the past", {{"date", "Mon, 01 Jan 2024 01:00:00 GMT"}, {"expires", "Mon, 01 Jan 2024 00:00:00 GMT"}}, -3600s},
      {"invalid Expires", {{"date", "Mon, 01 Jan 2024 00:00:00 GMT"}, {"expires", "0"}}, 0s},
      {"Expires without Date", {{"expires", "Mon, 01 Jan 2024 01:00:00 GMT"}}, 0s},
  };
  for (const auto& row : rows) {
    const auto response = with_headers(row.headers);
    const auto control = parse_cache_control(response.joined("cache-control"));
    const auto surrogate = parse_cache_control(response.joined("surrogate-control"));
    EXPECT_EQ(explicit_lifetime(response, control, surrogate), row.expected) << row.name;
  }
}

TEST(Freshness, ServedAgeKeepsGrowing) {
  EXPECT_EQ(current_age(0, 0), 0);
  EXPECT_EQ(current_age(5, 10), 15);
  EXPECT_EQ(current_age(5, -3), 5);
}

TEST(Freshness, ResponseDelayShortensTheStoredLifetime) {
  StorageContext context;
  context.unmatched = UnmatchedRoutes::rfc9111;
  const auto response = with_headers({{"cache-control", "max-age=60"}, {"age", "10"}});
  EXPECT_EQ(decide_storage(response, context).ttl, 50s);
  context.response_delay = 4s;
  const auto delayed = decide_storage(response, context);
  EXPECT_EQ(delayed.ttl, 46s);
  EXPECT_EQ(delayed.initial_age, 14);
  context.response_delay = 70s;
  EXPECT_FALSE(decide_storage(response, context).store);  // arrived already stale
}

}  // namespace
}  // namespace strata::gateway
