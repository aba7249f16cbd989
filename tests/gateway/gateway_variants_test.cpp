// Responses that vary on request headers outside the key (RFC 9111 4.1): variants of one URL
// stored side by side, selected by the request's normalised values, bounded in number, never
// for Vary: *, and all of them gone when the URL, a tag or the origin's Vary changes. A real
// origin on loopback that answers in the language the request asked for, so a wrong variant
// shows in the body.

#include "gateway/harness.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

namespace strata::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

std::string config(const std::string& extra = {}) {
  return R"(
origin = "{origin}"
unmatched_routes = "rfc9111"
)" + extra;
}

class GatewayVariants : public ::testing::Test {
protected:
  GatewayVariants()
      : origin_([this](const OriginRequestSeen& request) {
          OriginAnswer answer;
          if (request.method != "GET") {
            answer.status = 204;
            return answer;
          }
          const auto language = request.headers.find("accept-language");
          answer.body = "lang=" + (language == request.headers.end() ? std::string("none") : language->second) +
                        " v" + std::to_string(++served_);
          answer.headers = {{"Cache-Control", "public, max-age=300"}, {"Vary", vary_}, {"Cache-Tag", "docs"}};
          return answer;
        }) {}

  HttpResult get(const std::string& language, const std::string& path = "/docs") {
    Fields fields;
    if (!language.empty()) fields.emplace_back("Accept-Language", language);
    return http_get(gateway_.port(), path, fields);
  }

  std::atomic<int> served_{0};
  std::string vary_ = "Accept-Language";
  TestOrigin origin_;
  GatewayUnderTest gateway_{config("[limits]\nmax_variants = 3\n"), origin_.url()};
};

TEST_F(GatewayVariants, VariantsOfOneUrlAreStoredSideBySide) {
  const auto english = get("en");
  const auto french = get("fr");
  const auto neither = get("");
  EXPECT_EQ(english.header("x-cache"), "MISS");
  EXPECT_EQ(french.header("x-cache"), "MISS");
  EXPECT_EQ(neither.header("x-cache"), "MISS");
  EXPECT_THAT(english.body, HasSubstr("lang=en "));
  EXPECT_THAT(french.body, HasSubstr("lang=fr "));
  EXPECT_THAT(neither.body, HasSubstr("lang=none "));
  for (int round = 0; round < 3; ++round) {
    const auto english_again = get("en");
    const auto french_again = get("fr");
    const auto neither_again = get("");
    EXPECT_EQ(english_again.header("x-cache"), "HIT");
    EXPECT_EQ(french_again.header("x-cache"), "HIT");
    EXPECT_EQ(neither_again.header("x-cache"), "HIT");
    EXPECT_EQ(english_again.body, english.body);
    EXPECT_EQ(french_again.body, french.body);
    EXPECT_EQ(neither_again.body, neither.body);
    EXPECT_EQ(english_again.header("vary"), "Accept-Language");
  }
  EXPECT_EQ(origin_.count("/docs"), 3U);
}

TEST_F(GatewayVariants, EquivalentValuesSelectTheSameVariant) {
  EXPECT_EQ(get("en, fr").header("x-cache"), "MISS");
  EXPECT_EQ(get("en,fr").header("x-cache"), "HIT");
  EXPECT_EQ(http_get(gateway_.port(), "/docs", {{"Accept-Language", "en"}, {"Accept-Language", "fr"}}).header("x-cache"),
            "HIT");
  // Present and empty is not absent.
  EXPECT_EQ(get("").header("x-cache"), "MISS");
  EXPECT_EQ(http_get(gateway_.port(), "/docs", {{"Accept-Language", ""}}).header("x-cache"), "MISS");
  EXPECT_EQ(origin_.count("/docs"), 3U);
}

TEST_F(GatewayVariants, VariantsAreSharedAcrossContentCodings) {
  vary_ = "Accept-Encoding, Accept-Language";
  const auto gzip = http_get(gateway_.port(), "/docs", {{"Accept-Language", "de"}, {"Accept-Encoding", "gzip"}});
  const auto identity = http_get(gateway_.port(), "/docs", {{"Accept-Language", "de"}});
  EXPECT_EQ(gzip.header("x-cache"), "MISS");
  EXPECT_EQ(identity.header("x-cache"), "HIT");
  EXPECT_THAT(identity.body, HasSubstr("lang=de "));
  EXPECT_EQ(identity.header("content-encoding"), "");
  EXPECT_EQ(origin_.count("/docs"), 1U);
}

TEST_F(GatewayVariants, VaryStarIsNeverStored) {
  vary_ = "Accept-Language, *";
  const auto first = get("en");
  const auto second = get("en");
  EXPECT_EQ(first.header("x-cache"), "MISS");
  EXPECT_THAT(first.header("cache-status"), HasSubstr("detail=vary-star"));
  EXPECT_NE(second.header("x-cache"), "HIT");
  EXPECT_NE(second.body, first.body);
  EXPECT_EQ(origin_.count("/docs"), 2U);
}

TEST_F(GatewayVariants, VariantsPerUrlAreBounded) {
  for (const char* language : {"en", "fr", "de"}) EXPECT_EQ(get(language).header("x-cache"), "MISS");
  const auto fourth = get("it");
  EXPECT_EQ(fourth.header("x-cache"), "MISS");
  EXPECT_THAT(fourth.header("cache-status"), HasSubstr("detail=vary-limit"));
  EXPECT_THAT(fourth.body, HasSubstr("lang=it "));
  const auto fourth_again = get("it");
  EXPECT_NE(fourth_again.header("x-cache"), "HIT");
  EXPECT_THAT(fourth_again.body, HasSubstr("lang=it "));
  for (const char* language : {"en", "fr", "de"}) EXPECT_EQ(get(language).header("x-cache"), "HIT");
  // Another URL has a bound of its own.
  EXPECT_EQ(get("it", "/docs/other").header("x-cache"), "MISS");
  EXPECT_EQ(get("it", "/docs/other").header("x-cache"), "HIT");
}

TEST_F(GatewayVariants, AWriteToTheUrlRemovesEveryVariant) {
  const auto english = get("en");
  const auto french = get("fr");
  ASSERT_EQ(get("en").header("x-cache"), "HIT");
  ASSERT_EQ(get("fr").header("x-cache"), "HIT");
  ASSERT_EQ(http_request(gateway_.port(), "PUT", "/docs", {}, "new text").status, 204U);
  const auto english_after = get("en");
  const auto french_after = get("fr");
  EXPECT_EQ(english_after.header("x-cache"), "MISS");
  EXPECT_EQ(french_after.header("x-cache"), "MISS");
  EXPECT_NE(english_after.body, english.body);
  EXPECT_NE(french_after.body, french.body);
  EXPECT_EQ(get("fr").header("x-cache"), "HIT");
}

TEST_F(GatewayVariants, InvalidatingATagRemovesEveryVariant) {
  const auto english = get("en");
  const auto french = get("fr");
  gateway_.run([&]() -> boost::asio::awaitable<void> {
    auto outcome = co_await gateway_.gateway().cache().invalidate_tag("docs");
    EXPECT_TRUE(outcome.ok()) << outcome.message;
  });
  EXPECT_NE(get("en").body, english.body);
  EXPECT_NE(get("fr").body, french.body);
}

TEST_F(GatewayVariants, AnOriginThatStopsVaryingIsCachedWholeAgain) {
  ASSERT_EQ(get("en").header("x-cache"), "MISS");
  ASSERT_EQ(get("en").header("x-cache"), "HIT");
  vary_ = "Accept-Encoding";
  // The variant's next load (a new language) sees the change: the index goes.
  const auto changed = get("fr");
  EXPECT_EQ(changed.header("x-cache"), "MISS");
  EXPECT_THAT(changed.header("cache-status"), HasSubstr("detail=vary-changed"));
  const auto whole = get("es");
  EXPECT_EQ(whole.header("x-cache"), "MISS");
  EXPECT_THAT(whole.header("cache-status"), Not(HasSubstr("detail=")));
  // One entry for every language now.
  const auto any = get("pt");
  EXPECT_EQ(any.header("x-cache"), "HIT");
  EXPECT_EQ(any.body, whole.body);
}

}  // namespace
}  // namespace strata::testing
