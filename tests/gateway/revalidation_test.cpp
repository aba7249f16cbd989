// Revalidation and stale serving as tables (RFC 9111 4.2.4, 4.3).

#include "gateway/revalidation.hpp"

#include <gtest/gtest.h>

namespace strata::gateway {
namespace {

using namespace std::chrono_literals;

StoredResponse response_with(std::vector<Header> headers) {
  StoredResponse response;
  response.headers = std::move(headers);
  response.body = "body";
  return response;
}

TEST(Revalidation, ValidatorsComeFromTheETagAndAValidLastModified) {
  EXPECT_EQ(validators_for(response_with({{"etag", "\"v1\""}, {"last-modified", "Sun, 06 Nov 1994 08:49:37 GMT"}})),
            (std::vector<Header>{{"if-none-match", "\"v1\""}, {"if-modified-since", "Sun, 06 Nov 1994 08:49:37 GMT"}}));
  EXPECT_EQ(validators_for(response_with({{"etag", "W/\"v1\""}})), (std::vector<Header>{{"if-none-match", "W/\"v1\""}}));
  EXPECT_TRUE(validators_for(response_with({{"last-modified", "yesterday"}})).empty());
  EXPECT_TRUE(validators_for(response_with({{"content-type", "text/plain"}})).empty());
}

TEST(Revalidation, A304ReplacesTheFieldsItCarriesExceptThoseDescribingTheStoredBody) {
  auto stored = response_with({{"content-type", "application/json"}, {"content-encoding", "gzip"},
                               {"cache-control", "max-age=60"}, {"etag", "W/\"v1\""}, {"x-extra", "a"},
                               {"x-extra", "b"}, {"vary", "Accept-Encoding"}});
  stored.shared_with_credentials = true;
  const auto not_modified = response_with({{"cache-control", "max-age=120"}, {"etag", "\"v1\""}, {"x-extra", "c"},
                                           {"content-encoding", "identity"}, {"content-length", "0"}, {"age", "3"},
                                           {"content-md5", "x"}, {"content-range", "bytes 0-1/2"},
                                           {"date", "Mon, 07 Nov 1994 08:49:37 GMT"}});
  const auto refreshed = refreshed_by(stored, not_modified);
  EXPECT_EQ(refreshed->body, "body");
  EXPECT_TRUE(refreshed->shared_with_credentials);
  EXPECT_EQ(refreshed->joined("cache-control"), "max-age=120");
  EXPECT_EQ(refreshed->joined("x-extra"), "c");
  EXPECT_EQ(refreshed->joined("content-encoding"), "gzip");
  EXPECT_EQ(refreshed->joined("etag"), "W/\"v1\"");  // the stored body's own validator
  EXPECT_EQ(refreshed->joined("date"), "Mon, 07 Nov 1994 08:49:37 GMT");
  EXPECT_EQ(refreshed->joined("vary"), "Accept-Encoding");
  EXPECT_FALSE(refreshed->has("content-length"));
  EXPECT_FALSE(refreshed->has("age"));
  EXPECT_FALSE(refreshed->has("content-md5"));
  EXPECT_FALSE(refreshed->has("content-range"));
  EXPECT_NE(refreshed->rendered_headers.find("cache-control: max-age=120\r\n"), std::string::npos);
}

TEST(Revalidation, WhenAStaleCopyMayStandInForTheOrigin) {
  Rule with_window;
  with_window.stale_if_error = 60s;
  struct Row {
    const char* cache_control;
    const Rule* rule;
    bool unreachable;
    bool allowed;
  };
  const Row rows[] = {
      {"max-age=60", nullptr, true, true},     // disconnected: allowed (RFC 9111 4.2.4)
      {"max-age=60", nullptr, false, false},   // the origin answered 5xx: only with a window
      {"max-age=60", &with_window, false, true},
      {"max-age=60, stale-if-error=30", nullptr, false, true},
      {"max-age=60, stale-while-revalidate=30", nullptr, false, true},
      {"max-age=60, must-revalidate", nullptr, true, false},
      {"max-age=60, must-revalidate", &with_window, false, false},
      {"max-age=60, proxy-revalidate", nullptr, true, false},
      {"s-maxage=60", nullptr, true, false},
      {"no-cache", nullptr, true, false},
  };
  for (const auto& row : rows) {
    EXPECT_EQ(stale_may_stand_in(response_with({{"cache-control", row.cache_control}}), row.rule, row.unreachable),
              row.allowed)
        << row.cache_control << (row.rule != nullptr ? " with a rule window" : "") << (row.unreachable ? ", unreachable" : ", 5xx");
  }
}

}  // namespace
}  // namespace strata::gateway
