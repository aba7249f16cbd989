#include "cache/redis_tier.hpp"

#include "core/decimal.hpp"
#include "core/strand.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

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

// Redis Cluster: a fill or write crosses slots (the entry's, and the control slot of the epoch,
// marks and tag sets), so it runs in two steps, each atomic in its slot. Admission, in the
// control slot: checks the clear and tag marks against the fill's epoch, joins the tags' member
// sets and the filling set (which clear() drains); an explicit write takes a new epoch instead.
// An invalidation that comes after admission finds the entry in a member set or the filling
// set and marks the entry's own key, which the second step checks.
// KEYS: clear mark, epoch, filling set, n tag marks, n tag member sets.
// ARGV: entry key, fill epoch ("-" for an explicit write), n, lifetime ms, fill lease ms.
// Returns the new epoch for an explicit write, 0 for an admitted fill, -1 for a refused one.
const redis::Script kAdmit(R"lua(
local n = tonumber(ARGV[3])
local result = 0
if ARGV[2] == '-' then
  result = redis.call('INCR', KEYS[2])
else
  local fill = tonumber(ARGV[2])
  local m = redis.call('GET', KEYS[1])
  if m and tonumber(m) > fill then return -1 end
  for i = 4, 3 + n do
    m = redis.call('GET', KEYS[i])
    if m and tonumber(m) > fill then return -1 end
  end
  redis.call('SADD', KEYS[3], ARGV[1])
  redis.call('PEXPIRE', KEYS[3], ARGV[5])
end
local px = tonumber(ARGV[4])
for i = 4 + n, 3 + 2 * n do
  redis.call('SADD', KEYS[i], ARGV[1])
  if redis.call('PTTL', KEYS[i]) < px then redis.call('PEXPIRE', KEYS[i], px) end
end
return result
)lua");

// The second step, in the entry's slot. KEYS: entry, key mark.
// ARGV: bytes, lifetime ms, fill epoch ("-": explicit write), write epoch, mark lifetime ms.
const redis::Script kStoreEntry(R"lua(
if ARGV[3] == '-' then
  redis.call('SET', KEYS[2], ARGV[4], 'PX', ARGV[5])
else
  local m = redis.call('GET', KEYS[2])
  if m and tonumber(m) > tonumber(ARGV[3]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
)lua");

// Redis Cluster clear(): as kMarkEverything, and sets the filling set aside to be drained.
// KEYS: clear mark, epoch, filling set, name to drain it under. ARGV: mark lifetime.
const redis::Script kMarkEverythingAndFills(R"lua(
local e = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], e, 'PX', ARGV[1])
if redis.call('EXISTS', KEYS[3]) == 1 then
  redis.call('RENAME', KEYS[3], KEYS[4])
  return {e, 1}
end
return {e, 0}
)lua");

// KEYS: lock. ARGV: owner token.
const redis::Script kUnlock(R"lua(
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
)lua");

std::optional<std::uint64_t> as_counter(const Reply& reply) {
  if (reply.is_integer()) {
    return reply.integer_value() < 0 ? std::nullopt
                                     : std::optional<std::uint64_t>(reply.integer_value());
  }
  if (reply.is_nil()) return 0;
  if (reply.is_string()) return core::parse_decimal(reply.text());
  return std::nullopt;
}

std::string millis(std::chrono::milliseconds duration) {
  return std::to_string(std::max<std::int64_t>(1, duration.count()));
}

}  // namespace

RedisTier::RedisTier(asio::any_io_executor executor, redis::Deployment deployment,
                     const Keyspace& keyspace, Metrics& metrics, bool bus, Callbacks callbacks,
                     std::chrono::milliseconds mark_lifetime, std::chrono::milliseconds command_deadline)
    : strand_(core::strand_of(executor)),
      keyspace_(keyspace),
      metrics_(metrics),
      callbacks_(std::move(callbacks)),
      mark_lifetime_(mark_lifetime),
      deadline_(command_deadline),
      client_(redis::Client::create(strand_, deployment)),
      sharded_(client_->sharded()) {
  std::random_device random;
  instance_token_ = std::to_string(random()) + std::to_string(random());
  if (bus) {
    redis::ConnectionOptions bus_options = client_->subscriber_options();
    bus_options.client_name = bus_options.client_name.empty() ? "" : bus_options.client_name + "-bus";
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
    // The bus must hear the master the writers publish on: after a failover it moves too (and
    // its re-subscription clears L1, since messages may have been lost in between).
    client_->set_topology_listener([this] {
      if (subscriber_) subscriber_->drop("the Redis master moved");
    });
  }
}

RedisTier::~RedisTier() = default;

template <typename T>
asio::awaitable<T> RedisTier::on_strand(asio::awaitable<T> work) {
  // Only a coroutine whose own executor is the strand may run the work in place. Being inside
  // one of the strand's handlers is not enough: a caller on another executor can be resumed
  // inline from such a handler, and its later resumptions would then run off the strand.
  const asio::any_io_executor current = co_await asio::this_coro::executor;
  if (is_strand(current)) co_return co_await std::move(work);
  co_return co_await asio::co_spawn(strand_, std::move(work), asio::use_awaitable);
}

template <typename T>
bool RedisTier::check(const redis::Result<T>& result) {
  if (result.has_error()) {
    metrics_.bump(cache::Count::l2_errors);
    metrics_.bump(cache::Count::errors);
    available_.store(false, std::memory_order_release);
    return false;
  }
  // A load first: the exchange (a locked write) only when the state changes, not on every hit.
  if (!available_.load(std::memory_order_acquire) && !available_.exchange(true, std::memory_order_acq_rel) &&
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
  auto connected = co_await client_->connect();
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
    self->client_->close();
    if (self->subscriber_) self->subscriber_->close();
  });
}

asio::awaitable<std::optional<Reply>> RedisTier::call(std::string_view routing_key, Request request) {
  auto reply = co_await client_->exec(routing_key, std::move(request), deadline_);
  if (!check(reply)) co_return std::nullopt;
  co_return std::move(*reply);
}

asio::awaitable<std::optional<Reply>> RedisTier::script(const redis::Script& script,
                                                        std::vector<std::string> keys,
                                                        std::vector<std::string> arguments) {
  auto reply = co_await client_->run_script(script, keys, arguments, deadline_);
  if (!check(reply)) co_return std::nullopt;
  if (reply->is_error()) {
    metrics_.bump(cache::Count::l2_errors);
    metrics_.bump(cache::Count::errors);
    co_return std::nullopt;
  }
  co_return std::move(*reply);
}

// Not a coroutine: a caller already on the strand awaits the client's own awaitable, so an L2
// hit costs no coroutine frame here.
asio::awaitable<redis::Result<Reply>> RedisTier::get(std::string_view key, const asio::any_io_executor& caller) {
  if (is_strand(caller)) return client_->exec(key, Request("GET", key), deadline_);
  return asio::co_spawn(strand_, client_->exec(key, Request("GET", key), deadline_), asio::use_awaitable);
}

RedisTier::Read RedisTier::interpret(redis::Result<Reply>&& reply) {
  if (!check(reply)) return {};
  return as_read(std::move(*reply));
}

RedisTier::Read RedisTier::as_read(Reply&& value) {
  Read out;
  out.ok = true;
  if (value.is_string()) {
    out.value = std::move(value.mutable_text());
  } else if (value.is_error()) {
    out.wrong_type = value.text().starts_with("WRONGTYPE");
    if (!out.wrong_type) {
      out.ok = false;
      metrics_.bump(cache::Count::l2_errors);
      metrics_.bump(cache::Count::errors);
    }
  }
  return out;
}

asio::awaitable<RedisTier::Read> RedisTier::read_with_epoch(std::string key) {
  return on_strand(read_with_epoch_on_strand(std::move(key)));
}

asio::awaitable<RedisTier::Read> RedisTier::read_with_epoch_on_strand(std::string key) {
  std::uint64_t epoch = 0;
  Reply value;
  if (!sharded_) {
    Request request("GET", key);
    request.push({"GET", keyspace_.epoch()});
    auto replies = co_await client_->exec_all(key, std::move(request), deadline_);
    if (!check(replies)) co_return Read{};
    epoch = as_counter((*replies)[1]).value_or(0);
    observe_epoch(epoch);
    value = std::move((*replies)[0]);
  } else {
    // In a cluster the epoch lives in the control slot: read it first, so a value read after
    // it is never older than the epoch it is paired with.
    auto known = co_await epoch_on_strand();
    if (!known) co_return Read{};
    epoch = *known;
    auto reply = co_await client_->exec(key, Request("GET", key), deadline_);
    if (!check(reply)) co_return Read{};
    value = std::move(*reply);
  }
  Read out = as_read(std::move(value));
  out.epoch = epoch;
  co_return out;
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::epoch() {
  return on_strand(epoch_on_strand());
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::epoch_on_strand() {
  const std::string epoch_key = keyspace_.epoch();
  auto reply = co_await call(epoch_key, Request("GET", epoch_key));
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
  if (sharded_) co_return co_await store_sharded(std::move(key), std::move(bytes), lifetime, fill_epoch, std::move(tags));
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
    metrics_.bump(cache::Count::l2_writes_dropped);
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
  auto reply = co_await call(key, Request("SET", key, bytes, "PX", px, "XX"));
  if (!reply) co_return std::nullopt;
  co_return reply->is_status("OK");
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::remove(std::string key) {
  return on_strand(remove_on_strand(std::move(key)));
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::remove_on_strand(std::string key) {
  if (sharded_) {
    // A new epoch first, then the entry's mark (which stops older fills) and the entry.
    const std::string epoch_key = keyspace_.epoch();
    auto next = co_await call(epoch_key, Request("INCR", epoch_key));
    if (!next) co_return std::nullopt;
    const auto epoch = as_counter(*next);
    if (!epoch) co_return std::nullopt;
    observe_epoch(*epoch);
    bool ok = true;
    std::vector<std::string> entries{std::move(key)};
    (void)co_await mark_and_unlink(std::move(entries), *epoch, &ok);
    if (!ok) co_return std::nullopt;
    co_return epoch;
  }
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
  co_return (co_await call(key, Request("UNLINK", key))).has_value();
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::generation(std::string name_space) {
  return on_strand(generation_on_strand(std::move(name_space)));
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::generation_on_strand(std::string name_space) {
  const std::string counter = keyspace_.generation(name_space);
  auto reply = co_await call(counter, Request("GET", counter));
  if (!reply) co_return std::nullopt;
  co_return as_counter(*reply);
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::bump_generation(std::string name_space) {
  return on_strand(bump_generation_on_strand(std::move(name_space)));
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::bump_generation_on_strand(std::string name_space) {
  const std::string counter = keyspace_.generation(name_space);
  auto reply = co_await call(counter, Request("INCR", counter));
  if (!reply) co_return std::nullopt;
  co_return as_counter(*reply);
}

asio::awaitable<std::uint64_t> RedisTier::drain_set(std::string set, std::size_t batch, std::uint64_t epoch,
                                                    bool* ok) {
  std::uint64_t removed = 0;
  const std::string count = std::to_string(batch);
  for (;;) {
    auto members = co_await call(set, Request("SPOP", set, count));
    if (!members) {
      *ok = false;
      co_return removed;
    }
    if (!members->is_array() || members->elements().empty()) co_return removed;
    std::vector<std::string> entries;
    for (auto& member : members->mutable_elements()) entries.push_back(std::move(member.mutable_text()));
    if (sharded_) {
      removed += co_await mark_and_unlink(std::move(entries), epoch, ok);
      if (!*ok) co_return removed;
      continue;
    }
    std::vector<std::string> command{"UNLINK"};
    command.insert(command.end(), std::make_move_iterator(entries.begin()), std::make_move_iterator(entries.end()));
    Request request;
    request.push(command);
    auto unlinked = co_await call(command[1], std::move(request));
    if (!unlinked) {
      *ok = false;
      co_return removed;
    }
    removed += static_cast<std::uint64_t>(std::max<std::int64_t>(0, unlinked->integer_value()));
  }
}

asio::awaitable<std::uint64_t> RedisTier::mark_and_unlink(std::vector<std::string> entries, std::uint64_t epoch,
                                                          bool* ok) {
  if (entries.empty()) co_return 0;
  struct Progress {
    std::size_t remaining = 0;
    std::uint64_t removed = 0;
    bool failed = false;
    std::optional<asio::steady_timer> done;
  };
  auto progress = std::make_shared<Progress>();
  progress->remaining = entries.size();
  progress->done.emplace(strand_, asio::steady_timer::time_point::max());
  const std::string mark = std::to_string(epoch);
  const std::string px = millis(mark_lifetime_);
  auto self = shared_from_this();
  for (auto& entry : entries) {
    // The mark first: a fill's store that runs after it is refused; one that ran before it
    // is deleted by the UNLINK. Both commands are in the entry's slot.
    Request request("SET", keyspace_.key_mark(entry), mark, "PX", px);
    request.push({"UNLINK", entry});
    asio::co_spawn(strand_, client_->exec_all(entry, std::move(request), deadline_),
                   [self, progress](std::exception_ptr error, redis::Result<std::vector<Reply>> replies) {
                     if (error || !self->check(replies) || replies->size() != 2 || (*replies)[1].is_error()) {
                       progress->failed = true;
                     } else {
                       progress->removed += static_cast<std::uint64_t>(
                           std::max<std::int64_t>(0, (*replies)[1].integer_value()));
                     }
                     if (--progress->remaining == 0) progress->done->cancel();
                   });
  }
  if (progress->remaining > 0) {
    (void)co_await progress->done->async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (progress->failed) *ok = false;
  co_return progress->removed;
}

asio::awaitable<RedisTier::StoreOutcome> RedisTier::store_sharded(std::string key, std::string bytes,
                                                                  std::chrono::milliseconds lifetime,
                                                                  std::optional<std::uint64_t> fill_epoch,
                                                                  std::vector<std::string> tags) {
  const std::string fill = fill_epoch ? std::to_string(*fill_epoch) : "-";
  std::vector<std::string> control{keyspace_.clear_mark(), keyspace_.epoch(), keyspace_.filling()};
  for (const auto& tag : tags) control.push_back(keyspace_.tag_mark(tag));
  for (const auto& tag : tags) control.push_back(keyspace_.tag_members(tag));
  std::vector<std::string> admission{key, fill, std::to_string(tags.size()), millis(lifetime),
                                     millis(mark_lifetime_)};
  auto admitted = co_await script(kAdmit, std::move(control), std::move(admission));
  if (!admitted || !admitted->is_integer()) {
    metrics_.bump(cache::Count::l2_writes_dropped);
    co_return StoreOutcome::failed;
  }
  if (admitted->integer_value() < 0) co_return StoreOutcome::refused;
  const std::string write_epoch = std::to_string(admitted->integer_value());
  if (!fill_epoch) observe_epoch(static_cast<std::uint64_t>(admitted->integer_value()));
  std::vector<std::string> entry_keys{key, keyspace_.key_mark(key)};
  std::vector<std::string> arguments{std::move(bytes), millis(lifetime), fill, write_epoch, millis(mark_lifetime_)};
  auto stored = co_await script(kStoreEntry, std::move(entry_keys), std::move(arguments));
  if (fill_epoch) {
    // Leaving the filling set only keeps it small; a fill that never leaves it (a crash)
    // ends with the set's lease.
    const std::string filling = keyspace_.filling();
    (void)co_await call(filling, Request("SREM", filling, key));
  }
  if (!stored) {
    metrics_.bump(cache::Count::l2_writes_dropped);
    co_return StoreOutcome::failed;
  }
  co_return stored->is_integer() && stored->integer_value() == 1 ? StoreOutcome::stored : StoreOutcome::refused;
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
    out.removed = co_await drain_set(draining, batch, out.epoch, &out.ok);
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
  // Every master holds its share of the keys; a single server is the one master.
  for (redis::Connection* master : client_->masters()) {
    redis::Scanner scanner(*master, redis::ScanOptions{pattern, batch, ""});
    while (!scanner.done()) {
      auto keys = co_await scanner.next();
      if (!check(keys)) {
        out.ok = false;
        co_return out;
      }
      if (keys->empty()) continue;
      // On the node that listed them: one UNLINK per key in a cluster (keys of several slots
      // cannot share a command), one UNLINK for the batch otherwise.
      Request request;
      if (sharded_) {
        for (const auto& key : *keys) request.push({"UNLINK", key});
      } else {
        std::vector<std::string> command{"UNLINK"};
        command.insert(command.end(), std::make_move_iterator(keys->begin()), std::make_move_iterator(keys->end()));
        request.push(command);
      }
      auto unlinked = co_await master->exec_all(std::move(request));
      if (!check(unlinked)) {
        out.ok = false;
        co_return out;
      }
      for (const auto& reply : *unlinked) {
        if (reply.is_integer()) out.removed += static_cast<std::uint64_t>(std::max<std::int64_t>(0, reply.integer_value()));
      }
    }
  }
  co_return out;
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::count_matching(std::string pattern, std::size_t batch) {
  return on_strand(count_matching_on_strand(std::move(pattern), batch));
}

asio::awaitable<std::optional<std::uint64_t>> RedisTier::count_matching_on_strand(std::string pattern,
                                                                                  std::size_t batch) {
  std::uint64_t count = 0;
  for (redis::Connection* master : client_->masters()) {
    redis::Scanner scanner(*master, redis::ScanOptions{pattern, batch, ""});
    while (!scanner.done()) {
      auto keys = co_await scanner.next();
      if (!check(keys)) co_return std::nullopt;
      count += keys->size();
    }
  }
  co_return count;
}

asio::awaitable<RedisTier::Invalidation> RedisTier::clear(std::size_t batch) {
  const std::string draining_fills =
      keyspace_.filling() + "#draining:" + instance_token_ + ":" + std::to_string(++clears_);
  auto reply = co_await on_strand(mark_everything_on_strand(draining_fills));
  Invalidation out;
  if (!reply) co_return out;
  const Reply& epoch = reply->is_array() && !reply->elements().empty() ? reply->elements()[0] : *reply;
  out.epoch = as_counter(epoch).value_or(0);
  observe_epoch(out.epoch);
  bool fills_ok = true;
  if (reply->is_array() && reply->elements().size() == 2 && reply->elements()[1].integer_value() == 1) {
    // Cluster: fills admitted before the mark may store after the scan passed them.
    out.removed += co_await on_strand(drain_set(draining_fills, batch, out.epoch, &fills_ok));
  }
  auto entries = co_await unlink_matching(keyspace_.all_entries_pattern(), batch);
  auto sets = co_await unlink_matching(keyspace_.all_tag_sets_pattern(), batch);
  out.ok = entries.ok && sets.ok && fills_ok;
  out.removed += entries.removed;
  co_return out;
}

asio::awaitable<bool> RedisTier::publish(std::string payload) {
  return on_strand(publish_on_strand(std::move(payload)));
}

asio::awaitable<bool> RedisTier::publish_on_strand(std::string payload) {
  // Always the same connection, so that one publisher's messages stay in order.
  auto reply = co_await client_->ordered_connection().exec(
      Request("PUBLISH", keyspace_.bus_channel(), payload), deadline_);
  co_return check(reply);
}

asio::awaitable<std::optional<bool>> RedisTier::try_lock(std::string key, std::string token,
                                                         std::chrono::milliseconds lease) {
  return on_strand(try_lock_on_strand(std::move(key), std::move(token), lease));
}

asio::awaitable<std::optional<bool>> RedisTier::try_lock_on_strand(std::string key, std::string token,
                      std::chrono::milliseconds lease) {
  const std::string px = millis(lease);
  auto reply = co_await call(key, Request("SET", key, token, "NX", "PX", px));
  if (!reply) co_return std::nullopt;
  co_return reply->is_status("OK");
}

asio::awaitable<std::optional<Reply>> RedisTier::mark_everything_on_strand(std::string draining_fills) {
  std::vector<std::string> arguments{millis(mark_lifetime_)};
  if (sharded_) {
    std::vector<std::string> keys{keyspace_.clear_mark(), keyspace_.epoch(), keyspace_.filling(),
                                  std::move(draining_fills)};
    co_return co_await script(kMarkEverythingAndFills, std::move(keys), std::move(arguments));
  }
  std::vector<std::string> keys{keyspace_.clear_mark(), keyspace_.epoch()};
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
  auto reply = co_await call("", Request("PING"));
  if (!reply) co_return std::nullopt;
  co_return std::chrono::steady_clock::now() - start;
}

asio::awaitable<std::optional<std::string>> RedisTier::info(std::string section) {
  return on_strand(info_on_strand(std::move(section)));
}

asio::awaitable<std::optional<std::string>> RedisTier::info_on_strand(std::string section) {
  auto reply = co_await call("", Request("INFO", section));
  if (!reply) co_return std::nullopt;
  const auto text = reply->as_string();
  if (!text) co_return std::nullopt;
  co_return std::string(*text);
}

}  // namespace strata::cache
