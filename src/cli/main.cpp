#include "cli/demo.hpp"
#include "cli/admin_client.hpp"
#include "cli/operate.hpp"
#include "cli/warm.hpp"
#include "cli/serve.hpp"

#include <strata/version.hpp>

#include <CLI/CLI.hpp>

#include <iostream>
#include <unistd.h>
#include <map>
#include <string>

int main(int argc, char** argv) {
  CLI::App app{"strata: a layered cache (in-process L1 + Redis) and HTTP caching gateway"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("strata ") + strata::version_string);

  strata::cli::DemoOptions demo;
  long long loader_micros = demo.loader_cost.count();
  long long ttl_seconds = demo.ttl.count();
  const std::map<std::string, strata::EvictionPolicy> policies{
      {"w-tinylfu", strata::EvictionPolicy::w_tinylfu}, {"lru", strata::EvictionPolicy::lru}};

  CLI::App* demo_command = app.add_subcommand(
      "demo", "Run a cache-aside workload on the embedded in-process tier and print what happened");
  demo_command->add_option("--requests", demo.requests, "Reads to issue")
      ->check(CLI::Range(std::size_t{1}, std::size_t{100'000'000}))
      ->capture_default_str();
  demo_command->add_option("--keys", demo.keys, "Distinct keys read")
      ->check(CLI::Range(std::size_t{1}, std::size_t{10'000'000}))
      ->capture_default_str();
  demo_command->add_option("--zipf", demo.zipf_exponent, "Skew of key popularity (Zipf exponent)")
      ->check(CLI::Range(0.0, 3.0))
      ->capture_default_str();
  demo_command->add_option("--capacity-mib", demo.capacity_mib, "L1 byte budget in MiB")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1 << 20}))
      ->capture_default_str();
  demo_command->add_option("--policy", demo.policy, "Eviction policy")
      ->transform(CLI::CheckedTransformer(policies, CLI::ignore_case))
      ->default_str("w-tinylfu");
  demo_command->add_option("--loader-us", loader_micros,
                           "Simulated cost of one database read, in microseconds")
      ->check(CLI::Range(0LL, 1'000'000LL))
      ->capture_default_str();
  demo_command->add_option("--ttl", ttl_seconds, "Entry time-to-live in seconds")
      ->check(CLI::Range(1LL, 86'400LL))
      ->capture_default_str();

  strata::cli::ServeOptions serve;
  std::string listen, origin, admin_listen, redis_url;
  unsigned threads = 0;
  CLI::App* serve_command = app.add_subcommand(
      "serve", "Run the HTTP caching gateway in front of an origin API (see examples/gateway/strata.toml)");
  serve_command->add_option("--config,-c", serve.config_path, "TOML configuration file")
      ->envname("STRATA_CONFIG")
      ->check(CLI::ExistingFile);
  auto* listen_option = serve_command->add_option("--listen", listen, "Address to serve on, host:port (default 127.0.0.1:8080)")
                            ->envname("STRATA_LISTEN");
  auto* origin_option = serve_command->add_option("--origin", origin, "The API to cache, http://host:port")
                            ->envname("STRATA_ORIGIN");
  auto* admin_option = serve_command->add_option("--admin-listen", admin_listen, "Separate address for the admin API and /metrics")
                           ->envname("STRATA_ADMIN_LISTEN");
  auto* threads_option = serve_command->add_option("--threads", threads, "I/O threads (default: one per core)")
                             ->check(CLI::Range(1U, 256U))
                             ->envname("STRATA_THREADS");
  serve_command->add_flag("--check", serve.check_only, "Validate the configuration and exit (0: valid, 2: not)");
  auto* redis_option = serve_command->add_option("--redis-url", redis_url, "Redis for L2 (default: REDIS_URL; none: L1 only)");

  // The operator commands: one gateway, one token, the same options for each.
  strata::cli::GatewayOptions gateway;
  auto gateway_options = [&gateway](CLI::App* command, bool with_timeout = true) {
    command->add_option("--gateway", gateway.gateway, "The gateway's admin listener, http://host:port[/admin-base]")
        ->envname("STRATA_GATEWAY")
        ->capture_default_str();
    command->add_option("--token-file", gateway.token_file, "File whose first line is the admin token")
        ->check(CLI::ExistingFile);
    command->add_option("--token", gateway.token,
                        "The admin token itself (visible to ps: prefer --token-file or STRATA_ADMIN_TOKEN)");
    if (!with_timeout) return;  // the command has a --timeout of its own
    command->add_option("--timeout", gateway.timeout_seconds, "Seconds to wait for the gateway")
        ->check(CLI::Range(0.1, 600.0))
        ->capture_default_str();
  };
  strata::cli::StatsOptions stats;
  CLI::App* stats_command = app.add_subcommand(
      "stats", "Show a running gateway's hit ratio, requests, latencies, L1 and Redis (like varnishstat)");
  gateway_options(stats_command);
  stats_command->add_flag("--json", stats.json, "Print the admin API's JSON as it is");
  stats_command->add_option("--watch", stats.watch_seconds, "Refresh every SECONDS, redrawn in place on a terminal");
  stats_command->add_option("--count", stats.count, "With --watch: stop after this many refreshes");

  strata::cli::InvalidateOptions invalidate;
  CLI::App* invalidate_command = app.add_subcommand(
      "invalidate", "Remove entries from a running gateway (in Redis and every gateway's L1) and say how many");
  gateway_options(invalidate_command);
  invalidate_command->add_option("--key", invalidate.keys, "An entry key, as the admin API names it");
  invalidate_command->add_option("--path", invalidate.paths, "A request target, e.g. /api/items/7?page=2 (every variant)");
  invalidate_command->add_option("--tag", invalidate.tags, "A tag, e.g. job:42");
  invalidate_command->add_option("--namespace", invalidate.namespaces, "A namespace, e.g. library");
  invalidate_command->add_option("--user", invalidate.users, "A user's per-user entries");
  invalidate_command->add_option("--pattern", invalidate.patterns, "A glob over keys, e.g. library:*");
  invalidate_command->add_flag("--dry-run", invalidate.dry_run,
                               "Count the live entries named by keys, paths and patterns; remove nothing");

  bool clear_confirmed = false;
  CLI::App* clear_command = app.add_subcommand(
      "clear", "Remove every entry under the gateway's prefix, in Redis and every gateway's L1");
  gateway_options(clear_command);
  clear_command->add_flag("--yes", clear_confirmed, "Confirm: without it nothing is removed");

  bool audit_json = false;
  CLI::App* audit_command = app.add_subcommand(
      "audit", "Show how often each rule served what the origin had changed, and the TTL that keeps it rare");
  gateway_options(audit_command);
  audit_command->add_flag("--json", audit_json, "Print the admin API's JSON as it is");

  strata::cli::InspectOptions inspect;
  CLI::App* inspect_command = app.add_subcommand(
      "inspect", "Show what a running gateway holds for a request: key, variants, age, freshness, tags, tiers");
  gateway_options(inspect_command);
  inspect_command->add_option("path", inspect.path, "The request target, e.g. /api/jobs/7?verbose=1")->required();
  inspect_command->add_option("--header", inspect.headers,
                              "A request header that selects the entry, \"Name: value\" (a user's identity, Accept-Language)");
  inspect_command->add_flag("--json", inspect.json, "Print the admin API's JSON as it is");

  strata::cli::WarmOptions warm;
  CLI::App* warm_command = app.add_subcommand(
      "warm", "Fetch a list of targets through the gateway so they are cached before traffic arrives");
  warm_command->add_option("--url", warm.url, "The gateway's listener, http://host:port")
      ->envname("STRATA_URL")
      ->capture_default_str();
  warm_command->add_option("--file", warm.file, "Targets, one a line: /path?query [| Name: value]...");
  warm_command->add_option("--sitemap", warm.sitemap, "A sitemap.xml whose <loc> URLs' paths are warmed");
  warm_command->add_flag("--hot-set", warm.hot_set,
                         "The gateway's own hot set, read from its admin API (--gateway and the admin token)");
  gateway_options(warm_command, false);
  warm_command->add_option("--header", warm.headers, "A header sent with every target, \"Name: value\"");
  warm_command->add_option("--concurrency", warm.concurrency, "Requests at once")->capture_default_str();
  warm_command->add_option("--rate", warm.rate, "Requests per second at most (0: no limit)")->capture_default_str();
  warm_command->add_option("--timeout", warm.timeout_seconds, "Seconds to wait for one response")
      ->check(CLI::Range(0.1, 600.0))
      ->capture_default_str();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : int{strata::cli::exit_usage};  // help and --version are not errors
  }

  const bool terminal = isatty(STDOUT_FILENO) == 1;
  if (stats_command->parsed()) return strata::cli::run_stats(gateway, stats, std::cout, std::cerr, terminal);
  if (invalidate_command->parsed()) return strata::cli::run_invalidate(gateway, invalidate, std::cout, std::cerr);
  if (clear_command->parsed()) return strata::cli::run_clear(gateway, clear_confirmed, std::cout, std::cerr);
  if (audit_command->parsed()) return strata::cli::run_audit(gateway, audit_json, std::cout, std::cerr);
  if (inspect_command->parsed()) return strata::cli::run_inspect(gateway, inspect, std::cout, std::cerr);
  if (warm_command->parsed()) return strata::cli::run_warm(warm, gateway, std::cout, std::cerr, terminal);

  if (serve_command->parsed()) {
    if (listen_option->count() > 0) serve.listen = listen;
    if (origin_option->count() > 0) serve.origin = origin;
    if (admin_option->count() > 0) serve.admin_listen = admin_listen;
    if (threads_option->count() > 0) serve.threads = threads;
    if (redis_option->count() > 0) serve.redis_url = redis_url;
    return strata::cli::run_serve(serve);
  }

  if (demo_command->parsed()) {
    demo.loader_cost = std::chrono::microseconds(loader_micros);
    demo.ttl = std::chrono::seconds(ttl_seconds);
    return strata::cli::run_demo(demo, std::cout);
  }
  return 0;
}
