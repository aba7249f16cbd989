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
    case State::half_open:
      if (probe_in_flight_) return false;
      state_ = State::half_open;
      probe_in_flight_ = true;
      return true;
  }
  return false;
}

void CircuitBreaker::record_success() noexcept {
  state_ = State::closed;
  consecutive_failures_ = 0;
  probe_in_flight_ = false;
}

void CircuitBreaker::record_failure(time_point now) noexcept {
  if (threshold_ == 0) return;
  ++consecutive_failures_;
  if (state_ == State::half_open || consecutive_failures_ >= threshold_) {
    state_ = State::open;
    opened_at_ = now;
    probe_in_flight_ = false;
  }
}

CircuitBreaker::State CircuitBreaker::state(time_point now) const noexcept {
  if (state_ == State::open && now - opened_at_ >= cooldown_) return State::half_open;
  return state_;
}

std::chrono::milliseconds CircuitBreaker::remaining_cooldown(time_point now) const noexcept {
  if (state_ != State::open) return std::chrono::milliseconds(0);
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(opened_at_ + cooldown_ - now);
  return std::max(left, std::chrono::milliseconds(0));
}

}  // namespace strata::redis
