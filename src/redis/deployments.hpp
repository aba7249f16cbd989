#pragma once

// The three shapes of Client (see <strata/redis/client.hpp>); Client::create picks one.

#include <strata/redis/client.hpp>
#include <strata/redis/pool.hpp>

#include <chrono>
#include <memory>
#include <string>

namespace strata::redis {

// One server through one Pool.
class StandaloneClient final : public Client {
public:
  StandaloneClient(boost::asio::any_io_executor executor, ConnectionOptions options);
  boost::asio::awaitable<Result<void>> connect() override;
  std::vector<Connection*> masters() override;
  Connection& ordered_connection() override;
  [[nodiscard]] ConnectionOptions subscriber_options() const override;
  [[nodiscard]] std::string last_error() const override;
  void close() override;

protected:
  boost::asio::awaitable<Result<std::vector<Reply>>> exec_on_slot(
      int slot, Request request, std::optional<std::chrono::milliseconds> timeout) override;

private:
  ConnectionOptions options_;
  Pool pool_;
};

// Redis Cluster: a slot map learned from CLUSTER SLOTS, a Pool per master, MOVED (the map is
// updated and re-read) and ASK (one ASKING) followed, TRYAGAIN retried, and the map re-read
// periodically and after failures.
class ClusterClient final : public Client {
public:
  ClusterClient(boost::asio::any_io_executor executor, Deployment deployment);
  ~ClusterClient() override;
  boost::asio::awaitable<Result<void>> connect() override;
  std::vector<Connection*> masters() override;
  Connection& ordered_connection() override;
  [[nodiscard]] ConnectionOptions subscriber_options() const override;
  [[nodiscard]] bool sharded() const noexcept override { return true; }
  [[nodiscard]] std::string last_error() const override;
  void close() override;

  class Impl;

protected:
  boost::asio::awaitable<Result<std::vector<Reply>>> exec_on_slot(
      int slot, Request request, std::optional<std::chrono::milliseconds> timeout) override;

private:
  std::shared_ptr<Impl> impl_;
};

// A master watched by Sentinel: its address asked of the sentinels (the first that answers),
// confirmed with ROLE on every connection, and followed on +switch-master, on READONLY replies
// and after connection failures.
class SentinelClient final : public Client {
public:
  SentinelClient(boost::asio::any_io_executor executor, Deployment deployment);
  ~SentinelClient() override;
  boost::asio::awaitable<Result<void>> connect() override;
  std::vector<Connection*> masters() override;
  Connection& ordered_connection() override;
  [[nodiscard]] ConnectionOptions subscriber_options() const override;
  [[nodiscard]] std::string last_error() const override;
  void set_topology_listener(std::function<void()> listener) override;
  void close() override;

  class Impl;

protected:
  boost::asio::awaitable<Result<std::vector<Reply>>> exec_on_slot(
      int slot, Request request, std::optional<std::chrono::milliseconds> timeout) override;

private:
  std::shared_ptr<Impl> impl_;
};

// "host:port", for messages and as a node's name.
std::string describe(const Endpoint& endpoint);

// `options` aimed at one endpoint.
ConnectionOptions aimed_at(ConnectionOptions options, const Endpoint& endpoint);

// One request on a fresh connection to `endpoint` that never reconnects, closed afterwards:
// discovery (CLUSTER SLOTS from a seed, the master's address from a sentinel). When it could
// not connect or got no answer, `detail` says why.
boost::asio::awaitable<Result<Reply>> ask_once(boost::asio::any_io_executor executor, ConnectionOptions options,
                                               const Endpoint& endpoint, Request request, std::string& detail);

// When a deployment's topology is re-read: never twice at once, and on demand (after a
// failure, a redirect) not more often than every 100 ms, which would only load the servers.
class TopologyRefresh {
public:
  // Starts a re-read; false when one is under way.
  bool begin() noexcept {
    if (running_) return false;
    running_ = true;
    last_ = std::chrono::steady_clock::now();
    return true;
  }
  void end() noexcept { running_ = false; }
  // Whether a re-read asked for on demand should start now.
  [[nodiscard]] bool due() const noexcept {
    return !running_ && std::chrono::steady_clock::now() - last_ >= std::chrono::milliseconds(100);
  }

private:
  bool running_ = false;
  std::chrono::steady_clock::time_point last_{};
};

// Failures after which the topology may have changed (a master died or moved).
bool suggests_topology_change(const boost::system::error_code& error) noexcept;

}  // namespace strata::redis
