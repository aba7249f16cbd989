#pragma once

#include <optional>
#include <string>

namespace strata::cli {

struct ServeOptions {
  std::string config_path;             // empty: defaults plus flags
  std::optional<std::string> listen;   // overrides the file
  std::optional<std::string> origin;
  std::optional<std::string> admin_listen;
  std::optional<unsigned> threads;
  std::optional<std::string> redis_url;
  bool check_only = false;  // validate the configuration, print a summary, exit
};

// Runs `strata serve` until SIGTERM/SIGINT (graceful drain); SIGHUP reloads the config file.
// Returns the process exit code; configuration errors print one precise line and return 2.
int run_serve(const ServeOptions& options);

}  // namespace strata::cli
