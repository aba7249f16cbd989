// The gateway in front of origins nobody here wrote: a stock nginx with `gzip on; gzip_vary on`
// (every response varies on Accept-Encoding), started by the fixture on a loopback port.

#include "gateway/compression.hpp"
#include "gateway/content_coding.hpp"
#include "gateway/harness.hpp"
#include "support/nginx_server.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace strata::testing {
namespace {

using ::testing::HasSubstr;
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
  for (const auto& request : nginx_.requests()) fetched += request.uri.rfind("/data.json", 0) == 0 ? 1 : 0;
  EXPECT_EQ(fetched, 2U);
}

TEST_P(BehindNginx, AGzipClientGetsTheOriginsOwnBytesWhenItSentGzip) {
  const auto miss = get("/other.json", "gzip");
  const auto hit = get("/other.json", "gzip");
  EXPECT_EQ(hit.header("x-cache"), "HIT");
  EXPECT_EQ(hit.body, miss.body);  // stored as nginx sent it: no work on a hit
  EXPECT_EQ(hit.header("etag"), miss.header("etag"));
  ASSERT_FALSE(nginx_.requests().empty());
  EXPECT_EQ(nginx_.requests().back().accept_encoding, "gzip");
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

}  // namespace
}  // namespace strata::testing
