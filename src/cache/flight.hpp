#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace strata::cache {

// One load that any number of coroutines, on any executors, wait for. finish() wakes every
// waiter on its own executor; a waiter may give up after a timeout without affecting the others.
// Nothing blocks a thread.
template <typename Result>
class Flight {
public:
  // True once finished (result() is then set), false when `timeout` passed first.
  boost::asio::awaitable<bool> wait(std::optional<std::chrono::nanoseconds> timeout);

  // The first call wins; later calls are ignored. Returns whether this call won.
  bool finish(Result result);

  [[nodiscard]] bool finished() const {
    std::lock_guard lock(mutex_);
    return done_;
  }
  // Valid once finished (the result never changes afterwards).
  [[nodiscard]] const Result& result() const noexcept { return result_; }

private:
  // Each waiter sleeps on its own timer (expiring at its timeout, or never); finish() wakes it
  // by cancelling the timer from the waiter's own executor, the only place that touches it.
  boost::asio::awaitable<bool> wait_on_strand(std::optional<std::chrono::nanoseconds> timeout);

  struct Waiter {
    boost::asio::any_io_executor executor;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };

  mutable std::mutex mutex_;
  bool done_ = false;
  Result result_{};
  std::vector<Waiter> waiters_;
};

}  // namespace strata::cache

#include "cache/flight_impl.hpp"
