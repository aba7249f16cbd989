// Strata's Redis client against redis-benchmark, on the same redis-server (started here on a
// free loopback port), in the same run: GET and SET with 100 B and 4 KiB values,
//   (a) 50 concurrent callers, (b) the same with pipelines of 16, (c) one caller, one command
//   at a time (p50 latency).
// Both clients run with the same CPU placement (see placement.hpp): server and client on
// separate cores, and for (c) also on one core, since that alone changes a round trip tenfold.
//
//   build/release/bench/strata_bench_redis_client                    # 100,000 requests per cell
//   build/release/bench/strata_bench_redis_client --requests 2000    # smoke
#include "placement.hpp"
#include "support/redis_server.hpp"

#include <strata/redis/pool.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using strata::redis::Pool;
using strata::redis::Request;
using strata::bench::Placement;
using strata::bench::ScopedPlacement;

constexpr int kCallers = 50;
constexpr int kPipeline = 16;
const std::string kKey = "key:__rand_int__";  // redis-benchmark's key, without -r

struct Figures {
  double requests_per_second = 0;
  double p50_microseconds = 0;
  double mean_microseconds = 0;
};

// Runs redis-benchmark (after `command_prefix`, which places it) and reads its CSV line for
// `test` (rps, p50 and mean latency).
Figures redis_benchmark(const std::string& command_prefix, std::uint16_t port, const std::string& test,
                        std::size_t value_size, int clients, int pipeline, std::size_t requests) {
  const std::string command = fmt::format(
      "timeout 300 {}redis-benchmark -h 127.0.0.1 -p {} -c {} -P {} -n {} -d {} -t {} --csv 2>/dev/null",
      command_prefix, port, clients, pipeline, requests, value_size, test);
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run redis-benchmark");
  std::string output;
  std::array<char, 4096> chunk;
  while (const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), pipe)) output.append(chunk.data(), n);
  ::pclose(pipe);
  std::istringstream lines(output);
  std::string line;
  std::string upper = test;
  std::transform(upper.begin(), upper.end(), upper.begin(), ::toupper);
  while (std::getline(lines, line)) {
    if (!line.starts_with("\"" + upper + "\"")) continue;
    std::vector<std::string> fields;
    std::stringstream cells(line);
    std::string cell;
    while (std::getline(cells, cell, ',')) fields.push_back(cell.substr(1, cell.size() - 2));
    if (fields.size() < 5) break;
    return Figures{std::stod(fields[1]), std::stod(fields[4]) * 1000.0, std::stod(fields[2]) * 1000.0};
  }
  throw std::runtime_error("redis-benchmark printed no result for " + test + ":\n" + output);
}

Request command_for(const std::string& test, const std::string& value, int count) {
  Request request;
  for (int i = 0; i < count; ++i) {
    if (test == "set") {
      request.push({"SET", kKey, value});
    } else {
      request.push({"GET", kKey});
    }
  }
  return request;
}

// `callers` coroutines share one pool, each sending `pipeline` commands per request until
// `requests` commands have been answered.
Figures strata_concurrent(std::uint16_t port, std::size_t pool_size, const std::string& test,
                          std::size_t value_size, int callers, int pipeline, std::size_t requests) {
  asio::io_context io;
  auto options = strata::redis::parse_url(fmt::format("redis://127.0.0.1:{}?command_timeout=10s", port));
  options.pool_size = pool_size;
  Pool pool(io.get_executor(), options);
  const std::string value(value_size, 'x');
  const std::size_t rounds = std::max<std::size_t>(1, requests / static_cast<std::size_t>(callers * pipeline));
  std::size_t failures = 0;
  Clock::duration elapsed{};
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    if (!(co_await pool.connect())) throw std::runtime_error("Strata could not connect to the benchmark server");
    int running = callers;
    asio::steady_timer all_done(io, asio::steady_timer::time_point::max());
    const auto started = Clock::now();
    for (int c = 0; c < callers; ++c) {
      asio::co_spawn(io, [&]() -> asio::awaitable<void> {
        for (std::size_t r = 0; r < rounds; ++r) {
          auto replies = co_await pool.exec_all(command_for(test, value, pipeline));
          if (!replies) ++failures;
        }
        if (--running == 0) all_done.cancel();
      }, asio::detached);
    }
    if (running > 0) co_await all_done.async_wait(asio::as_tuple(asio::use_awaitable));
    elapsed = Clock::now() - started;
    pool.close();
  }, [](std::exception_ptr error) { if (error) std::rethrow_exception(error); });
  io.run();
  if (failures > 0) throw std::runtime_error(fmt::format("{} Strata requests failed", failures));
  const double commands = static_cast<double>(rounds * static_cast<std::size_t>(callers * pipeline));
  return Figures{commands / std::chrono::duration<double>(elapsed).count(), 0};
}

Figures strata_single_caller(std::uint16_t port, const std::string& test, std::size_t value_size,
                             std::size_t requests) {
  asio::io_context io;
  auto options = strata::redis::parse_url(fmt::format("redis://127.0.0.1:{}?command_timeout=10s", port));
  options.pool_size = 1;
  Pool pool(io.get_executor(), options);
  const std::string value(value_size, 'x');
  std::vector<double> latencies;
  latencies.reserve(requests);
  Clock::duration elapsed{};
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    if (!(co_await pool.connect())) throw std::runtime_error("Strata could not connect to the benchmark server");
    const auto started = Clock::now();
    for (std::size_t i = 0; i < requests; ++i) {
      const auto before = Clock::now();
      auto reply = co_await pool.exec(command_for(test, value, 1));
      latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - before).count());
      if (!reply) throw std::runtime_error("Strata request failed: " + reply.error().message());
    }
    elapsed = Clock::now() - started;
    pool.close();
  }, [](std::exception_ptr error) { if (error) std::rethrow_exception(error); });
  io.run();
  double total = 0;
  for (const double latency : latencies) total += latency;
  std::nth_element(latencies.begin(), latencies.begin() + static_cast<std::ptrdiff_t>(latencies.size() / 2),
                   latencies.end());
  return Figures{static_cast<double>(requests) / std::chrono::duration<double>(elapsed).count(),
                 latencies[latencies.size() / 2], total / static_cast<double>(latencies.size())};
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Strata's Redis client vs redis-benchmark on the same server"};
  std::size_t requests = 100'000;
  // Redis writes at most ~64 KiB to one client per event-loop turn, so large pipelined replies
  // need several connections; 8 balances that against coalescing many callers per write.
  std::size_t pool_size = 8;
  app.add_option("--requests", requests, "Commands per cell")
      ->check(CLI::Range(std::size_t{1000}, std::size_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--pool-size", pool_size, "Strata connections for the concurrent cells")
      ->check(CLI::Range(std::size_t{1}, std::size_t{64}))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  strata::testing::RedisServer server;
  const std::uint16_t port = server.port();
  const auto cpus = strata::bench::usable_cpus();
  // The concurrent cells and the first latency row: server and client on separate cores, as in
  // a deployment; the second latency row: both on one core.
  const Placement apart = cpus.size() >= 2 ? Placement{cpus[0], cpus[1]} : Placement{};
  const Placement together = cpus.empty() ? Placement{} : Placement{cpus[0], cpus[0]};
  fmt::print("redis-server on 127.0.0.1:{}, {} commands per cell; Strata: one I/O thread, pool of {}\n", port,
             requests, pool_size);
  fmt::print("placement, the same for both clients: {}; single-caller rows also {}\n\n", apart.describe(),
             together.describe());
  fmt::print("{:<44} {:>6} {:>16} {:>16} {:>8}\n", "workload", "value", "redis-benchmark", "strata", "ratio");

  bool throughput_ok = true;
  bool latency_ok = true;
  for (const std::size_t value_size : {std::size_t{100}, std::size_t{4096}}) {
    for (const std::string test : {"set", "get"}) {
      for (const int pipeline : {1, kPipeline}) {
        const ScopedPlacement placed(server.pid(), apart);
        const Figures reference =
            redis_benchmark(placed.command_prefix(), port, test, value_size, kCallers, pipeline, requests);
        const Figures ours = strata_concurrent(port, pool_size, test, value_size, kCallers, pipeline, requests);
        const double ratio = ours.requests_per_second / reference.requests_per_second;
        throughput_ok = throughput_ok && ratio >= 0.9;
        const std::string label = pipeline == 1 ? fmt::format("{} x {} callers", test, kCallers)
                                                : fmt::format("{} x {} callers, pipeline {}", test, kCallers, pipeline);
        fmt::print("{:<44} {:>5}B {:>12.0f} r/s {:>12.0f} r/s {:>7.2f}x\n", label, value_size,
                   reference.requests_per_second, ours.requests_per_second, ratio);
      }
      const std::size_t single = std::max<std::size_t>(1000, requests / 5);
      for (const Placement& placement : {apart, together}) {
        const ScopedPlacement placed(server.pid(), placement);
        const Figures reference = redis_benchmark(placed.command_prefix(), port, test, value_size, 1, 1, single);
        const Figures ours = strata_single_caller(port, test, value_size, single);
        latency_ok = latency_ok && ours.p50_microseconds <= reference.p50_microseconds + 10.0;
        const std::string label = fmt::format("{} x 1 caller, p50, {}", test, placement.kind());
        fmt::print("{:<44} {:>5}B {:>12.1f} us  {:>12.1f} us  {:>+6.1f}us\n", label, value_size,
                   reference.p50_microseconds, ours.p50_microseconds,
                   ours.p50_microseconds - reference.p50_microseconds);
        fmt::print("{:<44} {:>5}B {:>12.1f} us  {:>12.1f} us  {:>+6.1f}us\n", "  mean", value_size,
                   reference.mean_microseconds, ours.mean_microseconds,
                   ours.mean_microseconds - reference.mean_microseconds);
      }
    }
  }
  fmt::print("\nthroughput >= 90% of redis-benchmark in every concurrent cell: {}\n", throughput_ok ? "yes" : "NO");
  fmt::print("single-caller p50 within 10 us of redis-benchmark -c 1: {}\n", latency_ok ? "yes" : "NO");
  fmt::print("(redis-benchmark's p50 has 1 us resolution at best; it reports milliseconds with 3 decimals)\n");
  return 0;
}
