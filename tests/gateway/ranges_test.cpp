// Range evaluation as a table (RFC 9110 14.1.2 examples among the rows), If-Range, and the
// shapes of 206 and 416 answers.

#include "gateway/ranges.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strata::gateway {
namespace {

using Outcome = RangeRequest::Outcome;

TEST(Ranges, EvaluationFollowsRfc9110) {
  struct Row {
    const char* range;
    std::uint64_t length;
    Outcome outcome;
    std::vector<ByteRange> ranges;
  };
  const std::vector<Row> rows = {
      {"bytes=0-499", 10000, Outcome::partial, {{0, 499}}},
      {"bytes=500-999", 10000, Outcome::partial, {{500, 999}}},
      {"bytes=-500", 10000, Outcome::partial, {{9500, 9999}}},
      {"bytes=9500-", 10000, Outcome::partial, {{9500, 9999}}},
      {"bytes=0-0,-1", 10000, Outcome::partial, {{0, 0}, {9999, 9999}}},
      {"bytes= 500-600 , 601-999", 10000, Outcome::partial, {{500, 600}, {601, 999}}},
      {"Bytes=0-5", 10, Outcome::partial, {{0, 5}}},
      {"bytes=5-100", 10, Outcome::partial, {{5, 9}}},         // clipped to the length
      {"bytes=-100", 10, Outcome::partial, {{0, 9}}},          // a suffix longer than the body
      {"bytes=20-30,2-3", 10, Outcome::partial, {{2, 3}}},     // unsatisfiable parts are dropped
      {"bytes=10-", 10, Outcome::unsatisfiable, {}},
      {"bytes=-0", 10, Outcome::unsatisfiable, {}},
      {"bytes=0-", 0, Outcome::unsatisfiable, {}},
      {"bytes=5-4", 10, Outcome::full, {}},                    // invalid: ignored
      {"bytes=a-b", 10, Outcome::full, {}},
      {"bytes=1", 10, Outcome::full, {}},
      {"bytes=", 10, Outcome::full, {}},
      {"bytes=--1", 10, Outcome::full, {}},
      {"items=0-5", 10, Outcome::full, {}},                    // an unknown unit
      {"0-5", 10, Outcome::full, {}},
      {"bytes=0-0,1-1,2-2,3-3,4-4,5-5,6-6,7-7,8-8,9-9,0-0,1-1,2-2,3-3,4-4,5-5,6-6", 10, Outcome::full, {}},
  };
  for (const auto& row : rows) {
    const auto evaluated = evaluate_range(row.range, row.length);
    EXPECT_EQ(evaluated.outcome, row.outcome) << row.range;
    EXPECT_EQ(evaluated.ranges, row.ranges) << row.range;
  }
}

TEST(Ranges, IfRangeNeedsTheStrongValidatorTheClientHas) {
  StoredResponse strong;
  strong.headers = {{"etag", "\"v1\""}, {"last-modified", "Tue, 15 Nov 1994 08:12:31 GMT"}};
  StoredResponse weak;
  weak.headers = {{"etag", "W/\"v1\""}};
  EXPECT_TRUE(if_range_allows("", strong));
  EXPECT_TRUE(if_range_allows("\"v1\"", strong));
  EXPECT_FALSE(if_range_allows("\"v2\"", strong));
  EXPECT_FALSE(if_range_allows("W/\"v1\"", strong));
  EXPECT_FALSE(if_range_allows("\"v1\"", weak));
  EXPECT_TRUE(if_range_allows("Tue, 15 Nov 1994 08:12:31 GMT", strong));
  EXPECT_FALSE(if_range_allows("Tue, 15 Nov 1994 08:12:32 GMT", strong));
  EXPECT_FALSE(if_range_allows("not a date", strong));
  EXPECT_FALSE(if_range_allows("Tue, 15 Nov 1994 08:12:31 GMT", weak));
}

TEST(Ranges, OnePartCarriesContentRangeSeveralAreMultipart) {
  StoredResponse full;
  full.headers = {{"content-type", "text/plain"}, {"etag", "\"x\""}};
  full.body = "0123456789";
  const auto one = partial_response(full, {{2, 4}}, "B");
  EXPECT_EQ(one->status, 206U);
  EXPECT_EQ(one->body, "234");
  EXPECT_EQ(one->header("content-range"), "bytes 2-4/10");
  EXPECT_EQ(one->header("content-type"), "text/plain");
  EXPECT_EQ(one->header("etag"), "\"x\"");

  const auto two = partial_response(full, {{0, 0}, {8, 9}}, "B");
  EXPECT_EQ(two->header("content-type"), "multipart/byteranges; boundary=B");
  EXPECT_EQ(two->body,
            "\r\n--B\r\ncontent-type: text/plain\r\ncontent-range: bytes 0-0/10\r\n\r\n0"
            "\r\n--B\r\ncontent-type: text/plain\r\ncontent-range: bytes 8-9/10\r\n\r\n89"
            "\r\n--B--\r\n");
  EXPECT_FALSE(two->header("content-range").has_value());

  const auto refused = unsatisfiable_response(10);
  EXPECT_EQ(refused->status, 416U);
  EXPECT_EQ(refused->header("content-range"), "bytes */10");
  EXPECT_TRUE(refused->body.empty());
}

}  // namespace
}  // namespace strata::gateway
