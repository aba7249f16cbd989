// rediss:// against a redis-server that speaks TLS only, with certificates made at test time.
#include <strata/redis/connection.hpp>

#include "support/async_test.hpp"
#include "support/redis_server.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>

namespace strata::redis {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using strata::testing::RedisServer;
using strata::testing::run_async;
using strata::testing::TestCertificates;
using ::testing::HasSubstr;

class TlsRedisTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() {
    pki_ = std::make_unique<TestCertificates>();
    server_ = std::make_unique<RedisServer>(
        std::vector<std::string>{"--tls-cert-file", pki_->server_cert_file(), "--tls-key-file",
                                 pki_->server_key_file(), "--tls-ca-cert-file", pki_->ca_file(),
                                 "--tls-auth-clients", "no"},
        /*tls_only=*/true);
  }
  static void TearDownTestSuite() {
    server_.reset();
    pki_.reset();
  }
  static ConnectionOptions options() {
    ConnectionOptions opts = parse_url("rediss://127.0.0.1:" + std::to_string(server_->port()) +
                                       "?connect_timeout=3s");
    opts.tls.ca_file = pki_->ca_file();
    return opts;
  }
  static std::unique_ptr<TestCertificates> pki_;
  static std::unique_ptr<RedisServer> server_;
};

std::unique_ptr<TestCertificates> TlsRedisTest::pki_;
std::unique_ptr<RedisServer> TlsRedisTest::server_;

TEST_F(TlsRedisTest, VerifiedConnectionCarriesCommands) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    Connection connection(executor, options());
    const auto connected = co_await connection.connect();
    EXPECT_EQ(connection.last_error(), "");
    CO_ASSERT_TRUE(connected.has_value());
    const std::string value(100'000, 'x');
    CO_ASSERT_TRUE((co_await connection.exec(Request("SET", "over-tls", value))).has_value());
    auto got = co_await connection.exec(Request("GET", "over-tls"));
    CO_ASSERT_TRUE(got.has_value());
    EXPECT_EQ(got->text(), value);
  });
}

TEST_F(TlsRedisTest, CertificateFromAnUntrustedCaIsRefused) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    ConnectionOptions opts = options();
    opts.tls.ca_file = pki_->other_ca_file();
    opts.reconnect = false;
    Connection connection(executor, opts);
    const auto result = co_await connection.connect();
    CO_ASSERT_TRUE(!result.has_value());
    EXPECT_EQ(result.error(), Error::tls_failed);
    EXPECT_THAT(connection.last_error(), HasSubstr("certificate verify failed"));
  });
}

TEST_F(TlsRedisTest, HostNameMustMatchTheCertificate) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    ConnectionOptions opts = options();
    opts.tls.server_name = "cache.example.com";
    opts.reconnect = false;
    Connection mismatched(executor, opts);
    const auto refused = co_await mismatched.connect();
    CO_ASSERT_TRUE(!refused.has_value());
    EXPECT_EQ(refused.error(), Error::tls_failed);
    EXPECT_THAT(mismatched.last_error(), HasSubstr("as 'cache.example.com'"));

    opts.tls.server_name = "localhost";  // in the certificate's subjectAltName
    Connection matched(executor, opts);
    CO_ASSERT_TRUE((co_await matched.connect()).has_value());
  });
}

TEST_F(TlsRedisTest, VerificationCanBeTurnedOff) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    ConnectionOptions opts = options();
    opts.tls.ca_file = pki_->other_ca_file();
    opts.tls.verify_peer = false;
    Connection connection(executor, opts);
    CO_ASSERT_TRUE((co_await connection.connect()).has_value());
    auto pong = co_await connection.exec(Request("PING"));
    EXPECT_TRUE(pong->is_status("PONG"));
  });
}

TEST_F(TlsRedisTest, PlainClientAgainstATlsServerFailsCleanly) {
  run_async([](asio::any_io_executor executor) -> asio::awaitable<void> {
    ConnectionOptions opts = options();
    opts.tls.enabled = false;
    opts.reconnect = false;
    opts.connect_timeout = 500ms;
    Connection connection(executor, opts);
    const auto result = co_await connection.connect();  // the greeting gets no RESP answer
    CO_ASSERT_TRUE(!result.has_value());
    EXPECT_FALSE(connection.is_connected());
  });
}

TEST(TlsOptions, UnreadableFilesAreConfigurationErrors) {
  asio::io_context io;
  ConnectionOptions opts = parse_url("rediss://127.0.0.1:1?tls_ca_file=/nonexistent/ca.pem");
  try {
    Connection connection(io.get_executor(), opts);
    ADD_FAILURE() << "a missing CA file must be refused at construction";
  } catch (const std::invalid_argument& error) {
    EXPECT_THAT(error.what(), HasSubstr("tls_ca_file = '/nonexistent/ca.pem' cannot be used"));
  }
  opts = parse_url("rediss://127.0.0.1:1?tls_cert_file=/tmp/c.pem");
  EXPECT_THROW(Connection(io.get_executor(), opts), std::invalid_argument);
}

}  // namespace
}  // namespace strata::redis
