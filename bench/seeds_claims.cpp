// The seeds' claims, measured on our own code: job polling (seed 004), the analytics dashboard
// (seed 003) and the paged library (seed 002), each with the cache off and on, for the example
// API with libstrata and for the seeds' own stack (Flask + Flask-Caching on Redis, under
// gunicorn), over one SQLite database and with the same requests, in one run.

#include "database.hpp"
#include "support/redis_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <random>
#include <regex>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

extern char** environ;

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// A child process with its output in a log file; stopped with SIGTERM (then SIGKILL).
class Child {
public:
  Child(const std::vector<std::string>& arguments, const std::vector<std::string>& environment, const std::string& log)
      : log_(log) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> argv_storage = arguments;
    std::vector<char*> argv;
    for (auto& argument : argv_storage) argv.push_back(argument.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_storage;
    for (char** entry = environ; *entry != nullptr; ++entry) env_storage.emplace_back(*entry);
    env_storage.insert(env_storage.end(), environment.begin(), environment.end());
    std::vector<char*> envp;
    for (auto& entry : env_storage) envp.push_back(entry.data());
    envp.push_back(nullptr);
    if (posix_spawnp(&pid_, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0) {
      throw std::runtime_error("cannot start " + arguments[0]);
    }
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Child() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    for (int i = 0; i < 100; ++i) {
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) return;
      std::this_thread::sleep_for(50ms);
    }
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // The port from the first "listening on http://host:PORT" in the log.
  std::uint16_t announced_port() const {
    const std::regex pattern("listening on http://[0-9.]+:([0-9]+)");
    for (int i = 0; i < 600; ++i) {
      std::ifstream in(log_);
      std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
      std::smatch match;
      if (std::regex_search(text, match, pattern)) return static_cast<std::uint16_t>(std::stoi(match[1]));
      if (waitpid(pid_, nullptr, WNOHANG) == pid_) break;
      std::this_thread::sleep_for(50ms);
    }
    throw std::runtime_error("no port announced in " + log_);
  }

private:
  pid_t pid_ = -1;
  std::string log_;
};

struct Response {
  unsigned status = 0;
  std::string x_cache;
  std::string body;
};

// One keep-alive connection; reconnects when the server closes it.
class Connection {
public:
  Connection(asio::any_io_executor executor, std::uint16_t port) : stream_(executor), port_(port) {}
  asio::awaitable<Response> send(http::verb method, const std::string& target, const std::string& body = {}) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      if (!open_) {
        stream_.expires_after(5s);
        auto [error] = co_await stream_.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port_), kAwait);
        if (error) co_return Response{};
        stream_.socket().set_option(tcp::no_delay(true));
        open_ = true;
      }
      http::request<http::string_body> request(method, target, 11);
      request.set(http::field::host, "127.0.0.1");
      if (!body.empty()) {
        request.set(http::field::content_type, "application/json");
        request.body() = body;
      }
      request.prepare_payload();
      stream_.expires_after(60s);
      auto [write_error, written] = co_await http::async_write(stream_, request, kAwait);
      (void)written;
      http::response<http::string_body> response;
      boost::system::error_code read_error;
      if (!write_error) std::tie(read_error, std::ignore) = co_await http::async_read(stream_, buffer_, response, kAwait);
      if (write_error || read_error) {
        boost::system::error_code ignored;
        stream_.socket().close(ignored);
        open_ = false;
        buffer_.clear();
        continue;
      }
      if (!response.keep_alive()) {
        boost::system::error_code ignored;
        stream_.socket().close(ignored);
        open_ = false;
      }
      co_return Response{response.result_int(), std::string(response["X-Cache"]), std::move(response.body())};
    }
    co_return Response{};
  }

private:
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::uint16_t port_;
  bool open_ = false;
};

struct Measurement {
  double requests_per_second = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  double queries_per_request = 0;
  double hit_rate = 0;
  std::uint64_t failures = 0;
  double unloaded_p50_ms = 0;  // one client at a time: what a single user waits
};

std::uint64_t database_queries(asio::io_context& io, std::uint16_t port) {
  std::uint64_t queries = 0;
  asio::co_spawn(io, [&]() -> asio::awaitable<void> {
    Connection connection(co_await asio::this_coro::executor, port);
    auto response = co_await connection.send(http::verb::get, "/api/v2/db/stats");
    std::smatch match;
    if (std::regex_search(response.body, match, std::regex("\"queries\":([0-9]+)"))) queries = std::stoull(match[1]);
  }, asio::detached);
  io.run();
  io.restart();
  return queries;
}

// Closed-loop clients reading `next_target()` for `duration`; an optional writer posts
// `next_write()` every `write_every`.
Measurement measure(std::uint16_t port, int clients, std::chrono::milliseconds duration,
                    const std::function<std::string(std::mt19937&)>& next_target,
                    const std::function<std::pair<std::string, std::string>(std::mt19937&)>& next_write = nullptr,
                    std::chrono::milliseconds write_every = 100ms) {
  asio::io_context io(1);
  const auto before = database_queries(io, port);
  std::vector<std::vector<double>> latencies(static_cast<std::size_t>(clients));
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t failures = 0;
  std::uint64_t reads = 0;
  const auto start = std::chrono::steady_clock::now();
  const auto deadline = start + duration;
  for (int c = 0; c < clients; ++c) {
    asio::co_spawn(io, [&, c]() -> asio::awaitable<void> {
      std::mt19937 random(static_cast<unsigned>(c) * 7919U + 1U);
      Connection connection(co_await asio::this_coro::executor, port);
      while (std::chrono::steady_clock::now() < deadline) {
        const auto target = next_target(random);
        const auto sent = std::chrono::steady_clock::now();
        auto response = co_await connection.send(http::verb::get, target);
        latencies[static_cast<std::size_t>(c)].push_back(
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - sent).count());
        ++reads;
        if (response.status != 200) ++failures;
        if (response.x_cache == "HIT") ++hits;
        if (response.x_cache == "MISS") ++misses;
      }
    }, asio::detached);
  }
  if (next_write) {
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      std::mt19937 random(4242);
      Connection connection(co_await asio::this_coro::executor, port);
      asio::steady_timer timer(co_await asio::this_coro::executor);
      while (std::chrono::steady_clock::now() < deadline) {
        auto [target, body] = next_write(random);
        auto response = co_await connection.send(http::verb::post, target, body);
        if (response.status != 200) ++failures;
        timer.expires_after(write_every);
        co_await timer.async_wait(kAwait);
      }
    }, asio::detached);
  }
  io.run();
  io.restart();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const auto after = database_queries(io, port);
  std::vector<double> all;
  for (auto& client : latencies) all.insert(all.end(), client.begin(), client.end());
  std::sort(all.begin(), all.end());
  auto quantile = [&](double q) { return all.empty() ? 0.0 : all[std::min(all.size() - 1, static_cast<std::size_t>(q * static_cast<double>(all.size())))]; };
  Measurement out;
  out.requests_per_second = static_cast<double>(reads) / seconds;
  out.p50_ms = quantile(0.50);
  out.p99_ms = quantile(0.99);
  out.queries_per_request = reads == 0 ? 0.0 : static_cast<double>(after - before) / static_cast<double>(reads);
  out.hit_rate = hits + misses == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(hits + misses);
  out.failures = failures;
  return out;
}

bool wait_healthy(std::uint16_t port) {
  for (int i = 0; i < 600; ++i) {
    asio::io_context io;
    unsigned status = 0;
    asio::co_spawn(io, [&]() -> asio::awaitable<void> {
      Connection connection(co_await asio::this_coro::executor, port);
      status = (co_await connection.send(http::verb::get, "/health")).status;
    }, asio::detached);
    io.run();
    if (status == 200) return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"The seeds' claims, measured: Strata (libstrata in the example API) vs Flask + Flask-Caching"};
  std::string build = ".";
  std::string source = ".";
  int seconds = 5;
  int clients = 32;
  bool quick = false;
  app.add_option("--build", build, "Build directory holding strata-example-api")->required();
  app.add_option("--source", source, "Source directory (for examples/flask_seeds)")->required();
  app.add_option("--seconds", seconds, "Seconds per measurement")->check(CLI::Range(1, 600));
  app.add_option("--clients", clients, "Concurrent clients")->check(CLI::Range(1, 1000));
  app.add_flag("--quick", quick, "Tiny run (smoke test)");
  CLI11_PARSE(app, argc, argv);
  if (quick) {
    seconds = 1;
    clients = 4;
  }
  const auto duration = std::chrono::milliseconds(seconds * 1000);

  std::filesystem::create_directories(build + "/bench-seeds");
  // Absolute: gunicorn runs from the Flask app's directory.
  const std::string work = std::filesystem::absolute(build + "/bench-seeds").lexically_normal().string();
  source = std::filesystem::absolute(source).lexically_normal().string();
  const std::string database = work + "/seeds.db";
  {
    strata::example::DataSize size;
    if (quick) {
      size.meetings = 300;
      size.transcriptions = 50;
    }
    if (quick) std::filesystem::remove(database);
    strata::example::Database create(database, size);  // generated once, then reused
  }
  strata::testing::RedisServer redis;

  struct Stack {
    std::string name;
    std::function<std::unique_ptr<Child>(std::uint16_t* port)> start;
  };
  const std::string api = std::filesystem::absolute(build + "/strata-example-api").string();
  auto strata_stack = [&](bool cache) {
    return [&, cache](std::uint16_t* port) {
      auto child = std::make_unique<Child>(
          std::vector<std::string>{api, "--port", "0", "--database", database, "--cache", cache ? "true" : "false",
                                   "--threads", "2", "--database-threads", "4"},
          std::vector<std::string>{"REDIS_URL=" + (cache ? redis.url() : std::string())}, work + (cache ? "/strata-on.log" : "/strata-off.log"));
      *port = child->announced_port();
      return child;
    };
  };
  auto flask_stack = [&](bool cache) {
    return [&, cache](std::uint16_t* port) {
      *port = strata::testing::free_loopback_port();
      auto child = std::make_unique<Child>(
          std::vector<std::string>{"gunicorn", "--preload", "-w", "4", "-b", "127.0.0.1:" + std::to_string(*port),
                                   "--chdir", source + "/examples/flask_seeds", "app:app"},
          std::vector<std::string>{"STRATA_SEEDS_DB=" + database, std::string("CACHE_TYPE=") + (cache ? "RedisCache" : "NullCache"),
                                   "CACHE_REDIS_URL=" + redis.url()},
          work + (cache ? "/flask-on.log" : "/flask-off.log"));
      if (!wait_healthy(*port)) throw std::runtime_error("gunicorn did not start; see " + work + "/flask-*.log");
      return child;
    };
  };
  const std::vector<Stack> stacks{{"Strata, cache off", strata_stack(false)},
                                  {"Strata (libstrata, L1 + Redis)", strata_stack(true)},
                                  {"Flask, cache off", flask_stack(false)},
                                  {"Flask + Flask-Caching (Redis)", flask_stack(true)}};

  struct Scenario {
    std::string name;
    std::function<std::string(std::mt19937&)> read;
    std::function<std::pair<std::string, std::string>(std::mt19937&)> write;
  };
  // Seed 004: many clients poll the progress of 50 active jobs; each job progresses every 5 s.
  const std::vector<Scenario> scenarios{
      {"job polling (seed 004)",
       [](std::mt19937& random) { return "/api/v2/jobs/" + std::to_string(1 + random() % 50); },
       [](std::mt19937& random) {
         const auto job = 1 + random() % 50;
         const auto done = random() % 5;
         return std::make_pair("/api/v2/jobs/" + std::to_string(job) + "/progress",
                               fmt::format(R"({{"current_stage":"rendering","scenes_completed":{},"scenes_total":5}})", done));
       }},
      {"analytics dashboard (seed 003)", [](std::mt19937&) { return std::string("/api/analytics/dashboard"); }, nullptr},
      {"paged library (seed 002)",
       [](std::mt19937& random) {
         static const char* sorts[] = {"title", "release_year", "size_mb", "added_at"};
         return fmt::format("/api/library/paged?page={}&per_page=20&sort_by={}&order={}", 1 + random() % 10,
                            sorts[random() % 4], random() % 2 == 0 ? "asc" : "desc");
       },
       nullptr},
  };

  std::vector<std::vector<Measurement>> results(scenarios.size());
  for (const auto& stack : stacks) {
    std::uint16_t port = 0;
    auto child = stack.start(&port);
    if (!wait_healthy(port)) throw std::runtime_error(stack.name + " is not answering");
    redis.cli({"FLUSHALL"});
    for (std::size_t s = 0; s < scenarios.size(); ++s) {
      // 50 writes per second spread over the 50 jobs: each job changes every second or so.
      auto loaded = measure(port, clients, duration, scenarios[s].read, scenarios[s].write, 20ms);
      const auto alone = measure(port, 1, std::min(duration, std::chrono::milliseconds(2000)), scenarios[s].read,
                                 scenarios[s].write, 20ms);
      loaded.unloaded_p50_ms = alone.p50_ms;
      loaded.failures += alone.failures;
      results[s].push_back(loaded);
    }
  }

  std::cout << fmt::format("\nThe seeds' scenarios: {} clients, {} s each, one SQLite database ({}), Redis on 127.0.0.1\n",
                           clients, seconds, database);
  std::cout << fmt::format("{:<32} {:<32} {:>9} {:>9} {:>9} {:>10} {:>9} {:>6} {:>12}\n", "scenario", "stack", "req/s", "p50 ms",
                           "p99 ms", "db q/req", "hit rate", "fails", "1-client p50");
  for (std::size_t s = 0; s < scenarios.size(); ++s) {
    for (std::size_t k = 0; k < stacks.size(); ++k) {
      const auto& m = results[s][k];
      std::cout << fmt::format("{:<32} {:<32} {:>9.0f} {:>9.2f} {:>9.2f} {:>10.3f} {:>8.1f}% {:>6} {:>12.3f}\n",
                               k == 0 ? scenarios[s].name : "", stacks[k].name, m.requests_per_second, m.p50_ms, m.p99_ms,
                               m.queries_per_request, m.hit_rate * 100.0, m.failures, m.unloaded_p50_ms);
    }
  }
  auto ratio = [](double a, double b) { return b <= 0.0 ? 0.0 : a / b; };
  const auto& jobs = results[0];
  const auto& dash = results[1];
  const auto& library = results[2];
  std::cout << "\nThe seeds' claims next to ours (cache on vs off, same stack):\n";
  std::cout << fmt::format("  seed 004, job polling: hit rate 90%+                -> Strata {:.1f}%, Flask-Caching {:.1f}%\n",
                           jobs[1].hit_rate * 100.0, jobs[3].hit_rate * 100.0);
  std::cout << fmt::format("  seed 004, 10-50x fewer database queries             -> Strata {:.0f}x, Flask-Caching {:.0f}x\n",
                           ratio(jobs[0].queries_per_request, jobs[1].queries_per_request),
                           ratio(jobs[2].queries_per_request, jobs[3].queries_per_request));
  std::cout << fmt::format("  seed 003, dashboard 18-23x faster (1-client p50)    -> Strata {:.0f}x, Flask-Caching {:.0f}x"
                           " (under load: {:.0f}x, {:.0f}x)\n",
                           ratio(dash[0].unloaded_p50_ms, dash[1].unloaded_p50_ms), ratio(dash[2].unloaded_p50_ms, dash[3].unloaded_p50_ms),
                           ratio(dash[0].p50_ms, dash[1].p50_ms), ratio(dash[2].p50_ms, dash[3].p50_ms));
  std::cout << fmt::format("  seed 002, paged library 10-30x faster (1-client p50) -> Strata {:.0f}x, Flask-Caching {:.0f}x"
                           " (under load: {:.0f}x, {:.0f}x)\n",
                           ratio(library[0].unloaded_p50_ms, library[1].unloaded_p50_ms),
                           ratio(library[2].unloaded_p50_ms, library[3].unloaded_p50_ms), ratio(library[0].p50_ms, library[1].p50_ms),
                           ratio(library[2].p50_ms, library[3].p50_ms));
  std::cout << fmt::format("  Strata vs the seeds' stack, both cached (req/s): jobs {:.1f}x, dashboard {:.1f}x, library {:.1f}x\n",
                           ratio(jobs[1].requests_per_second, jobs[3].requests_per_second),
                           ratio(dash[1].requests_per_second, dash[3].requests_per_second),
                           ratio(library[1].requests_per_second, library[3].requests_per_second));
  std::uint64_t failures = 0;
  for (const auto& scenario : results) for (const auto& m : scenario) failures += m.failures;
  if (failures > 0) {
    std::cout << "FAILED requests: " << failures << '\n';
    return 1;
  }
  return 0;
}
