#include "cache/cache_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <mutex>
#include <new>
#include <random>
#include <utility>

namespace strata {
namespace asio = boost::asio;
using namespace std::chrono_literals;

namespace {

using cache::EntryPtr;
using cache::Invalidation;
using cache::LoadFlight;
using cache::LoadResult;
using cache::Metrics;
using cache::normalize_tags;
using cache::overridden;
using cache::Policy;
using cache::ReadPolicy;
using cache::resolve;
using cache::StoredEntry;
using cache::to_ms;
using cache::validate;

std::string random_token() {
  std::random_device device;
  std::array<std::uint32_t, 4> words{device(), device(), device(), device()};
  std::string out;
  for (auto word : words) {
    char buffer[9];
    std::snprintf(buffer, sizeof buffer, "%08x", word);
    out += buffer;
  }
  return out;
}

}  // namespace

Cache::Impl::Impl(asio::any_io_executor executor, CacheOptions options)
    : executor_(std::move(executor)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : steady_clock()),
      real_clock_(clock_ == steady_clock()),
      keyspace_(options_.prefix),
      envelopes_(cache::EnvelopeOptions{options_.compression_threshold, 0.10,
                                        options_.compression_level, options_.integrity_secret}),
      marks_(options_.max_fill_duration + std::chrono::duration_cast<std::chrono::milliseconds>(
                                              options_.defaults.l1_ttl)),
      started_at_(clock_->now().time_since_epoch().count()),
      instance_(random_token()),
      random_(options_.seed) {
  validate(options_.defaults, options_, "CacheOptions::defaults");
  if (options_.max_fill_duration <= 0ms) {
    throw std::invalid_argument("CacheOptions::max_fill_duration must be positive");
  }
  if (options_.redis_deadline <= 0ms) {
    throw std::invalid_argument("CacheOptions::redis_deadline must be positive (e.g. 250ms)");
  }
  const auto system_now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::system_clock::now().time_since_epoch())
                              .count();
  unix_offset_ms_ = system_now - to_ms(clock_->now().time_since_epoch());
  MemoryStoreOptions l1_options = options_.l1;
  l1_options.clock = clock_;
  l1_ = std::make_unique<MemoryStore>(l1_options);
}

void Cache::Impl::attach_redis() {
  std::optional<redis::Deployment> deployment;
  if (options_.redis) {
    deployment = *options_.redis;
  } else {
    if (!options_.redis_url.empty()) {
      try {
        deployment = redis::parse_deployment_url(options_.redis_url);
      } catch (const std::invalid_argument& error) {
        throw std::invalid_argument(std::string("CacheOptions::redis_url (REDIS_URL with from_env()): ") +
                                    error.what());
      }
    }
  }
  if (!deployment) return;
  std::weak_ptr<Impl> weak = weak_from_this();
  cache::RedisTier::Callbacks callbacks{
      [weak](const std::string& payload) {
        if (auto self = weak.lock()) self->on_bus_message(payload);
      },
      [weak] {
        if (auto self = weak.lock()) self->on_recovered();
      }};
  l2_ = std::make_shared<cache::RedisTier>(executor_, std::move(*deployment), keyspace_, metrics_, options_.bus,
                                           std::move(callbacks), options_.max_fill_duration + 10s,
                                           options_.redis_deadline);
}

// ---------------------------------------------------------------------------------------------
// Keys

asio::awaitable<std::uint64_t> Cache::Impl::generation_of(const std::string& name_space, bool use_l2) {
  std::optional<std::uint64_t> generation = generations_.known(name_space);
  if (generation) co_return *generation;
  if (!l2_) {  // this process keeps the only count: it starts at 0, and known, reads skip this
    generations_.learn(name_space, 0);
    co_return 0;
  }
  if (use_l2) {
    generation = co_await l2_->generation(name_space);
    if (generation) generations_.learn(name_space, *generation);
  }
  co_return generation.value_or(0);  // unknown while Redis is unreachable: not remembered
}

asio::awaitable<std::string> Cache::Impl::entry_key(const Key& key, bool use_l2) {
  co_return keyspace_.entry(key, co_await generation_of(key.name_space(), use_l2));
}

// ---------------------------------------------------------------------------------------------
// Reading

detail::ErasedValue Cache::Impl::typed_value(const StoredEntry& entry,
                                             const detail::ErasedCodec& codec) const {
  if (entry.codec->type == codec.type) return entry.value;
  return codec.decode(entry.bytes());  // read as another type than it was written
}

void Cache::Impl::put_l1(const std::string& full, const EntryPtr& entry, const ReadPolicy& policy) {
  if (!policy.use_l1) return;
  const auto remaining = std::chrono::milliseconds(entry->envelope.stale_until_ms - now_ms());
  if (remaining <= 0ms) return;
  // l1_ttl bounds how long this process trusts its copy of a value other processes share
  // through Redis; with no Redis behind it, L1 holds the only copy and keeps it for its lifetime.
  const bool shared = l2_ != nullptr && policy.use_l2;
  const auto lifetime = shared ? std::min<Clock::duration>(remaining, policy.l1_ttl) : Clock::duration(remaining);
  const std::string_view bytes = entry->bytes();
  l1_->set_for(full, Bytes(entry, bytes.data(), bytes.size()), lifetime, entry->footprint());
  // An invalidation between this entry's read and now: its eraser may have run before the set
  // above, so check again after it (the mark is always recorded before the erase).
  if (marks_.invalidated_since(entry->sequence, full, entry->envelope.tags)) l1_->erase(full);
}

EntryPtr Cache::Impl::entry_from(cache::Envelope envelope, detail::ErasedValue value,
                                 const detail::ErasedCodec& codec, std::uint64_t sequence) const {
  auto entry = std::make_shared<StoredEntry>();
  entry->value = std::move(value);
  entry->codec = &codec;
  entry->envelope = std::move(envelope);
  entry->sequence = sequence;
  return entry;
}

asio::awaitable<void> Cache::Impl::drop_corrupt(const std::string& full, std::string_view why) {
  metrics_.bump(cache::Count::corrupt_entries);
  metrics_.bump(cache::Count::errors);
  log_once(0, fmt::format("deleted an undecodable entry under \"{}\": {}", full, why));
  if (l2_) (void)co_await l2_->unlink(full);
  l1_->erase(full);
}

bool Cache::Impl::lookup_l1(Lookup& out, const std::string& full, const detail::ErasedCodec& codec,
                            const ReadPolicy& policy) {
  const Instant began = instant();
  const std::int64_t now = began.ms;
  out.now_ms = now;
  out.l2_began = began.real;
  if (policy.use_l1) {
    if (auto bytes = l1_->get(full)) {
      auto entry = std::static_pointer_cast<const StoredEntry>(bytes->owner());
      if (marks_.tags_invalidated_since(entry->sequence, entry->envelope.tags)) {
        l1_->erase(full);
      } else if (auto value = typed_value(*entry, codec)) {
        if (now < entry->envelope.fresh_until_ms) {
          out.set_fresh(std::move(entry), std::move(value), Source::l1);
        } else if (now < entry->envelope.stale_until_ms) {
          out.stale = std::move(entry);
          out.stale_value = std::move(value);
        }
      }
    }
    out.l2_began = std::chrono::steady_clock::now();
    metrics_.record(cache::Latency::l1, out.l2_began - began.real);
    if (out.fresh) return false;
  }
  return l2_ && policy.use_l2;
}

std::optional<std::string> Cache::Impl::accept_l2(Lookup& out, cache::RedisTier::Read&& read, const std::string& full,
                                                  const detail::ErasedCodec& codec, const ReadPolicy& policy,
                                                  std::uint64_t sequence, bool keep_entry) {
  metrics_.record(cache::Latency::l2, std::chrono::steady_clock::now() - out.l2_began);
  if (!read.ok) {
    out.l2_failed = true;
    return std::nullopt;
  }
  out.epoch = read.epoch;
  if (read.wrong_type) return "not a string value";
  if (!read.value) return std::nullopt;
  const auto inspected = envelopes_.inspect(*read.value, full);
  if (!inspected.ok) {
    if (inspected.error == cache::EnvelopeError::integrity) {
      log_once(1, fmt::format("entry under \"{}\" failed its integrity check: someone without the "
                              "secret wrote it; deleted",
                              full));
    }
    return std::string(cache::describe(inspected.error));
  }
  const auto& view = inspected.view;
  const std::int64_t now = out.now_ms;
  if (now >= view.stale_until_ms ||
      (marks_.epoch_may_invalidate(view.fill_epoch) && marks_.epoch_invalidates(view.fill_epoch, view.tags()))) {
    return std::nullopt;
  }
  const bool fresh = now < view.fresh_until_ms;
  const bool only_the_value = fresh && !keep_entry && !policy.use_l1;  // nobody needs the entry
  if (only_the_value && codec.value_is_bytes) {  // the payload is the caller's value as it is
    out.fresh_created_ms = view.created_ms;
    out.fresh_until_ms = view.fresh_until_ms;
    if (!envelopes_.take_payload(view, std::move(*read.value), out.fresh_bytes.emplace())) {
      out.fresh_bytes.reset();
      return std::string(cache::describe(cache::EnvelopeError::decompression));
    }
    out.fresh_source = Source::l2;
    return std::nullopt;
  }
  auto envelope = view.without_payload();  // before take_payload(): the view reads the reply
  if (!envelopes_.take_payload(view, std::move(*read.value), envelope.payload)) {
    return std::string(cache::describe(cache::EnvelopeError::decompression));
  }
  // A value that is its own bytes takes the payload over instead of copying it.
  auto value = codec.view ? codec.decode_owned(std::move(envelope.payload)) : codec.decode(envelope.payload);
  if (codec.view) envelope.payload.clear();
  if (!value) {
    return fmt::format("payload not accepted by codec \"{}\" (stored as \"{}\")", codec.name, envelope.codec);
  }
  if (only_the_value) {
    out.fresh_created_ms = envelope.created_ms;
    out.fresh_until_ms = envelope.fresh_until_ms;
    out.fresh_value = std::move(value);
    out.fresh_source = Source::l2;
    return std::nullopt;
  }
  auto entry = entry_from(std::move(envelope), value, codec, sequence);
  put_l1(full, entry, policy);
  if (fresh) {
    out.set_fresh(std::move(entry), std::move(value), Source::l2);
  } else if (!out.stale || out.stale->envelope.created_ms < entry->envelope.created_ms) {
    out.stale = std::move(entry);
    out.stale_value = std::move(value);
  }
  return std::nullopt;
}

asio::awaitable<Cache::Impl::Lookup> Cache::Impl::lookup(const std::string& full,
                                                         const detail::ErasedCodec& codec,
                                                         const Policy& policy, bool want_epoch) {
  Lookup out;
  if (lookup_l1(out, full, codec, policy)) co_await read_l2(out, full, codec, policy, marks_.sequence(), want_epoch, true);
  co_return out;
}

// Its own small coroutine: get_or_set's frame stays under the size Asio recycles (about 1 KiB),
// and the GET is the client's own awaitable (RedisTier::get adds no frame on the strand).
asio::awaitable<void> Cache::Impl::read_l2(Lookup& out, const std::string& full, const detail::ErasedCodec& codec,
                                           const ReadPolicy& policy, std::uint64_t sequence, bool want_epoch,
                                           bool keep_entry) {
  cache::RedisTier::Read read;
  if (want_epoch) {
    read = co_await l2_->read_with_epoch(full);
  } else {
    const asio::any_io_executor caller = co_await asio::this_coro::executor;
    auto reply = co_await l2_->get(full, caller);
    read = l2_->interpret(std::move(reply));
  }
  if (auto why = accept_l2(out, std::move(read), full, codec, policy, sequence, keep_entry)) {
    co_await drop_corrupt(full, *why);
  }
}

// ---------------------------------------------------------------------------------------------
// Bus

asio::awaitable<void> Cache::Impl::publish(Invalidation kind, std::uint64_t epoch, const std::string& argument) {
  if (!l2_ || !options_.bus) co_return;
  const auto sequence = ++bus_sequence_;
  std::string message = cache::format_bus_message({instance_, sequence, kind, epoch, argument});
  (void)co_await l2_->publish(std::move(message));
}

void Cache::Impl::drop_l1(std::string_view reason) {
  l1_->clear();
  generations_.forget_all();
  metrics_.bump(cache::Count::l1_clears);
  spdlog::info("strata cache: L1 cleared ({})", reason);
}

void Cache::Impl::on_recovered() {
  drop_l1("Redis is reachable again; invalidations may have been missed");
  if (!journal_.empty() && !replaying_.exchange(true)) {
    asio::co_spawn(executor_, replay_pending(), asio::detached);
  }
}

asio::awaitable<void> Cache::Impl::replay_pending() {
  auto self = shared_from_this();
  auto work = journal_.take();
  std::size_t done = 0;
  for (; done < work.size(); ++done) {
    Outcome ignored;
    if (!co_await invalidate_remote(work[done].kind, work[done].argument, &ignored)) break;
  }
  if (done < work.size()) {  // Redis failed again: keep the rest for the next recovery
    work.erase(work.begin(), work.begin() + static_cast<std::ptrdiff_t>(done));
    journal_.give_back(std::move(work));
  }
  if (done > 0) spdlog::info("strata cache: replayed {} invalidation(s) Redis missed", done);
  replaying_.store(false);
}

asio::awaitable<bool> Cache::Impl::invalidate_remote(Invalidation kind, std::string argument, Outcome* outcome) {
  const auto now = clock_->now();
  switch (kind) {
    case Invalidation::key: {
      auto epoch = co_await l2_->remove(argument);
      if (!epoch) co_return false;
      marks_.mark_key(argument, *epoch, now);
      co_await publish(Invalidation::key, *epoch, argument);
      co_return true;
    }
    case Invalidation::tag: {
      auto result = co_await l2_->invalidate_tag(argument, 500);
      if (result.epoch != 0) {
        marks_.mark_tag(argument, result.epoch, now);
        co_await publish(Invalidation::tag, result.epoch, argument);
      }
      outcome->affected += result.removed;
      co_return result.ok;
    }
    case Invalidation::name_space: {
      auto generation = co_await l2_->bump_generation(argument);
      if (!generation) co_return false;
      generations_.learn(argument, *generation);
      co_await publish(Invalidation::name_space, *generation, argument);
      co_return true;
    }
    case Invalidation::pattern: {
      auto result = co_await l2_->unlink_matching(argument, cache::kScanBatch);
      outcome->affected = std::max<std::uint64_t>(outcome->affected, result.removed);
      co_await publish(Invalidation::pattern, 0, argument);
      co_return result.ok;
    }
    case Invalidation::clear: {
      auto result = co_await l2_->clear(1000);
      outcome->affected = result.removed;
      if (result.epoch != 0) {
        marks_.mark_everything(result.epoch, now);
        co_await publish(Invalidation::clear, result.epoch, "");
      }
      co_return result.ok;
    }
  }
  co_return false;
}

void Cache::Impl::on_bus_message(const std::string& payload) {
  auto message = cache::parse_bus_message(payload);
  if (!message) {
    log_once(2, "ignored a malformed message on the invalidation bus");
    return;
  }
  if (message->instance == instance_) return;
  metrics_.bump(cache::Count::bus_messages);
  if (heard_.gap_before(*message)) {
    metrics_.bump(cache::Count::bus_gaps);
    drop_l1("a message on the invalidation bus was lost");
  }
  if (l2_) l2_->observe_epoch(message->epoch);
  const auto now = clock_->now();
  switch (message->kind) {
    case Invalidation::key:
      marks_.mark_key(message->argument, message->epoch, now);
      l1_->erase(message->argument);
      break;
    case Invalidation::tag: marks_.mark_tag(message->argument, message->epoch, now); break;
    case Invalidation::name_space: generations_.learn(message->argument, message->epoch); break;
    case Invalidation::pattern:
      l1_->erase_if([&](std::string_view key) { return cache::glob_match(message->argument, key); });
      break;
    case Invalidation::clear:
      marks_.mark_everything(message->epoch, now);
      l1_->clear();
      break;
  }
}

// ---------------------------------------------------------------------------------------------
// Cache

CacheOptions CacheOptions::from_env() {
  CacheOptions options;
  if (const char* url = std::getenv("REDIS_URL")) options.redis_url = url;
  return options;
}

Cache::Cache(asio::any_io_executor executor, CacheOptions options)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options))) {
  impl_->attach_redis();
}

Cache::~Cache() {
  (void)impl_->stop_loads();
  if (impl_->l2_) impl_->l2_->close();
}

std::shared_ptr<void> Cache::Impl::work_token() {
  {
    std::lock_guard lock(stop_mutex_);
    if (stopped_) return nullptr;
    ++loads_running_;
  }
  // Owns nothing: its deleter is the point, run when the last part of the load lets go.
  return std::shared_ptr<void>(static_cast<void*>(this), [self = shared_from_this()](void*) { self->end_work(); });
}

void Cache::Impl::end_work() {
  std::shared_ptr<cache::Flight<bool>> drained;
  {
    std::lock_guard lock(stop_mutex_);
    if (--loads_running_ == 0) drained = std::move(loads_drained_);
  }
  if (drained) drained->finish(true);
}

std::shared_ptr<cache::Flight<bool>> Cache::Impl::stop_loads() {
  std::lock_guard lock(stop_mutex_);
  stopped_ = true;
  if (loads_running_ == 0) return nullptr;
  if (!loads_drained_) loads_drained_ = std::make_shared<cache::Flight<bool>>();
  return loads_drained_;
}

asio::awaitable<void> Cache::stop() {
  auto impl = impl_;
  if (auto drained = impl->stop_loads()) (void)co_await drained->wait(std::nullopt);
  if (impl->l2_) impl->l2_->close();
}

const CacheOptions& Cache::options() const noexcept { return impl_->options_; }
bool Cache::redis_enabled() const noexcept { return impl_->l2_ != nullptr; }

asio::any_io_executor Cache::executor() const noexcept {
  return impl_->l2_ ? impl_->l2_->executor() : impl_->executor_;
}

asio::awaitable<bool> Cache::start() {
  if (!impl_->l2_) co_return true;
  co_return co_await impl_->l2_->start();
}

ReadPolicy Cache::Impl::read_policy(const EntryOptions& options) const {
  bool changed = false;
  const EntryDefaults policy = overridden(options_.defaults, options, &changed);
  // The defaults alone were validated when the cache was built.
  if (changed) validate(policy, options_, "EntryOptions");
  return policy;
}

asio::awaitable<std::optional<detail::ErasedFetch>> Cache::get_erased(const Key& key,
                                                                     const detail::ErasedCodec& codec,
                                                                     EntryOptions options) {
  auto impl = impl_;
  const Policy policy = resolve(impl->options_.defaults, std::move(options));
  std::string full = impl->generations_.entry_key(key);
  if (full.empty()) full = co_await impl->entry_key(key, policy.use_l2);
  auto found = co_await impl->lookup(full, codec, policy, false);
  if (!found.fresh) {
    impl->metrics_.bump(cache::Count::misses);
    co_return std::nullopt;
  }
  impl->metrics_.bump(found.fresh_source == Source::l1 ? cache::Count::l1_hits : cache::Count::l2_hits);
  const auto age = std::chrono::milliseconds(found.now_ms - found.fresh_created_ms);
  co_return detail::ErasedFetch{std::move(found.fresh_value), found.fresh_source, age, {}};
}

// ---------------------------------------------------------------------------------------------
// Reading through the cache, in steps (see Cache::Probe)

struct Cache::Probe::State {
  State(std::shared_ptr<Impl> owner, const ReadPolicy& read_policy)
      : impl(std::move(owner)), policy(read_policy) {}
  std::shared_ptr<Impl> impl;  // alive across the GET, whatever happens to the Cache meanwhile
  ReadPolicy policy;
  std::string full;  // the entry key; empty until known
  std::uint64_t sequence = 0;
  Impl::Lookup found;
  std::optional<std::string> corrupt;  // why the entry read from L2 must be deleted
};

Cache::Probe::State& Cache::Probe::state() noexcept {
  static_assert(sizeof(State) <= kStateBytes && alignof(State) <= 16, "Cache::Probe::kStateBytes is too small");
  return *std::launder(reinterpret_cast<State*>(storage_));
}

Cache::Probe::~Probe() {
  if (built_) state().~State();
}

Cache::Probe::Step Cache::Impl::judge(const Lookup& found, const ReadPolicy& policy) {
  if (!found.fresh_value && !found.fresh_bytes) return Probe::Step::miss;
  metrics_.bump(found.fresh_source == Source::l1 ? cache::Count::l1_hits : cache::Count::l2_hits);
  if (policy.eager_refresh > 0.0) {
    const auto lifetime = static_cast<double>(found.fresh_until_ms - found.fresh_created_ms);
    if (static_cast<double>(found.now_ms - found.fresh_created_ms) >= policy.eager_refresh * lifetime) {
      return Probe::Step::hit_refresh;
    }
  }
  return Probe::Step::hit;
}

Cache::Probe::Step Cache::begin_probe(Probe& probe, const Key& key, const detail::ErasedCodec& codec,
                                      const EntryOptions& options) {
  const ReadPolicy policy = impl_->read_policy(options);  // throws before anything is built
  new (probe.storage_) Probe::State(impl_, policy);
  probe.built_ = true;
  auto& state = probe.state();
  state.full = state.impl->generations_.entry_key(key);
  if (state.full.empty()) return Probe::Step::miss;  // serve_miss() learns the key first
  // The fill's invalidation epoch is read when a load starts (not with every lookup): a hit
  // then costs Redis one GET, as a raw client's would.
  state.sequence = state.impl->marks_.sequence();
  if (state.impl->lookup_l1(state.found, state.full, codec, state.policy)) return Probe::Step::read_l2;
  return state.impl->judge(state.found, state.policy);
}

// Its own coroutine, so that the reply lives in this frame, not in the probe that read_through's
// frame holds on every read.
asio::awaitable<Cache::Probe::Step> Cache::probe_l2(Probe& probe, const detail::ErasedCodec& codec,
                                                   const asio::any_io_executor& caller) {
  auto& state = probe.state();
  auto reply = co_await state.impl->l2_->get(state.full, caller);
  Impl& impl = *state.impl;
  state.corrupt = impl.accept_l2(state.found, impl.l2_->interpret(std::move(reply)), state.full, codec,
                                 state.policy, state.sequence, false);
  if (state.corrupt) co_return Probe::Step::miss;
  co_return impl.judge(state.found, state.policy);
}

void Cache::refresh(Probe& probe, const detail::ErasedCodec& codec, detail::LoaderRef loader,
                    const EntryOptions& options) {
  auto& state = probe.state();
  state.impl->refresh_eagerly(state.full, codec, loader.erase(loader.loader), options);
}

detail::ErasedFetch Cache::take_found(Probe& probe) {
  auto& found = probe.state().found;
  const auto age = std::chrono::milliseconds(found.now_ms - found.fresh_created_ms);
  detail::ErasedFetch hit{std::move(found.fresh_value), found.fresh_source, age, {}};
  if (found.fresh_bytes) hit.bytes = std::move(*found.fresh_bytes);
  return hit;
}

asio::awaitable<void> Cache::serve_miss(const Key& key, const detail::ErasedCodec& codec, detail::LoaderRef loader,
                                        const EntryOptions& options, Probe& probe) {
  auto& state = probe.state();
  auto impl = state.impl;
  if (state.full.empty()) {  // the namespace's generation was not known: the whole read, here
    state.full = co_await impl->entry_key(key, state.policy.use_l2);
    state.sequence = impl->marks_.sequence();
    if (impl->lookup_l1(state.found, state.full, codec, state.policy)) {
      co_await impl->read_l2(state.found, state.full, codec, state.policy, state.sequence, false, false);
    }
    const auto step = impl->judge(state.found, state.policy);
    if (step == Probe::Step::hit_refresh) refresh(probe, codec, loader, options);
    if (step != Probe::Step::miss) co_return;
  }
  if (state.corrupt) co_await impl->drop_corrupt(state.full, *state.corrupt);
  impl->metrics_.bump(cache::Count::misses);
  auto erased = loader.erase(loader.loader);
  auto served = co_await impl->serve_miss(key, codec, std::move(erased), options, std::move(state.full),
                                          state.sequence, std::move(state.found));
  // Handed out by take_found(), as a hit is: its age is now_ms - fresh_created_ms, now_ms being 0.
  state.found = Impl::Lookup{};
  state.found.fresh_value = std::move(served.value);
  state.found.fresh_source = served.source;
  state.found.fresh_created_ms = -std::chrono::duration_cast<std::chrono::milliseconds>(served.age).count();
}

asio::awaitable<Outcome> Cache::set_erased(const Key& key, const detail::ErasedCodec& codec,
                                           detail::ErasedValue value, EntryOptions options) {
  auto impl = impl_;
  const Policy policy = resolve(impl->options_.defaults, std::move(options));
  validate(policy, impl->options_, "EntryOptions");
  const std::string full = co_await impl->entry_key(key, policy.use_l2);
  // An explicit write supersedes every fill of this key that began before it.
  const auto sequence = impl->marks_.mark_key(full, 0, impl->clock_->now());
  auto entry = impl->new_entry(codec, std::move(value), impl->jittered(policy), policy.stale_ttl,
                               policy.tags, sequence);
  Outcome outcome;
  outcome.affected = 1;
  if (impl->l2_ && policy.use_l2) {
    entry->envelope.fill_epoch = impl->l2_->observed_epoch();
    auto stored = co_await impl->l2_->store(full, impl->encode_entry(*entry, full), entry->lifetime(),
                                            std::nullopt, entry->envelope.tags);
    if (stored != cache::RedisTier::StoreOutcome::stored) {
      outcome.error = CacheError::redis_unavailable;
      outcome.message = "Redis unavailable: the value is cached in this process only";
    }
  }
  impl->put_l1(full, entry, policy);
  impl->metrics_.bump(cache::Count::sets);
  co_await impl->publish(Invalidation::key, 0, full);
  co_return outcome;
}

asio::awaitable<Outcome> Cache::remove(Key key) {
  auto impl = impl_;
  const std::string full = co_await impl->entry_key(key, true);
  impl->marks_.mark_key(full, 0, impl->clock_->now());
  Outcome outcome;
  outcome.affected = impl->l1_->erase(full) ? 1 : 0;
  impl->metrics_.bump(cache::Count::deletes);
  if (impl->l2_ && !co_await impl->invalidate_remote(Invalidation::key, full, &outcome)) {
    impl->remember(Invalidation::key, full);
    outcome.error = CacheError::redis_unavailable;
    outcome.message = "Redis unavailable: removed from this process's L1; Redis follows when it answers again";
  }
  co_return outcome;
}

namespace {

// expire() and extend_ttl(): rewrite an entry's lifetimes in both tiers.
asio::awaitable<Outcome> change_lifetime(std::shared_ptr<Cache::Impl> impl, Key key,
                                         std::function<void(StoredEntry&, std::int64_t now)> change) {
  const std::string full = co_await impl->entry_key(key, true);
  Policy policy = resolve(impl->options_.defaults, {});
  // The codec does not matter here: the entry is rewritten byte for byte.
  const detail::ErasedCodec& codec = detail::erased_codec<std::string>();
  auto found = co_await impl->lookup(full, codec, policy, false);
  EntryPtr current = found.fresh ? found.fresh : found.stale;
  Outcome outcome;
  if (!current) co_return outcome;
  auto changed = std::make_shared<StoredEntry>(*current);
  const std::int64_t now = impl->now_ms();
  change(*changed, now);
  changed->sequence = impl->marks_.mark_key(full, 0, impl->clock_->now());
  outcome.affected = 1;
  if (impl->l2_) {
    const auto lifetime = std::chrono::milliseconds(changed->envelope.stale_until_ms - now);
    std::optional<bool> rewritten;
    if (lifetime > 0ms) {
      rewritten = co_await impl->l2_->rewrite(full, impl->encode_entry(*changed, full), lifetime);
    } else {
      rewritten = (co_await impl->l2_->remove(full)).has_value();
    }
    if (!rewritten) {
      outcome.error = CacheError::redis_unavailable;
      outcome.message = "Redis unavailable: changed in this process's L1 only";
    }
  }
  impl->l1_->erase(full);
  impl->put_l1(full, changed, policy);
  co_await impl->publish(Invalidation::key, 0, full);
  co_return outcome;
}

}  // namespace

asio::awaitable<Outcome> Cache::expire(Key key) {
  impl_->metrics_.bump(cache::Count::deletes);
  return change_lifetime(impl_, std::move(key), [](StoredEntry& entry, std::int64_t now) {
    entry.envelope.fresh_until_ms = std::min(entry.envelope.fresh_until_ms, now);
    entry.envelope.stale_until_ms = std::max(entry.envelope.stale_until_ms, entry.envelope.fresh_until_ms);
  });
}

asio::awaitable<Outcome> Cache::extend_ttl(Key key, Clock::duration ttl) {
  if (ttl <= Clock::duration::zero()) {
    throw std::invalid_argument("extend_ttl: ttl must be positive (use expire() or remove() to end an entry)");
  }
  return change_lifetime(impl_, std::move(key), [ttl](StoredEntry& entry, std::int64_t now) {
    const auto stale_window = entry.envelope.stale_until_ms - entry.envelope.fresh_until_ms;
    entry.envelope.fresh_until_ms = now + to_ms(ttl);
    entry.envelope.stale_until_ms = entry.envelope.fresh_until_ms + stale_window;
  });
}

asio::awaitable<Outcome> Cache::invalidate_tag(std::string tag) {
  std::vector<std::string> tags{std::move(tag)};
  co_return co_await invalidate_tags(std::move(tags));
}

asio::awaitable<Outcome> Cache::invalidate_tags(std::vector<std::string> tags) {
  auto impl = impl_;
  Outcome outcome;
  for (const auto& tag : tags) {
    impl->marks_.mark_tag(tag, 0, impl->clock_->now());
    impl->metrics_.bump(cache::Count::invalidations);
    if (impl->l2_ && !co_await impl->invalidate_remote(Invalidation::tag, tag, &outcome)) {
      impl->remember(Invalidation::tag, tag);
      outcome.error = CacheError::redis_unavailable;
      outcome.message = "Redis unavailable: tag \"" + tag +
                      "\" invalidated in this process; Redis follows when it answers again";
    }
  }
  co_return outcome;
}

asio::awaitable<Outcome> Cache::invalidate_user(std::string user_id) {
  co_return co_await invalidate_tag("user:" + user_id);
}

asio::awaitable<Outcome> Cache::invalidate_namespace(std::string name_space) {
  auto impl = impl_;
  impl->metrics_.bump(cache::Count::invalidations);
  Outcome outcome;
  if (impl->l2_) {
    if (co_await impl->invalidate_remote(Invalidation::name_space, name_space, &outcome)) co_return outcome;
    impl->remember(Invalidation::name_space, name_space);
    outcome.error = CacheError::redis_unavailable;
    outcome.message = "Redis unavailable: namespace \"" + name_space +
                    "\" invalidated in this process; Redis follows when it answers again";
  }
  impl->generations_.advance(name_space);
  co_return outcome;
}

asio::awaitable<Outcome> Cache::invalidate_pattern(std::string glob) {
  auto impl = impl_;
  const auto plan = cache::Keyspace::plan_pattern(glob);
  std::uint64_t generation = 0;
  if (plan.first_is_literal) generation = co_await impl->generation_of(plan.name_space, true);
  const std::string pattern = impl->keyspace_.entry_pattern(plan, generation);
  impl->metrics_.bump(cache::Count::invalidations);
  Outcome outcome;
  outcome.affected = impl->l1_->erase_if([&](std::string_view key) { return cache::glob_match(pattern, key); });
  if (impl->l2_ && !co_await impl->invalidate_remote(Invalidation::pattern, pattern, &outcome)) {
    impl->remember(Invalidation::pattern, pattern);
    outcome.error = CacheError::redis_incomplete;
    outcome.message = "Redis unavailable or failed during SCAN: the pattern is invalidated again when it answers";
  }
  co_return outcome;
}

asio::awaitable<Outcome> Cache::count_pattern(std::string glob) {
  auto impl = impl_;
  const auto plan = cache::Keyspace::plan_pattern(glob);
  std::uint64_t generation = 0;
  if (plan.first_is_literal) generation = co_await impl->generation_of(plan.name_space, true);
  const std::string pattern = impl->keyspace_.entry_pattern(plan, generation);
  Outcome outcome;
  if (!impl->l2_) {
    outcome.affected = impl->l1_->count_if([&](std::string_view key) { return cache::glob_match(pattern, key); });
    co_return outcome;
  }
  const auto counted = co_await impl->l2_->count_matching(pattern, cache::kScanBatch);
  if (!counted) {
    outcome.error = CacheError::redis_unavailable;
    outcome.message = "Redis unavailable or failed during SCAN: nothing counted";
  } else {
    outcome.affected = *counted;
  }
  co_return outcome;
}

asio::awaitable<Outcome> Cache::clear() {
  auto impl = impl_;
  impl->marks_.mark_everything(0, impl->clock_->now());
  impl->l1_->clear();
  impl->metrics_.bump(cache::Count::invalidations);
  Outcome outcome;
  if (impl->l2_ && !co_await impl->invalidate_remote(Invalidation::clear, "", &outcome)) {
    impl->remember(Invalidation::clear, "");
    outcome.error = CacheError::redis_unavailable;
    outcome.message = "Redis unavailable: cleared this process's L1; Redis follows when it answers again";
  }
  co_return outcome;
}

CacheStats Cache::stats() const {
  CacheStats out;
  impl_->metrics_.fill(out);
  out.uptime_seconds = std::chrono::duration<double>(impl_->clock_->now().time_since_epoch() -
                                                     Clock::duration(impl_->started_at_.load()))
                           .count();
  out.redis_enabled = impl_->l2_ != nullptr;
  out.redis_available = impl_->l2_ && impl_->l2_->available();
  const auto l1 = impl_->l1_->stats();
  out.l1_entries = l1.entries;
  out.l1_bytes = l1.bytes_used;
  out.l1_capacity_bytes = l1.capacity_bytes;
  out.l1_evictions = l1.evictions_by_size;
  out.l1_admission_rejections = l1.admission_rejections;
  return out;
}

void Cache::reset_stats() {
  impl_->metrics_.reset();
  impl_->l1_->reset_stats();
  impl_->started_at_.store(impl_->clock_->now().time_since_epoch().count());
}

asio::awaitable<std::optional<std::chrono::nanoseconds>> Cache::ping_redis() {
  if (!impl_->l2_) co_return std::nullopt;
  co_return co_await impl_->l2_->ping();
}

asio::awaitable<std::optional<std::string>> Cache::redis_info(std::string section) {
  if (!impl_->l2_) co_return std::nullopt;
  co_return co_await impl_->l2_->info(std::move(section));
}

}  // namespace strata
