#pragma once

#include <strata/redis/commands.hpp>
#include <strata/redis/connection.hpp>
#include <strata/redis/options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::redis {

class Pool;

// Redis as one deployment, whatever its shape: a single server, a Redis Cluster (requests
// routed by key slot, MOVED and ASK followed, the slot map refreshed), or a master found
// through Sentinel (followed across failovers). Same threading rule as Connection: create it
// on an executor (or strand) and call it only from there.
class Client {
public:
  virtual ~Client() = default;

  // Throws std::invalid_argument for a deployment that cannot work (no seeds, no master name).
  static std::unique_ptr<Client> create(boost::asio::any_io_executor executor, Deployment deployment);

  // Connects (discovering the topology first where there is one); on failure the connections
  // keep retrying in the background.
  virtual boost::asio::awaitable<Result<void>> connect() = 0;

  // Runs every command of `request` on the node serving `routing_key`'s slot (any node when
  // the key is empty). In a cluster all keys of one request must share that slot.
  boost::asio::awaitable<Result<std::vector<Reply>>> exec_all(
      std::string_view routing_key, Request request,
      std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  boost::asio::awaitable<Result<Reply>> exec(std::string_view routing_key, Request request,
                                             std::optional<std::chrono::milliseconds> timeout = std::nullopt);
  // EVALSHA, then EVAL on NOSCRIPT, on the node of keys[0] (all keys must share its slot).
  boost::asio::awaitable<Result<Reply>> run_script(const Script& script, const std::vector<std::string>& keys,
                                                   const std::vector<std::string>& arguments,
                                                   std::optional<std::chrono::milliseconds> timeout = std::nullopt);

  // One connection to each master, for work that visits every node (SCAN).
  virtual std::vector<Connection*> masters() = 0;
  // The connection that commands which must stay in order use (PUBLISH).
  virtual Connection& ordered_connection() = 0;
  // Options for a Subscriber on this deployment: it connects where pub/sub messages reach
  // (a live cluster node, the current master) and moves when that changes.
  [[nodiscard]] virtual ConnectionOptions subscriber_options() const = 0;

  // Called (on the executor) when the data moved to another server, e.g. after a Sentinel
  // failover; a Subscriber made from subscriber_options() should then drop() and reconnect.
  virtual void set_topology_listener(std::function<void()> listener) { (void)listener; }

  // True when keys live on different nodes by slot (scripts must keep to one slot).
  [[nodiscard]] virtual bool sharded() const noexcept { return false; }
  // What went wrong last with the topology (no master known, sentinels unreachable...).
  [[nodiscard]] virtual std::string last_error() const = 0;
  virtual void close() = 0;

protected:
  // A deployment of one server sets this: its requests go straight to the pool, without the
  // two virtual hops of slot routing (a GET then costs what Pool::exec costs).
  Pool* single_pool_ = nullptr;

  // slot: the key slot of the routing key (cluster), or -1 for any node.
  virtual boost::asio::awaitable<Result<std::vector<Reply>>> exec_on_slot(
      int slot, Request request, std::optional<std::chrono::milliseconds> timeout) = 0;

private:
  // One command's reply: exec_on_slot's first.
  boost::asio::awaitable<Result<Reply>> exec_one_on_slot(int slot, Request request,
                                                         std::optional<std::chrono::milliseconds> timeout);
};

}  // namespace strata::redis
