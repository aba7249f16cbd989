// The operator commands (strata stats, invalidate, clear) against a real `strata serve`: what
// they print, what they change, and every way of calling them wrong, with its exit code.

#include "gateway/harness.hpp"
#include "gateway/process.hpp"

#include <boost/json/parse.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <regex>

namespace strata::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr const char* kToken = "operator-s3cret";
// printf %s operator-s3cret | sha256sum
constexpr const char* kTokenDigest = "b3ea6615efb49343ebcb77e573931aab5997f15af63096502ab27b8e2f8a15cf";

struct Run {
  int code = -1;
  std::string output;
};

Run strata(std::vector<std::string> arguments, std::vector<std::string> environment = {}) {
  StrataProcess process(std::move(arguments), std::move(environment));
  Run run;
  run.output = process.rest();
  run.code = process.wait();
  return run;
}

class OperatorCommands : public ::testing::Test {
protected:
  void SetUp() override {
    const std::string config = "listen = \"127.0.0.1:0\"\norigin = \"" + origin_.url() +
                               "\"\n"
                               "[admin]\ntoken_sha256 = \"" + kTokenDigest +
                               "\"\nlisten = \"127.0.0.1:0\"\nexpose_on_main_listener = false\n"
                               "[identity]\nsource = \"header\"\nheader = \"X-User\"\n"
                               "trusted_proxies = [\"127.0.0.0/8\"]\n"
                               "[warming]\nhot_set_sample = 1\n"
                               "[[rules]]\npath = \"/items/{id}\"\nttl = \"60s\"\ntags = [\"item:{id}\"]\n"
                               "[[rules]]\npath = \"/me/{section}\"\nttl = \"60s\"\nper_user = true\n";
    serve_ = start_serve("operator.toml", config);
    port_ = serve_.port;
    admin_url_ = serve_.admin_url;
    ASSERT_NE(port_, 0);
    ASSERT_FALSE(admin_url_.empty());
    token_file_ = write_file("operator.token", std::string(kToken) + "\n");
  }

  std::vector<std::string> with_gateway(std::vector<std::string> arguments) const {
    arguments.insert(arguments.end(), {"--gateway", admin_url_, "--token-file", token_file_});
    return arguments;
  }
  std::string cache_status(const std::string& target, const Fields& fields = {}) const {
    return http_get(port_, target, fields).header("x-cache");
  }

  TestOrigin origin_{[](const OriginRequestSeen& request) {
    OriginAnswer answer;
    if (request.target.rfind("/items/broken", 0) == 0) answer.status = 500;
    answer.body = "body of " + request.target;
    return answer;
  }};
  ServeProcess serve_;
  std::uint16_t port_ = 0;
  std::string admin_url_;
  std::string token_file_;
};

TEST_F(OperatorCommands, StatsShowsWhatTheGatewayCountedAndJsonIsTheAdminApisOwn) {
  ASSERT_EQ(cache_status("/items/1"), "MISS");
  ASSERT_EQ(cache_status("/items/1"), "HIT");
  const auto table = strata(with_gateway({"stats"}));
  EXPECT_EQ(table.code, 0) << table.output;
  EXPECT_THAT(table.output, HasSubstr("hit ratio   50.0%"));
  EXPECT_THAT(table.output, HasSubstr("hits 1   misses 1   stale 0"));
  EXPECT_THAT(table.output, HasSubstr("Redis       not configured"));
  EXPECT_THAT(table.output, HasSubstr("L1          1 entry, "));
  EXPECT_THAT(table.output, Not(HasSubstr("\x1b[")));  // not a terminal: no redraw codes
  // A line per rule: requests, hit ratio, p99, bytes served in the origin's place ("body of /items/1").
  EXPECT_TRUE(std::regex_search(table.output, std::regex(R"(GET /items/\{id\} +2 +50\.0% +[0-9.]+ (us|ms) +16 B +-\n)")))
      << table.output;
  EXPECT_TRUE(std::regex_search(table.output, std::regex(R"(GET /me/\{section\} +0 +- +- +0 B +-\n)"))) << table.output;

  const auto raw = strata(with_gateway({"stats", "--json"}), {std::string("STRATA_ADMIN_TOKEN=") + kToken});
  ASSERT_EQ(raw.code, 0) << raw.output;
  const auto body = boost::json::parse(raw.output).as_object();
  EXPECT_EQ(body.at("gateway").at("hits").to_number<int>(), 1);
  EXPECT_EQ(body.at("statistics").at("l1_entries").to_number<int>(), 1);
}

TEST_F(OperatorCommands, WatchRefreshesUntilItsCount) {
  const auto watched = strata(with_gateway({"stats", "--watch", "0.1", "--count", "3"}));
  EXPECT_EQ(watched.code, 0) << watched.output;
  std::size_t frames = 0;
  for (auto at = watched.output.find("strata stats:"); at != std::string::npos;
       at = watched.output.find("strata stats:", at + 1)) {
    ++frames;
  }
  EXPECT_EQ(frames, 3U);
}

TEST_F(OperatorCommands, OnATerminalWatchRedrawsInPlace) {
  // `script` gives the command a pseudo-terminal, as an operator's shell would.
  std::string command = std::string(STRATA_BINARY) + " stats --watch 0.1 --count 2 --gateway " + admin_url_ +
                        " --token-file " + token_file_;
  StrataProcess shell({"-qfec", command, "/dev/null"}, {}, "/usr/bin/script");
  const auto output = shell.rest();
  EXPECT_EQ(shell.wait(), 0) << output;
  std::size_t redraws = 0;
  for (auto at = output.find("\x1b[H\x1b[2J"); at != std::string::npos; at = output.find("\x1b[H\x1b[2J", at + 1)) {
    ++redraws;
  }
  EXPECT_EQ(redraws, 2U) << output;
}

TEST_F(OperatorCommands, InvalidateRemovesWhatItNamesAndNothingElse) {
  for (const char* target : {"/items/1", "/items/2", "/items/3"}) cache_status(target);
  const auto by_path = strata(with_gateway({"invalidate", "--path", "/items/1"}));
  EXPECT_EQ(by_path.code, 0) << by_path.output;
  EXPECT_THAT(by_path.output, HasSubstr("invalidated path /items/1: 1 entry removed"));
  EXPECT_EQ(cache_status("/items/1"), "MISS");
  EXPECT_EQ(cache_status("/items/2"), "HIT");

  const auto by_tag = strata(with_gateway({"invalidate", "--tag", "item:2"}));
  EXPECT_EQ(by_tag.code, 0) << by_tag.output;
  EXPECT_EQ(cache_status("/items/2"), "MISS");
  EXPECT_EQ(cache_status("/items/3"), "HIT");

  // A user's entries, and only that user's.
  cache_status("/me/profile", {{"X-User", "alice"}});
  cache_status("/me/profile", {{"X-User", "bob"}});
  const auto by_user = strata(with_gateway({"invalidate", "--user", "alice"}));
  EXPECT_EQ(by_user.code, 0) << by_user.output;
  EXPECT_EQ(cache_status("/me/profile", {{"X-User", "alice"}}), "MISS");
  EXPECT_EQ(cache_status("/me/profile", {{"X-User", "bob"}}), "HIT");
}

TEST_F(OperatorCommands, DryRunCountsWhatItCanAndRemovesNothing) {
  for (const char* target : {"/items/1", "/items/2", "/items/3"}) cache_status(target);
  const auto by_pattern = strata(with_gateway({"invalidate", "--dry-run", "--pattern", "items:*"}));
  EXPECT_EQ(by_pattern.code, 0) << by_pattern.output;
  EXPECT_THAT(by_pattern.output,
              HasSubstr("dry run, nothing removed: pattern items:* would remove 3 entries (patterns 3)\n"));
  const auto by_path = strata(with_gateway({"invalidate", "--dry-run", "--path", "/items/1", "--path", "/items/9"}));
  EXPECT_THAT(by_path.output, HasSubstr("would remove 1 entry (keys and paths 1)\n"));  // /items/9 is not cached
  const auto by_tag = strata(with_gateway({"invalidate", "--dry-run", "--tag", "item:1"}));
  EXPECT_EQ(by_tag.code, 0) << by_tag.output;
  EXPECT_THAT(by_tag.output, HasSubstr("would remove an uncounted number of entries: tags, namespaces and users are not counted"));
  for (const char* target : {"/items/1", "/items/2", "/items/3"}) EXPECT_EQ(cache_status(target), "HIT") << target;
}

TEST_F(OperatorCommands, ClearNeedsYesAndThenEmptiesTheCache) {
  cache_status("/items/1");
  const auto refused = strata(with_gateway({"clear"}));
  EXPECT_EQ(refused.code, 2);
  EXPECT_THAT(refused.output, HasSubstr("add --yes"));
  EXPECT_EQ(cache_status("/items/1"), "HIT");
  const auto cleared = strata(with_gateway({"clear", "--yes"}));
  EXPECT_EQ(cleared.code, 0) << cleared.output;
  EXPECT_THAT(cleared.output, HasSubstr("cleared"));
  EXPECT_EQ(cache_status("/items/1"), "MISS");
}

TEST_F(OperatorCommands, WarmFetchesEachTargetOnceAndTheyAreHitsAfterwards) {
  const auto list = write_file("warm.txt",
                               "# the hot set\n/items/1\n/items/2\n\n/items/3 | Accept: application/json\n"
                               "/me/profile | X-User: carol\n/nothing-cached-here\n");
  cache_status("/items/3");  // already cached before warming
  const auto warmed = strata({"warm", "--url", "http://127.0.0.1:" + std::to_string(port_), "--file", list});
  EXPECT_EQ(warmed.code, 0) << warmed.output;
  EXPECT_THAT(warmed.output, HasSubstr("5 targets"));
  EXPECT_THAT(warmed.output, HasSubstr("3 warmed, 1 already fresh, 1 not cacheable, 0 failed"));
  EXPECT_EQ(cache_status("/items/1"), "HIT");
  EXPECT_EQ(cache_status("/items/2"), "HIT");
  EXPECT_EQ(cache_status("/me/profile", {{"X-User", "carol"}}), "HIT");  // warmed for that user
  EXPECT_EQ(cache_status("/me/profile", {{"X-User", "dave"}}), "MISS");  // and only for her
  EXPECT_EQ(origin_.count("/items/1"), 1U);
  EXPECT_EQ(origin_.count("/items/3"), 1U);  // the fresh one was not fetched again

  // A sitemap's URLs warm by path; a second run finds them fresh.
  const auto sitemap = write_file("sitemap.xml",
                                  "<?xml version=\"1.0\"?><urlset><url><loc>https://example.org/items/8</loc></url>"
                                  "<url><loc>https://example.org/items/9?page=2&amp;sort=asc</loc></url></urlset>");
  const std::vector<std::string> from_sitemap{"warm", "--url", "http://127.0.0.1:" + std::to_string(port_),
                                              "--sitemap", sitemap};
  EXPECT_THAT(strata(from_sitemap).output, HasSubstr("2 warmed"));
  EXPECT_THAT(strata(from_sitemap).output, HasSubstr("0 warmed, 2 already fresh"));
  EXPECT_EQ(origin_.count("/items/9?page=2&sort=asc"), 1U);
}

TEST_F(OperatorCommands, WarmFromTheGatewaysHotSetRefillsWhatItServed) {
  for (int round = 0; round < 2; ++round) {
    for (const char* target : {"/items/1", "/items/2", "/items/3"}) cache_status(target);
  }
  cache_status("/me/profile", {{"X-User", "carol"}});  // per-user: not in the hot set
  ASSERT_EQ(strata(with_gateway({"clear", "--yes"})).code, 0);
  const auto before = origin_.total();
  auto arguments = with_gateway({"warm", "--hot-set", "--url", "http://127.0.0.1:" + std::to_string(port_)});
  const auto warmed = strata(arguments);
  EXPECT_EQ(warmed.code, 0) << warmed.output;
  EXPECT_THAT(warmed.output, HasSubstr("3 targets"));
  EXPECT_THAT(warmed.output, HasSubstr("3 warmed, 0 already fresh"));
  EXPECT_EQ(origin_.total(), before + 3);
  for (const char* target : {"/items/1", "/items/2", "/items/3"}) EXPECT_EQ(cache_status(target), "HIT") << target;
  EXPECT_EQ(cache_status("/me/profile", {{"X-User", "carol"}}), "MISS");

  const auto unauthorised = strata({"warm", "--hot-set", "--url", "http://127.0.0.1:" + std::to_string(port_),
                                    "--gateway", admin_url_, "--token", "guess"});
  EXPECT_EQ(unauthorised.code, 5) << unauthorised.output;
  const auto two_sources = strata({"warm", "--hot-set", "--file", "/dev/null"});
  EXPECT_EQ(two_sources.code, 2);
  EXPECT_THAT(two_sources.output, HasSubstr("--file LIST, --sitemap FILE or --hot-set (one of them)"));
}

TEST_F(OperatorCommands, WarmHoldsItsRateLimit) {
  std::string list;
  for (int i = 100; i < 112; ++i) list += "/items/" + std::to_string(i) + "\n";
  const auto start = std::chrono::steady_clock::now();
  const auto warmed = strata({"warm", "--url", "http://127.0.0.1:" + std::to_string(port_), "--file",
                              write_file("rate.txt", list), "--rate", "20", "--concurrency", "8"});
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(warmed.code, 0) << warmed.output;
  EXPECT_THAT(warmed.output, HasSubstr("12 warmed"));
  // At 20 per second the 12th request starts 0.55 s in, however many run at once; the origin
  // answers at once, so nothing else makes it this slow.
  EXPECT_GE(elapsed, std::chrono::milliseconds(550));
  const auto requests = origin_.seen();
  ASSERT_EQ(requests.size(), 12U);
}

TEST_F(OperatorCommands, WarmReportsFailuresAndBadLists) {
  const auto partly = strata({"warm", "--url", "http://127.0.0.1:" + std::to_string(port_), "--file",
                              write_file("partly.txt", "/items/1\n/items/broken\n")});
  EXPECT_EQ(partly.code, 1) << partly.output;
  EXPECT_THAT(partly.output, HasSubstr("1 warmed, 0 already fresh, 0 not cacheable, 1 failed"));
  EXPECT_THAT(partly.output, HasSubstr("failed: /items/broken: status 500"));

  const auto list = write_file("fail.txt", "/items/1\n");
  const auto nobody = strata({"warm", "--url", "http://127.0.0.1:1", "--file", list});
  EXPECT_EQ(nobody.code, 3) << nobody.output;
  EXPECT_THAT(nobody.output, HasSubstr("every request failed"));

  const auto bad_list = write_file("bad.txt", "/items/1\nitems/2\n");
  const auto refused = strata({"warm", "--url", "http://127.0.0.1:" + std::to_string(port_), "--file", bad_list});
  EXPECT_EQ(refused.code, 2);
  EXPECT_THAT(refused.output, HasSubstr("bad.txt:2: \"items/2\" is not a request target"));
  EXPECT_EQ(origin_.count("/items/2"), 0U) << "a bad list is refused before anything is fetched";

  const auto bad_header = write_file("badheader.txt", "/items/1 | no colon here\n");
  EXPECT_EQ(strata({"warm", "--file", bad_header}).code, 2);
  EXPECT_EQ(strata({"warm", "--url", "http://127.0.0.1:" + std::to_string(port_)}).code, 2);  // no list
}

TEST_F(OperatorCommands, InspectShowsWhatAGetWouldFindForEachUserAndVariant) {
  ASSERT_EQ(cache_status("/items/1"), "MISS");
  const auto shown = strata(with_gateway({"inspect", "/items/1"}));
  ASSERT_EQ(shown.code, 0) << shown.output;
  EXPECT_THAT(shown.output, HasSubstr("rule          GET /items/{id}\n"));
  EXPECT_THAT(shown.output, HasSubstr("state         fresh\n"));
  EXPECT_TRUE(std::regex_search(shown.output, std::regex(R"(held in       L1 \([0-9.]+ (B|KiB)\)\n)"))) << shown.output;
  EXPECT_THAT(shown.output, HasSubstr("fresh for     "));
  EXPECT_THAT(shown.output, HasSubstr("tags          item:1\n"));
  EXPECT_THAT(shown.output, HasSubstr("response      200, 16 B body\n"));  // "body of /items/1"
  EXPECT_THAT(shown.output, HasSubstr("key           items:/items/1"));
  // Looking changed nothing: the next request is still the first hit.
  ASSERT_EQ(cache_status("/items/1"), "HIT");
  const auto stats = boost::json::parse(strata(with_gateway({"stats", "--json"})).output).as_object();
  EXPECT_EQ(stats.at("statistics").at("l1_hits").to_number<int>(), 1);

  EXPECT_THAT(strata(with_gateway({"inspect", "/items/2"})).output, HasSubstr("state         absent\n"));

  ASSERT_EQ(cache_status("/me/profile", {{"X-User", "ann"}}), "MISS");
  const auto nobody = strata(with_gateway({"inspect", "/me/profile"}));
  EXPECT_EQ(nobody.code, 0);
  EXPECT_THAT(nobody.output, HasSubstr("not cached: a per-user rule: give the user's identity"));
  const auto ann = strata(with_gateway({"inspect", "/me/profile", "--header", "X-User: ann"}));
  EXPECT_THAT(ann.output, HasSubstr("user          ann\n"));
  EXPECT_THAT(ann.output, HasSubstr("state         fresh\n"));
  EXPECT_THAT(ann.output, HasSubstr("user:ann"));  // the per-user tag
  const auto bob = strata(with_gateway({"inspect", "/me/profile", "--header", "X-User: bob"}));
  EXPECT_THAT(bob.output, HasSubstr("state         absent\n"));  // ann's entry is not bob's

  const auto raw = strata(with_gateway({"inspect", "/items/1", "--json"}));
  ASSERT_EQ(raw.code, 0) << raw.output;
  const auto body = boost::json::parse(raw.output).as_object();
  EXPECT_EQ(body.at("entry").at("state").as_string(), "fresh");
  EXPECT_EQ(body.at("entry").at("served_from").as_string(), "l1");
  EXPECT_EQ(body.at("entry").at("status").to_number<int>(), 200);

  const auto relative = strata(with_gateway({"inspect", "items/1"}));
  EXPECT_EQ(relative.code, 2);
  EXPECT_THAT(relative.output, HasSubstr("starting with '/'"));
  const auto bad_header = strata(with_gateway({"inspect", "/items/1", "--header", "no colon"}));
  EXPECT_EQ(bad_header.code, 2);
  EXPECT_THAT(bad_header.output, HasSubstr("--header \"no colon\": write Name: value"));
  const auto refused = strata({"inspect", "/items/1", "--gateway", admin_url_, "--token", "guess"});
  EXPECT_EQ(refused.code, 5);
}

TEST(OperatorAudit, AuditReportsStaleServesAndTheTtlTheyAllow) {
  std::atomic<int> version{1};
  TestOrigin origin([&](const OriginRequestSeen&) {
    OriginAnswer answer;
    answer.body = "v" + std::to_string(version.load());
    return answer;
  });
  auto serve = start_serve("audit.toml", "listen = \"127.0.0.1:0\"\norigin = \"" + origin.url() +
                                             "\"\n[admin]\ntoken_sha256 = \"" + kTokenDigest +
                                             "\"\nlisten = \"127.0.0.1:0\"\n[audit]\nrate = 1000\n"
                                             "[[rules]]\nname = \"pages\"\npath = \"/pages/{id}\"\nttl = \"60s\"\naudit = 1.0\n"
                                             "[[rules]]\nname = \"plain\"\npath = \"/plain/{id}\"\nttl = \"60s\"\n");
  http_get(serve.port, "/pages/1");
  version = 2;  // behind the gateway's back
  http_get(serve.port, "/pages/1");  // a stale hit, audited
  const std::vector<std::string> audit{"audit", "--gateway", serve.admin_url, "--token", kToken};
  std::string table;
  for (int attempt = 0; attempt < 500 && table.find("missed invalidations 1") == std::string::npos; ++attempt) {
    table = strata(audit).output;  // the audit finishes in the background
  }
  EXPECT_TRUE(std::regex_search(table, std::regex(R"(pages +100% +1 +1 +0 +100\.0%  none: stale even at the youngest)")))
      << table;
  EXPECT_TRUE(std::regex_search(table, std::regex(R"(plain +off +0 +0 +0 +-  - \(audit off)"))) << table;
  EXPECT_THAT(table, HasSubstr("missed invalidations 1"));
  const auto raw = strata({"audit", "--json", "--gateway", serve.admin_url, "--token", kToken});
  EXPECT_EQ(boost::json::parse(raw.output).at("missed_invalidations").to_number<int>(), 1) << raw.output;
  EXPECT_EQ(strata({"audit", "--gateway", serve.admin_url}).code, 4);  // no token
  serve.stop();
}

TEST_F(OperatorCommands, EveryWayOfCallingThemWrongHasItsMessageAndExitCode) {
  const auto no_token = strata({"stats", "--gateway", admin_url_});
  EXPECT_EQ(no_token.code, 4);
  EXPECT_THAT(no_token.output, HasSubstr("wants an admin token"));
  EXPECT_THAT(no_token.output, HasSubstr("--token-file"));

  const auto wrong_token = strata({"stats", "--gateway", admin_url_, "--token", "guess"});
  EXPECT_EQ(wrong_token.code, 5);
  EXPECT_THAT(wrong_token.output, HasSubstr("do not grant admin access"));

  const auto nobody = strata({"stats", "--gateway", "http://127.0.0.1:1", "--token", kToken});
  EXPECT_EQ(nobody.code, 3);
  EXPECT_THAT(nobody.output, HasSubstr("cannot reach the gateway at http://127.0.0.1:1"));

  // The main listener does not serve the admin API here.
  const auto main_listener =
      strata({"stats", "--gateway", "http://127.0.0.1:" + std::to_string(port_), "--token", kToken});
  EXPECT_EQ(main_listener.code, 3);
  EXPECT_THAT(main_listener.output, HasSubstr("not a Strata admin API there"));

  const std::vector<std::pair<std::vector<std::string>, std::string>> usage_errors{
      {{"stats", "--gateway", "https://127.0.0.1:8081"}, "plain HTTP"},
      {{"stats", "--gateway", "127.0.0.1:8081"}, "--gateway \"127.0.0.1:8081\""},
      {{"stats", "--watch", "0.01"}, "--watch"},
      {{"stats", "--token-file", "/nonexistent/token"}, "--token-file"},
      {{"invalidate", "--gateway", admin_url_}, "nothing to invalidate"},
      {{"stats", "--frobnicate"}, "--frobnicate"},
  };
  for (const auto& [arguments, message] : usage_errors) {
    const auto run = strata(arguments);
    EXPECT_EQ(run.code, 2) << ::testing::PrintToString(arguments) << "\n" << run.output;
    EXPECT_THAT(run.output, HasSubstr(message)) << ::testing::PrintToString(arguments);
  }
}

}  // namespace
}  // namespace strata::testing
