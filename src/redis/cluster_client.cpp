#include "redis/cluster_slot.hpp"
#include "redis/deployments.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <charconv>
#include <map>

namespace strata::redis {

namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr auto kTryAgainDelay = std::chrono::milliseconds(5);

// "MOVED 3999 127.0.0.1:6381" / "ASK 3999 127.0.0.1:6381". An empty host means the host of
// the node that answered.
struct Redirect {
  bool ask = false;
  int slot = 0;
  Endpoint target;
};

std::optional<Redirect> parse_redirect(const Reply& reply, const Endpoint& answered_by) {
  if (!reply.is_error()) return std::nullopt;
  std::string_view text = reply.text();
  Redirect redirect;
  if (text.starts_with("MOVED ")) {
    text.remove_prefix(6);
  } else if (text.starts_with("ASK ")) {
    redirect.ask = true;
    text.remove_prefix(4);
  } else {
    return std::nullopt;
  }
  const auto space = text.find(' ');
  const auto colon = text.rfind(':');
  if (space == std::string_view::npos || colon == std::string_view::npos || colon < space) return std::nullopt;
  const std::string_view slot = text.substr(0, space);
  const std::string_view port = text.substr(colon + 1);
  if (std::from_chars(slot.data(), slot.data() + slot.size(), redirect.slot).ec != std::errc{} ||
      std::from_chars(port.data(), port.data() + port.size(), redirect.target.port).ec != std::errc{} ||
      redirect.slot < 0 || redirect.slot >= kClusterSlots) {
    return std::nullopt;
  }
  redirect.target.host = std::string(text.substr(space + 1, colon - space - 1));
  if (redirect.target.host.empty()) redirect.target.host = answered_by.host;
  return redirect;
}

}  // namespace

class ClusterClient::Impl : public std::enable_shared_from_this<Impl> {
public:
  Impl(asio::any_io_executor executor, Deployment deployment)
      : executor_(std::move(executor)), deployment_(std::move(deployment)), timer_(executor_) {
    owners_.fill(-1);
  }

  asio::awaitable<Result<void>> connect();
  asio::awaitable<Result<std::vector<Reply>>> exec(int slot, Request request,
                                                   std::optional<std::chrono::milliseconds> timeout);
  std::vector<Connection*> masters();
  Connection& ordered_connection();
  ConnectionOptions subscriber_options() const;
  [[nodiscard]] std::string last_error() const { return last_error_; }
  void close();

private:
  struct Node {
    Endpoint endpoint;
    std::unique_ptr<Pool> pool;
    bool closed = false;
    std::vector<std::unique_ptr<Pool>> retired;
  };

  std::unique_ptr<Pool> start_pool(const Endpoint& endpoint);

  // The node's index in nodes_, creating (and starting to connect) it when it is new.
  std::size_t index_of(const Endpoint& endpoint);
  Node& node_for(const Endpoint& endpoint) { return *nodes_[index_of(endpoint)]; }
  Node* owner(int slot);
  asio::awaitable<bool> refresh();
  asio::awaitable<std::optional<Reply>> ask_for_slots(const Endpoint& endpoint);
  bool apply_slots(const Reply& slots, const Endpoint& answered_by);
  void schedule_refresh();
  asio::awaitable<void> refresh_periodically(std::shared_ptr<Impl> keep_alive);
  std::optional<Endpoint> next_subscriber_node() const;

  asio::any_io_executor executor_;
  Deployment deployment_;
  asio::steady_timer timer_;
  // Nodes are never removed (requests may still be on their pools); the ones no longer in the
  // map are closed.
  std::vector<std::unique_ptr<Node>> nodes_;
  std::map<std::string, std::size_t> node_index_;  // "host:port" -> nodes_
  std::array<int, kClusterSlots> owners_;          // slot -> nodes_ index, -1 unknown
  std::vector<std::size_t> master_nodes_;          // nodes_ indexes owning at least one slot
  std::size_t next_any_ = 0;
  mutable std::size_t next_subscriber_ = 0;
  TopologyRefresh refresh_;
  bool closed_ = false;
  std::string last_error_;
};

std::unique_ptr<Pool> ClusterClient::Impl::start_pool(const Endpoint& endpoint) {
  auto pool = std::make_unique<Pool>(executor_, aimed_at(deployment_.node, endpoint));
  // Connecting is started here and finished in the background; requests wait for it (exec).
  asio::co_spawn(executor_, [pool = pool.get(), self = shared_from_this()]() -> asio::awaitable<void> {
    (void)co_await pool->connect();
  }, asio::detached);
  return pool;
}

std::size_t ClusterClient::Impl::index_of(const Endpoint& endpoint) {
  std::string name = describe(endpoint);
  if (const auto found = node_index_.find(name); found != node_index_.end()) return found->second;
  auto node = std::make_unique<Node>();
  node->endpoint = endpoint;
  node->pool = start_pool(endpoint);
  node_index_.emplace(std::move(name), nodes_.size());
  nodes_.push_back(std::move(node));
  return nodes_.size() - 1;
}

ClusterClient::Impl::Node* ClusterClient::Impl::owner(int slot) {
  if (slot < 0) {
    if (master_nodes_.empty()) return nullptr;
    return nodes_[master_nodes_[next_any_++ % master_nodes_.size()]].get();
  }
  const int index = owners_[static_cast<std::size_t>(slot)];
  return index < 0 ? nullptr : nodes_[static_cast<std::size_t>(index)].get();
}

asio::awaitable<Result<void>> ClusterClient::Impl::connect() {
  auto self = shared_from_this();
  const bool mapped = co_await refresh();
  asio::co_spawn(executor_, refresh_periodically(self), asio::detached);
  if (!mapped) co_return make_error_code(Error::not_connected);
  // Wait for every master's first connection, so the first requests do not fail.
  for (const std::size_t index : master_nodes_) {
    (void)co_await nodes_[index]->pool->pick().wait_connected(deployment_.node.connect_timeout);
  }
  co_return Result<void>{};
}

asio::awaitable<std::optional<Reply>> ClusterClient::Impl::ask_for_slots(const Endpoint& endpoint) {
  const auto known = node_index_.find(describe(endpoint));
  if (known != node_index_.end() && nodes_[known->second]->pool->connected() > 0) {
    auto reply = co_await nodes_[known->second]->pool->exec(Request("CLUSTER", "SLOTS"));
    if (reply && reply->is_array()) co_return std::move(*reply);
    co_return std::nullopt;
  }
  // A node without a pool (a seed, or one that failed): a one-off connection.
  std::string detail;
  auto reply = co_await ask_once(executor_, deployment_.node, endpoint, Request("CLUSTER", "SLOTS"), detail);
  if (!reply) {
    last_error_ = describe(endpoint) + ": " + detail;
    co_return std::nullopt;
  }
  if (!reply->is_array()) {
    last_error_ = describe(endpoint) + " answered CLUSTER SLOTS with " + reply->describe() +
                  " (is it a cluster node? use redis:// for a single server)";
    co_return std::nullopt;
  }
  co_return std::move(*reply);
}

// CLUSTER SLOTS: [[start, end, [host, port, id, ...], [replica...]...], ...]
bool ClusterClient::Impl::apply_slots(const Reply& slots, const Endpoint& answered_by) {
  std::array<int, kClusterSlots> owners;
  owners.fill(-1);
  std::vector<std::size_t> masters;
  std::size_t covered = 0;
  for (const Reply& range : slots.elements()) {
    const auto& fields = range.elements();
    if (!range.is_array() || fields.size() < 3 || !fields[0].is_integer() || !fields[1].is_integer() ||
        !fields[2].is_array() || fields[2].elements().size() < 2 || !fields[2].elements()[1].is_integer()) {
      last_error_ = "CLUSTER SLOTS reply has an unexpected shape: " + range.describe();
      return false;
    }
    const auto start = fields[0].integer_value();
    const auto end = fields[1].integer_value();
    if (start < 0 || end >= kClusterSlots || start > end) {
      last_error_ = "CLUSTER SLOTS names slots outside 0-16383: " + range.describe();
      return false;
    }
    Endpoint endpoint{fields[2].elements()[0].text(),
                      static_cast<std::uint16_t>(fields[2].elements()[1].integer_value())};
    if (endpoint.host.empty() || endpoint.host == "?") endpoint.host = answered_by.host;
    const std::size_t index = index_of(endpoint);
    if (std::find(masters.begin(), masters.end(), index) == masters.end()) masters.push_back(index);
    for (auto slot = start; slot <= end; ++slot) owners[static_cast<std::size_t>(slot)] = static_cast<int>(index);
    covered += static_cast<std::size_t>(end - start + 1);
  }
  if (covered == 0) {
    last_error_ = describe(answered_by) + " serves no slots yet (the cluster is not configured)";
    return false;
  }
  owners_ = owners;
  for (std::size_t index = 0; index < nodes_.size(); ++index) {
    Node& node = *nodes_[index];
    const bool master = std::find(masters.begin(), masters.end(), index) != masters.end();
    const bool was_master = std::find(master_nodes_.begin(), master_nodes_.end(), index) != master_nodes_.end();
    // A node that left the map (failed, or turned replica) is closed; one that comes back gets
    // a fresh pool (the closed one stays alive for requests still on it).
    if (!master && was_master) {
      node.pool->close();
      node.closed = true;
    } else if (master && node.closed) {
      node.retired.push_back(std::move(node.pool));
      node.pool = start_pool(node.endpoint);
      node.closed = false;
    }
  }
  master_nodes_ = std::move(masters);
  return true;
}

asio::awaitable<bool> ClusterClient::Impl::refresh() {
  if (closed_ || !refresh_.begin()) co_return false;
  auto self = shared_from_this();
  // Known masters first (they know the current map), then the seeds.
  std::vector<Endpoint> candidates;
  for (const std::size_t index : master_nodes_) candidates.push_back(nodes_[index]->endpoint);
  for (const auto& seed : deployment_.seeds) {
    if (std::find(candidates.begin(), candidates.end(), seed) == candidates.end()) candidates.push_back(seed);
  }
  for (const auto& [name, index] : node_index_) {
    if (std::find(candidates.begin(), candidates.end(), nodes_[index]->endpoint) == candidates.end()) {
      candidates.push_back(nodes_[index]->endpoint);
    }
  }
  bool applied = false;
  for (const auto& candidate : candidates) {
    auto slots = co_await ask_for_slots(candidate);
    if (closed_) break;
    if (slots && apply_slots(*slots, candidate)) {
      applied = true;
      break;
    }
  }
  if (!applied && last_error_.empty()) last_error_ = "no cluster node answered CLUSTER SLOTS";
  if (applied) last_error_.clear();
  refresh_.end();
  co_return applied;
}

void ClusterClient::Impl::schedule_refresh() {
  if (closed_ || !refresh_.due()) return;
  asio::co_spawn(executor_, [self = shared_from_this()]() -> asio::awaitable<void> {
    (void)co_await self->refresh();
  }, asio::detached);
}

asio::awaitable<void> ClusterClient::Impl::refresh_periodically([[maybe_unused]] std::shared_ptr<Impl> keep_alive) {
  while (!closed_) {
    timer_.expires_after(deployment_.topology_refresh);
    auto [error] = co_await timer_.async_wait(kUseTuple);
    if (error || closed_) co_return;
    (void)co_await refresh();
  }
}

asio::awaitable<Result<std::vector<Reply>>> ClusterClient::Impl::exec(
    int slot, Request request, std::optional<std::chrono::milliseconds> timeout) {
  auto self = shared_from_this();
  std::optional<Endpoint> ask_target;
  // Redirections are bounded by count; TRYAGAIN (keys of one slot split by a migration in
  // progress) by the request's own deadline, since a migration takes as long as it takes.
  std::size_t redirects = 0;
  const auto deadline = Clock::now() + timeout.value_or(deployment_.node.command_timeout);
  auto pause_for = kTryAgainDelay;
  for (;;) {
    if (closed_) co_return make_error_code(Error::cancelled);
    Node* node = ask_target ? &node_for(*ask_target) : owner(slot);
    if (node == nullptr) {
      last_error_ = "no master is known for slot " + std::to_string(slot) + " (re-reading the slot map)";
      schedule_refresh();
      co_return make_error_code(Error::not_connected);
    }
    if (node->pool->connected() == 0) {
      (void)co_await node->pool->pick().wait_connected(deployment_.node.connect_timeout);
    }
    Request outgoing = ask_target ? Request("ASKING") : Request();
    outgoing.append(request);  // the original stays for a redirect
    auto replies = co_await node->pool->exec_all(std::move(outgoing), timeout);
    if (!replies) {
      if (suggests_topology_change(replies.error())) schedule_refresh();
      co_return replies;
    }
    if (ask_target) replies->erase(replies->begin());  // ASKING's +OK
    std::optional<Redirect> redirect;
    bool try_again = false;
    for (const Reply& reply : *replies) {
      if (!redirect) redirect = parse_redirect(reply, node->endpoint);
      try_again = try_again || (reply.is_error() && reply.text().starts_with("TRYAGAIN"));
    }
    if (!redirect && !try_again) co_return replies;
    if (redirect && ++redirects > deployment_.max_redirects) {
      last_error_ = "gave up after " + std::to_string(redirects - 1) + " redirections for slot " +
                    std::to_string(slot) + " (the cluster is resharding or misconfigured)";
      co_return replies;
    }
    if (!redirect && Clock::now() + pause_for > deadline) {
      last_error_ = "slot " + std::to_string(slot) + " was still migrating (TRYAGAIN) at the request's deadline";
      co_return replies;
    }
    if (redirect && !redirect->ask) {
      // The slot moved for good: route it there from now on, and re-read the whole map.
      owners_[static_cast<std::size_t>(redirect->slot)] = static_cast<int>(index_of(redirect->target));
      ask_target.reset();
      schedule_refresh();
    } else if (redirect) {
      ask_target = redirect->target;
    } else {
      // TRYAGAIN: a multi-key request during a slot migration; the keys settle shortly.
      asio::steady_timer pause(executor_, pause_for);
      co_await pause.async_wait(kUseTuple);
      pause_for = std::min(pause_for * 2, std::chrono::milliseconds(100));
      ask_target.reset();
    }
  }
}

std::vector<Connection*> ClusterClient::Impl::masters() {
  std::vector<Connection*> out;
  for (const std::size_t index : master_nodes_) out.push_back(&nodes_[index]->pool->pick());
  return out;
}

Connection& ClusterClient::Impl::ordered_connection() {
  // PUBLISH reaches every node of a cluster from any node; one connection keeps the order.
  if (master_nodes_.empty()) {
    return node_for(deployment_.seeds.front()).pool->connection(0);
  }
  return nodes_[master_nodes_.front()]->pool->connection(0);
}

std::optional<Endpoint> ClusterClient::Impl::next_subscriber_node() const {
  if (master_nodes_.empty()) {
    return deployment_.seeds[next_subscriber_++ % deployment_.seeds.size()];
  }
  return nodes_[master_nodes_[next_subscriber_++ % master_nodes_.size()]]->endpoint;
}

ConnectionOptions ClusterClient::Impl::subscriber_options() const {
  ConnectionOptions options = deployment_.node;
  // Each attempt goes to the next master, so a dead node is not retried forever.
  std::weak_ptr<const Impl> weak = weak_from_this();
  options.locate = [weak]() -> std::optional<Endpoint> {
    auto self = weak.lock();
    if (!self) return std::nullopt;
    return self->next_subscriber_node();
  };
  return options;
}

void ClusterClient::Impl::close() {
  if (closed_) return;
  closed_ = true;
  timer_.cancel();
  for (auto& node : nodes_) node->pool->close();
}

// ---------------------------------------------------------------------------------------------

ClusterClient::ClusterClient(asio::any_io_executor executor, Deployment deployment)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(deployment))) {}
ClusterClient::~ClusterClient() { impl_->close(); }
asio::awaitable<Result<void>> ClusterClient::connect() { return impl_->connect(); }
std::vector<Connection*> ClusterClient::masters() { return impl_->masters(); }
Connection& ClusterClient::ordered_connection() { return impl_->ordered_connection(); }
ConnectionOptions ClusterClient::subscriber_options() const { return impl_->subscriber_options(); }
std::string ClusterClient::last_error() const { return impl_->last_error(); }
void ClusterClient::close() { impl_->close(); }
asio::awaitable<Result<std::vector<Reply>>> ClusterClient::exec_on_slot(
    int slot, Request request, std::optional<std::chrono::milliseconds> timeout) {
  return impl_->exec(slot, std::move(request), timeout);
}

}  // namespace strata::redis
