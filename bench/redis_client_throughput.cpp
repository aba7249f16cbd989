// Strata's Redis client against redis-benchmark, on the same redis-server (started here on a
// free loopback port), in the same run: GET and SET with 100 B and 4 KiB values,
//   (a) 50 concurrent callers, (b) the same with pipelines of 16, (c) one caller, one command
//   at a time (p50 latency).
// Both clients run with the same CPU placement (see placement.hpp): server and client on
// separate cores, and for (c) also with idle CPUs polling and on one core, since either alone
// changes a round trip fivefold on a VM. A last table shows where a two-core round trip goes.
//
//   build/release/bench/strata_bench_redis_client                    # 100,000 requests per cell
//   build/release/bench/strata_bench_redis_client --requests 2000    # smoke
#include "bare_epoll_loop.hpp"
#include "placement.hpp"
#include "support/redis_server.hpp"

#include <strata/redis/pool.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;
using strata::redis::Pool;
using strata::redis::Request;
using strata::bench::Placement;
using strata::bench::ScopedIdlePolling;
using strata::bench::ScopedPlacement;

constexpr int kCallers = 50;
constexpr int kPipeline = 16;
const std::string kKey = "key:__rand_int__";  // redis-benchmark's key, without -r

struct Figures {
  double requests_per_second = 0;
  double p50_microseconds = 0;
};

// Runs redis-benchmark (after `command_prefix`, which places it) and reads its CSV line for
// `test` (rate and p50 latency).
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
    return Figures{std::stod(fields[1]), std::stod(fields[4]) * 1000.0};
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

// A single caller's rate and median latency (microseconds), from each request's latency.
Figures single_caller_figures(std::vector<double> latencies, Clock::duration elapsed) {
  const auto middle = latencies.begin() + static_cast<std::ptrdiff_t>(latencies.size() / 2);
  std::nth_element(latencies.begin(), middle, latencies.end());
  return Figures{static_cast<double>(latencies.size()) / std::chrono::duration<double>(elapsed).count(), *middle};
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
  return single_caller_figures(std::move(latencies), elapsed);
}

// The same GET loop as the bare epoll loops, on Asio (a coroutine, async_write, async_read_some)
// without Strata: what the event loop Strata runs on costs by itself.
Figures asio_get_loop(std::uint16_t port, std::size_t requests) {
  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.connect({asio::ip::address_v4::loopback(), port});
  socket.set_option(asio::ip::tcp::no_delay(true));
  std::vector<double> latencies;
  latencies.reserve(requests);
  Clock::duration elapsed{};
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    std::vector<char> buffer(64 * 1024);
    const auto started = Clock::now();
    for (std::size_t i = 0; i < requests; ++i) {
      const auto before = Clock::now();
      co_await asio::async_write(socket, asio::buffer(strata::bench::kGetRequest), asio::use_awaitable);
      std::size_t have = 0;
      do {
        if (have == buffer.size()) throw std::runtime_error("Asio loop: a reply larger than its buffer");
        have += co_await socket.async_read_some(asio::buffer(buffer.data() + have, buffer.size() - have),
                                                asio::use_awaitable);
      } while (!strata::bench::holds_whole_reply({buffer.data(), have}));
      latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - before).count());
    }
    elapsed = Clock::now() - started;
  }, [](std::exception_ptr error) { if (error) std::rethrow_exception(error); });
  io.run();
  return single_caller_figures(std::move(latencies), elapsed);
}

// One way to run the single-caller rows: where server and client run, and whether idle CPUs
// poll instead of halting.
struct LatencySetup {
  Placement placement;
  bool idle_polling = false;

  [[nodiscard]] std::string label() const {
    return idle_polling ? fmt::format("{}, idle polling", placement.kind()) : std::string(placement.kind());
  }
};

// Shows where a two-core round trip goes on this machine: a bare epoll loop (no Strata, no Asio)
// with each client's pattern of system calls, the same loop on Asio, redis-benchmark and Strata,
// GET of 100 B, `rounds` interleaved rounds; prints each column's median.
void print_bare_loop_comparison(const strata::testing::RedisServer& server, const Placement& apart,
                                std::size_t requests, int rounds) {
  using strata::bench::EpollPattern;
  const std::array patterns{EpollPattern::registration_kept, EpollPattern::reregistered_per_request,
                            EpollPattern::kept_plus_unrelated_reregistration};
  struct Column {
    explicit Column(std::string label) : name(std::move(label)) {}
    std::string name;
    std::vector<double> p50, cycle;
  };
  std::vector<Column> columns;
  for (const EpollPattern pattern : patterns) columns.emplace_back(fmt::format("bare loop, {}", describe(pattern)));
  columns.emplace_back("redis-benchmark -c 1 (p50: top of its 8 us bucket)");
  columns.emplace_back("Asio loop, no Strata (Strata's calls)");
  columns.emplace_back("strata");
  for (int round = 0; round < rounds; ++round) {
    const ScopedPlacement placed(server.pid(), apart);
    for (std::size_t i = 0; i < patterns.size(); ++i) {
      const auto figures = strata::bench::run_bare_get_loop(server.port(), 100, patterns[i], requests);
      columns[i].p50.push_back(figures.p50_microseconds);
      columns[i].cycle.push_back(figures.cycle_microseconds);
    }
    const Figures reference = redis_benchmark(placed.command_prefix(), server.port(), "get", 100, 1, 1, requests);
    columns[patterns.size()].p50.push_back(reference.p50_microseconds);
    columns[patterns.size()].cycle.push_back(1e6 / reference.requests_per_second);
    const Figures asio_only = asio_get_loop(server.port(), requests);
    columns[patterns.size() + 1].p50.push_back(asio_only.p50_microseconds);
    columns[patterns.size() + 1].cycle.push_back(1e6 / asio_only.requests_per_second);
    const Figures ours = strata_single_caller(server.port(), "get", 100, requests);
    columns.back().p50.push_back(ours.p50_microseconds);
    columns.back().cycle.push_back(1e6 / ours.requests_per_second);
  }
  auto median = [](std::vector<double> values) {
    std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2), values.end());
    return values[values.size() / 2];
  };
  fmt::print("\nwhere a two-core round trip goes: GET 100B, one caller, {}, median of {} interleaved rounds\n",
             apart.describe(), rounds);
  fmt::print("{:<58} {:>10} {:>14}\n", "client", "p50", "per request");
  for (const Column& column : columns) {
    fmt::print("{:<58} {:>7.1f} us {:>11.1f} us\n", column.name, median(column.p50), median(column.cycle));
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Strata's Redis client vs redis-benchmark on the same server"};
  std::size_t requests = 100'000;
  // Redis writes at most ~64 KiB to one client per event-loop turn, so large pipelined replies
  // need several connections; 8 balances that against coalescing many callers per write.
  std::size_t pool_size = 8;
  int rounds = 5;
  std::string only = "all";
  app.add_option("--requests", requests, "Commands per throughput cell (a fifth of it per single-caller row)")
      ->check(CLI::Range(std::size_t{1000}, std::size_t{100'000'000}))
      ->capture_default_str();
  app.add_option("--pool-size", pool_size, "Strata connections for the concurrent cells")
      ->check(CLI::Range(std::size_t{1}, std::size_t{64}))
      ->capture_default_str();
  app.add_option("--only", only, "Run only the throughput cells, or only the single-caller rows")
      ->check(CLI::IsMember({"all", "throughput", "latency"}))
      ->capture_default_str();
  app.add_option("--rounds", rounds, "Interleaved rounds of the two-core round-trip comparison (0: skip it)")
      ->check(CLI::Range(0, 50))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  strata::testing::RedisServer server;
  const std::uint16_t port = server.port();
  const auto cpus = strata::bench::usable_cpus();
  // Throughput: server and client on separate cores, as in a deployment. Single caller: that
  // placement as the machine idles by default, then with idle CPUs polling, then both on one core.
  const Placement apart = cpus.size() >= 2 ? Placement{cpus[0], cpus[1]} : Placement{};
  const Placement together = cpus.empty() ? Placement{} : Placement{cpus[0], cpus[0]};
  const std::array latency_setups{LatencySetup{apart, false}, LatencySetup{apart, true}, LatencySetup{together, false}};
  fmt::print("redis-server on 127.0.0.1:{}, {} commands per cell; Strata: one I/O thread, pool of {}\n", port,
             requests, pool_size);
  fmt::print("placement, the same for both clients: {}; single-caller rows also {}\n\n", apart.describe(),
             together.describe());
  fmt::print("{:<44} {:>6} {:>16} {:>16} {:>8}\n", "workload", "value", "redis-benchmark", "strata", "ratio");

  bool throughput_ok = true;
  std::vector<std::pair<std::string, bool>> latency_ok;  // per setup that ran
  for (const LatencySetup& setup : latency_setups) latency_ok.emplace_back(setup.label(), true);
  for (const std::size_t value_size : {std::size_t{100}, std::size_t{4096}}) {
    for (const std::string test : {"set", "get"}) {
      for (const int pipeline : {1, kPipeline}) {
        if (only == "latency") break;
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
      for (std::size_t s = 0; s < latency_setups.size() && only != "throughput"; ++s) {
        const LatencySetup& setup = latency_setups[s];
        const ScopedPlacement placed(server.pid(), setup.placement);
        std::optional<ScopedIdlePolling> idle_polling;
        if (setup.idle_polling) idle_polling.emplace();
        const std::string label = fmt::format("{} x 1 caller, p50, {}", test, setup.label());
        if (idle_polling && !idle_polling->active()) {
          fmt::print("{:<44} {:>5}B   skipped: /dev/cpu_dma_latency is not writable (run as root)\n", label,
                     value_size);
          latency_ok[s].first.clear();
          continue;
        }
        const Figures reference = redis_benchmark(placed.command_prefix(), port, test, value_size, 1, 1, single);
        const Figures ours = strata_single_caller(port, test, value_size, single);
        latency_ok[s].second = latency_ok[s].second && ours.p50_microseconds <= reference.p50_microseconds + 10.0;
        fmt::print("{:<44} {:>5}B {:>12.1f} us  {:>12.1f} us  {:>+6.1f}us\n", label, value_size,
                   reference.p50_microseconds, ours.p50_microseconds,
                   ours.p50_microseconds - reference.p50_microseconds);
        const double reference_cycle = 1e6 / reference.requests_per_second;
        const double our_cycle = 1e6 / ours.requests_per_second;
        fmt::print("{:<44} {:>5}B {:>12.1f} us  {:>12.1f} us  {:>+6.1f}us\n", "  per request (1 / rate)", value_size,
                   reference_cycle, our_cycle, our_cycle - reference_cycle);
      }
    }
  }
  if (only != "latency") {
    fmt::print("\nthroughput >= 90% of redis-benchmark in every concurrent cell: {}\n", throughput_ok ? "yes" : "NO");
  }
  if (only != "throughput") {
    std::string verdicts;
    for (const auto& [setup, ok] : latency_ok) {
      if (setup.empty()) continue;
      verdicts += fmt::format("{}{}: {}", verdicts.empty() ? "" : "; ", setup, ok ? "yes" : "NO");
    }
    fmt::print("single-caller p50 within 10 us of redis-benchmark -c 1: {}\n", verdicts);
    fmt::print("(redis-benchmark's percentiles are the top of 8 us buckets: 7, 15, ... 71, 79 us; "
               "\"per request\" is exact for both)\n");
    if (rounds > 0 && apart.pinned()) {
      print_bare_loop_comparison(server, apart, std::max<std::size_t>(1000, requests / 5), rounds);
    }
  }
  return 0;
}
