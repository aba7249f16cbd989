#include "redis/resilience.hpp"

#include <gtest/gtest.h>

namespace strata::redis {
namespace {

using namespace std::chrono_literals;
using State = CircuitBreaker::State;

TEST(Backoff, GrowsExponentiallyWithinJitterBoundsAndStaysCapped) {
  Backoff backoff(100ms, 2000ms, 42);
  for (int round = 0; round < 50; ++round) {
    for (std::size_t attempt = 0; attempt < 40; ++attempt) {
      const auto ceiling = std::min<std::int64_t>(100LL << std::min<std::size_t>(attempt, 30), 2000);
      const auto delay = backoff.delay(attempt).count();
      ASSERT_GE(delay, ceiling / 2) << "attempt " << attempt;
      ASSERT_LE(delay, ceiling) << "attempt " << attempt;
    }
  }
}

TEST(Backoff, JitterSpreadsClientsApart) {
  Backoff a(100ms, 10'000ms, 1);
  Backoff b(100ms, 10'000ms, 2);
  int different = 0;
  for (std::size_t attempt = 3; attempt < 13; ++attempt) different += a.delay(attempt) != b.delay(attempt);
  EXPECT_GE(different, 8);
}

TEST(CircuitBreaker, OpensAfterConsecutiveFailuresOnly) {
  CircuitBreaker breaker(3, 1000ms);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  breaker.record_failure(t0);
  breaker.record_failure(t0);
  breaker.record_success();  // the streak is broken
  breaker.record_failure(t0);
  breaker.record_failure(t0);
  EXPECT_EQ(breaker.state(t0), State::closed);
  EXPECT_TRUE(breaker.allow(t0));
  breaker.record_failure(t0);
  EXPECT_EQ(breaker.state(t0), State::open);
  EXPECT_FALSE(breaker.allow(t0 + 999ms));
  EXPECT_EQ(breaker.remaining_cooldown(t0 + 400ms), 600ms);
}

TEST(CircuitBreaker, AfterTheCooldownOneProbeDecides) {
  CircuitBreaker breaker(1, 1000ms);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  breaker.record_failure(t0);
  const auto later = t0 + 1000ms;
  EXPECT_EQ(breaker.state(later), State::half_open);
  EXPECT_TRUE(breaker.allow(later));   // the probe
  EXPECT_FALSE(breaker.allow(later));  // nobody else while it is out
  breaker.record_failure(later);       // the probe failed: open again, for a full cool-down
  EXPECT_EQ(breaker.state(later + 999ms), State::open);
  EXPECT_TRUE(breaker.allow(later + 1000ms));
  breaker.record_success();
  EXPECT_EQ(breaker.state(later + 1000ms), State::closed);
  EXPECT_TRUE(breaker.allow(later + 1000ms));
  EXPECT_TRUE(breaker.allow(later + 1000ms));
}

TEST(CircuitBreaker, ThresholdZeroNeverOpens) {
  CircuitBreaker breaker(0, 1000ms);
  const auto t0 = std::chrono::steady_clock::time_point{} + 1h;
  for (int i = 0; i < 100; ++i) breaker.record_failure(t0);
  EXPECT_TRUE(breaker.allow(t0));
}

}  // namespace
}  // namespace strata::redis
