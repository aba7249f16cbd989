#include "redis/resilience.hpp"

#include <algorithm>

namespace strata::redis {

std::chrono::milliseconds Backoff::delay(std::size_t attempt) noexcept {
  const auto shift = std::min<std::size_t>(attempt, 30);
  const auto grown = initial_.count() * (std::int64_t{1} << shift);
  const std::int64_t capped = std::max<std::int64_t>(1, std::min<std::int64_t>(grown, maximum_.count()));
  random_state_ ^= random_state_ << 13;
  random_state_ ^= random_state_ >> 7;
  random_state_ ^= random_state_ << 17;
  const std::int64_t half = capped / 2;
  const auto jitter = static_cast<std::int64_t>(random_state_ % static_cast<std::uint64_t>(capped - half + 1));
  return std::chrono::milliseconds(half + jitter);
}

bool CircuitBreaker::allow(time_point now) noexcept {
  switch (state(now)) {
    case State::closed: return true;
    case State::open: return false;
    case State::half_open: {
      bool expected = false;
      if (!probe_in_flight_.compare_exchange_strong(expected, true, std::memory_order_acq_rel)) return false;
      state_.store(State::half_open, std::memory_order_release);
      return true;
    }
  }
  return false;
}

void CircuitBreaker::record_success() noexcept {
  // Loads first: a healthy endpoint's every reply costs no write to shared memory.
  if (consecutive_failures_.load(std::memory_order_relaxed) != 0) {
    consecutive_failures_.store(0, std::memory_order_relaxed);
  }
  if (state_.load(std::memory_order_acquire) != State::closed) {
    state_.store(State::closed, std::memory_order_release);
    probe_in_flight_.store(false, std::memory_order_release);
  }
}

void CircuitBreaker::record_failure(time_point now) noexcept {
  if (threshold_ == 0) return;
  const auto failures = consecutive_failures_.fetch_add(1, std::memory_order_acq_rel) + 1;
  if (state_.load(std::memory_order_acquire) == State::half_open || failures >= threshold_) {
    opened_at_.store(now.time_since_epoch().count(), std::memory_order_release);
    state_.store(State::open, std::memory_order_release);
    probe_in_flight_.store(false, std::memory_order_release);
  }
}

CircuitBreaker::State CircuitBreaker::state(time_point now) const noexcept {
  const auto state = state_.load(std::memory_order_acquire);
  if (state == State::open && now - time_point(time_point::duration(opened_at_.load(std::memory_order_acquire))) >= cooldown_) {
    return State::half_open;
  }
  return state;
}

std::chrono::milliseconds CircuitBreaker::remaining_cooldown(time_point now) const noexcept {
  if (state_.load(std::memory_order_acquire) != State::open) return std::chrono::milliseconds(0);
  const time_point opened(time_point::duration(opened_at_.load(std::memory_order_acquire)));
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(opened + cooldown_ - now);
  return std::max(left, std::chrono::milliseconds(0));
}

}  // namespace strata::redis
