// The admin listener's dashboard, opened as a person would: Debian's headless Chromium loads the
// page from a real `strata serve`, runs its script against the admin API and renders. The test
// reads the figures from the rendered DOM and checks them against /api/cache/stats, and keeps
// screenshots (phone and desktop) under the build tree's artifacts/ directory.

#include "gateway/harness.hpp"
#include "gateway/process.hpp"

#include <boost/json/parse.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>

namespace strata::testing {
namespace {

using ::testing::HasSubstr;

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kToken = "operator-s3cret";
constexpr const char* kTokenDigest = "b3ea6615efb49343ebcb77e573931aab5997f15af63096502ab27b8e2f8a15cf";

// What Chromium rendered (stdout), after its script ran for up to `budget_ms` of virtual time.
std::string rendered_dom(const std::string& url, int budget_ms = 8000) {
  StrataProcess browser({"60", kChromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                         "--disable-extensions", "--virtual-time-budget=" + std::to_string(budget_ms), "--dump-dom", url},
                        {}, "/usr/bin/timeout");
  auto output = browser.rest();
  EXPECT_EQ(browser.wait(), 0) << output;
  return output;
}

void screenshot(const std::string& url, const std::string& path, const std::string& size) {
  StrataProcess browser({"60", kChromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
                         "--hide-scrollbars", "--window-size=" + size, "--virtual-time-budget=8000",
                         "--screenshot=" + path, url},
                        {}, "/usr/bin/timeout");
  const auto output = browser.rest();
  ASSERT_EQ(browser.wait(), 0) << output;
  std::ifstream file(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(file)), std::istreambuf_iterator<char>());
  ASSERT_GT(bytes.size(), 10000U) << path;  // a rendered page, not a blank one
  EXPECT_EQ(bytes.substr(1, 3), "PNG") << path;
}

// The text of the element carrying data-figure="name".
std::string figure(const std::string& dom, const std::string& name) {
  std::smatch match;
  if (!std::regex_search(dom, match, std::regex("data-figure=\"" + name + "\"[^>]*>([^<]*)<"))) return "<absent>";
  return match[1];
}

class Dashboard : public ::testing::Test {
protected:
  void SetUp() override {
    if (access(kChromium, X_OK) != 0) {
      GTEST_FAIL() << kChromium << " is missing: scripts/setup.sh installs Debian's chromium";
    }
    const std::string config = "listen = \"127.0.0.1:0\"\norigin = \"" + origin_.url() +
                               "\"\n[admin]\ntoken_sha256 = \"" + kTokenDigest +
                               "\"\nlisten = \"127.0.0.1:0\"\nexpose_on_main_listener = false\n"
                               "[[rules]]\nname = \"items\"\npath = \"/items/{id}\"\nttl = \"60s\"\ntags = [\"item:{id}\"]\n"
                               "[[rules]]\nname = \"live\"\npath = \"/live/{id}\"\ncache = false\n";
    serve_ = start_serve("dashboard.toml", config);
    port_ = serve_.port;
    admin_port_ = serve_.admin_port;
    ASSERT_FALSE(serve_.admin_url.empty());
    page_ = serve_.admin_url + "/dashboard";
  }
  boost::json::object stats() const {
    const auto answer = http_get(admin_port_, "/api/cache/stats", {{"Authorization", std::string("Bearer ") + kToken}});
    EXPECT_EQ(answer.status, 200U);
    return boost::json::parse(answer.body).as_object();
  }

  TestOrigin origin_{[](const OriginRequestSeen& request) {
    OriginAnswer answer;
    answer.body = "{\"at\":\"" + request.target + "\"}";
    return answer;
  }};
  ServeProcess serve_;
  std::uint16_t port_ = 0;
  std::uint16_t admin_port_ = 0;
  std::string page_;
};

TEST_F(Dashboard, ShowsTheFiguresTheAdminApiCounts) {
  for (int round = 0; round < 3; ++round) {
    for (int id = 1; id <= 4; ++id) ASSERT_EQ(http_get(port_, "/items/" + std::to_string(id)).status, 200U);
  }
  http_get(port_, "/live/1");
  ASSERT_EQ(http_request(admin_port_, "POST", "/api/cache/invalidate", {{"Authorization", std::string("Bearer ") + kToken}},
                         R"({"tags":["item:2"]})")
                .status,
            200U);
  const auto before = stats();
  const auto dom = rendered_dom(page_ + "#token=" + kToken);
  ASSERT_THAT(dom, HasSubstr("data-state=\"live\"")) << dom;
  const auto& gateway = before.at("gateway").as_object();
  char shown_ratio[32];
  std::snprintf(shown_ratio, sizeof shown_ratio, "%.1f%%", gateway.at("hit_rate").to_number<double>());
  EXPECT_EQ(figure(dom, "hit_rate"), shown_ratio);
  EXPECT_EQ(figure(dom, "hit_rate"), "66.7%");  // 8 hits of 12
  EXPECT_EQ(figure(dom, "hits"), std::to_string(gateway.at("hits").to_number<int>()));
  EXPECT_EQ(figure(dom, "misses"), std::to_string(gateway.at("misses").to_number<int>()));
  EXPECT_EQ(figure(dom, "bypass"), "1");
  EXPECT_EQ(figure(dom, "l1_entries"), std::to_string(before.at("statistics").at("l1_entries").to_number<int>()));
  EXPECT_EQ(figure(dom, "redis_status"), "not configured");
  // The rules table: the rule's own row, with its requests and hit ratio.
  EXPECT_TRUE(std::regex_search(dom, std::regex("<td>items</td><td>12</td><td>66\\.7%</td>"))) << dom;
  EXPECT_TRUE(std::regex_search(dom, std::regex("<td>live</td><td>1</td><td>-</td>"))) << dom;
  EXPECT_THAT(dom, HasSubstr("<td>tag item:2</td><td>admin</td>"));
  // Rendering asked only the admin API: the counts it showed are still the counts.
  const auto after = stats();
  EXPECT_EQ(after.at("gateway").at("hits"), gateway.at("hits"));
  EXPECT_EQ(after.at("gateway").at("misses"), gateway.at("misses"));

  std::filesystem::create_directories(STRATA_ARTIFACTS_DIR);
  screenshot(page_ + "#token=" + kToken, std::string(STRATA_ARTIFACTS_DIR) + "/dashboard-phone.png", "412,915");
  screenshot(page_ + "#token=" + kToken, std::string(STRATA_ARTIFACTS_DIR) + "/dashboard-desktop.png", "1280,1000");
}

TEST_F(Dashboard, WithoutTheTokenItAsksForItAndShowsNoFigure) {
  http_get(port_, "/items/1");
  const auto dom = rendered_dom(page_, 3000);
  EXPECT_THAT(dom, HasSubstr("data-state=\"login\""));
  EXPECT_EQ(figure(dom, "hits"), "-");  // the page holds no data of its own
  const auto wrong = rendered_dom(page_ + "#token=guess", 3000);
  EXPECT_THAT(wrong, HasSubstr("data-state=\"login\""));
  EXPECT_THAT(wrong, HasSubstr("The gateway refused that token (403)"));
  EXPECT_EQ(http_get(admin_port_, "/api/cache/dashboard/data").status, 401U);
  const auto page = http_get(admin_port_, "/api/cache/dashboard");
  EXPECT_EQ(page.status, 200U);
  EXPECT_THAT(page.header("content-security-policy"), HasSubstr("default-src 'none'"));
  EXPECT_EQ(http_get(port_, "/api/cache/dashboard").status, 404U);  // the admin listener only
}

}  // namespace
}  // namespace strata::testing
