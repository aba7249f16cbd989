#pragma once

#include "support/redis_server.hpp"

#include <strata/redis/options.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <memory>

namespace strata::testing {

// One redis-server for a whole test suite, flushed before every test.
class SharedRedisServerTest : public ::testing::Test {
protected:
  static void SetUpTestSuite() { server_ = std::make_unique<RedisServer>(); }
  static void TearDownTestSuite() { server_.reset(); }
  void SetUp() override { ASSERT_THAT(server_->cli({"FLUSHALL"}), ::testing::HasSubstr("OK")); }

  static redis::ConnectionOptions options() { return redis::parse_url(server_->url()); }

  static inline std::unique_ptr<RedisServer> server_;
};

}  // namespace strata::testing
