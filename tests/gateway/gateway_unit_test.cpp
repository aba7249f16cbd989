// The gateway's pure parts: configuration, request targets, path templates, Cache-Control,
// the stored-response codec, conditional requests and identity (JWT HS256/RS256/ES256).

#include "gateway/config.hpp"
#include "gateway/http_cache.hpp"
#include "gateway/identity.hpp"
#include "gateway/route.hpp"
#include "gateway/rule_stats.hpp"
#include "gateway/harness.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

namespace strata::gateway {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

std::string config_error(const std::string& toml) {
  try {
    (void)parse_config(toml, "strata.toml");
  } catch (const ConfigError& error) {
    return error.what();
  }
  return "no error";
}

TEST(GatewayConfig, ParsesRulesLimitsAndIdentity) {
  const auto config = parse_config(R"(
listen = "127.0.0.1:9000"
origin = "http://127.0.0.1:5000/v1/"
threads = 3
[limits]
max_cacheable_bytes = 1024
read_timeout = "5s"
[identity]
source = "jwt"
jwt_secret = "0123456789abcdef0123"
[[rules]]
path = "/api/jobs/{id}"
ttl = "30s"
stale_if_error = "5m"
query = ["page", "sort"]
headers = ["Accept-Language"]
per_user = true
tags = ["job:{id}", "user:{user}"]
[[rules]]
method = "POST"
path = "/api/meetings"
invalidate_namespaces = ["session", "analytics"]
)",
                                   "strata.toml");
  EXPECT_EQ(config.listen.port, 9000);
  EXPECT_EQ(config.origin.port, 5000);
  EXPECT_EQ(config.origin.base_path, "/v1");
  EXPECT_EQ(config.threads, 3U);
  EXPECT_EQ(config.limits.max_cacheable_bytes, 1024U);
  EXPECT_EQ(config.limits.read_timeout, 5s);
  ASSERT_EQ(config.rules.size(), 2U);
  const auto& jobs = config.rules[0];
  EXPECT_EQ(jobs.name_space, "jobs");
  EXPECT_EQ(jobs.ttl, 30s);
  EXPECT_EQ(jobs.stale_if_error, 300s);
  EXPECT_THAT(jobs.headers, ::testing::ElementsAre("accept-language"));
  EXPECT_TRUE(jobs.per_user);
  EXPECT_EQ(config.rules[1].methods, std::vector<std::string>{"POST"});
  EXPECT_THAT(config.rules[1].invalidate_namespaces, ::testing::ElementsAre("session", "analytics"));
}

TEST(GatewayConfig, MistakesNameTheFileLineOptionAndFix) {
  EXPECT_THAT(config_error("origin = \"http://x:1\"\n[[rules]]\npath = \"/a\"\ntll = \"5s\"\n"),
              AllOf(HasSubstr("strata.toml:4:"), HasSubstr("rules[0].tll"), HasSubstr("unknown option")));
  EXPECT_THAT(config_error("origin = \"http://x:1\"\n[[rules]]\npath = \"/a\"\nttl = \"5 minutes\"\n"),
              AllOf(HasSubstr("rules[0].ttl"), HasSubstr("not a duration"), HasSubstr("\"30s\"")));
  EXPECT_THAT(config_error("origin = \"ftp://x\"\n"), HasSubstr("origin: \"ftp://x\" is not an http:// or https:// URL"));
  EXPECT_THAT(config_error("listen = \"127.0.0.1\"\norigin = \"http://x:1\"\n"), HasSubstr("has no port"));
  EXPECT_THAT(config_error("origin = \"http://x:1\"\n[[rules]]\npath = \"/a/{id}\"\ntags = [\"item:{ident}\"]\n"),
              HasSubstr("uses {ident}, which the path \"/a/{id}\" does not define"));
  EXPECT_THAT(config_error("origin = \"http://x:1\"\n[[rules]]\npath = \"/a\"\nper_user = true\n"),
              HasSubstr("per_user and {user} need an [identity] source"));
  EXPECT_THAT(config_error("[[rules]]\npath = \"/a\"\n"), HasSubstr("origin: set the API to cache"));
  EXPECT_THAT(config_error("origin = \"http://x:1\"\n[cache]\nredis_url = \"redis+sentinel://s1:26379\"\n"),
              HasSubstr("redis_url: invalid Redis URL: missing master name"));
  EXPECT_THAT(config_error("origin = \"http://x:1\"\n[admin]\ntoken_sha256 = \"secret\"\n"),
              HasSubstr("expected 64 hex digits"));
  EXPECT_THAT(config_error("origin = \"http://x:1\"\n[identity]\nsource = \"jwt\"\njwt_secret = \"short\"\n"),
              HasSubstr("at least 16 bytes"));
  EXPECT_THAT(config_error("origin = [1\n"), HasSubstr("not valid TOML"));
  EXPECT_THAT(config_error("origin = \"http://x:1\"\n[[rules]]\npath = \"/a/{id\"\n"),
              HasSubstr("a variable is a whole segment"));
  EXPECT_THAT(config_error("origin = \"http://x:1\"\n[access_log]\nformat = \"apache\"\n"),
              AllOf(HasSubstr("access_log.format"), HasSubstr("use \"json\" or \"common\"")));
  EXPECT_THAT(config_error("origin = \"http://x:1\"\n[access_log]\nsample = 1.5\n"),
              AllOf(HasSubstr("access_log.sample"), HasSubstr("not between 0 and 1")));
  EXPECT_THAT(config_error("origin = \"http://x:1\"\n[limits]\nmax_variants = 0\n"),
              AllOf(HasSubstr("limits.max_variants"), HasSubstr("out of range")));
}

TEST(GatewayConfig, DurationsAndEndpoints) {
  // A string names its unit; a TOML integer is seconds.
  EXPECT_THAT(config_error("origin = \"http://x:1\"\n[upstream]\nresponse_timeout = \"30\"\n"),
              AllOf(HasSubstr("upstream.response_timeout"), HasSubstr("write a number and its unit")));
  EXPECT_EQ(parse_config("origin = \"http://x:1\"\n[upstream]\nresponse_timeout = 30\n").upstream.response_timeout, 30s);
  EXPECT_EQ(parse_endpoint("[::1]:80", "x").host, "::1");
  EXPECT_EQ(parse_endpoint(":8080", "x").host, "0.0.0.0");
  EXPECT_THROW(parse_endpoint("host:99999", "x"), ConfigError);
  const auto secure = parse_origin("https://api.example/v1/", "origin");
  EXPECT_TRUE(secure.tls);
  EXPECT_EQ(secure.port, 443);
  EXPECT_EQ(secure.base_path, "/v1");
  EXPECT_EQ(parse_origin("https://api.example:8443", "origin").port, 8443);
  EXPECT_FALSE(parse_origin("http://api.example", "origin").tls);
  EXPECT_THROW(parse_origin("http://user:pw@api", "origin"), ConfigError);
  EXPECT_EQ(parse_origin("http://api.internal", "origin").port, 80);
}

TEST(GatewayConfig, TrustedProxiesAreNetworks) {
  const auto loopback = parse_network("127.0.0.0/8");
  ASSERT_TRUE(loopback);
  EXPECT_TRUE(loopback->contains("127.0.0.1"));
  EXPECT_TRUE(loopback->contains("127.255.0.9"));
  EXPECT_FALSE(loopback->contains("128.0.0.1"));
  EXPECT_FALSE(loopback->contains("::1"));
  EXPECT_FALSE(loopback->contains("not an address"));
  const auto one = parse_network("10.1.2.3");
  ASSERT_TRUE(one);
  EXPECT_TRUE(one->contains("10.1.2.3"));
  EXPECT_FALSE(one->contains("10.1.2.4"));
  const auto v6 = parse_network("fd00::/8");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains("fd12::1"));
  EXPECT_FALSE(v6->contains("10.0.0.1"));
  EXPECT_FALSE(parse_network("10.0.0.0/33"));
  EXPECT_FALSE(parse_network("proxy.internal"));
  EXPECT_THAT(config_error("origin = \"http://x:1\"\n[identity]\nsource = \"header\"\nheader = \"X-User\"\n"
                           "trusted_proxies = [\"10.0.0.0/8\", \"lan\"]\n"),
              AllOf(HasSubstr("identity.trusted_proxies"), HasSubstr("\"lan\" is not an address or CIDR")));
}

TEST(RequestTarget, NormalisesLikeTheOriginWill) {
  std::string error;
  EXPECT_EQ(normalize_target("/a/./b/../c", &error)->path, "/a/c");
  EXPECT_EQ(normalize_target("//a///b", &error)->path, "/a/b");
  EXPECT_EQ(normalize_target("/%61%62c", &error)->path, "/abc");  // unreserved decoded
  EXPECT_EQ(normalize_target("/a%2eb/%2e%2e/c", &error)->path, "/c");
  EXPECT_EQ(normalize_target("/a%3ab", &error)->path, "/a%3Ab");  // reserved kept, upper-cased
  EXPECT_EQ(normalize_target("/a/?x=1&y=2", &error)->path, "/a/");
  EXPECT_EQ(normalize_target("/a?x=1&y=2", &error)->query, "x=1&y=2");
  EXPECT_EQ(normalize_target("/account;x.css", &error)->path, "/account;x.css");
  EXPECT_EQ(normalize_target("/account%3bx.css", &error)->path, "/account%3Bx.css");  // not the same as ';'
  // Raw bytes a client should have escaped are escaped, as a browser sends them.
  EXPECT_EQ(normalize_target("/caf\xc3\xa9/a\"b", &error)->path, "/caf%C3%A9/a%22b");
  EXPECT_EQ(normalize_target("/caf%c3%a9", &error)->path, "/caf%C3%A9");
  EXPECT_EQ(normalize_target("/a?f={\"k\":1}", &error)->query, "f=%7B%22k%22:1%7D");
  // A '%' that starts no escape is a literal '%' in the query (in the path it is refused).
  EXPECT_EQ(normalize_target("/a?p=100%&q=%zz&r=%41", &error)->query, "p=100%25&q=%25zz&r=%41");
  EXPECT_EQ(normalize_target("/a?x=1#frag?y=2", &error)->query, "x=1");
  EXPECT_EQ(normalize_target("/a#x/../..", &error)->path, "/a");
}

TEST(RequestTarget, RefusesWhatOriginsReadDifferently) {
  for (const char* target : {"/a/..%2f..%2fadmin", "/a%2Fb", "/a%5cb", "/a%00", "/..", "/a/../../b", "a/b",
                             "http://evil/a", "/a%zz", "/a%2", "/a\\b"}) {
    std::string error;
    EXPECT_FALSE(normalize_target(target, &error).has_value()) << target;
    EXPECT_FALSE(error.empty()) << target;
  }
}

TEST(PathTemplate, MatchesWholeSegmentsAndDecodesVariables) {
  std::string error;
  auto compiled = PathTemplate::compile("/api/jobs/{id}/logs", &error);
  ASSERT_TRUE(compiled) << error;
  auto variables = compiled->match("/api/jobs/a%20b/logs");
  ASSERT_TRUE(variables);
  EXPECT_EQ(variables->at("id"), "a b");
  EXPECT_TRUE(compiled->match("/api/jobs/7/logs/"));
  EXPECT_FALSE(compiled->match("/api/jobs//logs"));
  EXPECT_FALSE(compiled->match("/api/jobs/7"));
  EXPECT_FALSE(compiled->match("/api/jobs/7/logs;x.css"));
  EXPECT_EQ(compiled->default_namespace(), "jobs");
  EXPECT_FALSE(PathTemplate::compile("/a/{user}", &error));
  EXPECT_EQ(expand("job:{id}", *variables), "job:a b");
  EXPECT_EQ(expand("user:{user}", *variables), std::nullopt);
}

TEST(PathTemplate, QueryParsingDecodes) {
  const auto pairs = parse_query("b=2&a=x+y&c=%26&flag&=v");
  ASSERT_EQ(pairs.size(), 5U);
  EXPECT_EQ(pairs[1].second, "x y");
  EXPECT_EQ(pairs[2].second, "&");
  EXPECT_EQ(pairs[3].first, "flag");
  EXPECT_EQ(parse_query("a=1&&b=2").size(), 2U);  // an empty item is no parameter
  EXPECT_TRUE(parse_query("a=%zz").empty());       // not query text: normalize_target escapes it first
  EXPECT_EQ(percent_decode("a%2Fb+c", false), "a/b+c");
  EXPECT_EQ(percent_decode("a+c", true), "a c");
  EXPECT_EQ(percent_decode("100%", false), std::nullopt);
  EXPECT_EQ(percent_encode("a b/~-._%"), "a%20b%2F~-._%25");
}

TEST(CacheControlParsing, DirectivesAndInvalidValues) {
  const auto control = parse_cache_control("public, max-age=60, S-MAXAGE=\"120\", stale-if-error=30, no-cache");
  EXPECT_TRUE(control.is_public);
  EXPECT_TRUE(control.no_cache);
  EXPECT_EQ(control.max_age, 60s);
  EXPECT_EQ(control.s_maxage, 120s);
  EXPECT_EQ(control.stale_if_error, 30s);
  EXPECT_EQ(parse_cache_control("max-age=abc").max_age, 0s);  // invalid freshness is stale
  EXPECT_TRUE(parse_cache_control("private=\"Set-Cookie\"").is_private);
  EXPECT_TRUE(parse_cache_control("no-store").no_store);
  EXPECT_EQ(parse_cache_control("max-age=10000;edge").max_age, 10000s);  // Surrogate-Control targets
}

TEST(StoredResponseCodec, AnEntrysFootprintCountsItsDecodedFieldsBodyAndRenderedBlock) {
  auto response = std::make_shared<StoredResponse>();
  response->headers = {{"content-type", "application/json; charset=utf-8"},
                       {"cache-control", "public, max-age=300, stale-while-revalidate=30"}};
  response->body.assign(4096, 'b');
  response->render_headers();
  HttpEntry entry;
  entry.response = response;
  const auto footprint = Codec<HttpEntry>::footprint(entry);
  std::size_t fields = 0;
  for (const auto& [name, value] : response->headers) fields += name.size() + value.size();
  EXPECT_GE(footprint, sizeof(StoredResponse) + response->body.size() + response->rendered_headers.size() + fields);
  EXPECT_LT(footprint, 2 * (sizeof(StoredResponse) + response->body.size() + response->rendered_headers.size() + fields));
  // A decoded copy is charged as the original.
  const auto decoded = Codec<HttpEntry>::decode(Codec<HttpEntry>::encode(entry));
  ASSERT_TRUE(decoded);
  EXPECT_GE(Codec<HttpEntry>::footprint(*decoded), footprint - 64);
  EXPECT_LE(Codec<HttpEntry>::footprint(*decoded), footprint + 64);
  // A variant index counts too.
  HttpEntry index;
  index.variants = std::make_shared<VariantIndex>(VariantIndex{{"accept-language", "x-tenant"}, "0123456789abcdef0123"});
  EXPECT_GE(Codec<HttpEntry>::footprint(index), sizeof(VariantIndex) + 20);
}

TEST(StoredResponseCodec, RoundTripsAndRefusesDamage) {
  auto response = std::make_shared<StoredResponse>();
  response->status = 203;
  response->headers = {{"content-type", "application/json"}, {"etag", "\"v1\""}};
  response->body = std::string("a\0b", 3);
  response->shared_with_credentials = true;
  HttpEntry entry;
  entry.response = response;
  const auto bytes = Codec<HttpEntry>::encode(entry);
  const auto decoded = Codec<HttpEntry>::decode(bytes);
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->response->status, 203U);
  EXPECT_EQ(decoded->response->headers, response->headers);
  EXPECT_EQ(decoded->response->body, response->body);
  EXPECT_TRUE(decoded->response->shared_with_credentials);
  // Format 2 had no flags byte: its entries decode, closed to requests with credentials.
  std::string format2 = bytes;
  format2.erase(3, 1);
  format2[0] = 2;
  const auto old = Codec<HttpEntry>::decode(format2);
  ASSERT_TRUE(old);
  EXPECT_EQ(old->response->body, response->body);
  EXPECT_FALSE(old->response->shared_with_credentials);
  std::string unknown_flag = bytes;
  unknown_flag[3] = 4;
  EXPECT_FALSE(Codec<HttpEntry>::decode(unknown_flag));
  for (std::size_t cut = 0; cut < 20; ++cut) EXPECT_FALSE(Codec<HttpEntry>::decode(bytes.substr(0, cut))) << cut;
  std::string wrong_version = bytes;
  wrong_version[0] = 9;
  EXPECT_FALSE(Codec<HttpEntry>::decode(wrong_version));
}

TEST(ConditionalRequests, ETagsAndDates) {
  EXPECT_TRUE(none_match_satisfied("\"a\", W/\"v1\"", "\"v1\""));
  EXPECT_TRUE(none_match_satisfied("*", "\"x\""));
  EXPECT_FALSE(none_match_satisfied("\"v2\"", "\"v1\""));
  EXPECT_FALSE(none_match_satisfied("\"v1\"", ""));
  EXPECT_EQ(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT"), 784111777);
  EXPECT_EQ(parse_http_date("Sun Nov  6 08:49:37 1994"), 784111777);
  EXPECT_EQ(parse_http_date("yesterday"), std::nullopt);
  EXPECT_EQ(format_http_date(784111777), "Sun, 06 Nov 1994 08:49:37 GMT");
}

// ---------------------------------------------------------------------------------------------
// Identity

constexpr std::int64_t kNow = 1'900'000'000;

IdentityConfig hs256() {
  IdentityConfig config;
  config.source = IdentitySource::jwt;
  config.jwt_secret = "a-secret-of-enough-bytes";
  return config;
}

TEST(Identity, Hs256TokensAreVerified) {
  IdentityResolver resolver(hs256());
  const auto good = testing::hs256_jwt("a-secret-of-enough-bytes", R"({"sub":"alice","exp":1900000100,"role":"admin"})");
  const auto identity = resolver.resolve("Bearer " + good, "", kNow);
  EXPECT_EQ(identity.user, "alice");
  EXPECT_TRUE(identity.admin);

  const auto forged = testing::hs256_jwt("another-secret-entirely", R"({"sub":"alice"})");
  EXPECT_THAT(resolver.resolve("Bearer " + forged, "", kNow).problem, HasSubstr("bad signature"));
  EXPECT_FALSE(resolver.resolve("Bearer " + forged, "", kNow).user);

  const auto expired = testing::hs256_jwt("a-secret-of-enough-bytes", R"({"sub":"alice","exp":1899999000})");
  EXPECT_THAT(resolver.resolve("Bearer " + expired, "", kNow).problem, HasSubstr("expired"));

  const auto unsigned_token = testing::base64url(R"({"alg":"none"})") + "." + testing::base64url(R"({"sub":"alice"})") + ".";
  EXPECT_THAT(resolver.resolve("Bearer " + unsigned_token, "", kNow).problem, HasSubstr("algorithm is not HS256"));
  EXPECT_THAT(resolver.resolve("Bearer a.b", "", kNow).problem, HasSubstr("three"));
  EXPECT_FALSE(resolver.resolve("", "", kNow).user);

  const auto numeric = testing::hs256_jwt("a-secret-of-enough-bytes", R"({"sub":42})");
  EXPECT_EQ(resolver.resolve("Bearer " + numeric, "", kNow).user, "42");
  const auto no_subject = testing::hs256_jwt("a-secret-of-enough-bytes", R"({"name":"x"})");
  EXPECT_THAT(resolver.resolve("Bearer " + no_subject, "", kNow).problem, HasSubstr("\"sub\""));
}

TEST(Identity, IssuerAudienceAndNotBefore) {
  auto config = hs256();
  config.issuer = "https://auth.example";
  config.audience = "api";
  IdentityResolver resolver(config);
  auto token = [](const std::string& claims) { return "Bearer " + testing::hs256_jwt("a-secret-of-enough-bytes", claims); };
  EXPECT_TRUE(resolver.resolve(token(R"({"sub":"a","iss":"https://auth.example","aud":["x","api"]})"), "", kNow).user);
  EXPECT_THAT(resolver.resolve(token(R"({"sub":"a","iss":"https://evil","aud":"api"})"), "", kNow).problem, HasSubstr("issuer"));
  EXPECT_THAT(resolver.resolve(token(R"({"sub":"a","iss":"https://auth.example","aud":"web"})"), "", kNow).problem, HasSubstr("audience"));
  EXPECT_THAT(resolver.resolve(token(R"({"sub":"a","iss":"https://auth.example","aud":"api","nbf":1900001000})"), "", kNow).problem,
              HasSubstr("nbf"));
}

struct KeyPair {
  std::string public_pem;
  EVP_PKEY* key = nullptr;
  ~KeyPair() { EVP_PKEY_free(key); }
};

void generate(KeyPair& pair, const char* algorithm) {
  pair.key = std::string(algorithm) == "RS256" ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  ASSERT_NE(pair.key, nullptr);
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_PUBKEY(bio, pair.key);
  char* data = nullptr;
  const long size = BIO_get_mem_data(bio, &data);
  pair.public_pem.assign(data, static_cast<std::size_t>(size));
  BIO_free(bio);
}

std::string sign(const KeyPair& pair, const char* algorithm, const std::string& claims) {
  const std::string input = testing::base64url(std::string(R"({"alg":")") + algorithm + R"("})") + "." +
                            testing::base64url(claims);
  EVP_MD_CTX* context = EVP_MD_CTX_new();
  EVP_DigestSignInit(context, nullptr, EVP_sha256(), nullptr, pair.key);
  std::size_t size = 0;
  EVP_DigestSign(context, nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()), input.size());
  std::string signature(size, '\0');
  EVP_DigestSign(context, reinterpret_cast<unsigned char*>(signature.data()), &size,
                 reinterpret_cast<const unsigned char*>(input.data()), input.size());
  signature.resize(size);
  EVP_MD_CTX_free(context);
  if (std::string(algorithm) == "ES256") {  // DER to the JWS form: r || s, 32 bytes each
    const auto* der = reinterpret_cast<const unsigned char*>(signature.data());
    ECDSA_SIG* parsed = d2i_ECDSA_SIG(nullptr, &der, static_cast<long>(signature.size()));
    std::string raw(64, '\0');
    BN_bn2binpad(ECDSA_SIG_get0_r(parsed), reinterpret_cast<unsigned char*>(raw.data()), 32);
    BN_bn2binpad(ECDSA_SIG_get0_s(parsed), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
    ECDSA_SIG_free(parsed);
    signature = raw;
  }
  return input + "." + testing::base64url(signature);
}

class AsymmetricJwt : public ::testing::TestWithParam<const char*> {};

TEST_P(AsymmetricJwt, VerifiesWithThePublicKeyOnly) {
  KeyPair pair;
  KeyPair other;
  generate(pair, GetParam());
  generate(other, GetParam());
  IdentityConfig config;
  config.source = IdentitySource::jwt;
  config.jwt_algorithm = GetParam();
  config.jwt_public_key_pem = pair.public_pem;
  IdentityResolver resolver(config);
  EXPECT_EQ(resolver.resolve("Bearer " + sign(pair, GetParam(), R"({"sub":"bob"})"), "", kNow).user, "bob");
  EXPECT_THAT(resolver.resolve("Bearer " + sign(other, GetParam(), R"({"sub":"bob"})"), "", kNow).problem,
              HasSubstr("bad signature"));
  // The classic confusion: an HS256 token "signed" with the public key as the secret.
  const auto confused = testing::hs256_jwt(pair.public_pem, R"({"sub":"bob"})");
  EXPECT_THAT(resolver.resolve("Bearer " + confused, "", kNow).problem, HasSubstr("algorithm"));
}

INSTANTIATE_TEST_SUITE_P(Algorithms, AsymmetricJwt, ::testing::Values("RS256", "ES256"));

TEST(Identity, WrongKeyTypeIsAConfigError) {
  KeyPair ec;
  generate(ec, "ES256");
  IdentityConfig config;
  config.source = IdentitySource::jwt;
  config.jwt_algorithm = "RS256";
  config.jwt_public_key_pem = ec.public_pem;
  EXPECT_THROW(IdentityResolver{config}, ConfigError);
  config.jwt_public_key_pem = "not a key";
  EXPECT_THROW(IdentityResolver{config}, ConfigError);
}

TEST(Identity, BearerDigestNeverContainsTheToken) {
  IdentityConfig config;
  config.source = IdentitySource::bearer_digest;
  config.digest_secret = "digest-secret-0123456789";
  IdentityResolver resolver(config);
  const auto first = resolver.resolve("Bearer token-of-alice", "", kNow);
  const auto again = resolver.resolve("bearer token-of-alice", "", kNow);
  const auto other = resolver.resolve("Bearer token-of-bob", "", kNow);
  ASSERT_TRUE(first.user);
  EXPECT_EQ(first.user, again.user);
  EXPECT_NE(first.user, other.user);
  EXPECT_EQ(first.user->find("alice"), std::string::npos);
  EXPECT_FALSE(resolver.resolve("Basic dXNlcjpwdw==", "", kNow).user);
}

TEST(Identity, TrustedHeader) {
  IdentityConfig config;
  config.source = IdentitySource::header;
  config.header = "x-user-id";
  IdentityResolver resolver(config);
  EXPECT_EQ(resolver.resolve("", "u-17", kNow).user, "u-17");
  EXPECT_FALSE(resolver.resolve("", "", kNow).user);
}

TEST(Identity, DigestsAndConstantTimeCompare) {
  EXPECT_EQ(sha256_hex("test"), "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08");
  EXPECT_TRUE(constant_time_equal("abc", "abc"));
  EXPECT_FALSE(constant_time_equal("abc", "abd"));
  EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

TEST(RuleStats, OutcomesLandInTheirCountersAndNamesBeyondTheBoundShareOther) {
  RuleStats stats;
  auto& jobs = stats.for_rule("jobs");
  EXPECT_EQ(&stats.for_rule("jobs"), &jobs);  // found again by name, as after a reload
  jobs.record("HIT", "", std::chrono::microseconds(5), 100);
  jobs.record("STALE", "", std::chrono::microseconds(5), 100);
  jobs.record("MISS", "no-store", std::chrono::milliseconds(3), 100);
  jobs.record("REVALIDATED", "", std::chrono::milliseconds(2), 100);
  jobs.record("BYPASS", "uncacheable", std::chrono::milliseconds(2), 100);
  jobs.record("", "", std::chrono::microseconds(1), 10);  // an error answered before the cache
  const auto snapshot = stats.snapshot().at(0);
  EXPECT_EQ(snapshot.requests, 6U);
  EXPECT_EQ(snapshot.hits, 1U);
  EXPECT_EQ(snapshot.stale, 1U);
  EXPECT_EQ(snapshot.misses, 2U);
  EXPECT_EQ(snapshot.bypass, 1U);
  EXPECT_EQ(snapshot.bytes_saved, 200U);
  EXPECT_DOUBLE_EQ(snapshot.hit_ratio(), 0.5);
  ASSERT_EQ(snapshot.not_stored.size(), 1U);
  EXPECT_EQ(snapshot.not_stored[0].first, "no-store");
  EXPECT_EQ(snapshot.latency.count, 6U);
  EXPECT_NEAR(static_cast<double>(snapshot.latency.quantile(0.99).count()), 3e6, 3e6 * 0.02);

  for (std::size_t i = 1; i < RuleStats::kMaxRules + 10; ++i) stats.for_rule("rule" + std::to_string(i));
  const auto all = stats.snapshot();
  EXPECT_EQ(all.size(), RuleStats::kMaxRules + 1);
  EXPECT_EQ(all.back().name, "other");
  EXPECT_EQ(&stats.for_rule("yet another"), &stats.for_rule("other"));
  stats.reset();
  EXPECT_EQ(stats.snapshot().at(0).requests, 0U);
  EXPECT_EQ(stats.snapshot().at(0).latency.count, 0U);
}

}  // namespace
}  // namespace strata::gateway
