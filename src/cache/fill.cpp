// What follows a miss: one load per key in this process (single flight) and, with Redis, in
// the whole deployment (a lease), the loader under its timeouts, the store guarded against the
// stale-set race, and serving a stale value when the load fails or is slow.

#include "cache/cache_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace strata {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using cache::EntryPtr;
using cache::LoadFlight;
using cache::LoadResult;
using cache::normalize_tags;
using cache::Policy;
using cache::resolve;
using cache::StoredEntry;
using cache::to_ms;

struct LoaderResult {
  detail::ErasedValue value;
  std::exception_ptr error;
};

// Runs the loader and hands its value or exception to whoever waits on `outcome`. `running`
// keeps the load counted as running until its frame ends, however it ends (Impl::work_token).
asio::awaitable<void> call_loader(detail::ErasedLoader loader, std::shared_ptr<LoadContext> context,
                                  std::shared_ptr<cache::Flight<LoaderResult>> outcome,
                                  [[maybe_unused]] std::shared_ptr<void> running) {
  auto executor = co_await asio::this_coro::executor;
  auto [error, value] =
      co_await asio::co_spawn(executor, loader(*context), asio::as_tuple(asio::use_awaitable));
  outcome->finish(LoaderResult{std::move(value), error});
}

}  // namespace

Clock::duration Cache::Impl::jittered(const Policy& policy) {
  if (policy.ttl_jitter <= Clock::duration::zero()) return policy.ttl;
  std::lock_guard lock(random_mutex_);
  std::uniform_int_distribution<Clock::duration::rep> jitter(0, policy.ttl_jitter.count());
  return policy.ttl - Clock::duration(jitter(random_));
}

std::string Cache::Impl::encode_entry(const StoredEntry& entry, const std::string& full) const {
  return envelopes_.encode(entry.envelope, entry.bytes(), full);
}

std::shared_ptr<StoredEntry> Cache::Impl::new_entry(const detail::ErasedCodec& codec,
                                                    detail::ErasedValue value, Clock::duration ttl,
                                                    Clock::duration stale_ttl,
                                                    std::vector<std::string> tags,
                                                    std::uint64_t sequence) const {
  auto entry = std::make_shared<StoredEntry>();
  if (!codec.view) entry->envelope.payload = codec.encode(value.get());
  entry->value = std::move(value);
  entry->codec = &codec;
  entry->envelope.codec = std::string(codec.name);
  entry->envelope.created_ms = now_ms();
  entry->envelope.fresh_until_ms = entry->envelope.created_ms + to_ms(ttl);
  entry->envelope.stale_until_ms = entry->envelope.fresh_until_ms + to_ms(stale_ttl);
  entry->envelope.tags = std::move(tags);
  entry->sequence = sequence;
  return entry;
}

asio::awaitable<EntryPtr> Cache::Impl::store_loaded(const std::string& full,
                                                    const detail::ErasedCodec& codec,
                                                    detail::ErasedValue value,
                                                    const LoadContext& context, const Policy& policy,
                                                    std::uint64_t sequence,
                                                    std::optional<std::uint64_t> epoch) {
  std::vector<std::string> tags = policy.tags;
  tags.insert(tags.end(), context.tags.begin(), context.tags.end());
  normalize_tags(tags);
  if (marks_.invalidated_since(sequence, full, tags)) {
    metrics_.bump(cache::Count::fills_discarded);
    co_return nullptr;
  }
  const auto ttl = context.ttl ? *context.ttl : jittered(policy);
  if (ttl <= Clock::duration::zero()) co_return nullptr;
  auto entry = new_entry(codec, std::move(value), ttl,
                         context.stale_ttl ? *context.stale_ttl : policy.stale_ttl, std::move(tags),
                         sequence);
  if (l2_ && policy.use_l2) {
    entry->envelope.fill_epoch = epoch.value_or(l2_->observed_epoch());
    auto outcome = co_await l2_->store(full, encode_entry(*entry, full), entry->lifetime(),
                                       entry->envelope.fill_epoch, entry->envelope.tags);
    if (outcome == cache::RedisTier::StoreOutcome::refused) {
      metrics_.bump(cache::Count::fills_discarded);
      co_return nullptr;
    }
  }
  if (marks_.invalidated_since(sequence, full, entry->envelope.tags)) {
    metrics_.bump(cache::Count::fills_discarded);
    co_return nullptr;
  }
  metrics_.bump(cache::Count::sets);
  put_l1(full, entry, policy);
  co_return entry;
}

std::optional<LoadResult> Cache::Impl::fresh_in_l1(const std::string& full, const detail::ErasedCodec& codec,
                                                   const Policy& policy) {
  if (!policy.use_l1) return std::nullopt;
  auto bytes = l1_->get(full);
  if (!bytes) return std::nullopt;
  auto entry = std::static_pointer_cast<const StoredEntry>(bytes->owner());
  if (marks_.invalidated_since(entry->sequence, full, entry->envelope.tags)) return std::nullopt;
  if (now_ms() >= entry->envelope.fresh_until_ms) return std::nullopt;
  auto value = typed_value(*entry, codec);
  if (!value) return std::nullopt;
  LoadResult result;
  result.value = std::move(value);
  result.entry = std::move(entry);
  result.source = Source::l1;
  return result;
}

std::shared_ptr<LoadFlight> Cache::Impl::start_load(const std::string& full,
                                                    const detail::ErasedCodec& codec,
                                                    detail::ErasedLoader loader, const Policy& policy,
                                                    std::uint64_t sequence,
                                                    std::optional<std::uint64_t> epoch,
                                                    bool has_stale, bool after_miss, bool* leader,
                                                    detail::ErasedValue previous) {
  // One flight per key and C++ type: waiters cast the shared result to their own type.
  std::string flight_key = full;
  flight_key.push_back('\0');
  flight_key += std::to_string(reinterpret_cast<std::uintptr_t>(codec.type));
  auto joined = flights_.join(
      flight_key, sequence,
      [&](std::uint64_t began) { return marks_.invalidated_since(began, full, policy.tags); },
      [&]() -> std::optional<LoadResult> {
        // The load this caller missed stores its value before it leaves the table: in L1.
        if (!after_miss) return std::nullopt;
        return fresh_in_l1(full, codec, policy);
      });
  *leader = joined.leader;
  if (!joined.leader) return joined.flight;
  auto flight = std::move(joined.flight);
  asio::co_spawn(executor_,
                 run_load(flight, std::move(flight_key), full, &codec, std::move(loader), policy,
                          sequence, epoch, has_stale, std::move(previous)),
                 asio::detached);
  return flight;
}

asio::awaitable<LoadResult> Cache::Impl::wait_for_lease_holder(const std::string& full,
                                                               const detail::ErasedCodec& codec,
                                                               const Policy& policy, bool* acquired,
                                                               std::string* token) {
  LoadResult result;
  *token = instance_ + ":" + std::to_string(++lock_tokens_);
  const auto lease = policy.hard_timeout + 5s;
  const auto deadline = std::chrono::steady_clock::now() + policy.hard_timeout;
  auto pause = 2ms;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  while (std::chrono::steady_clock::now() < deadline) {
    auto locked = co_await l2_->try_lock(keyspace_.lock(full), *token, lease);
    if (!locked) co_return result;  // Redis unavailable: this process's single flight will do
    if (*locked) {
      *acquired = true;
      co_return result;
    }
    timer.expires_after(pause);
    (void)co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
    pause = std::min(pause * 2, 50ms);
    // The same read as any lookup: corrupt entries deleted, invalidated ones ignored.
    auto found = co_await lookup(full, codec, policy, false);
    if (!found.fresh) continue;
    result.entry = std::move(found.fresh);
    result.value = std::move(found.fresh_value);
    result.source = found.fresh_source;
    co_return result;
  }
  co_return result;  // the holder took too long: load here
}

asio::awaitable<LoadResult> Cache::Impl::attempt_load(std::string full, const detail::ErasedCodec* codec,
                                                      detail::ErasedLoader loader, Policy policy,
                                                      std::uint64_t sequence,
                                                      std::optional<std::uint64_t> epoch,
                                                      bool has_stale, detail::ErasedValue previous,
                                                      std::shared_ptr<void> running) {
  LoadResult result;
  const bool remote = l2_ && policy.use_l2;
  if (remote && !epoch) epoch = co_await l2_->epoch();
  bool lease_acquired = false;
  std::string token;
  if (remote && policy.distributed_lock) {
    result = co_await wait_for_lease_holder(full, *codec, policy, &lease_acquired, &token);
    if (result.value) co_return result;
  }
  auto context = std::make_shared<LoadContext>();
  context->has_stale_value = has_stale;
  context->previous = std::move(previous);
  auto outcome = std::make_shared<cache::Flight<LoaderResult>>();
  metrics_.bump(cache::Count::loader_calls);
  const auto started = std::chrono::steady_clock::now();
  asio::co_spawn(executor_, call_loader(std::move(loader), context, outcome, std::move(running)), asio::detached);
  const bool finished = co_await outcome->wait(policy.hard_timeout);
  metrics_.record(cache::Latency::loader, std::chrono::steady_clock::now() - started);
  if (!finished) {
    metrics_.bump(cache::Count::loader_timeouts);
    metrics_.bump(cache::Count::errors);
    result.timed_out = true;
  } else if (outcome->result().error) {
    metrics_.bump(cache::Count::loader_errors);
    metrics_.bump(cache::Count::errors);
    result.error = outcome->result().error;
  } else if (!outcome->result().value) {
    result.error = std::make_exception_ptr(std::logic_error("cache loader returned no value"));
  } else {
    result.value = outcome->result().value;
    if (context->cacheable) {
      result.entry = co_await store_loaded(full, *codec, result.value, *context, policy, sequence, epoch);
    }
  }
  if (lease_acquired) co_await l2_->unlock(keyspace_.lock(full), token);
  co_return result;
}

asio::awaitable<void> Cache::Impl::run_load(std::shared_ptr<LoadFlight> flight, std::string flight_key,
                                            std::string full, const detail::ErasedCodec* codec,
                                            detail::ErasedLoader loader, Policy policy,
                                            std::uint64_t sequence, std::optional<std::uint64_t> epoch,
                                            bool has_stale, detail::ErasedValue previous) {
  auto self = shared_from_this();
  auto running = work_token();
  std::exception_ptr failure;
  LoadResult result;
  if (running == nullptr) {
    result.error = std::make_exception_ptr(CacheStopped("the cache was stopped: no loader is called"));
  } else {
    // No try/catch around co_await (GCC 12 mis-handles frames there): an exception from the
    // cache's own machinery (encoding, allocation) arrives as a value, and waiters still get it.
    auto [attempt_failure, attempt_result] = co_await asio::co_spawn(
        executor_,
        attempt_load(std::move(full), codec, std::move(loader), std::move(policy), sequence, epoch, has_stale,
                     std::move(previous), running),
        asio::as_tuple(asio::use_awaitable));
    failure = attempt_failure;
    result = std::move(attempt_result);
  }
  if (failure) result.error = failure;
  flights_.end(flight_key, flight);
  flight->finish(std::move(result));
}

// ---------------------------------------------------------------------------------------------
// After a miss

void Cache::Impl::refresh_eagerly(const std::string& full, const detail::ErasedCodec& codec,
                                  detail::ErasedLoader loader, const EntryOptions& options) {
  bool leader = false;
  (void)start_load(full, codec, std::move(loader), resolve(options_.defaults, options), marks_.sequence(),
                   std::nullopt, true, false, &leader);
  if (leader) metrics_.bump(cache::Count::eager_refreshes);
}

// A get_or_set() that found nothing fresh: load (once per key), or serve the stale value. Its
// own coroutine, so that the hit path's frame stays small enough for Asio's frame recycling.
asio::awaitable<detail::ErasedFetch> Cache::Impl::serve_miss(const Key& key, const detail::ErasedCodec& codec,
                                                            detail::ErasedLoader loader, const EntryOptions& options,
                                                            std::string full, std::uint64_t sequence,
                                                            Lookup found) {
  Policy policy = resolve(options_.defaults, options);
  // Redis just failed this caller (a timeout, a broken connection, an open breaker): asking it
  // again for the lease and the store would only add deadlines to the wait.
  if (found.l2_failed) policy.use_l2 = false;
  const std::int64_t now = found.now_ms;
  const bool has_stale = found.stale != nullptr && policy.fail_safe;
  bool leader = false;
  auto flight = start_load(full, codec, std::move(loader), policy, sequence, found.epoch, has_stale, true, &leader,
                           found.stale != nullptr ? found.stale_value : nullptr);
  if (!leader) metrics_.bump(cache::Count::coalesced_waits);
  std::optional<std::chrono::nanoseconds> patience;
  if (has_stale && policy.soft_timeout > 0ms) patience = policy.soft_timeout;
  const bool revalidating =
      has_stale && now - found.stale->envelope.fresh_until_ms < to_ms(policy.stale_while_revalidate);
  // Revalidating: the stale value is the answer now, and the load refreshes it for the next reader.
  const bool finished = !revalidating && co_await flight->wait(patience);
  if (finished && flight->result().value) {
    const auto& result = flight->result();
    const auto created = result.entry ? result.entry->envelope.created_ms : now_ms();
    co_return detail::ErasedFetch{result.value, result.source,
                                  std::chrono::milliseconds(now_ms() - created), {}};
  }
  if (has_stale) {
    if (!finished && !revalidating) metrics_.bump(cache::Count::loader_timeouts);
    metrics_.bump(cache::Count::stale_served);
    co_return detail::ErasedFetch{found.stale_value, Source::stale,
                                  std::chrono::milliseconds(now_ms() - found.stale->envelope.created_ms), {}};
  }
  if (flight->result().error) std::rethrow_exception(flight->result().error);
  throw LoadTimeout("loading cache key \"" + key.to_string() + "\" took longer than its hard_timeout (" +
                    std::to_string(policy.hard_timeout.count()) + " ms) and no stale value was available");
}

}  // namespace strata
