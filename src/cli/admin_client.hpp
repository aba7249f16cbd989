#pragma once

// The operator commands' side of a running gateway's admin API: where it is, the token, one
// request at a time with a deadline, and every way that can fail turned into a message that
// says what to do and an exit code of its own.

#include <boost/json/value.hpp>

#include <chrono>
#include <functional>
#include <iosfwd>
#include <stdexcept>
#include <string>
#include <string_view>

namespace strata::cli {

// Exit codes of the operator commands (strata stats, invalidate, clear).
enum ExitCode : int {
  exit_ok = 0,
  exit_failed = 1,        // the gateway answered, but with an error (or the operation was partial)
  exit_usage = 2,         // bad arguments or options
  exit_unreachable = 3,   // no gateway answered at that address, in time, as a Strata admin API
  exit_unauthorized = 4,  // 401: no token, or not one the gateway knows
  exit_forbidden = 5,     // 403: the token does not grant admin access, or the admin API is off
};

// A failure to report: the message is for the operator, the code for scripts.
class CommandError : public std::runtime_error {
public:
  CommandError(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  [[nodiscard]] ExitCode code() const noexcept { return code_; }

private:
  ExitCode code_;
};

// An http:// URL given on the command line: where to connect, and its path ("" or "/..."
// without a trailing '/'). Throws CommandError(exit_usage) naming `option` and saying what is
// wrong and what `expected` looks like.
struct HttpUrl {
  std::string url;  // as given, for messages
  std::string host;
  std::string port;
  std::string path;
};
HttpUrl parse_http_url(std::string_view url, std::string_view option, std::string_view expected);

// Runs a command: a CommandError it throws becomes its message on `err` and its exit code.
int reporting_errors(std::ostream& err, const std::function<int()>& command);

struct AdminTarget {
  std::string url;          // as given, for messages
  std::string host;
  std::string port;
  std::string base = "/api/cache";
};

// `url` (--gateway, STRATA_GATEWAY): http://host:port, optionally with the admin base path
// (default /api/cache). Throws CommandError(exit_usage) saying what is wrong with it.
AdminTarget parse_gateway_url(std::string_view url);

// The token: --token (visible to `ps`), else the first line of --token-file, else
// STRATA_ADMIN_TOKEN; empty when none is given. Throws CommandError(exit_usage) for a file that
// cannot be read or is empty.
std::string resolve_token(const std::string& token, const std::string& token_file);

class AdminClient {
public:
  AdminClient(AdminTarget target, std::string token, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // GET or POST `relative` (under the admin base) and the parsed JSON answer; throws
  // CommandError for every failure, with the gateway's own explanation when it gave one.
  boost::json::value get(std::string_view relative) const;
  boost::json::value post(std::string_view relative, const boost::json::value& body) const;

  [[nodiscard]] const AdminTarget& target() const noexcept { return target_; }

private:
  boost::json::value call(bool post, std::string_view relative, std::string body) const;

  AdminTarget target_;
  std::string token_;
  std::chrono::milliseconds timeout_;
};

}  // namespace strata::cli
