#pragma once

#include <atomic>
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
//
// One breaker serves every connection to an endpoint (a pool's connections share it), so a
// stalled server opens it after `failure_threshold` failures in all, not that many on each
// connection. Safe to use from several threads: plain atomics, no lock on the success path; a
// race between two outcomes at the same moment may count one of them late, never lose the
// breaker's shape.
class CircuitBreaker {
public:
  using time_point = std::chrono::steady_clock::time_point;
  enum class State : std::uint8_t { closed, open, half_open };

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
  const std::size_t threshold_;
  const std::chrono::milliseconds cooldown_;
  std::atomic<State> state_{State::closed};
  std::atomic<std::size_t> consecutive_failures_{0};
  std::atomic<time_point::rep> opened_at_{0};  // time_since_epoch of the last opening
  std::atomic<bool> probe_in_flight_{false};
};

}  // namespace strata::redis
