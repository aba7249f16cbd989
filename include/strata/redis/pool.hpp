#pragma once

#include <strata/redis/connection.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <vector>

namespace strata::redis {

// options.pool_size connections to one endpoint. Each request goes to the connected connection
// with the fewest requests pending, so one slow reply (a 16 MiB value, a slow script) does not
// hold up everything behind it. Same threading rule as Connection.
class Pool {
public:
  Pool(boost::asio::any_io_executor executor, ConnectionOptions options);
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  // Connects every connection; succeeds if at least one did (the rest keep retrying in the
  // background). Fails with the first connection's error when none could connect.
  boost::asio::awaitable<Result<void>> connect();

  boost::asio::awaitable<Result<Reply>> exec(Request request,
                                             std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  boost::asio::awaitable<Result<std::vector<Reply>>> exec_all(
      Request request, std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // The connection the next request would go to (for work that must stay on one connection,
  // such as a SCAN iteration).
  Connection& pick() noexcept;

  [[nodiscard]] std::size_t size() const noexcept { return connections_.size(); }
  [[nodiscard]] std::size_t connected() const noexcept;
  [[nodiscard]] Connection& connection(std::size_t index) noexcept { return *connections_[index]; }
  [[nodiscard]] const Connection& connection(std::size_t index) const noexcept { return *connections_[index]; }
  void close();

private:
  std::vector<std::unique_ptr<Connection>> connections_;
  std::size_t next_ = 0;  // rotates ties so idle connections share the load
};

}  // namespace strata::redis
