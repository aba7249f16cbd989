#pragma once

#include <chrono>
#include <memory>

namespace strata {

// The time source for TTLs, stale windows and backoff. Injected everywhere time matters, so that
// tests and simulations advance time instead of sleeping. now() is called from every thread a
// cache runs on: an implementation must be safe to read concurrently.
class Clock {
public:
  using duration = std::chrono::nanoseconds;
  using time_point = std::chrono::time_point<std::chrono::steady_clock, duration>;

  virtual ~Clock() = default;
  [[nodiscard]] virtual time_point now() const noexcept = 0;
};

// The process-wide monotonic clock (std::chrono::steady_clock); never jumps with wall time.
[[nodiscard]] std::shared_ptr<const Clock> steady_clock();

}  // namespace strata
