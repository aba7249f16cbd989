// Access log lines as a table of requests and what their lines must and must not say, and the
// per-reason counters.

#include "gateway/access_log.hpp"
#include "gateway/reason_counts.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <gtest/gtest.h>

namespace strata::gateway {
namespace {

using namespace std::chrono_literals;

AccessRecord sample_record() {
  AccessRecord record;
  record.time = std::chrono::system_clock::time_point(std::chrono::milliseconds(1764806400123));  // 2025-12-04
  record.client = "127.0.0.1";
  record.method = "GET";
  record.target = "/api/items/1?token=s3cr3t";
  record.status = 200;
  record.bytes = 512;
  record.duration = 1500us;
  record.cache = "MISS";
  record.reason = "private";
  record.upstream = 1250us;
  return record;
}

TEST(AccessLog, JsonLinesCarryEveryFieldAndNeverTheQuery) {
  const auto line = format_access_line(sample_record(), AccessLogFormat::json);
  EXPECT_EQ(line.find("s3cr3t"), std::string::npos);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  const auto parsed = boost::json::parse(line).as_object();
  EXPECT_EQ(parsed.at("time").as_string(), "2025-12-04T00:00:00.123Z");
  EXPECT_EQ(parsed.at("client").as_string(), "127.0.0.1");
  EXPECT_EQ(parsed.at("method").as_string(), "GET");
  EXPECT_EQ(parsed.at("path").as_string(), "/api/items/1");
  EXPECT_EQ(parsed.at("status").as_int64(), 200);
  EXPECT_EQ(parsed.at("bytes").as_int64(), 512);
  EXPECT_DOUBLE_EQ(parsed.at("duration_ms").to_number<double>(), 1.5);
  EXPECT_DOUBLE_EQ(parsed.at("upstream_ms").to_number<double>(), 1.25);
  EXPECT_EQ(parsed.at("cache").as_string(), "MISS");
  EXPECT_EQ(parsed.at("reason").as_string(), "private");

  auto hit = sample_record();
  hit.upstream.reset();
  hit.reason = {};
  hit.cache = {};
  const auto quiet = boost::json::parse(format_access_line(hit, AccessLogFormat::json)).as_object();
  EXPECT_TRUE(quiet.at("upstream_ms").is_null());
  EXPECT_TRUE(quiet.at("reason").is_null());
  EXPECT_TRUE(quiet.at("cache").is_null());
}

TEST(AccessLog, ACraftedPathCannotForgeALineOrBreakTheJson) {
  auto record = sample_record();
  record.target = "/a\"b\\c\r\n{\"status\":500}\x01\xff";
  const auto line = format_access_line(record, AccessLogFormat::json);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line.find('\r'), std::string::npos);
  const auto parsed = boost::json::parse(line).as_object();
  EXPECT_EQ(parsed.at("status").as_int64(), 200);
  EXPECT_EQ(parsed.at("path").as_string(), "/a\"b\\c\r\n{\"status\":500}\x01\u00ff");
  const auto common = format_access_line(record, AccessLogFormat::common);
  EXPECT_EQ(common.find('\n'), std::string::npos);
  EXPECT_EQ(common.find("\"b"), std::string::npos);  // the quote is escaped
}

TEST(AccessLog, CommonFormatThenTheCachesFields) {
  EXPECT_EQ(format_access_line(sample_record(), AccessLogFormat::common),
            "127.0.0.1 - - [04/Dec/2025:00:00:00 +0000] \"GET /api/items/1\" 200 512 cache=MISS reason=private "
            "time_ms=1.500 upstream_ms=1.250");
}

TEST(ReasonCounts, CountsByReasonWithDetailsFoldedAndUnknownsAsOther) {
  ReasonCounts counts;
  EXPECT_TRUE(counts.snapshot().empty());
  counts.add("private");
  counts.add("vary-unkeyed:x-lang");
  counts.add("vary-unkeyed:x-other");
  counts.add("private");
  counts.add("something-new");
  const std::vector<std::pair<std::string_view, std::uint64_t>> expected = {
      {"private", 2}, {"vary-unkeyed", 2}, {"other", 1}};
  EXPECT_EQ(counts.snapshot(), expected);
}

}  // namespace
}  // namespace strata::gateway
