#include "cache/redis_tier.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <charconv>
#include <random>

namespace strata::cache {
namespace asio = boost::asio;
using redis::Reply;
using redis::Request;

namespace {

// KEYS: entry, key mark, clear mark, epoch, n tag marks, n tag member sets.
// ARGV: bytes, lifetime ms, fill epoch ("-" for an explicit write), n, mark lifetime ms.
const redis::Script kStore(R"lua(
local n = tonumber(ARGV[4])
if ARGV[3] == '-' then
  local e = redis.call('INCR', KEYS[4])
  redis.call('SET', KEYS[2], e, 'PX', ARGV[5])
else
  local fill = tonumber(ARGV[3])
  for i = 2, 3 do
    local m = redis.call('GET', KEYS[i])
    if m and tonumber(m) > fill then return 0 end
  end
  for i = 5, 4 + n do
    local m = redis.call('GET', KEYS[i])
    if m and tonumber(m) > fill then return 0 end
  end
end
local px = tonumber(ARGV[2])
redis.call('SET', KEYS[1], ARGV[1], 'PX', px)
for i = 5 + n, 4 + 2 * n do
  redis.call('SADD', KEYS[i], KEYS[1])
  if redis.call('PTTL', KEYS[i]) < px then redis.call('PEXPIRE', KEYS[i], px) end
end
return 1
)lua");

// KEYS: entry, key mark, epoch. ARGV: mark lifetime ms.
const redis::Script kRemove(R"lua(
local e = redis.call('INCR', KEYS[3])
redis.call('UNLINK', KEYS[1])
redis.call('SET', KEYS[2], e, 'PX', ARGV[1])
return e
)lua");

// KEYS: tag mark, member set, epoch, name to drain the member set under. ARGV: mark lifetime.
// Renaming lets fills after the mark start a fresh set while the old members are deleted.
const redis::Script kMarkTag(R"lua(
local e = redis.call('INCR', KEYS[3])
redis.call('SET', KEYS[1], e, 'PX', ARGV[1])
if redis.call('EXISTS', KEYS[2]) == 1 then
  redis.call('RENAME', KEYS[2], KEYS[4])
  return {e, 1}
end
return {e, 0}
)lua");

// KEYS: clear mark, epoch. ARGV: mark lifetime.
const redis::Script kMarkEverything(R"lua(
local e = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], e, 'PX', ARGV[1])
return e
)lua");

// KEYS: lock. ARGV: owner token.
const redis::Script kUnlock(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua");

std::optional<std::uint64_t> parse_unsigned(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<std::uint64_t> as_counter(const Reply& reply) {
  if (reply.is_integer()) {
    return reply.integer_value() < 0 ? std::nullopt
                                     : std::optional<std::uint64_t>(reply.integer_value());
  }
  if (reply.is_nil()) return 0;
  if (reply.is_string()) return parse_unsigned(reply.text());
  return std::nullopt;
}

std::string millis(std::chrono::milliseconds duration) {
  return std::to_string(std::max<std::int64_t>(1, duration.count()));
}

}  // namespace

RedisTier::RedisTier(asio::any_io_executor executor, redis::ConnectionOptions options,
                     const Keyspace& keyspace, Metrics& metrics, bool bus, Callbacks callbacks,
                     std::chrono::milliseconds mark_lifetime)
    : strand_(asio::make_strand(executor)),
      keyspace_(keyspace),
      metrics_(metrics),
      callbacks_(std::move(callbacks)),
      mark_lifetime_(mark_lifetime) {
  std::random_device random;
  instance_token_ = std::to_string(random()) + std::to_string(random());
  pool_ = std::make_unique<redis::Pool>(strand_, options);
  if (bus) {
    redis::ConnectionOptions bus_options = options;
    bus_options.client_name = options.client_name.empty() ? "" : options.client_name + "-bus";
    subscriber_ = std::make_unique<redis::Subscriber>(
        strand_, bus_options,
        [this](const redis::Message& message) {
          if (callbacks_.on_bus_message) callbacks_.on_bus_message(message.payload);
        },
        [this](redis::SubscriberEvent event) {
          if (event == redis::SubscriberEvent::resubscribed && callbacks_.on_recovered) {
            callbacks_.on_recovered();
          }
        });
  }
}

RedisTier::~RedisTier() = default;

template <typename T>
asio::awaitable<T> RedisTier::on_strand(asio::awaitable<T> work) {
  if (strand_.running_in_this_thread()) co_return co_await std::move(work);
  co_return co_await asio::co_spawn(strand_, std::move(work), asio::use_awaitable);
}

template <typename T>
bool RedisTier::check(const redis::Result<T>& result) {
  if (result.has_error()) {
    Metrics::bump(metrics_.l2_errors);
    Metrics::bump(metrics_.errors);
    available_.store(false, std::memory_order_release);
    return false;
  }
  if (!available_.exchange(true, std::memory_order_acq_rel) &&
      ever_available_.exchange(true, std::memory_order_acq_rel) && callbacks_.on_recovered) {
    callbacks_.on_recovered();
  }
  return true;
}

void RedisTier::observe_epoch(std::uint64_t epoch) noexcept {
  auto seen = observed_epoch_.load(std::memory_order_relaxed);
  while (epoch > seen && !observed_epoch_.compare_exchange_weak(seen, epoch)) {
  }
}

asio::awaitable<bool> RedisTier::start() {
  return on_strand(start_on_strand());
}

asio::awaitable<bool> RedisTier::start_on_strand() {
  auto connected = co_await pool_->connect();
  if (subscriber_) {
    (void)co_await subscriber_->connect();
    std::vector<std::string> channels{keyspace_.bus_channel()};
    (void)co_await subscriber_->subscribe(std::move(channels));
  }
  if (!connected) {
    check(connected);
    co_return false;
  }
  ever_available_.store(true);
  available_.store(true);
  co_return true;
}

void RedisTier::close() {
  asio::post(strand_, [self = shared_from_this()] {
    self->pool_->close();
    if (self->subscriber_) self->subscriber_->close();
  });
}

asio::awaitable<std::optional<Reply>> RedisTier::call(Request request) {
  auto reply = co_await pool_->exec(std::move(request));
  if (!check(reply)) co_return std::nullopt;
  co_return std::move(*reply);
}

asio::awaitable<std::optional<Reply>> RedisTier::script(const redis::Script& script,
                                                        std::vector<std::string> keys,
                                                        std::vector<std::string> arguments) {
  auto reply = co_await redis::run_script(pool_->pick(), script, keys, arguments);
  if (!check(reply)) co_return std::nullopt;
  if (reply->is_error()) {
    Metrics::bump(metrics_.l2_errors);
    Metrics::bump(metrics_.errors);
    co_return std::nullopt;
  }
  co_return std::move(*reply);
}

asio::awaitable<RedisTier::Read> RedisTier::read(std::string key, bool with_epoch) {
  return on_strand(read_on_strand(std::move(key), with_epoch));
}

asio::awaitable<RedisTier::Read> RedisTier::read_on_strand(std::string key, bool with_epoch) {
  Read out;
  Reply value;
  if (with_epoch) {
    Request request("GET", key);
    request.push({"GET", keyspace_.epoch()});
    auto replies = co_await pool_->exec_all(std::move(request));
    if (!check(replies)) co_return out;
    out.epoch = as_counter((*replies)[1]).value_or(0);
    observe_epoch(out.epoch);
    value = std::move((*replies)[0]);
  } else {
    auto reply = co_await pool_->exec(Request("GET", key));
    if (!check(reply)) co_return out;
    value = std::move(*reply);
  }
  out.ok = true;
  if (value.is_string()) {
    out.value = std::move(value.mutable_text());
  } else if (value.is_error()) {
    out.wrong_type = value.text().starts_with("WRONGTYPE");
    if (!out.wrong_type) {
      out.ok = false;
      Metrics::bump(metrics_.l2_errors);
      Metrics::bump(metrics_.errors);
    }
  }
  co_return out;
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::epoch() {
  return on_strand(epoch_on_strand());
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::epoch_on_strand() {
  auto reply = co_await call(Request("GET", keyspace_.epoch()));
  if (!reply) co_return std::nullopt;
  auto epoch = as_counter(*reply);
  if (epoch) observe_epoch(*epoch);
  co_return epoch;
}

asio::awaitable<RedisTier::StoreOutcome> RedisTier::store(std::string key, std::string bytes,
                                                          std::chrono::milliseconds lifetime,
                                                          std::optional<std::uint64_t> fill_epoch,
                                                          std::vector<std::string> tags) {
  return on_strand(store_on_strand(std::move(key), std::move(bytes), lifetime, fill_epoch, std::move(tags)));
}

asio::awaitable<RedisTier::StoreOutcome> RedisTier::store_on_strand(std::string key, std::string bytes,
                      std::chrono::milliseconds lifetime, std::optional<std::uint64_t> fill_epoch,
                      std::vector<std::string> tags) {
  std::vector<std::string> keys;
  keys.reserve(4 + 2 * tags.size());
  keys.push_back(key);
  keys.push_back(keyspace_.key_mark(key));
  keys.push_back(keyspace_.clear_mark());
  keys.push_back(keyspace_.epoch());
  for (const auto& tag : tags) keys.push_back(keyspace_.tag_mark(tag));
  for (const auto& tag : tags) keys.push_back(keyspace_.tag_members(tag));
  std::vector<std::string> arguments{std::move(bytes), millis(lifetime),
                                     fill_epoch ? std::to_string(*fill_epoch) : "-",
                                     std::to_string(tags.size()), millis(mark_lifetime_)};
  auto reply = co_await script(kStore, std::move(keys), std::move(arguments));
  if (!reply) {
    Metrics::bump(metrics_.l2_writes_dropped);
    co_return StoreOutcome::failed;
  }
  co_return reply->is_integer() && reply->integer_value() == 1 ? StoreOutcome::stored
                                                               : StoreOutcome::refused;
}

asio::awaitable<std::optional<bool>> RedisTier::rewrite(std::string key, std::string bytes,
                                                        std::chrono::milliseconds lifetime) {
  return on_strand(rewrite_on_strand(std::move(key), std::move(bytes), lifetime));
}

asio::awaitable<std::optional<bool>> RedisTier::rewrite_on_strand(std::string key, std::string bytes,
                      std::chrono::milliseconds lifetime) {
  const std::string px = millis(lifetime);
  auto reply = co_await call(Request("SET", key, bytes, "PX", px, "XX"));
  if (!reply) co_return std::nullopt;
  co_return reply->is_status("OK");
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::remove(std::string key) {
  return on_strand(remove_on_strand(std::move(key)));
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::remove_on_strand(std::string key) {
  std::vector<std::string> keys{key, keyspace_.key_mark(key), keyspace_.epoch()};
  std::vector<std::string> arguments{millis(mark_lifetime_)};
  auto reply = co_await script(kRemove, std::move(keys), std::move(arguments));
  if (!reply) co_return std::nullopt;
  auto epoch = as_counter(*reply);
  if (epoch) observe_epoch(*epoch);
  co_return epoch;
}

asio::awaitable<bool> RedisTier::unlink(std::string key) {
  return on_strand(unlink_on_strand(std::move(key)));
}

asio::awaitable<bool> RedisTier::unlink_on_strand(std::string key) {
  co_return (co_await call(Request("UNLINK", key))).has_value();
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::generation(std::string name_space) {
  return on_strand(generation_on_strand(std::move(name_space)));
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::generation_on_strand(std::string name_space) {
  auto reply = co_await call(Request("GET", keyspace_.generation(name_space)));
  if (!reply) co_return std::nullopt;
  co_return as_counter(*reply);
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::bump_generation(std::string name_space) {
  return on_strand(bump_generation_on_strand(std::move(name_space)));
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::bump_generation_on_strand(std::string name_space) {
  auto reply = co_await call(Request("INCR", keyspace_.generation(name_space)));
  if (!reply) co_return std::nullopt;
  co_return as_counter(*reply);
}

asio::awaitable<std::uint64_t> RedisTier::drain_set(std::string set, std::size_t batch, bool* ok) {
  std::uint64_t removed = 0;
  const std::string count = std::to_string(batch);
  for (;;) {
    auto members = co_await call(Request("SPOP", set, count));
    if (!members) {
      *ok = false;
      co_return removed;
    }
    if (!members->is_array() || members->elements().empty()) co_return removed;
    std::vector<std::string> command{"UNLINK"};
    for (auto& member : members->mutable_elements()) command.push_back(std::move(member.mutable_text()));
    Request request;
    request.push(command);
    auto unlinked = co_await call(std::move(request));
    if (!unlinked) {
      *ok = false;
      co_return removed;
    }
    removed += static_cast<std::uint64_t>(std::max<std::int64_t>(0, unlinked->integer_value()));
  }
}

asio::awaitable<RedisTier::Invalidation> RedisTier::invalidate_tag(std::string tag, std::size_t batch) {
  return on_strand(invalidate_tag_on_strand(std::move(tag), batch));
}

asio::awaitable<RedisTier::Invalidation> RedisTier::invalidate_tag_on_strand(std::string tag, std::size_t batch) {
  Invalidation out;
  const std::string draining =
      keyspace_.tag_members(tag) + "#draining:" + instance_token_ + ":" + std::to_string(++unique_);
  std::vector<std::string> keys{keyspace_.tag_mark(tag), keyspace_.tag_members(tag),
                                keyspace_.epoch(), draining};
  std::vector<std::string> arguments{millis(mark_lifetime_)};
  auto reply = co_await script(kMarkTag, std::move(keys), std::move(arguments));
  if (!reply || !reply->is_array() || reply->elements().size() != 2) co_return out;
  out.epoch = as_counter(reply->elements()[0]).value_or(0);
  observe_epoch(out.epoch);
  out.ok = true;
  if (reply->elements()[1].integer_value() == 1) {
    out.removed = co_await drain_set(draining, batch, &out.ok);
  }
  co_return out;
}

asio::awaitable<RedisTier::Invalidation> RedisTier::unlink_matching(std::string pattern,
                                                                    std::size_t batch) {
  return on_strand(unlink_matching_on_strand(std::move(pattern), batch));
}

asio::awaitable<RedisTier::Invalidation> RedisTier::unlink_matching_on_strand(std::string pattern, std::size_t batch) {
  Invalidation out;
  out.ok = true;
  redis::Scanner scanner(pool_->pick(), redis::ScanOptions{pattern, batch, ""});
  while (!scanner.done()) {
    auto keys = co_await scanner.next();
    if (!check(keys)) {
      out.ok = false;
      co_return out;
    }
    if (keys->empty()) continue;
    std::vector<std::string> command{"UNLINK"};
    command.insert(command.end(), std::make_move_iterator(keys->begin()),
                   std::make_move_iterator(keys->end()));
    Request request;
    request.push(command);
    auto unlinked = co_await call(std::move(request));
    if (!unlinked) {
      out.ok = false;
      co_return out;
    }
    out.removed += static_cast<std::uint64_t>(std::max<std::int64_t>(0, unlinked->integer_value()));
  }
  co_return out;
}

asio::awaitable<RedisTier::Invalidation> RedisTier::clear(std::size_t batch) {
  auto reply = co_await on_strand(mark_everything_on_strand());
  Invalidation out;
  if (!reply) co_return out;
  out.epoch = as_counter(*reply).value_or(0);
  observe_epoch(out.epoch);
  auto entries = co_await unlink_matching(keyspace_.all_entries_pattern(), batch);
  auto sets = co_await unlink_matching(keyspace_.all_tag_sets_pattern(), batch);
  out.ok = entries.ok && sets.ok;
  out.removed = entries.removed;
  co_return out;
}

asio::awaitable<bool> RedisTier::publish(std::string payload) {
  return on_strand(publish_on_strand(std::move(payload)));
}

asio::awaitable<bool> RedisTier::publish_on_strand(std::string payload) {
  // Always the same connection, so that one publisher's messages stay in order.
  auto reply = co_await pool_->connection(0).exec(
      Request("PUBLISH", keyspace_.bus_channel(), payload));
  co_return check(reply);
}

asio::awaitable<std::optional<bool>> RedisTier::try_lock(std::string key, std::string token,
                                                         std::chrono::milliseconds lease) {
  return on_strand(try_lock_on_strand(std::move(key), std::move(token), lease));
}

asio::awaitable<std::optional<bool>> RedisTier::try_lock_on_strand(std::string key, std::string token,
                      std::chrono::milliseconds lease) {
  const std::string px = millis(lease);
  auto reply = co_await call(Request("SET", key, token, "NX", "PX", px));
  if (!reply) co_return std::nullopt;
  co_return reply->is_status("OK");
}

asio::awaitable<std::optional<Reply>> RedisTier::mark_everything_on_strand() {
  std::vector<std::string> keys{keyspace_.clear_mark(), keyspace_.epoch()};
  std::vector<std::string> arguments{millis(mark_lifetime_)};
  co_return co_await script(kMarkEverything, std::move(keys), std::move(arguments));
}

asio::awaitable<void> RedisTier::unlock(std::string key, std::string token) {
  (void)co_await on_strand(unlock_on_strand(std::move(key), std::move(token)));
}

asio::awaitable<bool> RedisTier::unlock_on_strand(std::string key, std::string token) {
  std::vector<std::string> keys{std::move(key)};
  std::vector<std::string> arguments{std::move(token)};
  co_return (co_await script(kUnlock, std::move(keys), std::move(arguments))).has_value();
}

asio::awaitable<std::optional<std::chrono::nanoseconds>> RedisTier::ping() {
  return on_strand(ping_on_strand());
}

asio::awaitable<std::optional<std::chrono::nanoseconds>> RedisTier::ping_on_strand() {
  const auto start = std::chrono::steady_clock::now();
  auto reply = co_await call(Request("PING"));
  if (!reply) co_return std::nullopt;
  co_return std::chrono::steady_clock::now() - start;
}

asio::awaitable<std::optional<std::string>> RedisTier::info(std::string section) {
  return on_strand(info_on_strand(std::move(section)));
}

asio::awaitable<std::optional<std::string>> RedisTier::info_on_strand(std::string section) {
  auto reply = co_await call(Request("INFO", section));
  if (!reply) co_return std::nullopt;
  const auto text = reply->as_string();
  if (!text) co_return std::nullopt;
  co_return std::string(*text);
}

}  // namespace strata::cache
