// Per-call options over the cache's defaults: what overrides what, and what is refused.

#include "cache/policy.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <vector>

namespace strata::cache {
namespace {

using namespace std::chrono_literals;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(Policy, AnOptionSetOverridesItsDefaultAndNothingElse) {
  EntryDefaults defaults;
  defaults.ttl = 5min;
  defaults.stale_ttl = 1h;
  defaults.use_l2 = true;
  EntryOptions options;
  bool changed = true;
  const auto untouched = overridden(defaults, options, &changed);
  EXPECT_FALSE(changed);
  EXPECT_EQ(untouched.ttl, 5min);
  options.ttl = 30s;
  options.use_l2 = false;
  const auto policy = overridden(defaults, options, &changed);
  EXPECT_TRUE(changed);
  EXPECT_EQ(policy.ttl, 30s);
  EXPECT_FALSE(policy.use_l2);
  EXPECT_EQ(policy.stale_ttl, 1h);  // not set: the default stays
}

TEST(Policy, TagsAreSortedWithoutRepeatsAndAUserAddsItsOwnTag) {
  EntryOptions options;
  options.tags = {"job:2", "jobs", "job:2"};
  options.user = "42";
  const auto policy = resolve(EntryDefaults{}, options);
  EXPECT_THAT(policy.tags, ElementsAre("job:2", "jobs", "user:42"));
}

TEST(Policy, AnUnusablePolicyIsRefusedNamingWhereAndWhat) {
  const CacheOptions cache;
  auto refusal = [&](auto change) {
    EntryDefaults policy;
    change(policy);
    try {
      validate(policy, cache, "EntryOptions");
    } catch (const std::invalid_argument& error) {
      return std::string(error.what());
    }
    return std::string("accepted");
  };
  EXPECT_EQ(refusal([](EntryDefaults&) {}), "accepted");
  EXPECT_EQ(refusal([](EntryDefaults& p) { p.ttl = 0s; }), "EntryOptions: ttl must be positive");
  EXPECT_THAT(refusal([](EntryDefaults& p) { p.ttl_jitter = p.ttl; }), HasSubstr("ttl_jitter must be in [0, ttl)"));
  EXPECT_THAT(refusal([](EntryDefaults& p) { p.stale_ttl = -1s; }), HasSubstr("stale_ttl"));
  EXPECT_THAT(refusal([](EntryDefaults& p) { p.eager_refresh = 1.0; }), HasSubstr("eager_refresh"));
  EXPECT_THAT(refusal([&](EntryDefaults& p) { p.hard_timeout = cache.max_fill_duration + 1ms; }),
              HasSubstr("at most max_fill_duration (120000 ms)"));
  EXPECT_THAT(refusal([](EntryDefaults& p) { p.soft_timeout = p.hard_timeout + 1ms; }),
              HasSubstr("soft_timeout must be in [0, hard_timeout]"));
  EXPECT_THAT(refusal([](EntryDefaults& p) { p.stale_while_revalidate = -1s; }), HasSubstr("stale_while_revalidate"));
  EXPECT_THAT(refusal([](EntryDefaults& p) { p.l1_ttl = 0s; }), HasSubstr("l1_ttl must be positive"));
}

}  // namespace
}  // namespace strata::cache
