#pragma once

// `strata warm`: fetches request targets through a gateway so that they are cached before
// traffic arrives, at a bounded concurrency and rate, with progress and a summary.

#include "cli/operate.hpp"

#include <iosfwd>
#include <string>
#include <vector>

namespace strata::cli {

struct WarmTarget {
  std::string target;                                        // path and query
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. the user a per-user entry is for
};

struct WarmOptions {
  std::string url = "http://127.0.0.1:8080";  // the gateway's listener (not its admin API)
  std::string file;                           // one target a line
  std::string sitemap;                        // a sitemap.xml file: its <loc> URLs' paths
  bool hot_set = false;                       // the gateway's hot set, from its admin API
  std::vector<std::string> headers;           // "Name: value", sent with every target
  unsigned concurrency = 4;
  double rate = 0.0;  // requests per second at most; 0: no limit
  double timeout_seconds = 30.0;
};

// The targets of a warm list: one a line, "TARGET [| Name: value]...", '#' starts a comment.
// Throws CommandError(exit_usage) naming the file and line of a malformed one.
std::vector<WarmTarget> read_warm_list(std::istream& in, const std::string& source);
// The paths (with queries) of a sitemap's <loc> URLs.
std::vector<WarmTarget> read_sitemap(std::istream& in, const std::string& source);

// `admin` is used with --hot-set only.
int run_warm(const WarmOptions& options, const GatewayOptions& admin, std::ostream& out, std::ostream& err,
             bool terminal);

}  // namespace strata::cli
