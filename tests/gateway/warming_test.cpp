// The hot set and re-warming, end to end: a real `strata serve` records what clients ask for,
// writes it when it drains (to a file, or to a real redis-server), and the next `strata serve`
// fetches it again before any client asks: counted at the origin, then served as hits.

#include "gateway/harness.hpp"
#include "gateway/hot_set.hpp"
#include "gateway/process.hpp"
#include "support/redis_server.hpp"

#include <boost/json/parse.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <regex>
#include <sstream>

namespace strata::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kTokenDigest = "b3ea6615efb49343ebcb77e573931aab5997f15af63096502ab27b8e2f8a15cf";

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

class Warming : public ::testing::Test {
protected:
  std::string config(const std::string& warming, const std::string& cache = {}) const {
    return "listen = \"127.0.0.1:0\"\norigin = \"" + origin_.url() + "\"\n[admin]\ntoken_sha256 = \"" + kTokenDigest +
           "\"\nlisten = \"127.0.0.1:0\"\n[identity]\nsource = \"header\"\nheader = \"X-User\"\n"
           "trusted_proxies = [\"127.0.0.0/8\"]\n[warming]\nhot_set_sample = 1\n" + warming + cache +
           "[[rules]]\npath = \"/items/{id}\"\nttl = \"300s\"\nheaders = [\"x-tenant\"]\n"
           "[[rules]]\npath = \"/me/{section}\"\nttl = \"300s\"\nper_user = true\n";
  }
  std::size_t origin_requests() const { return origin_.total(); }

  TestOrigin origin_{[](const OriginRequestSeen& request) {
    OriginAnswer answer;
    answer.body = "body of " + request.target;
    return answer;
  }};
};

TEST_F(Warming, ARestartedGatewayFetchesItsHotSetBeforeClientsAsk) {
  const std::string file = write_file("hot-set.json", "");
  std::remove(file.c_str());
  const std::string settings = "hot_set_file = \"" + file + "\"\nrewarm_rate = 1000\n";
  {
    auto first = start_serve("first.toml", config(settings));
    first.await_line("nothing to re-warm");  // no hot set yet
    for (int round = 0; round < 3; ++round) {
      for (int id = 1; id <= 5; ++id) ASSERT_EQ(http_get(first.port, "/items/" + std::to_string(id)).status, 200U);
    }
    http_get(first.port, "/items/1", {{"X-Tenant", "acme"}});  // a keyed header is part of what is kept
    http_get(first.port, "/me/profile", {{"X-User", "alice"}});  // per-user: never kept
    http_get(first.port, "/items/6", {{"Authorization", "Bearer secret-token"}});  // credentials: never kept
    first.stop();
  }
  const auto saved = read_file(file);
  std::string error;
  const auto parsed = gateway::parse_hot_set(saved, &error);
  ASSERT_TRUE(parsed) << error << "\n" << saved;
  ASSERT_EQ(parsed->size(), 6U) << saved;
  EXPECT_EQ(parsed->front().count, 3U);  // hottest first
  EXPECT_THAT(saved, HasSubstr(R"({"target":"/items/1","headers":{"x-tenant":"acme"},"count":1})"));
  EXPECT_THAT(saved, Not(HasSubstr("/me/profile")));
  EXPECT_THAT(saved, Not(HasSubstr("alice")));
  EXPECT_THAT(saved, Not(HasSubstr("/items/6")));
  EXPECT_THAT(saved, Not(HasSubstr("secret-token")));

  const auto before = origin_requests();
  auto second = start_serve("second.toml", config(settings));
  const auto done = second.await_line("re-warmed 6 targets");
  EXPECT_THAT(done, HasSubstr("6 from the origin"));
  EXPECT_EQ(origin_requests(), before + 6);
  for (int id = 1; id <= 5; ++id) {
    EXPECT_EQ(http_get(second.port, "/items/" + std::to_string(id)).header("x-cache"), "HIT") << id;
  }
  EXPECT_EQ(http_get(second.port, "/items/1", {{"X-Tenant", "acme"}}).header("x-cache"), "HIT");
  EXPECT_EQ(origin_requests(), before + 6);  // every one served from what re-warming fetched
  // Re-warming is not the clients' traffic: the gateway counted six requests, six hits.
  const auto stats = boost::json::parse(
      http_get(second.admin_port, "/api/cache/stats", {{"Authorization", "Bearer operator-s3cret"}}).body);
  EXPECT_EQ(stats.at("gateway").at("requests").to_number<int>(), 6);
  EXPECT_EQ(stats.at("gateway").at("hits").to_number<int>(), 6);
  EXPECT_EQ(stats.at("warming").at("rewarm_from_origin").to_number<int>(), 6);
  const auto metrics = http_get(second.admin_port, "/metrics", {{"Authorization", "Bearer operator-s3cret"}}).body;
  EXPECT_THAT(metrics, HasSubstr("strata_gateway_rewarm_targets_total{result=\"origin\"} 6\n"));
  EXPECT_THAT(metrics, HasSubstr("strata_gateway_rewarm_pending 0\n"));
  second.stop();
}

TEST_F(Warming, WithRedisTheHotSetAndItsEntriesComeFromRedis) {
  RedisServer redis;
  const std::string settings = "rewarm_rate = 1000\n";
  const std::string cache = "[cache]\nredis_url = \"" + redis.url() + "\"\n";
  {
    auto first = start_serve("redis-first.toml", config(settings, cache));
    first.await_line("nothing to re-warm");
    for (int id = 1; id <= 8; ++id) ASSERT_EQ(http_get(first.port, "/items/" + std::to_string(id)).status, 200U);
    first.stop();
  }
  EXPECT_THAT(redis.cli({"--scan", "--pattern", "strata:_gateway:*"}), HasSubstr("hot-set"));
  const auto before = origin_requests();
  auto second = start_serve("redis-second.toml", config(settings, cache));
  const auto done = second.await_line("re-warmed 8 targets");
  EXPECT_THAT(done, HasSubstr("8 from Redis, 0 from the origin"));
  EXPECT_EQ(origin_requests(), before);  // the origin was not asked at all
  for (int id = 1; id <= 8; ++id) {
    const auto hit = http_get(second.port, "/items/" + std::to_string(id));
    EXPECT_EQ(hit.header("x-cache"), "HIT") << id;
    EXPECT_THAT(hit.header("cache-status"), HasSubstr("detail=l1")) << id;  // already in this gateway's L1
  }
  second.stop();
}

TEST_F(Warming, ReWarmingHoldsItsRate) {
  const std::string file = write_file("rate-hot-set.json", "");
  std::vector<gateway::HotTarget> targets;
  for (int id = 1; id <= 20; ++id) targets.push_back({"/items/" + std::to_string(id), {}, 1});
  std::ofstream(file) << gateway::hot_set_json(targets, 0);
  auto serve = start_serve("rate.toml", config("hot_set_file = \"" + file + "\"\nrewarm_rate = 10\nrewarm_concurrency = 8\n"));
  const auto done = serve.await_line("re-warmed 20 targets");
  std::smatch seconds;
  ASSERT_TRUE(std::regex_search(done, seconds, std::regex("in ([0-9.]+) s"))) << done;
  // The 20th starts 19 / 10 s after the first, whatever the concurrency allows.
  EXPECT_GE(std::stod(seconds[1]), 1.85) << done;
  EXPECT_EQ(origin_requests(), 20U);
  serve.stop();
}

TEST_F(Warming, AnUnusableHotSetIsReportedAndTheGatewayServesAnyway) {
  const std::string file = write_file("bad-hot-set.json", R"({"version":1,"entries":[{"target":"items/1"}]})");
  auto serve = start_serve("bad.toml", config("hot_set_file = \"" + file + "\"\n"));
  const auto warning = serve.await_line("not usable");
  EXPECT_THAT(warning, HasSubstr("entries[0]: \"target\" must be a path starting with '/'"));
  EXPECT_EQ(http_get(serve.port, "/items/1").status, 200U);
  serve.stop();
}

TEST(HotSet, KeepsTheHottestWithinItsBoundAndFadesOldFavourites) {
  gateway::HotSet hot(10, 1);
  // Five targets asked for again and again through a scan of 1000 asked for once.
  for (int round = 0; round < 50; ++round) {
    for (int id = 0; id < 5; ++id) hot.record("/hot/" + std::to_string(id), {});
    for (int id = 0; id < 20; ++id) hot.record("/once/" + std::to_string(round * 20 + id), {});
  }
  EXPECT_LE(hot.tracked(), 40U);
  const auto kept = hot.hottest();
  ASSERT_EQ(kept.size(), 10U);
  for (int id = 0; id < 5; ++id) {
    EXPECT_THAT(kept[static_cast<std::size_t>(id)].target, ::testing::StartsWith("/hot/")) << id;
  }
  // Old favourites fade: once others are asked for instead, they take the top.
  for (int round = 0; round < 200; ++round) {
    for (int id = 0; id < 5; ++id) hot.record("/new/" + std::to_string(id), {});
  }
  EXPECT_THAT(hot.hottest().front().target, ::testing::StartsWith("/new/"));
  // The same target with other header values is another entry.
  gateway::HotSet languages(10, 1);
  languages.record("/docs", {{"accept-language", "fr"}});
  languages.record("/docs", {{"accept-language", "en"}});
  languages.record("/docs", {{"accept-language", "en"}});
  const auto both = languages.hottest();
  ASSERT_EQ(both.size(), 2U);
  EXPECT_EQ(both[0].headers, (gateway::HeaderValues{{"accept-language", "en"}}));
  EXPECT_EQ(both[0].count, 2U);
}

TEST(HotSet, SamplingRecordsOneRequestInN) {
  gateway::HotSet hot(10, 4);
  int sampled = 0;
  for (int i = 0; i < 400; ++i) sampled += hot.sampling() ? 1 : 0;
  EXPECT_EQ(sampled, 100);
  EXPECT_FALSE(gateway::HotSet(0, 1).sampling());  // no hot set: nothing is ever recorded
}

TEST(HotSet, TheStoredFormRoundTripsAndBadFilesSayWhatIsWrong) {
  const std::vector<gateway::HotTarget> written{{"/a?x=1", {{"x-tenant", "acme"}}, 7}, {"/b", {}, 2}};
  std::string error;
  const auto read = gateway::parse_hot_set(gateway::hot_set_json(written, 1234), &error);
  ASSERT_TRUE(read) << error;
  ASSERT_EQ(read->size(), 2U);
  EXPECT_EQ((*read)[0].target, "/a?x=1");
  EXPECT_EQ((*read)[0].headers, written[0].headers);
  EXPECT_EQ((*read)[0].count, 7U);
  const std::pair<const char*, const char*> bad[] = {
      {"not json", "not a JSON object"},
      {R"({"version":2,"entries":[]})", "\"version\" is not 1"},
      {R"({"version":1})", "\"entries\" must be an array"},
      {R"({"version":1,"entries":[{"target":"/a","headers":[]}]})", "entries[0]: \"headers\" must be an object"},
      {R"({"version":1,"entries":[{"target":"/a","headers":{"x":1}}]})", "header \"x\" must be a string"},
  };
  for (const auto& [text, message] : bad) {
    EXPECT_FALSE(gateway::parse_hot_set(text, &error)) << text;
    EXPECT_THAT(error, HasSubstr(message)) << text;
  }
}

}  // namespace
}  // namespace strata::testing
