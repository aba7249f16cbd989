// The gateway in front of origins nobody here wrote: a stock nginx with `gzip on; gzip_vary on`
// (every response varies on Accept-Encoding), started by the fixture on a loopback port.

#include "gateway/compression.hpp"
#include "gateway/content_coding.hpp"
#include "gateway/harness.hpp"
#include "gateway/identity.hpp"
#include "support/nginx_server.hpp"
#include "support/redis_server.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

#include <atomic>
#include <csignal>
#include <thread>
#include <regex>
#include <string>

namespace strata::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

std::string json_document() {
  std::string text = "[";
  for (int i = 0; i < 400; ++i) {
    text += R"({"id":)" + std::to_string(i) + R"(,"title":"Game )" + std::to_string(i) + R"(","publisher":"Sega"},)";
  }
  text.back() = ']';
  return text;
}

const std::string kNginxGzip =
    "gzip on; gzip_vary on; gzip_min_length 1; gzip_types application/json;\n"
    "    location / { add_header Cache-Control \"public, max-age=300\"; }";

// The body a client got, decoded as its Content-Encoding says; the test fails when the coding
// was not one the client accepted.
std::string decoded_body(const HttpResult& result, const std::string& accept_encoding) {
  const std::string coding = result.header("content-encoding");
  EXPECT_TRUE(gateway::accepts_content_encoding(accept_encoding, coding))
      << "served \"" << coding << "\" to Accept-Encoding \"" << accept_encoding << "\"";
  const auto named = gateway::coding_named(coding);
  if (!named) return "<unknown coding " + coding + ">";
  return gateway::decode(*named, result.body, 64 << 20).value_or("<does not decode>");
}

class BehindNginx : public ::testing::TestWithParam<const char*> {
protected:
  BehindNginx()
      : document_(json_document()),
        nginx_({{"data.json", document_}, {"other.json", document_ + " "}}, kNginxGzip),
        gateway_(GetParam(), nginx_.url()) {}

  HttpResult get(const std::string& target, const std::string& accept_encoding) {
    Fields fields;
    if (!accept_encoding.empty()) fields.emplace_back("Accept-Encoding", accept_encoding);
    return http_get(gateway_.port(), target, fields);
  }

  std::string document_;
  NginxServer nginx_;
  GatewayUnderTest gateway_;
};

TEST_P(BehindNginx, EveryClientHitsOneEntryInACodingItAccepts) {
  // Whoever comes first, one entry serves them all: identity, gzip, brotli-only and brotli-only
  // refusing identity, zstd.
  for (const char* first : {"", "gzip, deflate, br"}) {
    const std::string target = std::string("/data.json?first=") + (*first ? "gzip" : "identity");
    const auto miss = get(target, first);
    ASSERT_EQ(miss.status, 200U) << miss.body;
    EXPECT_EQ(miss.header("x-cache"), "MISS");
    EXPECT_EQ(decoded_body(miss, first), document_);
    for (const char* accept : {"", "gzip", "gzip, deflate, br, zstd", "br", "br, identity;q=0", "zstd, *;q=0",
                               "gzip;q=0, identity"}) {
      SCOPED_TRACE(std::string("Accept-Encoding: ") + accept);
      const auto hit = get(target, accept);
      ASSERT_EQ(hit.status, 200U) << hit.body;
      EXPECT_EQ(hit.header("x-cache"), "HIT") << hit.header("cache-status");
      EXPECT_EQ(decoded_body(hit, accept), document_);
      EXPECT_THAT(hit.header("vary"), HasSubstr("Accept-Encoding"));
    }
  }
  // nginx answered once per entry.
  std::size_t fetched = 0;
  for (const auto& request : nginx_.requests(2)) fetched += request.uri.rfind("/data.json", 0) == 0 ? 1 : 0;
  EXPECT_EQ(fetched, 2U);
}

TEST(GatewayCodingForms, AnIdentityClientsHitsDecodeTheStoredGzipOnce) {
  const std::string document = json_document();
  NginxServer nginx({{"data.json", document}}, kNginxGzip);
  GatewayUnderTest gateway("origin = \"{origin}\"\n[admin]\ntoken_sha256 = \"" + gateway::sha256_hex("t") + "\"\n",
                           nginx.url());
  auto forms_bytes = [&] {
    const auto metrics = http_get(gateway.port(), "/metrics", {{"Authorization", "Bearer t"}}).body;
    std::smatch value;
    EXPECT_TRUE(std::regex_search(metrics, value, std::regex("strata_gateway_coding_forms_bytes ([0-9]+)")));
    return value.empty() ? 0UL : std::stoul(value[1]);
  };
  http_get(gateway.port(), "/data.json", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(forms_bytes(), 0U);
  EXPECT_EQ(http_get(gateway.port(), "/data.json").body, document);
  const auto kept = forms_bytes();
  EXPECT_GT(kept, document.size());  // the identity body, kept
  EXPECT_EQ(http_get(gateway.port(), "/data.json").body, document);
  EXPECT_EQ(forms_bytes(), kept);  // one form per entry and coding
}

TEST_P(BehindNginx, AGzipClientGetsTheOriginsOwnBytesWhenItSentGzip) {
  const auto miss = get("/other.json", "gzip");
  const auto hit = get("/other.json", "gzip");
  EXPECT_EQ(hit.header("x-cache"), "HIT");
  EXPECT_EQ(hit.body, miss.body);  // stored as nginx sent it: no work on a hit
  EXPECT_EQ(hit.header("etag"), miss.header("etag"));
  const auto seen = nginx_.requests(1);
  ASSERT_EQ(seen.size(), 1U);
  EXPECT_EQ(seen.back().accept_encoding, "gzip");
}

TEST_P(BehindNginx, RangesAreAnsweredFromTheStoredResponse) {
  const auto full = get("/data.json", "");
  ASSERT_EQ(full.status, 200U);
  const std::string length = std::to_string(document_.size());
  auto ranged = [&](const std::string& range, Fields more = {}) {
    more.emplace_back("Range", range);
    return http_get(gateway_.port(), "/data.json", more);
  };
  const auto head = ranged("bytes=0-99");
  EXPECT_EQ(head.status, 206U);
  EXPECT_EQ(head.header("x-cache"), "HIT");
  EXPECT_EQ(head.body, document_.substr(0, 100));
  EXPECT_EQ(head.header("content-range"), "bytes 0-99/" + length);
  EXPECT_EQ(head.header("content-length"), "100");
  const auto tail = ranged("bytes=-50");
  EXPECT_EQ(tail.status, 206U);
  EXPECT_EQ(tail.body, document_.substr(document_.size() - 50));

  const auto parts = ranged("bytes=0-9,20-29");
  EXPECT_EQ(parts.status, 206U);
  std::smatch boundary;
  const std::string content_type = parts.header("content-type");
  ASSERT_TRUE(std::regex_search(content_type, boundary, std::regex("^multipart/byteranges; boundary=([0-9a-f]+)$")))
      << content_type;
  EXPECT_EQ(parts.body, "\r\n--" + boundary[1].str() + "\r\ncontent-type: application/json\r\ncontent-range: bytes 0-9/" +
                            length + "\r\n\r\n" + document_.substr(0, 10) + "\r\n--" + boundary[1].str() +
                            "\r\ncontent-type: application/json\r\ncontent-range: bytes 20-29/" + length + "\r\n\r\n" +
                            document_.substr(20, 10) + "\r\n--" + boundary[1].str() + "--\r\n");

  const auto beyond = ranged("bytes=" + length + "-");
  EXPECT_EQ(beyond.status, 416U);
  EXPECT_EQ(beyond.header("content-range"), "bytes */" + length);

  // If-Range: nginx's Last-Modified is the client's validator (its ETags are weak once gzipped).
  const std::string modified = full.header("last-modified");
  ASSERT_FALSE(modified.empty());
  EXPECT_EQ(ranged("bytes=0-9", {{"If-Range", modified}}).status, 206U);
  const auto changed = ranged("bytes=0-9", {{"If-Range", "Mon, 01 Jan 2001 00:00:00 GMT"}});
  EXPECT_EQ(changed.status, 200U);
  EXPECT_EQ(changed.body, document_);
  EXPECT_EQ(ranged("bytes=0-9", {{"If-Range", full.header("etag")}}).status, 200U);  // a weak ETag never matches
  EXPECT_EQ(ranged("bytes=9-0").body, document_);  // invalid: the whole representation

  // A gzip client's ranges are of the gzip bytes it would get whole.
  const auto gzip_whole = get("/data.json", "gzip");
  const auto gzip_part = ranged("bytes=10-19", {{"Accept-Encoding", "gzip"}});
  EXPECT_EQ(gzip_part.status, 206U);
  EXPECT_EQ(gzip_part.header("content-encoding"), "gzip");
  EXPECT_EQ(gzip_part.body, gzip_whole.body.substr(10, 10));

  // HEAD ignores Range; nginx never saw one.
  const auto head_request = http_request(gateway_.port(), "HEAD", "/data.json", {{"Range", "bytes=0-9"}});
  EXPECT_EQ(head_request.status, 200U);
  for (const auto& request : nginx_.requests(1)) EXPECT_EQ(request.uri, "/data.json");
  EXPECT_EQ(nginx_.requests(1).size(), 1U);
}

TEST_P(BehindNginx, AClientRefusingEverythingTheGatewayCanProduceGets406) {
  get("/data.json", "gzip");
  const auto refused = get("/data.json", "compress, identity;q=0");
  EXPECT_EQ(refused.status, 406U);
}

INSTANTIATE_TEST_SUITE_P(Configurations, BehindNginx,
                         ::testing::Values("origin = \"{origin}\"\n",
                                           "origin = \"{origin}\"\n[[rules]]\npath = \"/{file}\"\nttl = \"60s\"\n"),
                         [](const auto& parameter) { return parameter.index == 0 ? "NoRules" : "RuleWithTtl"; });

TEST(GatewayRevalidation, AStaleEntryIsRevalidatedByNginxWithA304ThatRefreshesIt) {
  const std::string document = json_document();
  NginxServer nginx({{"data.json", document}}, kNginxGzip);
  auto clock = std::make_shared<ManualClock>();
  GatewayUnderTest gateway("origin = \"{origin}\"\n", nginx.url(), clock);
  // Stored as nginx's gzip (a gzip client first) and as the gateway's own gzip (identity first).
  for (const char* first : {"gzip", ""}) {
    const std::string target = std::string("/data.json?first=") + (*first ? "gzip" : "identity");
    auto get = [&](const std::string& accept_encoding) {
      Fields fields;
      if (!accept_encoding.empty()) fields.emplace_back("Accept-Encoding", accept_encoding);
      return http_get(gateway.port(), target, fields);
    };
    EXPECT_EQ(get(first).header("x-cache"), "MISS");
    clock->advance(301s);  // past max-age=300
    const auto revalidated = get(first);
    EXPECT_EQ(revalidated.header("x-cache"), "REVALIDATED") << revalidated.header("cache-status");
    EXPECT_THAT(revalidated.header("cache-status"), HasSubstr("fwd=stale; fwd-status=304"));
    EXPECT_EQ(decoded_body(revalidated, first), document);
    const auto seen = nginx.requests(*first ? 2 : 4);
    ASSERT_FALSE(seen.empty());
    EXPECT_EQ(seen.back().status, 304U);
    EXPECT_NE(seen.back().if_none_match, "-");
    // The 304 made the entry fresh again, for every client.
    for (const char* accept : {"", "gzip", "br"}) {
      const auto hit = get(accept);
      EXPECT_EQ(hit.header("x-cache"), "HIT") << accept;
      EXPECT_EQ(decoded_body(hit, accept), document);
    }
  }
  std::size_t full = 0;
  std::size_t not_modified = 0;
  for (const auto& request : nginx.requests(4)) {
    full += request.status == 200 ? 1 : 0;
    not_modified += request.status == 304 ? 1 : 0;
  }
  EXPECT_EQ(full, 2U);
  EXPECT_EQ(not_modified, 2U);
}

// What a stale copy may stand in for (RFC 9111 4.2.4): an unreachable origin, unless the
// response said must-revalidate, proxy-revalidate or s-maxage; a server error only with a stale
// window.
TEST(GatewayStaleCopies, ServedWhenTheOriginIsDownUnlessTheResponseForbadeIt) {
  TestOrigin origin([](const OriginRequestSeen& request) {
    OriginAnswer answer;
    answer.headers.emplace_back("ETag", "\"v1\"");
    const std::string path = request.target;
    if (path == "/plain") answer.headers.emplace_back("Cache-Control", "public, max-age=10");
    if (path == "/must") answer.headers.emplace_back("Cache-Control", "public, max-age=10, must-revalidate");
    if (path == "/proxy") answer.headers.emplace_back("Cache-Control", "public, max-age=10, proxy-revalidate");
    if (path == "/shared") answer.headers.emplace_back("Cache-Control", "public, s-maxage=10");
    answer.body = "body of " + path;
    return answer;
  });
  auto clock = std::make_shared<ManualClock>();
  GatewayUnderTest gateway("origin = \"{origin}\"\n", origin.url(), clock);
  for (const char* path : {"/plain", "/must", "/proxy", "/shared"}) EXPECT_EQ(http_get(gateway.port(), path).status, 200U);
  origin.stop();
  clock->advance(11s);
  const auto plain = http_get(gateway.port(), "/plain");
  EXPECT_EQ(plain.status, 200U);
  EXPECT_EQ(plain.header("x-cache"), "STALE");
  EXPECT_EQ(plain.body, "body of /plain");
  for (const char* path : {"/must", "/proxy", "/shared"}) {
    const auto refused = http_get(gateway.port(), path);
    EXPECT_EQ(refused.status, 502U) << path;
    EXPECT_THAT(refused.body, Not(HasSubstr("body of"))) << path;
  }
}

TEST(GatewayStaleCopies, AServerErrorIsForwardedUnlessAStaleWindowAllowsTheStaleCopy) {
  std::atomic<bool> failing{false};
  TestOrigin origin([&](const OriginRequestSeen& request) {
    OriginAnswer answer;
    answer.headers.emplace_back("ETag", "\"v1\"");
    answer.headers.emplace_back("Cache-Control", request.target == "/sie" ? "public, max-age=10, stale-if-error=60"
                                                                           : "public, max-age=10");
    answer.body = "body of " + request.target;
    if (failing) answer.status = 503;
    return answer;
  });
  auto clock = std::make_shared<ManualClock>();
  GatewayUnderTest gateway("origin = \"{origin}\"\n", origin.url(), clock);
  http_get(gateway.port(), "/plain");
  http_get(gateway.port(), "/sie");
  failing = true;
  clock->advance(11s);
  EXPECT_EQ(http_get(gateway.port(), "/plain").status, 503U);
  const auto rescued = http_get(gateway.port(), "/sie");
  EXPECT_EQ(rescued.status, 200U);
  EXPECT_EQ(rescued.header("x-cache"), "STALE");
}

// An https:// origin: nginx with a certificate from a throw-away CA, verified by host name.
TEST(GatewayHttpsOrigin, AVerifiedHttpsOriginIsCachedLikeAnyOther) {
  const TestCertificates pki;
  const std::string document = json_document();
  NginxServer nginx({{"data.json", document}}, kNginxGzip, pki.server_cert_file(), pki.server_key_file());
  GatewayUnderTest gateway("origin = \"{origin}\"\n[upstream]\ntls_ca_file = \"" + pki.ca_file() + "\"\n",
                           "https://localhost:" + std::to_string(nginx.port()));
  for (const char* accept : {"gzip", "", "gzip", "br"}) {
    Fields fields;
    if (*accept) fields.emplace_back("Accept-Encoding", accept);
    const auto answer = http_get(gateway.port(), "/data.json", fields);
    ASSERT_EQ(answer.status, 200U) << answer.body;
    EXPECT_EQ(decoded_body(answer, accept), document);
  }
  EXPECT_EQ(http_get(gateway.port(), "/data.json").header("x-cache"), "HIT");
  EXPECT_EQ(nginx.requests(1).size(), 1U);
  // Keep-alive over TLS: a second resource reuses the pooled connection.
  EXPECT_EQ(http_get(gateway.port(), "/missing.json").status, 404U);
  EXPECT_EQ(gateway.gateway().cache().stats().errors, 0U);
}

TEST(GatewayHttpsOrigin, AnOriginThatCannotProveItsNameGetsNoRequestAnd502) {
  const TestCertificates pki;
  NginxServer nginx({{"data.json", "{}"}}, "location / { }", pki.server_cert_file(), pki.server_key_file());
  const std::string origin = "https://localhost:" + std::to_string(nginx.port());
  for (const std::string& upstream : {"tls_ca_file = \"" + pki.other_ca_file() + "\"\n",
                                      "tls_ca_file = \"" + pki.ca_file() + "\"\ntls_server_name = \"api.example\"\n"}) {
    GatewayUnderTest gateway("origin = \"{origin}\"\n[upstream]\n" + upstream, origin);
    const auto refused = http_get(gateway.port(), "/data.json");
    EXPECT_EQ(refused.status, 502U) << upstream;
    EXPECT_THAT(refused.body, HasSubstr("TLS handshake with the origin")) << upstream;
    EXPECT_THAT(refused.body, HasSubstr("certificate verify failed")) << refused.body;
  }
  EXPECT_TRUE(nginx.requests().empty());
}

TEST(GatewayHttpsOrigin, UnusableTlsFilesAreConfigurationErrors) {
  EXPECT_THROW(GatewayUnderTest("origin = \"{origin}\"\n[upstream]\ntls_ca_file = \"/nonexistent/ca.pem\"\n",
                                "https://localhost:1"),
               gateway::ConfigError);
  try {
    GatewayUnderTest("origin = \"{origin}\"\n[upstream]\ntls_cert_file = \"/tmp/x.pem\"\n", "https://localhost:1");
    ADD_FAILURE() << "a certificate without its key was accepted";
  } catch (const gateway::ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("tls_cert_file and tls_key_file go together"));
  }
}

// The Express app of express_origin.js (compression middleware, Express's own ETags and 304s),
// on Debian's node with node-express and node-compression.
class ExpressOrigin {
public:
  struct Seen {
    std::string url;
    std::string if_none_match;  // "-" when absent
    std::string accept_encoding;
    unsigned status = 0;
  };

  ExpressOrigin() : port_(free_loopback_port()) {
    process_.spawn({"env", "NODE_PATH=/usr/share/nodejs:/usr/lib/nodejs", "node", STRATA_EXPRESS_ORIGIN,
                    std::to_string(port_)});
    const auto deadline = std::chrono::steady_clock::now() + 15s;
    while (!accepts_connections(port_)) {
      if (process_.exited() || std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error("the Express origin did not start (node with node-express and node-compression, "
                                 "which scripts/setup.sh installs)");
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  ~ExpressOrigin() { process_.stop(SIGTERM); }

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // What reached the app besides /__requests, once at least `at_least` requests have finished
  // (Express records a request when its response is sent), waiting up to 5 s.
  [[nodiscard]] std::vector<Seen> requests(std::size_t at_least) const {
    const auto deadline = std::chrono::steady_clock::now() + 5s;
    std::vector<Seen> out;
    do {
      out.clear();
      const auto listed = http_get(port_, "/__requests");
      if (listed.status == 200) {
        const auto parsed = boost::json::parse(listed.body);
        for (const auto& item : parsed.as_array()) {
          const auto& record = item.as_object();
          Seen seen{std::string(record.at("url").as_string()), std::string(record.at("ifNoneMatch").as_string()),
                    std::string(record.at("acceptEncoding").as_string()),
                    static_cast<unsigned>(record.at("status").as_int64())};
          if (seen.url != "/__requests") out.push_back(std::move(seen));
        }
      }
    } while (out.size() < at_least && std::chrono::steady_clock::now() < deadline &&
             (std::this_thread::sleep_for(10ms), true));
    return out;
  }

private:
  std::uint16_t port_;
  ChildProcess process_;
};

TEST(BehindExpress, CompressedAnswersAreCachedForEveryClientAndRevalidatedWithA304) {
  ExpressOrigin express;
  const std::string document = json_document();
  auto clock = std::make_shared<ManualClock>();
  GatewayUnderTest gateway("origin = \"{origin}\"\n", express.url(), clock);
  std::size_t expected_requests = 0;
  for (const char* first : {"gzip, deflate, br", ""}) {
    const std::string target = std::string("/api/games?first=") + (*first ? "gzip" : "identity");
    auto get = [&](const std::string& accept_encoding) {
      Fields fields;
      if (!accept_encoding.empty()) fields.emplace_back("Accept-Encoding", accept_encoding);
      return http_get(gateway.port(), target, fields);
    };
    const auto miss = get(first);
    ASSERT_EQ(miss.status, 200U) << miss.body;
    EXPECT_EQ(miss.header("x-cache"), "MISS");
    EXPECT_EQ(decoded_body(miss, first), document);
    for (const char* accept : {"", "gzip", "br", "gzip, deflate, br, zstd", "zstd, *;q=0"}) {
      SCOPED_TRACE(std::string("Accept-Encoding: ") + accept);
      const auto hit = get(accept);
      EXPECT_EQ(hit.header("x-cache"), "HIT") << hit.header("cache-status");
      EXPECT_EQ(decoded_body(hit, accept), document);
      EXPECT_THAT(hit.header("vary"), HasSubstr("Accept-Encoding"));
    }
    ++expected_requests;
    auto seen = express.requests(expected_requests);
    ASSERT_EQ(seen.size(), expected_requests);
    EXPECT_EQ(seen.back().status, 200U);
    // The gateway asks for gzip for a client that takes it, identity for one that does not.
    EXPECT_EQ(seen.back().accept_encoding, *first ? "gzip" : "-");

    clock->advance(301s);  // past max-age=300
    const auto revalidated = get(first);
    EXPECT_EQ(revalidated.header("x-cache"), "REVALIDATED") << revalidated.header("cache-status");
    EXPECT_EQ(decoded_body(revalidated, first), document);
    ++expected_requests;
    seen = express.requests(expected_requests);
    ASSERT_EQ(seen.size(), expected_requests);
    EXPECT_EQ(seen.back().status, 304U);
    EXPECT_THAT(seen.back().if_none_match, HasSubstr("W/\""));
    for (const char* accept : {"", "gzip", "br"}) EXPECT_EQ(get(accept).header("x-cache"), "HIT") << accept;
  }
  EXPECT_EQ(express.requests(expected_requests).size(), expected_requests);
}

std::string https_listener_config(const TestCertificates& certificates) {
  return "origin = \"{origin}\"\n[tls]\ncert_file = \"" + certificates.server_cert_file() + "\"\nkey_file = \"" +
         certificates.server_key_file() + "\"\n";
}

TestOrigin public_origin() {
  return TestOrigin([](const OriginRequestSeen& request) {
    OriginAnswer answer;
    answer.body = "body of " + request.target;
    answer.headers = {{"Cache-Control", "public, max-age=60"}};
    return answer;
  });
}

TEST(GatewayHttpsListener, ServesHttpsAndReloadsItsCertificateWithoutDroppingConnections) {
  TestCertificates certificates;
  auto origin = public_origin();
  GatewayUnderTest gateway(https_listener_config(certificates), origin.url());
  HttpsConnection first(gateway.port(), certificates.ca_file());
  ASSERT_TRUE(first.connected()) << first.error();
  EXPECT_THAT(first.peer_subject(), HasSubstr("O=Strata Test"));
  const auto miss = first.get("/item");
  EXPECT_EQ(miss.status, 200U) << miss.error;
  EXPECT_EQ(miss.header("x-cache"), "MISS");
  EXPECT_EQ(miss.body, "body of /item");
  EXPECT_EQ(http_get(gateway.port(), "/item").status, 0U);  // plain HTTP gets no HTTP answer

  certificates.renew_server_certificate("Renewed");
  gateway::ListenerTls renewed{certificates.server_cert_file(), certificates.server_key_file()};
  EXPECT_EQ(gateway.server().reload_tls(renewed, "test"), "");
  const auto hit = first.get("/item");  // the open connection carries on, on its own session
  EXPECT_EQ(hit.status, 200U) << hit.error;
  EXPECT_EQ(hit.header("x-cache"), "HIT");
  HttpsConnection second(gateway.port(), certificates.ca_file());
  ASSERT_TRUE(second.connected()) << second.error();
  EXPECT_THAT(second.peer_subject(), HasSubstr("O=Renewed"));
  EXPECT_EQ(second.get("/item").header("x-cache"), "HIT");
}

TEST(GatewayHttpsListener, RefusesTlsOlderThan12AndUnusableFilesChangeNothing) {
  TestCertificates certificates;
  auto origin = public_origin();
  GatewayUnderTest gateway(https_listener_config(certificates), origin.url());
  HttpsConnection old_protocol(gateway.port(), certificates.ca_file(), true);
  EXPECT_FALSE(old_protocol.connected());
  EXPECT_THAT(old_protocol.error(), HasSubstr("handshake"));

  // A key that is not the certificate's, a missing file: refused, and the running one stays.
  gateway::ListenerTls mismatched{certificates.server_cert_file(), certificates.ca_file() + ".missing"};
  EXPECT_THROW((void)gateway.server().reload_tls(mismatched, "test"), gateway::ConfigError);
  certificates.renew_server_certificate("Renewed");
  gateway::ListenerTls wrong_key{certificates.ca_file(), certificates.server_key_file()};
  try {
    (void)gateway.server().reload_tls(wrong_key, "test");
    ADD_FAILURE() << "a key that is not the certificate's was accepted";
  } catch (const gateway::ConfigError& error) {
    EXPECT_THAT(error.what(), HasSubstr("tls.key_file = '" + certificates.server_key_file() + "' cannot be used"));
    EXPECT_THAT(error.what(), HasSubstr("key values mismatch"));
  }
  HttpsConnection after(gateway.port(), certificates.ca_file());
  ASSERT_TRUE(after.connected()) << after.error();
  EXPECT_THAT(after.peer_subject(), HasSubstr("O=Strata Test"));
  EXPECT_EQ(after.get("/item").status, 200U);
  // Turning HTTPS off needs a restart, and says so.
  EXPECT_THAT(gateway.server().reload_tls(gateway::ListenerTls{}, "test"), HasSubstr("tls"));
}

}  // namespace
}  // namespace strata::testing
