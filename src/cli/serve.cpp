#include "cli/serve.hpp"

#include "cli/service_notify.hpp"

#include "gateway/config.hpp"
#include "gateway/gateway.hpp"
#include "gateway/identity.hpp"
#include "gateway/listener_tls.hpp"
#include "gateway/server.hpp"

#include <strata/cache.hpp>
#include <strata/redis/options.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <functional>
#include <memory>
#include <iostream>
#include <thread>
#include <vector>

namespace strata::cli {

namespace asio = boost::asio;
using gateway::ConfigError;
using gateway::GatewayConfig;

namespace {

GatewayConfig read_config(const ServeOptions& options) {
  GatewayConfig config = options.config_path.empty() ? GatewayConfig{} : gateway::load_config(options.config_path);
  if (options.config_path.empty()) config.source = "strata serve";
  if (options.listen) config.listen = gateway::parse_endpoint(*options.listen, "--listen");
  if (options.origin) config.origin = gateway::parse_origin(*options.origin, "--origin");
  if (options.admin_listen) config.admin.listen = gateway::parse_endpoint(*options.admin_listen, "--admin-listen");
  if (options.threads) config.threads = *options.threads;
  std::string_view redis_source;  // where the URL came from when not from the file, for errors
  if (options.redis_url) {
    config.cache.redis_url = *options.redis_url;
    redis_source = "--redis-url";
  } else if (config.cache.redis_url.empty()) {
    // The environment is the command line's convenience; the library reads no variables.
    config.cache.redis_url = CacheOptions::from_env().redis_url;
    redis_source = "REDIS_URL";
  }
  if (!redis_source.empty() && !config.cache.redis_url.empty()) {
    try {
      (void)redis::parse_deployment_url(config.cache.redis_url);
    } catch (const std::invalid_argument& error) {
      throw ConfigError(fmt::format("{}: {}", redis_source, error.what()));
    }
  }
  gateway::validate(config);
  return config;
}

void on_signal(asio::signal_set& signals, const ServeOptions& options, const ServiceNotifier& manager,
               gateway::Gateway& gateway, gateway::Server& server, const std::function<void()>& stop_all) {
  signals.async_wait([&](boost::system::error_code error, int number) {
    if (error) return;
    if (number == SIGHUP) {
      if (options.config_path.empty()) {
        spdlog::warn("strata serve: SIGHUP ignored: no --config file to reload");
      } else {
        manager.reloading();
        std::string status;
        try {
          auto config = read_config(options);
          // The certificate first: it may refuse, and then nothing has changed.
          auto not_applied = server.reload_tls(config.tls, config.source);
          not_applied += gateway.reload(std::move(config));
          status = fmt::format("configuration reloaded from {}{}", options.config_path,
                               not_applied.empty() ? "" : " (needs a restart to change: " + not_applied + ")");
          spdlog::info("strata serve: {}", status);
        } catch (const std::exception& problem) {
          status = fmt::format("reload refused, the running configuration stays: {}", problem.what());
          spdlog::error("strata serve: {}", status);
        }
        manager.ready(status);
      }
      on_signal(signals, options, manager, gateway, server, stop_all);
      return;
    }
    const auto status = fmt::format("draining ({} connections)", server.connections());
    manager.stopping(status);
    spdlog::info("strata serve: {}", status);
    server.drain([&signals, &gateway, &stop_all] {
      gateway.close_idle_upstream();
      // The hot set last, so the next start re-warms what this run served.
      asio::co_spawn(signals.get_executor(), gateway.save_hot_set(),
                     [&stop_all](const std::exception_ptr&, bool) { stop_all(); });
    });
  });
}

// Connects to Redis, then re-warms the hot set in the background of the traffic already served.
asio::awaitable<void> start_gateway(gateway::Gateway& gateway, bool rewarm) {
  const bool reachable = co_await gateway.start();
  if (gateway.cache().redis_enabled() && !reachable) {
    spdlog::warn("strata serve: Redis is not reachable; serving from L1 and the origin, retrying in the background");
  }
  if (rewarm) {
    const auto report = co_await gateway.rewarm();
    if (report.total == 0 && !report.source.empty()) {
      spdlog::info("strata serve: nothing to re-warm: hot set kept in {}", report.source);
    }
  }
}

}  // namespace

int run_serve(const ServeOptions& options) {
  GatewayConfig config;
  try {
    config = read_config(options);
  } catch (const ConfigError& error) {
    std::cerr << "strata serve: " << error.what() << '\n';
    return 2;
  }
  if (options.check_only) {
    try {
      gateway::IdentityResolver keys_load(config.identity);  // key files parse too
      if (config.tls.enabled()) (void)gateway::make_listener_tls_context(config.tls, config.source);
    } catch (const ConfigError& error) {
      std::cerr << "strata serve: " << error.what() << '\n';
      return 2;
    }
    std::cout << fmt::format("strata serve: configuration ok: {} rules, origin {}://{}:{}{}, listen {}://{}:{}\n",
                             config.rules.size(), config.origin.tls ? "https" : "http", config.origin.host,
                             config.origin.port, config.origin.base_path, config.tls.enabled() ? "https" : "http",
                             config.listen.host, config.listen.port);
    return 0;
  }
  const unsigned threads = config.threads != 0 ? config.threads : std::max(1U, std::thread::hardware_concurrency());
  // One io_context per thread (see Server): hint 1 lets each run without internal locking.
  std::vector<std::unique_ptr<asio::io_context>> contexts;
  std::vector<asio::io_context*> workers;
  for (unsigned i = 0; i < threads; ++i) {
    contexts.push_back(std::make_unique<asio::io_context>(1));
    workers.push_back(contexts.back().get());
  }
  asio::io_context& io = *workers.front();
  // A named function object: the signal handler keeps a reference to it.
  const std::function<void()> stop_all = [&workers] {
    for (auto* worker : workers) worker->stop();
  };
  try {
    gateway::Gateway gateway(io.get_executor(), config);
    gateway::Server server(workers, gateway);
    server.start();
    asio::co_spawn(io, start_gateway(gateway, config.warming.rewarm_on_start && config.warming.hot_set_size > 0),
                   asio::detached);
    const auto manager = ServiceNotifier::from_environment();
    asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
    on_signal(signals, options, manager, gateway, server, stop_all);
    const auto endpoint = server.endpoint();
    const auto listening =
        fmt::format("listening on {}://{}:{} for origin {}://{}:{}{} ({}; {} threads)",
                    config.tls.enabled() ? "https" : "http", endpoint.address().to_string(), endpoint.port(),
                    config.origin.tls ? "https" : "http", config.origin.host, config.origin.port,
                    config.origin.base_path,
                    gateway.cache().redis_enabled() ? "L1 + Redis" : "L1 only, no Redis configured", threads);
    std::cout << "strata serve: " << listening << std::endl;
    if (auto admin = server.admin_endpoint()) {
      std::cout << fmt::format("strata serve: admin API on http://{}:{}{}", admin->address().to_string(), admin->port(),
                               config.admin.base)
                << std::endl;
    }
    // The listeners accept from here on (the threads below only run what they queue).
    manager.ready(listening);
    std::vector<std::thread> runners;
    for (std::size_t i = 1; i < workers.size(); ++i) {
      runners.emplace_back([worker = workers[i]] {
        auto guard = asio::make_work_guard(*worker);
        worker->run();
      });
    }
    io.run();
    stop_all();
    for (auto& runner : runners) runner.join();
    std::cout << "strata serve: stopped" << std::endl;
  } catch (const ConfigError& error) {
    std::cerr << "strata serve: " << error.what() << '\n';
    return 2;
  } catch (const std::exception& error) {
    std::cerr << "strata serve: " << error.what() << '\n';
    return 1;
  }
  return 0;
}

}  // namespace strata::cli
