#pragma once

// Out-of-line members of Flight.

#include "core/strand.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>

namespace strata::cache {

template <typename Result>
boost::asio::awaitable<bool> Flight<Result>::wait(std::optional<std::chrono::nanoseconds> timeout) {
  // The waiter's timer lives on a strand of its own, so that finish()'s cancel, posted from any
  // thread, runs strictly after async_wait was started, even on a multi-threaded executor.
  auto executor = co_await boost::asio::this_coro::executor;
  co_return co_await boost::asio::co_spawn(core::strand_of(executor), wait_on_strand(timeout),
                                           boost::asio::use_awaitable);
}

template <typename Result>
boost::asio::awaitable<bool> Flight<Result>::wait_on_strand(
    std::optional<std::chrono::nanoseconds> timeout) {
  auto executor = co_await boost::asio::this_coro::executor;
  auto timer = std::make_shared<boost::asio::steady_timer>(executor);
  if (timeout) {
    timer->expires_after(*timeout);
  } else {
    timer->expires_at(boost::asio::steady_timer::time_point::max());
  }
  {
    std::lock_guard lock(mutex_);
    if (done_) co_return true;
    waiters_.push_back(Waiter{executor, timer});
  }
  (void)co_await timer->async_wait(boost::asio::as_tuple(boost::asio::use_awaitable));
  std::lock_guard lock(mutex_);
  if (!done_) {
    // Timed out: forget this waiter so that finish() does not touch its timer.
    waiters_.erase(std::remove_if(waiters_.begin(), waiters_.end(),
                                  [&](const Waiter& waiter) { return waiter.timer == timer; }),
                   waiters_.end());
  }
  co_return done_;
}

template <typename Result>
bool Flight<Result>::finish(Result result) {
  std::vector<Waiter> waiters;
  {
    std::lock_guard lock(mutex_);
    if (done_) return false;
    done_ = true;
    result_ = std::move(result);
    waiters.swap(waiters_);
  }
  for (auto& waiter : waiters) {
    boost::asio::post(waiter.executor, [timer = std::move(waiter.timer)] { timer->cancel(); });
  }
  return true;
}

}  // namespace strata::cache
