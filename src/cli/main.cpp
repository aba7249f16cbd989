#include "cli/demo.hpp"

#include <CLI/CLI.hpp>

#include <iostream>
#include <map>
#include <string>

int main(int argc, char** argv) {
  CLI::App app{"strata: a layered cache (in-process L1 + Redis) and HTTP caching gateway"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "strata 0.1.0");

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

  CLI11_PARSE(app, argc, argv);

  if (demo_command->parsed()) {
    demo.loader_cost = std::chrono::microseconds(loader_micros);
    demo.ttl = std::chrono::seconds(ttl_seconds);
    return strata::cli::run_demo(demo, std::cout);
  }
  return 0;
}
