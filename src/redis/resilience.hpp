#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>

namespace strata::redis {

// Delay before reconnect attempt n (0-based): exponential from `initial`, capped at `maximum`,
// with "equal jitter" (half fixed, half random) so that many clients that lost the same server
// do not come back in lockstep, yet none retries immediately.
class Backoff {
public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds maximum, std::uint64_t seed) noexcept
      : initial_(initial), maximum_(maximum), random_state_(seed | 1) {}

  std::chrono::milliseconds delay(std::size_t attempt) noexcept;

private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds maximum_;
  std::uint64_t random_state_;
};

// Fails requests fast while an endpoint is known to be failing. Closed: everything goes
// through; `failure_threshold` consecutive failures open it. Open: nothing goes through until
// `cooldown` has passed, then it is half-open: exactly one probe goes through, and its outcome
// closes it again or re-opens it for another cool-down. A threshold of 0 disables it.
class CircuitBreaker {
public:
  using time_point = std::chrono::steady_clock::time_point;
  enum class State { closed, open, half_open };

  CircuitBreaker(std::size_t failure_threshold, std::chrono::milliseconds cooldown) noexcept
      : threshold_(failure_threshold), cooldown_(cooldown) {}

  // May an attempt go ahead now? In half-open state this hands out the single probe.
  bool allow(time_point now) noexcept;
  void record_success() noexcept;
  void record_failure(time_point now) noexcept;

  [[nodiscard]] State state(time_point now) const noexcept;
  // How long until an open breaker lets a probe through (zero if it would now).
  [[nodiscard]] std::chrono::milliseconds remaining_cooldown(time_point now) const noexcept;

private:
  std::size_t threshold_;
  std::chrono::milliseconds cooldown_;
  State state_ = State::closed;
  std::size_t consecutive_failures_ = 0;
  time_point opened_at_{};
  bool probe_in_flight_ = false;
};

}  // namespace strata::redis
