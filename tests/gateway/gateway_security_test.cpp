// The gateway as an attacker probes it: can one caller's answer reach another (coalescing,
// credentials under shared rules, content codings), can one request hide another (framing),
// can unkeyed input change a shared answer. A real origin on loopback that echoes who it
// believes the caller is, so a leak shows in the body.

#include "gateway/harness.hpp"
#include "gateway/identity.hpp"
#include "gateway/route.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <future>
#include <random>
#include <regex>
#include <set>
#include <thread>

namespace strata::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

const std::string kJwtSecret = "security-test-secret-0123";
const std::string kAdminToken = "security-admin-token";

std::string jwt_for(const std::string& user, bool admin = false) {
  return hs256_jwt(kJwtSecret, R"({"sub":")" + user + R"(")" + (admin ? R"(,"role":"admin")" : "") + "}");
}

// How a caller presents itself.
enum class Credential { none, jwt, cookie, api_key, identity_header };

struct Caller {
  std::string name;  // "anonymous" for Credential::none
  Credential credential = Credential::none;

  [[nodiscard]] Fields fields() const {
    switch (credential) {
      case Credential::none: return {};
      case Credential::jwt: return {{"Authorization", "Bearer " + jwt_for(name)}};
      case Credential::cookie: return {{"Cookie", "theme=dark; session=" + name}};
      case Credential::api_key: return {{"X-Api-Key", name}};
      case Credential::identity_header: return {{"X-User", name}};
    }
    return {};
  }
};

Caller anonymous() { return {"anonymous", Credential::none}; }

// Who the origin believes is calling, from whichever credential the request carries.
std::string caller_seen_by_origin(const OriginRequestSeen& request) {
  if (auto found = request.headers.find("authorization"); found != request.headers.end()) {
    const auto subject = jwt_subject(found->second);
    return subject == "unknown" ? "unknown-bearer" : subject;
  }
  if (auto found = request.headers.find("cookie"); found != request.headers.end()) {
    std::smatch match;
    if (std::regex_search(found->second, match, std::regex("session=([^;]*)"))) return match[1];
  }
  if (auto found = request.headers.find("x-api-key"); found != request.headers.end()) return found->second;
  if (auto found = request.headers.find("x-user"); found != request.headers.end()) return found->second;
  return "anonymous";
}

// The response's shape is the last path segment: which Cache-Control (or other header) it has.
OriginAnswer shaped_answer(const OriginRequestSeen& request, std::chrono::milliseconds delay) {
  OriginAnswer answer;
  const std::string path = request.target.substr(0, request.target.find('?'));
  const std::string shape = path.substr(path.rfind('/') + 1);
  answer.body = "target=" + request.target + " who=" + caller_seen_by_origin(request);
  answer.headers.emplace_back("Content-Type", "text/plain");
  answer.delay = delay;
  if (shape == "nostore") answer.headers.emplace_back("Cache-Control", "no-store");
  if (shape == "nocache") answer.headers.emplace_back("Cache-Control", "no-cache");
  if (shape == "private") answer.headers.emplace_back("Cache-Control", "private, max-age=60");
  if (shape == "maxage") answer.headers.emplace_back("Cache-Control", "max-age=60");
  if (shape == "smaxage") answer.headers.emplace_back("Cache-Control", "s-maxage=60");
  if (shape == "public") answer.headers.emplace_back("Cache-Control", "public, max-age=60");
  if (shape == "setcookie") answer.headers.emplace_back("Set-Cookie", "seen=" + caller_seen_by_origin(request));
  if (shape == "error") answer.status = 503;
  if (shape == "notfound") answer.status = 404;
  if (request.method != "GET" && request.method != "HEAD") answer.status = 201;
  return answer;
}

// Shapes whose origin said a shared cache may give them to anyone: a body naming someone else is
// then the origin's statement, not a leak.
bool origin_shares(const std::string& shape) { return shape == "public" || shape == "smaxage"; }

std::string config_for(const std::string& identity, const std::string& unmatched) {
  return "origin = \"{origin}\"\nunmatched_routes = \"" + unmatched +
         "\"\n"
         "[admin]\ntoken_sha256 = \"" + gateway::sha256_hex(kAdminToken) + "\"\n" + identity +
         "[[rules]]\npath = \"/r/{shape}\"\nttl = \"60s\"\n"
         "[[rules]]\npath = \"/n/{shape}\"\n"
         "[[rules]]\npath = \"/p/{shape}\"\nttl = \"60s\"\nper_user = true\n"
         "[[rules]]\npath = \"/s/{shape}\"\nttl = \"60s\"\ncredentials = \"shared\"\n"
         "[[rules]]\npath = \"/q/{shape}\"\nttl = \"60s\"\nquery = [\"page\"]\n";
}

const std::string kJwtIdentity = "[identity]\nsource = \"jwt\"\njwt_secret = \"" + kJwtSecret + "\"\n";
const std::string kHeaderIdentity = "[identity]\nsource = \"header\"\nheader = \"X-User\"\n";

class SecurityTest : public ::testing::Test {
protected:
  explicit SecurityTest(std::chrono::milliseconds delay = 0ms, const std::string& identity = kJwtIdentity,
                        const std::string& unmatched = "public")
      : origin_([delay](const OriginRequestSeen& request) { return shaped_answer(request, delay); }),
        gateway_(config_for(identity, unmatched), origin_.url()) {}

  HttpResult get(const std::string& target, const Caller& caller = anonymous(), Fields extra = {}) {
    auto fields = caller.fields();
    fields.insert(fields.end(), extra.begin(), extra.end());
    return http_get(gateway_.port(), target, fields);
  }
  std::uint16_t port() const { return gateway_.port(); }

  TestOrigin origin_;
  GatewayUnderTest gateway_;
};

// ------------------------------------------------------------------------------------------
// Coalescing

class SlowOriginSecurityTest : public SecurityTest {
protected:
  SlowOriginSecurityTest() : SecurityTest(400ms) {}

  // Alice's request reaches the origin first; Bob's arrives while it is in flight, for the same
  // entry. Returns Bob's answer.
  HttpResult while_alice_is_in_flight(const std::string& target, const Caller& alice, const Caller& bob) {
    const auto before = origin_.total();
    auto first = std::async(std::launch::async, [&] { return get(target, alice); });
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (origin_.total() == before && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    EXPECT_GT(origin_.total(), before) << "alice's request never reached the origin";
    auto second = get(target, bob);
    const auto alices = first.get();
    EXPECT_THAT(alices.body, HasSubstr("who=" + alice.name)) << target;
    return second;
  }
};

TEST_F(SlowOriginSecurityTest, ACoalescedWaiterNeverGetsAResponseThatWasNotStored) {
  const Caller alice{"alice", Credential::cookie};
  const Caller bob{"bob", Credential::cookie};
  const Caller alice_jwt{"alice", Credential::jwt};
  const Caller bob_jwt{"bob", Credential::jwt};
  struct Case {
    const char* target;
    Caller first;
    Caller second;
  };
  const Case cases[] = {
      {"/account/none", alice, bob},         // no rule, no Cache-Control
      {"/account/nostore", alice, bob},      // no-store
      {"/account/nocache", alice, bob},      // no-cache
      {"/account/private", alice, bob},      // private
      {"/account/setcookie", alice, bob},    // Set-Cookie
      {"/account/error", alice, bob},        // a refused status
      {"/account/notfound", alice, bob},     // a refused status
      {"/r/nostore", alice, bob},            // a rule's ttl, no-store
      {"/r/nocache", alice, bob},            // a rule's ttl, no-cache
      {"/r/maxage", alice_jwt, bob_jwt},     // max-age, requests with Authorization
      {"/r/none", alice, bob},               // a rule's ttl, requests with cookies
      {"/n/none", alice, bob},               // a rule without ttl, no lifetime
  };
  for (const auto& test : cases) {
    const auto bobs = while_alice_is_in_flight(test.target, test.first, test.second);
    EXPECT_THAT(bobs.body, HasSubstr("who=bob")) << test.target << ": " << bobs.header("cache-status");
    EXPECT_THAT(bobs.body, Not(HasSubstr("alice"))) << test.target;
  }
}

TEST_F(SlowOriginSecurityTest, AnAnonymousWaiterNeverGetsACredentialedRequestsAnswer) {
  const auto answer = while_alice_is_in_flight("/r/maxage", {"alice", Credential::jwt}, anonymous());
  EXPECT_THAT(answer.body, HasSubstr("who=anonymous"));
  // And the other way round: an anonymous answer is stored and shared, but not with a request
  // that carries credentials (its answer may be personal).
  const auto credentialed = while_alice_is_in_flight("/r/none", anonymous(), {"bob", Credential::api_key});
  EXPECT_THAT(credentialed.body, HasSubstr("who=bob"));
}

TEST_F(SlowOriginSecurityTest, StoredResponsesAreStillSharedWithWaiters) {
  const auto results = concurrent_requests(port(), 50, [](std::size_t) { return std::make_pair(std::string("/r/maxage"), Fields{}); });
  std::size_t collapsed = 0;
  for (const auto& result : results) {
    ASSERT_EQ(result.status, 200U) << result.error;
    collapsed += result.header("cache-status").find("collapsed") != std::string::npos ? 1 : 0;
  }
  EXPECT_EQ(origin_.count("/r/maxage"), 1U);
  EXPECT_GT(collapsed, 0U);
}

TEST_F(SlowOriginSecurityTest, AfterAnUncacheableResponseRequestsGoStraightToTheOrigin) {
  get("/account/nostore");
  // The next requests for the entry do not queue behind one another: each is its own fetch.
  const auto results = concurrent_requests(port(), 20, [](std::size_t) { return std::make_pair(std::string("/account/nostore"), Fields{}); });
  for (const auto& result : results) {
    ASSERT_EQ(result.status, 200U) << result.error;
    EXPECT_THAT(result.header("cache-status"), HasSubstr("fwd=bypass; detail=uncacheable"));
    EXPECT_THAT(result.header("cache-status"), Not(HasSubstr("collapsed")));
  }
  EXPECT_EQ(origin_.count("/account/nostore"), 21U);
}

// ------------------------------------------------------------------------------------------
// Credentials under shared entries (RFC 9111 3.5)

TEST_F(SecurityTest, RequestsWithCredentialsDoNotFillASharedEntryUnlessTheOriginAllowsIt) {
  int n = 0;
  for (const auto credential : {Credential::jwt, Credential::cookie, Credential::api_key}) {
    for (const char* shape : {"none", "maxage"}) {
      const std::string target = "/r/" + std::string(shape) + "?n=" + std::to_string(++n);
      const auto own = get(target, {"alice", credential});
      EXPECT_THAT(own.body, HasSubstr("who=alice"));
      EXPECT_THAT(own.header("cache-status"), HasSubstr("detail=credentials"));
      const auto later = get(target);
      EXPECT_THAT(later.body, HasSubstr("who=anonymous")) << target;
      EXPECT_EQ(later.header("x-cache"), "MISS") << target;
    }
  }
  // public and s-maxage are the origin's say-so: stored, and readable with credentials too.
  for (const char* target : {"/r/public", "/n/smaxage"}) {
    get(target, {"alice", Credential::jwt});
    EXPECT_EQ(get(target).header("x-cache"), "HIT") << target;
    EXPECT_EQ(get(target, {"bob", Credential::cookie}).header("x-cache"), "HIT") << target;
  }
}

TEST_F(SecurityTest, RequestsWithCredentialsDoNotReadASharedEntryTheOriginDidNotOpenToThem) {
  get("/r/maxage");
  EXPECT_EQ(get("/r/maxage").header("x-cache"), "HIT");
  for (const auto credential : {Credential::jwt, Credential::cookie, Credential::api_key}) {
    const auto mine = get("/r/maxage", {"carol", credential});
    EXPECT_EQ(mine.header("x-cache"), "BYPASS");
    EXPECT_THAT(mine.header("cache-status"), HasSubstr("detail=credentials"));
    EXPECT_THAT(mine.body, HasSubstr("who=carol"));
  }
}

TEST_F(SecurityTest, ARuleCanDeclareItsAnswersTheSameForEveryCaller) {
  const auto filled = get("/s/none", {"alice", Credential::jwt});
  EXPECT_EQ(filled.header("x-cache"), "MISS");
  EXPECT_EQ(get("/s/none").header("x-cache"), "HIT");
  EXPECT_EQ(get("/s/none", {"bob", Credential::cookie}).header("x-cache"), "HIT");
}

class HeaderIdentitySecurityTest : public SecurityTest {
protected:
  HeaderIdentitySecurityTest() : SecurityTest(0ms, kHeaderIdentity, "rfc9111") {}
};

TEST_F(HeaderIdentitySecurityTest, TheTrustedIdentityHeaderIsACredential) {
  get("/r/maxage", {"alice", Credential::identity_header});
  const auto later = get("/r/maxage");
  EXPECT_THAT(later.body, HasSubstr("who=anonymous"));
  get("/unmatched/maxage", {"alice", Credential::identity_header});
  EXPECT_THAT(get("/unmatched/maxage").body, HasSubstr("who=anonymous"));
  // Under a per-user rule it is the key instead.
  get("/p/maxage", {"alice", Credential::identity_header});
  EXPECT_EQ(get("/p/maxage", {"alice", Credential::identity_header}).header("x-cache"), "HIT");
  EXPECT_THAT(get("/p/maxage", {"bob", Credential::identity_header}).body, HasSubstr("who=bob"));
}

// ------------------------------------------------------------------------------------------
// Many users at once, every route kind and response shape, requests collapsing

void no_caller_sees_another_callers_data(std::uint16_t port, const std::vector<Caller>& callers, std::uint32_t seed,
                                         std::size_t* collapsed, std::size_t* hits) {
  const std::vector<std::string> routes{"/unmatched", "/r", "/n", "/p"};
  const std::vector<std::string> shapes{"none", "nostore", "nocache", "private", "maxage", "smaxage", "public", "error"};
  std::mt19937 random(seed);
  struct Planned {
    std::size_t caller;
    std::string route;
    std::string shape;
  };
  std::vector<Planned> plan;
  for (int i = 0; i < 480; ++i) {
    // Few distinct targets, so that many requests meet on one entry.
    plan.push_back({random() % callers.size(), routes[random() % routes.size()], shapes[random() % shapes.size()]});
  }
  for (int round = 0; round < 2; ++round) {  // the first round fills, the second meets stored entries
    const auto results = concurrent_requests(port, plan.size(), [&](std::size_t i) {
      return std::make_pair(plan[i].route + "/" + plan[i].shape, callers[plan[i].caller].fields());
    });
    for (std::size_t i = 0; i < plan.size(); ++i) {
      const auto& [caller, route, shape] = plan[i];
      const auto& result = results[i];
      ASSERT_NE(result.status, 0U) << result.error;
      ASSERT_EQ(result.status, shape == "error" ? 503U : 200U) << route << "/" << shape << ": " << result.body;
      *collapsed += result.header("cache-status").find("collapsed") != std::string::npos ? 1 : 0;
      *hits += result.header("x-cache") == "HIT" ? 1 : 0;
      if (origin_shares(shape) && route != "/p") continue;
      const auto at = result.body.find("who=");
      ASSERT_NE(at, std::string::npos) << result.body;
      EXPECT_EQ(result.body.substr(at + 4), callers[caller].name)
          << route << "/" << shape << " as " << callers[caller].name << ": " << result.header("cache-status");
    }
  }
}

TEST(GatewayMultiUser, NoResponseCarriesAnotherUsersDataOnAnyRouteOrShape) {
  for (const auto& [identity, unmatched] : {std::pair{kJwtIdentity, std::string("public")},
                                            std::pair{kHeaderIdentity, std::string("rfc9111")}}) {
    TestOrigin origin([](const OriginRequestSeen& request) { return shaped_answer(request, 150ms); });
    GatewayUnderTest gateway(config_for(identity, unmatched), origin.url());
    std::vector<Caller> callers;
    const bool jwt = identity == kJwtIdentity;
    for (int i = 0; i < 24; ++i) {
      const Credential kinds[] = {jwt ? Credential::jwt : Credential::identity_header, Credential::cookie, Credential::api_key};
      callers.push_back({"user" + std::to_string(i), kinds[i % 3]});
    }
    callers.push_back(anonymous());
    callers.push_back(anonymous());
    std::size_t collapsed = 0;
    std::size_t hits = 0;
    no_caller_sees_another_callers_data(gateway.port(), callers, 20261204, &collapsed, &hits);
    // The traffic did what the test is about: requests met on entries, and entries were reused.
    EXPECT_GT(collapsed, 0U) << unmatched;
    EXPECT_GT(hits, 0U) << unmatched;
  }
}

// ------------------------------------------------------------------------------------------
// Framing: request smuggling

TEST_F(SecurityTest, FramingProblemsAre400Or501AndCloseTheConnectionAndNothingReachesTheOrigin) {
  const std::string smuggled = "GET /r/smuggled HTTP/1.1\r\nHost: x\r\n\r\n";
  struct Row {
    const char* name;
    std::string bytes;
    const char* status;
  };
  const Row rows[] = {
      {"chunked, gzip", "POST /s/outer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n" + smuggled, "400"},
      {"gzip", "POST /s/outer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n" + smuggled, "400"},
      {"xchunked", "POST /s/outer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n" + smuggled, "400"},
      {"gzip, chunked", "POST /s/outer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n" + smuggled, "501"},
      {"chunked twice", "POST /s/outer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, "400"},
      {"chunked with Content-Length", "POST /s/outer HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, "400"},
      {"two Content-Lengths", "POST /s/outer HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nContent-Length: 39\r\n\r\n" + smuggled, "400"},
      {"Content-Length list", "POST /s/outer HTTP/1.1\r\nHost: x\r\nContent-Length: 0, 39\r\n\r\n" + smuggled, "400"},
      {"HTTP/1.0 chunked", "POST /s/outer HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled, "400"},
      {"two Hosts", "GET /s/outer HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" + smuggled, "400"},
      {"no Host", "GET /s/outer HTTP/1.1\r\n\r\n" + smuggled, "400"},
      {"space before colon", "POST /s/outer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n" + smuggled, "400"},
  };
  for (const auto& row : rows) {
    const auto reply = raw_conversation(port(), row.bytes, 5s);
    EXPECT_EQ(reply.received.rfind(std::string("HTTP/1.1 ") + row.status, 0), 0U) << row.name << ": " << reply.received;
    EXPECT_THAT(reply.received, HasSubstr("Connection: close")) << row.name;
    EXPECT_TRUE(reply.closed_by_server) << row.name;
    // One answer only: the smuggled request was never read as a request.
    EXPECT_EQ(reply.received.find("\nHTTP/1.1 "), std::string::npos) << row.name << ": " << reply.received;
  }
  EXPECT_EQ(origin_.total(), 0U);
  // Well-formed neighbours still work: chunked, and HTTP/1.0 without Host.
  const auto chunked = raw_conversation(port(), "POST /s/outer HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
                                                "Connection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  EXPECT_EQ(chunked.received.rfind("HTTP/1.1 201", 0), 0U) << chunked.received;
  ASSERT_EQ(origin_.total(), 1U);
  EXPECT_EQ(origin_.seen().back().body, "abc");
  const auto http10 = raw_conversation(port(), "GET /r/old HTTP/1.0\r\n\r\n");
  EXPECT_EQ(http10.received.rfind("HTTP/1.1 200", 0), 0U) << http10.received;
  EXPECT_TRUE(http10.closed_by_server);
}

// ------------------------------------------------------------------------------------------
// Methods

TEST_F(SecurityTest, ExtensionMethodsPassThroughUncachedAndTraceAndConnectAre501) {
  for (const char* method : {"FOO", "PROPFIND", "get"}) {
    const auto reply = raw_conversation(port(), std::string(method) + " /r/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(reply.received.rfind("HTTP/1.1 201", 0), 0U) << method << ": " << reply.received;
    EXPECT_THAT(reply.received, HasSubstr("fwd=method")) << method;
    EXPECT_EQ(origin_.seen().back().method, method);
  }
  for (const char* method : {"TRACE", "CONNECT"}) {
    const auto target = std::string(method) == "CONNECT" ? "x:443" : "/r/x";
    const auto reply = raw_conversation(port(), std::string(method) + " " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    EXPECT_THAT(reply.received.substr(0, 16), ::testing::AnyOf(HasSubstr("501"), HasSubstr("400"))) << method;
    EXPECT_THAT(reply.received, Not(HasSubstr("500 Internal"))) << method;
  }
  EXPECT_EQ(origin_.total(), 3U);
}

// ------------------------------------------------------------------------------------------
// Unkeyed input

TEST_F(SecurityTest, HeadersFrameworksRouteOnNeverReachTheOrigin) {
  const Fields poison{{"X-Forwarded-Scheme", "nothttps"}, {"X-Forwarded-Server", "evil"}, {"X-Original-Host", "evil"},
                      {"X-Forwarded-SSL", "off"},         {"X-Forwarded-Host", "evil"},   {"X-Forwarded-Proto", "ftp"},
                      {"X-Forwarded-Port", "1"},          {"X-Forwarded-Prefix", "/x"},   {"X-Original-URL", "/admin"},
                      {"X-Rewrite-URL", "/admin"},        {"X-Host", "evil"},             {"X-HTTP-Host-Override", "evil"},
                      {"X-HTTP-Method-Override", "PUT"},  {"X-Url-Scheme", "https"},      {"Front-End-Https", "on"},
                      {"Forwarded", "host=evil"}};
  get("/r/maxage", anonymous(), poison);
  const auto seen = origin_.seen();
  ASSERT_EQ(seen.size(), 1U);
  for (const auto& [name, value] : poison) {
    EXPECT_EQ(seen[0].headers.count(gateway::ascii_lower(name)), 0U) << name;
  }
}

TEST_F(SecurityTest, ARuleWithoutAQueryListForwardsAndKeysTheWholeQuery) {
  get("/r/maxage?b=2&a=1&a=0");
  EXPECT_EQ(origin_.seen().back().target, "/r/maxage?a=1&a=0&b=2");
  EXPECT_EQ(get("/r/maxage?a=0&b=2&a=1").header("x-cache"), "MISS");  // repeated names keep their order
  EXPECT_EQ(get("/r/maxage?a=1&a=0&b=2").header("x-cache"), "HIT");
  EXPECT_EQ(get("/r/maxage?a=1&a=0&b=3").header("x-cache"), "MISS");
  // A rule's query list narrows both the key and what the origin receives.
  get("/q/maxage?page=2&utm=x");
  EXPECT_EQ(origin_.seen().back().target, "/q/maxage?page=2");
  EXPECT_EQ(get("/q/maxage?page=2").header("x-cache"), "HIT");
}

// ------------------------------------------------------------------------------------------
// Content codings

TEST(GatewayContentCoding, AStoredCodingReachesOnlyClientsThatAcceptIt) {
  TestOrigin origin([](const OriginRequestSeen& request) {
    OriginAnswer answer;
    answer.headers.emplace_back("Cache-Control", "public, max-age=60");  // no Vary: the origin's mistake
    const auto accept = request.headers.find("accept-encoding");
    if (accept != request.headers.end() && (accept->second == "gzip" || accept->second == "gzip, br")) {
      answer.headers.emplace_back("Content-Encoding", "gzip");
      answer.body = "gzip-bytes";
    } else {
      answer.body = "plain";
    }
    return answer;
  });
  GatewayUnderTest gateway("origin = \"{origin}\"\n", origin.url());
  const auto gzip_client = http_get(gateway.port(), "/doc", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(gzip_client.header("content-encoding"), "gzip");
  EXPECT_EQ(http_get(gateway.port(), "/doc", {{"Accept-Encoding", "gzip, br"}}).header("x-cache"), "HIT");
  for (const Fields& fields : {Fields{}, Fields{{"Accept-Encoding", "br"}}, Fields{{"Accept-Encoding", "gzip;q=0"}}}) {
    const auto other = http_get(gateway.port(), "/doc", fields);
    EXPECT_EQ(other.header("content-encoding"), "");
    EXPECT_EQ(other.body, "plain");
    EXPECT_THAT(other.header("cache-status"), HasSubstr("detail=content-encoding"));
  }
}

// ------------------------------------------------------------------------------------------
// The origin's framing mistakes

TEST(GatewayOriginFraming, AConnectionWhoseFramingIsOffIsNeverReused) {
  ScriptedOrigin origin([](const std::string& target) -> std::string {
    if (target == "/empty") return "HTTP/1.1 204 No Content\r\nCache-Control: public, max-age=60\r\n\r\nstray bytes";
    if (target == "/both") {
      return "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n";
    }
    const std::string body = "answer for " + target;
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  });
  GatewayUnderTest gateway("origin = \"{origin}\"\n", origin.url(), nullptr, 1);
  EXPECT_EQ(http_get(gateway.port(), "/empty").status, 204U);
  const auto next = http_get(gateway.port(), "/next");
  EXPECT_EQ(next.status, 200U) << next.body;
  EXPECT_EQ(next.body, "answer for /next");
  // Content-Length and Transfer-Encoding together: a response-splitting attempt, refused.
  EXPECT_EQ(http_get(gateway.port(), "/both").status, 502U);
  const auto after = http_get(gateway.port(), "/after");
  EXPECT_EQ(after.status, 200U) << after.body;
  EXPECT_EQ(after.body, "answer for /after");
}

// ------------------------------------------------------------------------------------------
// Cache-Status

TEST_F(SecurityTest, TheAdminTokenAndAnAdminJwtBothSeeTheKeyAndNobodyElseDoes) {
  get("/r/maxage");
  const auto by_token = get("/r/maxage", anonymous(), {{"Authorization", "Bearer " + kAdminToken}});
  EXPECT_THAT(by_token.header("cache-status"), HasSubstr("key=\"r:/r/maxage:"));
  const auto by_jwt = get("/r/maxage", anonymous(), {{"Authorization", "Bearer " + jwt_for("root", true)}});
  EXPECT_THAT(by_jwt.header("cache-status"), HasSubstr("key=\"r:/r/maxage:"));
  EXPECT_THAT(get("/r/maxage", {"user", Credential::jwt}).header("cache-status"), Not(HasSubstr("key=")));
  EXPECT_THAT(get("/r/maxage", anonymous(), {{"Authorization", "Bearer wrong"}}).header("cache-status"), Not(HasSubstr("key=")));
  EXPECT_THAT(get("/r/maxage").header("cache-status"), Not(HasSubstr("key=")));
}

}  // namespace
}  // namespace strata::testing
