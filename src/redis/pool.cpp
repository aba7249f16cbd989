#include <strata/redis/pool.hpp>

#include "redis/resilience.hpp"

#include <limits>

namespace strata::redis {

Pool::Pool(boost::asio::any_io_executor executor, ConnectionOptions options) {
  const std::size_t size = options.pool_size == 0 ? 1 : options.pool_size;
  connections_.reserve(size);
  // One endpoint, one verdict on its health: a stalled server opens the breaker after
  // breaker_failures failures in all, not that many on every connection.
  auto breaker = std::make_shared<CircuitBreaker>(options.breaker_failures, options.breaker_cooldown);
  for (std::size_t i = 0; i < size; ++i) {
    connections_.push_back(std::make_unique<Connection>(executor, options, breaker));
  }
}

boost::asio::awaitable<Result<void>> Pool::connect() {
  std::optional<Result<void>> first_failure;
  bool any = false;
  for (auto& connection : connections_) {
    Result<void> result = co_await connection->connect();
    if (result) {
      any = true;
    } else if (!first_failure) {
      first_failure = result;
    }
  }
  if (any || !first_failure) co_return Result<void>{};
  co_return *first_failure;
}

Connection& Pool::pick() noexcept {
  Connection* best = nullptr;
  std::size_t best_pending = std::numeric_limits<std::size_t>::max();
  const std::size_t count = connections_.size();
  for (std::size_t i = 0; i < count; ++i) {
    Connection& candidate = *connections_[(next_ + i) % count];
    // Disconnected connections rank after every connected one, by their queue length.
    const std::size_t penalty = candidate.is_connected() ? 0 : std::numeric_limits<std::size_t>::max() / 2;
    const std::size_t load = candidate.pending() + penalty;
    if (load < best_pending) {
      best = &candidate;
      best_pending = load;
    }
  }
  next_ = (next_ + 1) % count;
  return *best;
}

boost::asio::awaitable<Result<Reply>> Pool::exec(Request request, std::optional<std::chrono::milliseconds> timeout) {
  return pick().exec(std::move(request), timeout);
}

boost::asio::awaitable<Result<std::vector<Reply>>> Pool::exec_all(Request request,
                                                                 std::optional<std::chrono::milliseconds> timeout) {
  return pick().exec_all(std::move(request), timeout);
}

std::size_t Pool::connected() const noexcept {
  std::size_t count = 0;
  for (const auto& connection : connections_) count += connection->is_connected();
  return count;
}

void Pool::close() {
  for (auto& connection : connections_) connection->close();
}

}  // namespace strata::redis
