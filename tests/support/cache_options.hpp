#pragma once

#include <strata/cache/options.hpp>

#include <string>

namespace strata::testing {

// The options a cache test starts from: its prefix and Redis at `redis_url` (empty: L1 only).
inline CacheOptions cache_options_for(std::string redis_url, std::string prefix = "test") {
  CacheOptions options;
  options.prefix = std::move(prefix);
  options.redis_url = std::move(redis_url);
  // As long as a connection's command timeout: tests that are not about the Redis deadline must
  // not see a cluster's slot migration, or a sanitizer build on two busy cores, as a Redis fault.
  options.redis_deadline = std::chrono::seconds(1);
  return options;
}

}  // namespace strata::testing
