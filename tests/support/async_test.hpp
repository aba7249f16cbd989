#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

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

}  // namespace strata::testing

// ASSERT_* returns from the function, which a coroutine cannot do; these co_return instead.
#define CO_ASSERT_TRUE(condition)                                  \
  if (!(condition)) {                                              \
    ADD_FAILURE() << "CO_ASSERT_TRUE(" #condition ") failed";      \
    co_return;                                                     \
  }
