#include <strata/redis/options.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

namespace strata::redis {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(RedisUrl, DefaultsFromAMinimalUrl) {
  const ConnectionOptions options = parse_url("redis://localhost");
  EXPECT_EQ(options.host, "localhost");
  EXPECT_EQ(options.port, 6379);
  EXPECT_EQ(options.database, 0);
  EXPECT_TRUE(options.username.empty());
  EXPECT_TRUE(options.password.empty());
  EXPECT_FALSE(options.tls.enabled);
}

TEST(RedisUrl, EveryPart) {
  const ConnectionOptions options = parse_url(
      "rediss://app:s3cr%40t%3A%2F@cache.internal:6380/2?connect_timeout=2s&command_timeout=250ms"
      "&pool_size=8&max_pending=100&client_name=api-7&tls_ca_file=%2Fetc%2Fca.pem&tls_verify=false"
      "&tls_server_name=redis.internal&tls_cert_file=c.pem&tls_key_file=k.pem");
  EXPECT_TRUE(options.tls.enabled);
  EXPECT_EQ(options.username, "app");
  EXPECT_EQ(options.password, "s3cr@t:/");
  EXPECT_EQ(options.host, "cache.internal");
  EXPECT_EQ(options.port, 6380);
  EXPECT_EQ(options.database, 2);
  EXPECT_EQ(options.connect_timeout, 2000ms);
  EXPECT_EQ(options.command_timeout, 250ms);
  EXPECT_EQ(options.pool_size, 8U);
  EXPECT_EQ(options.max_pending, 100U);
  EXPECT_EQ(options.client_name, "api-7");
  EXPECT_EQ(options.tls.ca_file, "/etc/ca.pem");
  EXPECT_FALSE(options.tls.verify_peer);
  EXPECT_EQ(options.tls.server_name, "redis.internal");
  EXPECT_EQ(options.tls.cert_file, "c.pem");
  EXPECT_EQ(options.tls.key_file, "k.pem");
}

TEST(RedisUrl, ResilienceOptions) {
  const ConnectionOptions options = parse_url(
      "redis://h?reconnect=false&reconnect_backoff_initial=10ms&reconnect_backoff_max=1s"
      "&queue_while_disconnected=true&breaker_failures=0&breaker_cooldown=3s");
  EXPECT_FALSE(options.reconnect);
  EXPECT_EQ(options.reconnect_backoff_initial, 10ms);
  EXPECT_EQ(options.reconnect_backoff_max, 1000ms);
  EXPECT_TRUE(options.queue_while_disconnected);
  EXPECT_EQ(options.breaker_failures, 0U);
  EXPECT_EQ(options.breaker_cooldown, 3000ms);
}

TEST(RedisUrl, PasswordAloneAndIpv6) {
  const ConnectionOptions password_only = parse_url("redis://:hunter2@10.0.0.5:7000/0");
  EXPECT_TRUE(password_only.username.empty());
  EXPECT_EQ(password_only.password, "hunter2");
  EXPECT_EQ(password_only.port, 7000);
  const ConnectionOptions ipv6 = parse_url("redis://[::1]:6390");
  EXPECT_EQ(ipv6.host, "::1");
  EXPECT_EQ(ipv6.port, 6390);
}

void expect_rejected(const std::string& url, const std::string& fragment) {
  try {
    parse_url(url);
    ADD_FAILURE() << url << " was accepted";
  } catch (const std::invalid_argument& error) {
    EXPECT_THAT(error.what(), HasSubstr(fragment)) << url;
    EXPECT_THAT(error.what(), Not(HasSubstr("hunter2"))) << "the password leaked into the message";
  }
}

TEST(RedisUrl, MalformedUrlsNameTheirBadPart) {
  expect_rejected("localhost:6379", "missing scheme");
  expect_rejected("http://localhost", "unsupported scheme 'http'");
  expect_rejected("redis://", "missing host");
  expect_rejected("redis://:hunter2@", "missing host");
  expect_rejected("redis://localhost:", "empty port");
  expect_rejected("redis://localhost:99999", "port '99999' is not a whole number from 1 to 65535");
  expect_rejected("redis://localhost:63a9", "port '63a9'");
  expect_rejected("redis://localhost/db1", "database number in the path 'db1'");
  expect_rejected("redis://[::1:6379", "lacks its closing ']'");
  expect_rejected("redis://:hunter2%zz@host", "password has a '%' not followed by two hex digits");
  expect_rejected("redis://host?command_timeout=fast", "option command_timeout='fast' is not a duration");
  expect_rejected("redis://host?command_timeout=250", "write a number and its unit (250ms, 2s)");
  expect_rejected("redis://host?command_timeout=2h", "between 1ms and 3600s");
  expect_rejected("redis://host?connect_timeout=0ms", "between 1ms and 3600s");
  expect_rejected("redis://host?pool_size=0", "option pool_size '0'");
  expect_rejected("redis://host?tls_verify=maybe", "not a boolean");
  expect_rejected("redis://host?timeout=5", "unknown option 'timeout'");
  expect_rejected("redis://host?pool_size", "option 'pool_size' has no value");
  expect_rejected("redis://@host", "empty user information");
  expect_rejected("redis://host?reconnect_backoff_initial=5s&reconnect_backoff_max=1s",
                  "reconnect_backoff_max (1000ms) is below reconnect_backoff_initial (5000ms)");
}

TEST(DeploymentUrl, ClusterUrlsListTheirSeedNodes) {
  const auto deployment =
      parse_deployment_url("redis+cluster://app:s3cret@10.0.0.1:7000,10.0.0.2,[::1]:7002?topology_refresh=2s&pool_size=2");
  EXPECT_EQ(deployment.kind, Deployment::Kind::cluster);
  ASSERT_EQ(deployment.seeds.size(), 3u);
  EXPECT_EQ(deployment.seeds[0], (Endpoint{"10.0.0.1", 7000}));
  EXPECT_EQ(deployment.seeds[1], (Endpoint{"10.0.0.2", 6379}));
  EXPECT_EQ(deployment.seeds[2], (Endpoint{"::1", 7002}));
  EXPECT_EQ(deployment.node.username, "app");
  EXPECT_EQ(deployment.node.password, "s3cret");
  EXPECT_EQ(deployment.node.pool_size, 2u);
  EXPECT_EQ(deployment.topology_refresh, std::chrono::seconds(2));
  EXPECT_FALSE(deployment.node.tls.enabled);
  EXPECT_TRUE(parse_deployment_url("rediss+cluster://h:1").node.tls.enabled);
}

TEST(DeploymentUrl, SentinelUrlsNameTheMasterAndConfigureSentinelsApart) {
  const auto deployment = parse_deployment_url(
      "rediss+sentinel://:data-pw@s1:26379,s2:26380/mymaster/3?sentinel_password=sentinel-pw&sentinel_tls=false");
  EXPECT_EQ(deployment.kind, Deployment::Kind::sentinel);
  EXPECT_EQ(deployment.master_name, "mymaster");
  EXPECT_EQ(deployment.node.database, 3);
  EXPECT_EQ(deployment.node.password, "data-pw");
  EXPECT_TRUE(deployment.node.tls.enabled);
  EXPECT_EQ(deployment.sentinel.password, "sentinel-pw");
  EXPECT_FALSE(deployment.sentinel.tls.enabled);
  EXPECT_EQ(deployment.sentinel.database, 0);
  ASSERT_EQ(deployment.seeds.size(), 2u);
  EXPECT_EQ(deployment.seeds[1], (Endpoint{"s2", 26380}));
}

TEST(DeploymentUrl, PlainUrlsStayOneServer) {
  const auto deployment = parse_deployment_url("redis://cache:6380/2");
  EXPECT_EQ(deployment.kind, Deployment::Kind::standalone);
  EXPECT_EQ(deployment.node.port, 6380);
  EXPECT_EQ(deployment.node.database, 2);
}

TEST(DeploymentUrl, MistakesNameTheirBadPart) {
  const auto rejected = [](const std::string& url, const std::string& fragment) {
    try {
      (void)parse_deployment_url(url);
      ADD_FAILURE() << "accepted " << url;
    } catch (const std::invalid_argument& error) {
      EXPECT_THAT(error.what(), HasSubstr(fragment)) << url;
      EXPECT_THAT(error.what(), Not(HasSubstr("hunter2"))) << url;
    }
  };
  rejected("redis+sentinel://:hunter2@s1:26379", "missing master name");
  rejected("redis+sentinel://s1:26379/m/x", "database number after the master name 'x'");
  rejected("redis+cluster://h1:7000,,h2:7001", "empty host in the list");
  rejected("redis+cluster://h1:7000/1", "Redis Cluster has only database 0");
  rejected("redis+cluster://h1:7000?sentinel_password=x", "applies to redis+sentinel:// URLs only");
  rejected("redis+sentinel://s/m?topology_refresh=1s&sentinel_colour=x", "unknown option 'sentinel_colour'");
  rejected("redis+sentinel://s/m?max_redirects=3", "applies to redis+cluster:// URLs only");
  rejected("redis+mesh://h", "unsupported scheme 'redis+mesh'");
  rejected("redis://:hunter2@h1,h2", "several hosts");
  try {
    (void)parse_url("redis+cluster://h1:7000");
    ADD_FAILURE() << "parse_url accepted a cluster URL";
  } catch (const std::invalid_argument& error) {
    EXPECT_THAT(error.what(), HasSubstr("parse_deployment_url"));
  }
}

}  // namespace
}  // namespace strata::redis
