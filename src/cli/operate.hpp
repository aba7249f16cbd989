#pragma once

// The operator commands: `strata stats`, `invalidate`, `clear` and `inspect`, talking to a
// running gateway's admin API (cli/admin_client.hpp). Each returns its exit code (ExitCode).

#include <iosfwd>
#include <string>
#include <vector>

namespace strata::cli {

struct GatewayOptions {
  std::string gateway = "http://127.0.0.1:8081";  // --gateway, STRATA_GATEWAY
  std::string token;                               // --token (visible to ps)
  std::string token_file;                          // --token-file
  double timeout_seconds = 10.0;
};

class AdminClient;
// A client of the admin API `options` name (URL, token); throws CommandError when they are wrong.
AdminClient connect_admin(const GatewayOptions& options);

struct StatsOptions {
  bool json = false;
  double watch_seconds = 0.0;  // 0: once
  unsigned count = 0;          // with --watch: stop after this many refreshes; 0: until interrupted
};

struct InvalidateOptions {
  std::vector<std::string> keys, paths, tags, namespaces, users, patterns;
  bool dry_run = false;  // count what would go; remove nothing
};

struct InspectOptions {
  std::string path;                  // the request target
  std::vector<std::string> headers;  // "Name: value", as the client would send them
  bool json = false;
};

int run_stats(const GatewayOptions& gateway, const StatsOptions& options, std::ostream& out, std::ostream& err,
              bool terminal);
int run_invalidate(const GatewayOptions& gateway, const InvalidateOptions& options, std::ostream& out,
                   std::ostream& err);
int run_clear(const GatewayOptions& gateway, bool confirmed, std::ostream& out, std::ostream& err);
// The staleness audit per rule: sample, stale ratio, the TTL it suggests.
int run_audit(const GatewayOptions& gateway, bool json, std::ostream& out, std::ostream& err);
int run_inspect(const GatewayOptions& gateway, const InspectOptions& options, std::ostream& out, std::ostream& err);

}  // namespace strata::cli
