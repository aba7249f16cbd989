#include <strata/redis/client.hpp>

#include "redis/cluster_slot.hpp"
#include "redis/deployments.hpp"

#include <stdexcept>

namespace strata::redis {

namespace asio = boost::asio;

std::unique_ptr<Client> Client::create(asio::any_io_executor executor, Deployment deployment) {
  switch (deployment.kind) {
    case Deployment::Kind::standalone:
      return std::make_unique<StandaloneClient>(std::move(executor), std::move(deployment.node));
    case Deployment::Kind::cluster:
      if (deployment.seeds.empty()) {
        throw std::invalid_argument("Redis Cluster deployment without seed nodes: give at least one host:port");
      }
      return std::make_unique<ClusterClient>(std::move(executor), std::move(deployment));
    case Deployment::Kind::sentinel:
      if (deployment.seeds.empty()) {
        throw std::invalid_argument("Sentinel deployment without sentinels: give at least one host:port");
      }
      if (deployment.master_name.empty()) {
        throw std::invalid_argument("Sentinel deployment without a master name: add /<name> to the URL");
      }
      return std::make_unique<SentinelClient>(std::move(executor), std::move(deployment));
  }
  throw std::invalid_argument("unknown Redis deployment kind");
}

asio::awaitable<Result<std::vector<Reply>>> Client::exec_all(std::string_view routing_key, Request request,
                                                             std::optional<std::chrono::milliseconds> timeout) {
  if (single_pool_ != nullptr) return single_pool_->exec_all(std::move(request), timeout);
  const int slot = sharded() && !routing_key.empty() ? key_slot(routing_key) : -1;
  return exec_on_slot(slot, std::move(request), timeout);
}

asio::awaitable<Result<Reply>> Client::exec(std::string_view routing_key, Request request,
                                            std::optional<std::chrono::milliseconds> timeout) {
  if (single_pool_ != nullptr) return single_pool_->exec(std::move(request), timeout);
  const int slot = sharded() && !routing_key.empty() ? key_slot(routing_key) : -1;
  return exec_one_on_slot(slot, std::move(request), timeout);
}

asio::awaitable<Result<Reply>> Client::exec_one_on_slot(int slot, Request request,
                                                        std::optional<std::chrono::milliseconds> timeout) {
  auto replies = co_await exec_on_slot(slot, std::move(request), timeout);
  if (!replies) co_return replies.error();
  if (replies->empty()) co_return Reply::nil();
  co_return std::move(replies->front());
}

std::string describe(const Endpoint& endpoint) { return endpoint.host + ":" + std::to_string(endpoint.port); }

ConnectionOptions aimed_at(ConnectionOptions options, const Endpoint& endpoint) {
  options.host = endpoint.host;
  options.port = endpoint.port;
  return options;
}

asio::awaitable<Result<Reply>> ask_once(asio::any_io_executor executor, ConnectionOptions options,
                                        const Endpoint& endpoint, Request request, std::string& detail) {
  options = aimed_at(std::move(options), endpoint);
  options.reconnect = false;
  Connection connection(std::move(executor), options);
  if (auto connected = co_await connection.connect(); !connected) {
    detail = connection.last_error();
    co_return connected.error();
  }
  auto reply = co_await connection.exec(std::move(request));
  connection.close();
  if (!reply) detail = "did not answer: " + reply.error().message();
  co_return reply;
}

bool suggests_topology_change(const boost::system::error_code& error) noexcept {
  return error == Error::connection_lost || error == Error::not_connected ||
         error == Error::circuit_open || error == Error::command_timeout;
}

// ---------------------------------------------------------------------------------------------

StandaloneClient::StandaloneClient(asio::any_io_executor executor, ConnectionOptions options)
    : options_(options), pool_(std::move(executor), std::move(options)) {
  single_pool_ = &pool_;
}

asio::awaitable<Result<void>> StandaloneClient::connect() { return pool_.connect(); }

std::vector<Connection*> StandaloneClient::masters() { return {&pool_.pick()}; }

Connection& StandaloneClient::ordered_connection() { return pool_.connection(0); }

ConnectionOptions StandaloneClient::subscriber_options() const { return options_; }

std::string StandaloneClient::last_error() const { return pool_.connection(0).last_error(); }

void StandaloneClient::close() { pool_.close(); }

asio::awaitable<Result<std::vector<Reply>>> StandaloneClient::exec_on_slot(
    int, Request request, std::optional<std::chrono::milliseconds> timeout) {
  return pool_.exec_all(std::move(request), timeout);
}

}  // namespace strata::redis
