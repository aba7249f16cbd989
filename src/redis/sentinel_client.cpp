#include "redis/deployments.hpp"

#include <strata/redis/subscriber.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>

namespace strata::redis {

namespace asio = boost::asio;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kSwitchMaster = "+switch-master";

std::optional<std::uint16_t> parse_port(std::string_view text) {
  std::uint16_t port = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), port);
  if (error != std::errc{} || end != text.data() + text.size() || port == 0) return std::nullopt;
  return port;
}

// "+switch-master <name> <old-ip> <old-port> <new-ip> <new-port>"
std::optional<Endpoint> parse_switch(std::string_view payload, std::string_view master_name) {
  std::vector<std::string_view> words;
  while (!payload.empty()) {
    const auto space = payload.find(' ');
    words.push_back(payload.substr(0, space));
    if (space == std::string_view::npos) break;
    payload.remove_prefix(space + 1);
  }
  if (words.size() != 5 || words[0] != master_name) return std::nullopt;
  const auto port = parse_port(words[4]);
  if (!port) return std::nullopt;
  return Endpoint{std::string(words[3]), *port};
}

}  // namespace

class SentinelClient::Impl : public std::enable_shared_from_this<Impl> {
public:
  Impl(asio::any_io_executor executor, Deployment deployment)
      : executor_(std::move(executor)), deployment_(std::move(deployment)), timer_(executor_) {}

  // Called once the Impl is owned by a shared_ptr (the pool's locate hook holds a weak one).
  void start_pool() {
    ConnectionOptions options = deployment_.node;
    options.locate = locator();
    options.require_master = true;
    pool_ = std::make_unique<Pool>(executor_, options);
  }

  asio::awaitable<Result<void>> connect();
  asio::awaitable<Result<std::vector<Reply>>> exec(Request request, std::optional<std::chrono::milliseconds> timeout);
  std::vector<Connection*> masters() { return {&pool_->pick()}; }
  Connection& ordered_connection() { return pool_->connection(0); }
  ConnectionOptions subscriber_options() const {
    ConnectionOptions options = deployment_.node;
    options.locate = locator();
    return options;
  }
  [[nodiscard]] std::string last_error() const { return last_error_; }
  void set_topology_listener(std::function<void()> listener) { on_moved_ = std::move(listener); }
  void close();

private:
  std::function<std::optional<Endpoint>()> locator() const {
    std::weak_ptr<const Impl> weak = weak_from_this();
    return [weak]() -> std::optional<Endpoint> {
      auto self = weak.lock();
      if (!self) return std::nullopt;
      return self->master_;
    };
  }
  asio::awaitable<bool> resolve();
  asio::awaitable<std::optional<Endpoint>> ask_sentinel(const Endpoint& sentinel);
  void follow(Endpoint master, const std::string& why);
  void schedule_resolve();
  asio::awaitable<void> watch(std::shared_ptr<Impl> keep_alive);
  std::optional<Endpoint> next_sentinel() const {
    return deployment_.seeds[next_sentinel_++ % deployment_.seeds.size()];
  }

  asio::any_io_executor executor_;
  Deployment deployment_;
  asio::steady_timer timer_;
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<Subscriber> switch_watch_;
  std::optional<Endpoint> master_;
  std::function<void()> on_moved_;
  mutable std::size_t next_sentinel_ = 0;
  std::size_t preferred_sentinel_ = 0;  // the last one that answered is asked first
  TopologyRefresh refresh_;
  bool closed_ = false;
  std::string last_error_;
};

asio::awaitable<std::optional<Endpoint>> SentinelClient::Impl::ask_sentinel(const Endpoint& sentinel) {
  std::string detail;
  auto reply = co_await ask_once(executor_, deployment_.sentinel, sentinel,
                                 Request("SENTINEL", "get-master-addr-by-name", deployment_.master_name), detail);
  if (!reply) {
    last_error_ = "sentinel " + describe(sentinel) + ": " + detail;
    co_return std::nullopt;
  }
  const auto& fields = reply->elements();
  if (!reply->is_array() || fields.size() != 2 || !fields[0].as_string() || !fields[1].as_string()) {
    last_error_ = "sentinel " + describe(sentinel) + " does not know master '" + deployment_.master_name +
                  "' (" + reply->describe() + "); check the name in the URL";
    co_return std::nullopt;
  }
  const auto port = parse_port(*fields[1].as_string());
  if (!port) {
    last_error_ = "sentinel " + describe(sentinel) + " gave a bad port: " + reply->describe();
    co_return std::nullopt;
  }
  co_return Endpoint{std::string(*fields[0].as_string()), *port};
}

asio::awaitable<bool> SentinelClient::Impl::resolve() {
  if (closed_ || !refresh_.begin()) co_return false;
  auto self = shared_from_this();
  const std::size_t count = deployment_.seeds.size();
  bool found = false;
  for (std::size_t i = 0; i < count && !closed_; ++i) {
    const std::size_t index = (preferred_sentinel_ + i) % count;
    auto master = co_await ask_sentinel(deployment_.seeds[index]);
    if (!master) continue;
    preferred_sentinel_ = index;
    follow(std::move(*master), "the sentinels name a new master");
    found = true;
    break;
  }
  refresh_.end();
  co_return found;
}

void SentinelClient::Impl::follow(Endpoint master, const std::string& why) {
  if (master_ == master) return;
  const bool moved = master_.has_value();
  master_ = std::move(master);
  if (!moved) return;
  // Connections still on the old master (now a replica, or gone) reconnect to the new one.
  for (std::size_t i = 0; i < pool_->size(); ++i) pool_->connection(i).drop(why + ": " + describe(*master_));
  if (on_moved_) on_moved_();
}

void SentinelClient::Impl::schedule_resolve() {
  if (closed_ || !refresh_.due()) return;
  asio::co_spawn(executor_, [self = shared_from_this()]() -> asio::awaitable<void> {
    (void)co_await self->resolve();
  }, asio::detached);
}

asio::awaitable<Result<void>> SentinelClient::Impl::connect() {
  auto self = shared_from_this();
  const bool found = co_await resolve();
  // +switch-master tells of a failover at once; the periodic check covers lost messages.
  ConnectionOptions watch_options = deployment_.sentinel;
  std::weak_ptr<const Impl> weak = weak_from_this();
  watch_options.locate = [weak]() -> std::optional<Endpoint> {
    auto strong = weak.lock();
    return strong ? strong->next_sentinel() : std::nullopt;
  };
  switch_watch_ = std::make_unique<Subscriber>(
      executor_, watch_options,
      [weak = weak_from_this()](const Message& message) {
        auto strong = weak.lock();
        if (!strong || message.channel != kSwitchMaster) return;
        if (auto master = parse_switch(message.payload, strong->deployment_.master_name)) {
          strong->follow(std::move(*master), "+switch-master");
        }
      },
      [weak = weak_from_this()](SubscriberEvent event) {
        // Messages may have been lost while the watch was down: ask again.
        if (event != SubscriberEvent::resubscribed) return;
        if (auto strong = weak.lock()) strong->schedule_resolve();
      });
  (void)co_await switch_watch_->connect();
  std::vector<std::string> channels{std::string(kSwitchMaster)};
  (void)co_await switch_watch_->subscribe(std::move(channels));
  asio::co_spawn(executor_, watch(self), asio::detached);
  if (!found) co_return make_error_code(Error::not_connected);
  co_return co_await pool_->connect();
}

asio::awaitable<void> SentinelClient::Impl::watch([[maybe_unused]] std::shared_ptr<Impl> keep_alive) {
  while (!closed_) {
    timer_.expires_after(deployment_.topology_refresh);
    auto [error] = co_await timer_.async_wait(kUseTuple);
    if (error || closed_) co_return;
    (void)co_await resolve();
  }
}

asio::awaitable<Result<std::vector<Reply>>> SentinelClient::Impl::exec(
    Request request, std::optional<std::chrono::milliseconds> timeout) {
  auto replies = co_await pool_->exec_all(std::move(request), timeout);
  if (!replies) {
    if (suggests_topology_change(replies.error())) schedule_resolve();
    co_return replies;
  }
  for (const Reply& reply : *replies) {
    // A master demoted under us answers writes with READONLY until the connection moves.
    if (reply.is_error() && reply.text().starts_with("READONLY")) {
      schedule_resolve();
      break;
    }
  }
  co_return replies;
}

void SentinelClient::Impl::close() {
  if (closed_) return;
  closed_ = true;
  timer_.cancel();
  if (switch_watch_) switch_watch_->close();
  pool_->close();
}

// ---------------------------------------------------------------------------------------------

SentinelClient::SentinelClient(asio::any_io_executor executor, Deployment deployment)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(deployment))) {
  impl_->start_pool();
}
SentinelClient::~SentinelClient() { impl_->close(); }
asio::awaitable<Result<void>> SentinelClient::connect() { return impl_->connect(); }
std::vector<Connection*> SentinelClient::masters() { return impl_->masters(); }
Connection& SentinelClient::ordered_connection() { return impl_->ordered_connection(); }
ConnectionOptions SentinelClient::subscriber_options() const { return impl_->subscriber_options(); }
std::string SentinelClient::last_error() const { return impl_->last_error(); }
void SentinelClient::close() { impl_->close(); }
void SentinelClient::set_topology_listener(std::function<void()> listener) {
  impl_->set_topology_listener(std::move(listener));
}
asio::awaitable<Result<std::vector<Reply>>> SentinelClient::exec_on_slot(
    int, Request request, std::optional<std::chrono::milliseconds> timeout) {
  return impl_->exec(std::move(request), timeout);
}

}  // namespace strata::redis
