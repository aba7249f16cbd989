// Variant selection as a table: which headers a response varies on beyond the key, and which
// requests select the same variant.

#include "gateway/variants.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace strata::gateway {
namespace {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Names = std::vector<std::string>;

StoredResponse varying(std::vector<std::string> vary_lines) {
  StoredResponse response;
  for (auto& line : vary_lines) response.headers.emplace_back("vary", std::move(line));
  return response;
}

Request with_fields(const std::vector<std::pair<std::string, std::string>>& fields) {
  Request request;
  for (const auto& [name, value] : fields) request.insert(name, value);
  return request;
}

TEST(Variants, VariedHeadersLeaveOutTheKeyAndAcceptEncoding) {
  struct Row {
    std::vector<std::string> vary;
    Names keyed;
    std::optional<Names> expected;
  };
  const std::vector<Row> rows = {
      {{}, {}, Names{}},
      {{"Accept-Encoding"}, {}, Names{}},
      {{"Accept-Language"}, {}, Names{"accept-language"}},
      {{"X-B, x-a", "X-A"}, {}, Names{"x-a", "x-b"}},
      {{"Accept-Language, X-Tenant"}, {"x-tenant"}, Names{"accept-language"}},
      {{"accept-encoding, *"}, {}, std::nullopt},
      {{"X-A", "*"}, {}, std::nullopt},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(varied_headers(varying(row.vary), row.keyed), row.expected) << ::testing::PrintToString(row.vary);
  }
}

TEST(Variants, NormalisedValuesJoinLinesAndIgnoreSpaceAroundCommas) {
  EXPECT_EQ(normalized_field(with_fields({{"Accept-Language", " en ,  fr "}}), "accept-language"), "en,fr");
  EXPECT_EQ(normalized_field(with_fields({{"Accept-Language", "en"}, {"accept-language", "fr"}}), "accept-language"),
            "en,fr");
  EXPECT_EQ(normalized_field(with_fields({{"Accept-Language", ""}}), "accept-language"), "");
  EXPECT_EQ(normalized_field(with_fields({}), "accept-language"), std::nullopt);
}

TEST(Variants, RequestsSelectTheSameVariantExactlyWhenTheirValuesAgree) {
  const Names headers{"accept-language", "x-tenant"};
  const auto id = [&](const std::vector<std::pair<std::string, std::string>>& fields) {
    return variant_id(with_fields(fields), headers);
  };
  EXPECT_EQ(id({{"Accept-Language", "en, fr"}, {"X-Tenant", "a"}}), id({{"x-tenant", "a"}, {"accept-language", "en,fr"}}));
  EXPECT_EQ(id({{"X-Other", "1"}}), id({}));  // headers outside the list do not count
  std::set<std::string> distinct;
  for (const auto& fields : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {},
           {{"Accept-Language", ""}},
           {{"Accept-Language", "en"}},
           {{"Accept-Language", "EN"}},
           {{"Accept-Language", "en"}, {"X-Tenant", "a"}},
           {{"Accept-Language", "en,x-tenant=a"}},
           {{"X-Tenant", "a"}},
       }) {
    distinct.insert(id(fields));
  }
  EXPECT_EQ(distinct.size(), 7U);
  // The id is a digest: a credential among the values never appears in a key.
  const auto secret = variant_id(with_fields({{"Authorization", "Bearer s3cr3t"}}), {"authorization"});
  EXPECT_EQ(secret.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(secret.size(), 32U);
}

TEST(Variants, GenerationsDoNotRepeat) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(new_variant_generation());
  EXPECT_EQ(seen.size(), 1000U);
}

TEST(Variants, CountsAdmitUpToTheLimitPerGenerationAndForgetPastCapacity) {
  VariantCounts counts(2);
  EXPECT_TRUE(counts.admit("g1", "a", 2));
  EXPECT_TRUE(counts.admit("g1", "b", 2));
  EXPECT_TRUE(counts.admit("g1", "a", 2));  // already counted
  EXPECT_FALSE(counts.admit("g1", "c", 2));
  EXPECT_TRUE(counts.admit("g2", "c", 2));  // its own bound
  EXPECT_FALSE(counts.admit("g1", "d", 2));
  // A third generation: past capacity, everything is forgotten (a few more variants, never a wrong one).
  EXPECT_TRUE(counts.admit("g3", "a", 2));
  EXPECT_TRUE(counts.admit("g1", "d", 2));
}

}  // namespace
}  // namespace strata::gateway
