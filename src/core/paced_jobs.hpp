#pragma once

// Runs a numbered batch of jobs with a bound on how many run at once and on how fast they
// start: the shape of every warming (the library's Cache::warm, the gateway's re-warm), which
// must fill a cache without flattening what it loads from.

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <functional>

namespace strata::core {

struct PacedJobs {
  std::size_t count = 0;
  std::size_t concurrency = 1;  // jobs at once, at most (at least 1)
  double rate = 0.0;            // job starts per second, at most; 0: no limit
  // Job i (0 <= i < count), started in order: job i no earlier than i / rate after the first.
  std::function<boost::asio::awaitable<void>(std::size_t index)> job;
  // Called every `tick_every` while jobs run (progress reports); may be empty.
  std::function<void()> tick;
  std::chrono::steady_clock::duration tick_every = std::chrono::seconds(5);
};

// Runs `jobs` on one strand of `executor` (so that a job's bookkeeping needs no lock) and
// returns when every job has finished. A job that throws is the job's business: catch inside.
// Co_await it at once: `executor` and `jobs` are read (and copied) when it starts.
boost::asio::awaitable<void> run_paced(const boost::asio::any_io_executor& executor, const PacedJobs& jobs);

}  // namespace strata::core
