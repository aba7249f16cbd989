#pragma once

#include <strata/redis/connection.hpp>

#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::redis {

// A Lua script, sent by its SHA-1 (EVALSHA) so the source crosses the network only when the
// server does not know it yet (NOSCRIPT: after a restart or SCRIPT FLUSH), then via EVAL, which
// also caches it on the server.
class Script {
public:
  explicit Script(std::string source);
  [[nodiscard]] const std::string& source() const noexcept { return source_; }
  [[nodiscard]] const std::string& sha1() const noexcept { return sha1_; }

private:
  std::string source_;
  std::string sha1_;  // lowercase hex
};

boost::asio::awaitable<Result<Reply>> run_script(
    Connection& connection, const Script& script, const std::vector<std::string>& keys,
    const std::vector<std::string>& arguments,
    std::optional<std::chrono::milliseconds> timeout = std::nullopt);

struct ScanOptions {
  std::string match;      // glob, e.g. "library:*"; empty: every key
  std::size_t count = 1000;  // hint for keys examined per round trip
  std::string type;       // "string", "set", ...; empty: every type
};

// Iterates the keyspace with SCAN, one batch per next() call, never with KEYS. A key present
// for the whole iteration is returned at least once (SCAN's guarantee); keys may repeat.
// One coroutine calls next() at a time; the connection must outlive the scanner.
class Scanner {
public:
  Scanner(Connection& connection, ScanOptions options)
      : connection_(connection), options_(std::move(options)) {}

  // The next batch (possibly empty); done() once the server's cursor is back at 0.
  boost::asio::awaitable<Result<std::vector<std::string>>> next(
      std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  [[nodiscard]] bool done() const noexcept { return done_; }
  // The server's answer when next() failed with Error::unexpected_reply.
  [[nodiscard]] const std::string& last_error() const noexcept { return last_error_; }

private:
  Connection& connection_;
  ScanOptions options_;
  std::string cursor_ = "0";
  bool done_ = false;
  std::string last_error_;
};

}  // namespace strata::redis
