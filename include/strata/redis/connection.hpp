#pragma once

#include <strata/redis/command.hpp>
#include <strata/redis/error.hpp>
#include <strata/redis/options.hpp>
#include <strata/redis/reply.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace strata::redis {

// One connection to a Redis server, with many requests in flight: every request queued while
// a write is under way goes out in the next single write, and replies are matched in order.
// Failures are results, never exceptions. When the connection breaks, every pending request
// fails at once with Error::connection_lost, and the connection reconnects in the background.
//
// Not thread-safe: create it on an executor and call it only from coroutines running on that
// executor (one io_context thread, or a strand).
class SuspendedCallers;
class CircuitBreaker;

class Connection {
public:
  Connection(boost::asio::any_io_executor executor, ConnectionOptions options);
  // With a circuit breaker shared with the other connections to the same endpoint (a Pool's).
  Connection(boost::asio::any_io_executor executor, ConnectionOptions options,
             std::shared_ptr<CircuitBreaker> breaker);
  ~Connection();  // closes; pending requests fail with Error::cancelled
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // TCP connect, TCP_NODELAY, then AUTH / SELECT / CLIENT SETNAME as configured, all within
  // options.connect_timeout. If it fails and options.reconnect is on, the connection keeps
  // trying in the background (backoff, circuit breaker), as it does after losing a connection.
  boost::asio::awaitable<Result<void>> connect();

  // Waits until connected (true) or `timeout` passes (false).
  boost::asio::awaitable<bool> wait_connected(std::chrono::milliseconds timeout);

  // Sends one command and returns its reply (which may be a Redis error reply). The deadline is
  // `timeout`, or options.command_timeout. Asio's per-operation cancellation (for example the
  // `||` of awaitable_operators) ends the wait with Error::cancelled; the request is abandoned
  // and its late reply dropped.
  boost::asio::awaitable<Result<Reply>> exec(
      Request request, std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // Sends every command of `request` in one write and returns their replies, in order.
  boost::asio::awaitable<Result<std::vector<Reply>>> exec_all(
      Request request, std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // Closes the socket; pending requests fail with Error::cancelled.
  void close();
  // Breaks the connection as a server crash would (pending requests fail with
  // Error::connection_lost) and reconnects, to where options.locate points now. For a
  // deployment whose master moved.
  void drop(std::string reason);

  [[nodiscard]] bool is_connected() const noexcept;
  // Requests queued or awaiting replies.
  [[nodiscard]] std::size_t pending() const noexcept;
  // What went wrong last, in words, with the server's own message where it gave one
  // (e.g. "AUTH refused: WRONGPASS invalid username-password pair ...").
  [[nodiscard]] const std::string& last_error() const noexcept;
  [[nodiscard]] const ConnectionOptions& options() const noexcept;

private:
  class Impl;
  friend class SuspendedCallers;  // destroys waiting callers when the io_context shuts down
  std::shared_ptr<Impl> impl_;
};

}  // namespace strata::redis
