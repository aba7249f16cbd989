#pragma once

// Timing loops shared by the benchmarks that drive strata::Cache or the Redis client from
// coroutines on one io_context: one caller in sequence (latency) or many at once (throughput).

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <ctime>
#include <exception>
#include <fstream>
#include <string>
#include <vector>

#include <sys/resource.h>
#include <sys/types.h>

namespace strata::bench {

struct Latency {
  double mean_ns = 0, p50_ns = 0, p99_ns = 0, per_second = 0;
};

inline Latency summarize(std::vector<double> samples, double total_seconds, std::size_t operations) {
  std::sort(samples.begin(), samples.end());
  Latency out;
  double sum = 0;
  for (double s : samples) sum += s;
  out.mean_ns = samples.empty() ? 0 : sum / static_cast<double>(samples.size());
  out.p50_ns = samples.empty() ? 0 : samples[samples.size() / 2];
  out.p99_ns = samples.empty() ? 0 : samples[samples.size() * 99 / 100];
  out.per_second = static_cast<double>(operations) / total_seconds;
  return out;
}

// Runs one coroutine on `executor` (a strand of `io`, or io's own) until it finishes. Redis
// connections keep the io_context busy forever, so run() alone would never return.
inline void run_to_completion(boost::asio::io_context& io, const boost::asio::any_io_executor& executor,
                              boost::asio::awaitable<void> work) {
  std::exception_ptr failure;
  boost::asio::co_spawn(executor, std::move(work), [&](std::exception_ptr error) {
    failure = error;
    io.stop();
  });
  io.restart();
  io.run();
  if (failure) std::rethrow_exception(failure);
}

// Runs `operation` `count` times one after another (after count / 10 for warm-up), timing each.
template <typename Operation>
Latency sequential(boost::asio::io_context& io, const boost::asio::any_io_executor& executor, std::size_t count,
                   Operation operation) {
  using Clock = std::chrono::steady_clock;
  std::vector<double> samples;
  samples.reserve(count);
  double total = 0;
  run_to_completion(io, executor, [&]() -> boost::asio::awaitable<void> {
    for (std::size_t i = 0; i < count / 10; ++i) co_await operation();
    const auto begin = Clock::now();
    for (std::size_t i = 0; i < count; ++i) {
      const auto start = Clock::now();
      co_await operation();
      samples.push_back(std::chrono::duration<double, std::nano>(Clock::now() - start).count());
    }
    total = std::chrono::duration<double>(Clock::now() - begin).count();
  }());
  return summarize(std::move(samples), total, count);
}

// CPU time this thread has used, in nanoseconds.
inline double thread_cpu_ns() {
  timespec now{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now);
  return static_cast<double>(now.tv_sec) * 1e9 + static_cast<double>(now.tv_nsec);
}

// The part of it spent in the kernel (microsecond resolution).
inline double thread_system_ns() {
  rusage usage{};
  getrusage(RUSAGE_THREAD, &usage);
  return static_cast<double>(usage.ru_stime.tv_sec) * 1e9 + static_cast<double>(usage.ru_stime.tv_usec) * 1e3;
}

// CPU time another process's main thread has used, in nanoseconds (first field of its
// schedstat, which counts in ns where /proc/<pid>/stat counts in 10 ms ticks); 0 if unreadable.
inline double process_cpu_ns(pid_t pid) {
  std::ifstream schedstat("/proc/" + std::to_string(pid) + "/schedstat");
  double on_cpu = 0;
  schedstat >> on_cpu;
  return schedstat ? on_cpu : 0;
}

struct Throughput {
  double per_second = 0;
  double client_cpu_ns = 0;     // CPU per operation of the thread that ran the callers
  double client_system_ns = 0;  // the part of it in the kernel (system calls, TCP)
  double server_cpu_ns = 0;  // CPU per operation of the server's main thread (0: not measured)
};

// `callers` coroutines share `count` operations on this thread. With a server pid, also what
// each operation cost the server.
template <typename Operation>
Throughput concurrent_measured(boost::asio::io_context& io, const boost::asio::any_io_executor& executor,
                               std::size_t count, int callers, Operation operation, pid_t server = 0) {
  using Clock = std::chrono::steady_clock;
  std::size_t remaining = count;
  int running = callers;
  Clock::time_point begin, end;
  double client_begin = 0, client_end = 0, server_begin = 0, server_end = 0, system_begin = 0, system_end = 0;
  for (int c = 0; c < callers; ++c) {
    boost::asio::co_spawn(
        executor,
        [&]() -> boost::asio::awaitable<void> {
          while (remaining > 0) {
            --remaining;
            co_await operation();
          }
          if (--running == 0) {
            end = Clock::now();
            client_end = thread_cpu_ns();
            system_end = thread_system_ns();
            if (server != 0) server_end = process_cpu_ns(server);
            io.stop();
          }
        },
        boost::asio::detached);
  }
  if (server != 0) server_begin = process_cpu_ns(server);
  client_begin = thread_cpu_ns();
  system_begin = thread_system_ns();
  begin = Clock::now();
  io.restart();
  io.run();
  const auto operations = static_cast<double>(count);
  return Throughput{operations / std::chrono::duration<double>(end - begin).count(),
                    (client_end - client_begin) / operations, (system_end - system_begin) / operations,
                    (server_end - server_begin) / operations};
}

// `callers` coroutines share `count` operations; returns operations per second.
template <typename Operation>
double concurrent(boost::asio::io_context& io, const boost::asio::any_io_executor& executor, std::size_t count,
                  int callers, Operation operation) {
  return concurrent_measured(io, executor, count, callers, std::move(operation)).per_second;
}

}  // namespace strata::bench
