#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <gtest/gtest.h>

#include <chrono>
#include <exception>

namespace strata::testing {

// Runs a test body coroutine on a fresh io_context, bounded by `limit`: a bug hangs nothing,
// it fails the test.
template <typename Body>
void run_async(Body&& body, std::chrono::seconds limit = std::chrono::seconds(30)) {
  boost::asio::io_context io;
  bool finished = false;
  std::exception_ptr failure;
  boost::asio::co_spawn(io, body(io.get_executor()), [&](std::exception_ptr error) {
    finished = true;
    failure = error;
  });
  io.run_for(limit);
  if (failure) std::rethrow_exception(failure);
  if (!finished) ADD_FAILURE() << "the test coroutine did not finish within " << limit.count() << " s";
}

// Awaits a condition that no event announces (another process's state, a counter updated by
// other coroutines) by checking it every `every`; run_async's deadline bounds the wait.
template <typename Condition>
boost::asio::awaitable<void> poll_until(Condition condition,
                                        std::chrono::milliseconds every = std::chrono::milliseconds(1)) {
  boost::asio::steady_timer tick(co_await boost::asio::this_coro::executor);
  while (!condition()) {
    tick.expires_after(every);
    co_await tick.async_wait(boost::asio::use_awaitable);
  }
}

}  // namespace strata::testing

// ASSERT_* returns from the function, which a coroutine cannot do; these co_return instead.
#define CO_ASSERT_TRUE(condition)                                  \
  if (!(condition)) {                                              \
    ADD_FAILURE() << "CO_ASSERT_TRUE(" #condition ") failed";      \
    co_return;                                                     \
  }
