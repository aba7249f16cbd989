#pragma once

// Out-of-line members of Flight (a template used with two result types in cache.cpp).

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace strata::cache {

template <typename Result>
boost::asio::awaitable<bool> Flight<Result>::wait(std::optional<std::chrono::nanoseconds> timeout) {
  auto self = this->shared_from_this();
  auto executor = co_await boost::asio::this_coro::executor;
  co_return co_await boost::asio::async_initiate<const boost::asio::use_awaitable_t<>&, void(bool)>(
      [self, executor, timeout](auto handler) {
        std::unique_lock lock(self->mutex_);
        if (self->done_) {
          lock.unlock();
          complete(Waiter{0, executor, std::move(handler), nullptr}, true);
          return;
        }
        const std::uint64_t id = ++self->next_id_;
        std::shared_ptr<boost::asio::steady_timer> timer;
        if (timeout) timer = std::make_shared<boost::asio::steady_timer>(executor, *timeout);
        self->waiters_.push_back(Waiter{id, executor, std::move(handler), timer});
        lock.unlock();
        // The timer lives on the waiter's executor, which is running this initiation, and is
        // only ever cancelled from a completion posted to that same executor.
        if (timer) {
          timer->async_wait([self, id](const boost::system::error_code& error) {
            if (!error) self->expire(id);
          });
        }
      },
      boost::asio::use_awaitable);
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
  for (auto& waiter : waiters) complete(std::move(waiter), true);
  return true;
}

template <typename Result>
void Flight<Result>::expire(std::uint64_t id) {
  std::optional<Waiter> expired;
  {
    std::lock_guard lock(mutex_);
    for (auto it = waiters_.begin(); it != waiters_.end(); ++it) {
      if (it->id == id) {
        expired.emplace(std::move(*it));
        waiters_.erase(it);
        break;
      }
    }
  }
  if (expired) complete(std::move(*expired), false);
}

template <typename Result>
void Flight<Result>::complete(Waiter waiter, bool finished) {
  auto executor = waiter.executor;
  boost::asio::post(executor, [handler = std::move(waiter.handler), timer = std::move(waiter.timer),
                               finished]() mutable {
    if (timer) timer->cancel();
    std::move(handler)(finished);
  });
}

}  // namespace strata::cache
