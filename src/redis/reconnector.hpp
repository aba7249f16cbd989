#pragma once

#include "redis/resilience.hpp"

#include <strata/redis/options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace strata::redis {

// Brings a lost connection back in the background, for Connection and Subscriber alike: waits
// a jittered, capped exponential backoff (and at least hold_off()), then calls attempt(), until
// it succeeds or wanted() turns false. At most one loop runs at a time.
class Reconnector {
public:
  struct Hooks {
    std::function<bool()> wanted;                        // still disconnected and not closed?
    std::function<std::chrono::milliseconds()> hold_off;  // e.g. a circuit breaker's cool-down
    std::function<bool()> may_attempt;                   // e.g. the breaker hands out a probe
    std::function<boost::asio::awaitable<bool>()> attempt;  // true once connected
  };

  Reconnector(boost::asio::any_io_executor executor, const ConnectionOptions& options, Hooks hooks);

  // Starts the loop unless reconnecting is off or a loop is running; the loop holds keep_alive.
  void start(std::shared_ptr<void> keep_alive);
  void cancel();

private:
  boost::asio::awaitable<void> run(std::shared_ptr<void> keep_alive);

  boost::asio::steady_timer timer_;
  Backoff backoff_;
  bool enabled_;
  bool running_ = false;
  Hooks hooks_;
};

}  // namespace strata::redis
