#pragma once

#include <strata/clock.hpp>

#include <atomic>
#include <cstdint>

namespace strata::testing {

// A clock that moves only when told to. Thread-safe. Starts one hour after the epoch so that
// "now minus a little" never underflows.
class ManualClock final : public Clock {
public:
  ManualClock() noexcept = default;
  explicit ManualClock(time_point start) noexcept : nanos_(start.time_since_epoch().count()) {}

  [[nodiscard]] time_point now() const noexcept override {
    return time_point(duration(nanos_.load(std::memory_order_acquire)));
  }
  void advance(duration by) noexcept { nanos_.fetch_add(by.count(), std::memory_order_acq_rel); }
  void set(time_point to) noexcept {
    nanos_.store(to.time_since_epoch().count(), std::memory_order_release);
  }

private:
  std::atomic<std::int64_t> nanos_{std::chrono::nanoseconds(std::chrono::hours(1)).count()};
};

}  // namespace strata::testing
