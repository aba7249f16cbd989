#include <strata/cache.hpp>

#include "cache/bus_message.hpp"
#include "cache/envelope.hpp"
#include "cache/flight.hpp"
#include "cache/journal.hpp"
#include "cache/keyspace.hpp"
#include "cache/marks.hpp"
#include "cache/metrics.hpp"
#include "cache/policy.hpp"
#include "cache/redis_tier.hpp"

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
#include <shared_mutex>
#include <unordered_map>
#include <utility>

namespace strata {
namespace asio = boost::asio;
using namespace std::chrono_literals;


namespace {

using cache::Invalidation;
using cache::Metrics;
using cache::normalize_tags;
using cache::overridden;
using cache::Policy;
using cache::ReadPolicy;
using cache::resolve;
using cache::validate;

// One value as the cache holds it in L1: decoded, with what readers need to judge it.
struct StoredEntry {
  detail::ErasedValue value;
  const detail::ErasedCodec* codec = nullptr;  // the value's
  // What L2 stores: lifetimes, tags, fill epoch, and the codec's bytes (in envelope.payload,
  // unless the value is its own bytes: then the payload stays empty and bytes() views the value).
  cache::Envelope envelope;
  std::uint64_t sequence = 0;  // local invalidation sequence when its data was read

  // The encoded value: L1's charge, what L2 stores, and how the entry is read as another type.
  [[nodiscard]] std::string_view bytes() const {
    return codec->view ? codec->view(value.get()) : std::string_view(envelope.payload);
  }

  // What keeping it costs: the entry, its envelope and the decoded value (L1's charge).
  [[nodiscard]] std::size_t footprint() const {
    std::size_t total = shared_object_bytes<StoredEntry>() + heap_bytes(envelope.codec) + heap_bytes(envelope.payload) +
                        allocation_bytes(envelope.tags.capacity() * sizeof(std::string));
    for (const auto& tag : envelope.tags) total += heap_bytes(tag);
    return total + codec->footprint(value.get(), bytes().size());
  }

  // How long Redis keeps it: its whole life, fresh and stale.
  [[nodiscard]] std::chrono::milliseconds lifetime() const {
    return std::chrono::milliseconds(envelope.stale_until_ms - envelope.created_ms);
  }
};
using EntryPtr = std::shared_ptr<const StoredEntry>;

struct LoadResult {
  detail::ErasedValue value;
  EntryPtr entry;  // what was stored, if anything
  Source source = Source::loader;
  std::exception_ptr error;
  bool timed_out = false;
};
using LoadFlight = cache::Flight<LoadResult>;

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

// The entry-key heads this thread used last, so that a read finds its namespace's head without
// the generations lock and map (~30 ns of a hit): valid while the cache's table is unchanged.
struct KeyHeadMemo {
  std::uint64_t cache = 0;    // Impl::serial_: unlike an address, never reused
  std::uint64_t version = 0;  // Impl::generations_version_ when the head was read
  std::string name_space;
  std::string head;
};
struct KeyHeadMemos {
  std::array<KeyHeadMemo, 4> slots;
  std::size_t next = 0;
};
thread_local KeyHeadMemos key_head_memos;
std::atomic<std::uint64_t> cache_serials{0};

std::int64_t to_ms(Clock::duration duration) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
}

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

class Cache::Impl : public std::enable_shared_from_this<Cache::Impl> {
public:
  Impl(asio::any_io_executor executor, CacheOptions options);
  void attach_redis();

  asio::any_io_executor executor_;
  CacheOptions options_;
  std::shared_ptr<const Clock> clock_;
  bool real_clock_ = false;  // clock_ is the process's steady clock, not one injected by a test
  std::int64_t unix_offset_ms_ = 0;
  cache::Keyspace keyspace_;
  cache::EnvelopeCodec envelopes_;
  Metrics metrics_;
  std::unique_ptr<MemoryStore> l1_;
  std::shared_ptr<cache::RedisTier> l2_;
  cache::InvalidationMarks marks_;
  std::atomic<Clock::duration::rep> started_at_;  // clock ticks, reset by reset_stats()
  const std::string instance_ = random_token();

  std::mutex flights_mutex_;
  struct FlightSlot {
    std::shared_ptr<LoadFlight> flight;
    std::uint64_t sequence = 0;  // when its load began
    std::vector<std::string> tags;
  };
  std::unordered_map<std::string, FlightSlot> flights_;
  std::shared_mutex generations_mutex_;  // read on misses and writes, written on invalidations
  // Bumped, with generations_mutex_ held, whenever generations_ changes: a thread's memo of a key
  // head (KeyHeadMemo) counts only while it is unchanged.
  std::atomic<std::uint64_t> generations_version_{0};
  const std::uint64_t serial_ = ++cache_serials;
  // Each namespace's generation, with the head of its entry keys (prefix, escaped namespace and
  // generation) built once per generation rather than on every call.
  struct KnownGeneration {
    std::uint64_t generation = 0;
    std::string key_head;
  };
  std::unordered_map<std::string, KnownGeneration> generations_;
  // With generations_mutex_ held: `known` (the entry of `name_space`) moves to `generation`.
  void set_generation(KnownGeneration& known, std::string_view name_space, std::uint64_t generation);
  std::atomic<std::uint64_t> bus_sequence_{0};
  cache::SenderSequences heard_;
  std::mutex random_mutex_;
  std::mt19937_64 random_;
  std::atomic<std::uint64_t> lock_tokens_{0};
  std::array<std::atomic<bool>, 8> logged_{};

  // --- time ---
  [[nodiscard]] std::int64_t now_ms() const {
    return to_ms(clock_->now().time_since_epoch()) + unix_offset_ms_;
  }
  // The time a lookup judges freshness at, and the real time its latencies start from. With the
  // default clock both come from one reading: a clock read costs ~17 ns, a tenth of what an L2
  // hit adds to a raw GET.
  struct Instant {
    std::int64_t ms;
    std::chrono::steady_clock::time_point real;
  };
  [[nodiscard]] Instant instant() const {
    const auto real = std::chrono::steady_clock::now();
    if (!real_clock_) return {now_ms(), real};
    return {to_ms(real.time_since_epoch()) + unix_offset_ms_, real};
  }

  // --- keys ---
  asio::awaitable<std::uint64_t> generation_of(const std::string& name_space, bool use_l2);
  asio::awaitable<std::string> entry_key(const Key& key, bool use_l2);
  // Without suspending: known once the namespace was seen, so the read paths skip two
  // coroutine frames per hit.
  std::optional<std::uint64_t> known_generation(const std::string& name_space);
  // Empty when the namespace's generation is not known yet (entry keys are never empty).
  std::string known_entry_key(const Key& key);
  void learn_generation(const std::string& name_space, std::uint64_t generation);

  // --- reading ---
  struct Lookup {
    EntryPtr fresh;
    Source fresh_source = Source::l1;
    bool l2_failed = false;  // Redis did not answer the read in time: the load that follows leaves it out
    EntryPtr stale;
    detail::ErasedValue fresh_value;
    // Instead of fresh_value, for a ValueIsBytes type's L2 hit that L1 does not keep: the value.
    std::optional<std::string> fresh_bytes;
    detail::ErasedValue stale_value;
    std::optional<std::uint64_t> epoch;  // read with the L2 miss, for a fill's stale-set guard
    std::int64_t now_ms = 0;             // when the lookup began: what freshness was judged at
    std::chrono::steady_clock::time_point l2_began;  // real time the L2 read began (L1's end)
    // The fresh value's lifetimes; set with fresh_value, also when `fresh` was not kept.
    std::int64_t fresh_created_ms = 0;
    std::int64_t fresh_until_ms = 0;

    void set_fresh(EntryPtr entry, detail::ErasedValue value, Source source) {
      fresh_created_ms = entry->envelope.created_ms;
      fresh_until_ms = entry->envelope.fresh_until_ms;
      fresh = std::move(entry);
      fresh_value = std::move(value);
      fresh_source = source;
    }
  };
  asio::awaitable<Lookup> lookup(const std::string& full, const detail::ErasedCodec& codec,
                                 const Policy& policy, bool want_epoch);
  asio::awaitable<detail::ErasedFetch> serve_miss(const Key& key, const detail::ErasedCodec& codec,
                                                  detail::ErasedLoader loader, const EntryOptions& options,
                                                  std::string full, std::uint64_t sequence, Lookup found);
  // What get_or_set's hit path needs of the caller's options, validated (throws invalid_argument).
  ReadPolicy read_policy(const EntryOptions& options) const;
  // A hit (counted) when `found` holds a fresh value, due for an eager refresh or not; else a miss.
  Probe::Step judge(const Lookup& found, const ReadPolicy& policy);
  // Starts a background reload of a fresh entry past its eager-refresh point.
  void refresh_eagerly(const std::string& full, const detail::ErasedCodec& codec, detail::ErasedLoader loader,
                       const EntryOptions& options);
  // lookup() in parts, for get_or_set's hit path. lookup_l1 never suspends and says whether L2
  // must be asked; accept_l2 records L2's latency (since out.l2_began), judges its answer into
  // `out` and returns why the stored bytes must be deleted, when they must. Without keep_entry,
  // a fresh L2 value that L1 does not keep comes without its entry (only fresh_value and its
  // lifetimes).
  bool lookup_l1(Lookup& out, const std::string& full, const detail::ErasedCodec& codec, const ReadPolicy& policy);
  // L2's part: the GET (with the invalidation epoch when asked for a fill), then accept_l2.
  asio::awaitable<void> read_l2(Lookup& out, const std::string& full, const detail::ErasedCodec& codec,
                                const ReadPolicy& policy, std::uint64_t sequence, bool want_epoch, bool keep_entry);
  std::optional<std::string> accept_l2(Lookup& out, cache::RedisTier::Read&& read, const std::string& full,
                                       const detail::ErasedCodec& codec, const ReadPolicy& policy,
                                       std::uint64_t sequence, bool keep_entry);
  detail::ErasedValue typed_value(const StoredEntry& entry, const detail::ErasedCodec& codec) const;
  void put_l1(const std::string& full, const EntryPtr& entry, const ReadPolicy& policy);
  EntryPtr entry_from(cache::Envelope envelope, detail::ErasedValue value,
                      const detail::ErasedCodec& codec, std::uint64_t sequence) const;
  asio::awaitable<void> drop_corrupt(const std::string& full, std::string_view why);

  // --- loading ---
  // `after_miss`: the caller missed; a load that finished since its lookup is reused instead of
  // starting another (false for eager refresh, which reloads a fresh value on purpose).
  std::shared_ptr<LoadFlight> start_load(const std::string& full, const detail::ErasedCodec& codec,
                                         detail::ErasedLoader loader, const Policy& policy,
                                         std::uint64_t sequence, std::optional<std::uint64_t> epoch,
                                         bool has_stale, bool after_miss, bool* leader,
                                         detail::ErasedValue previous = nullptr);
  // The fresh L1 entry for `full`, untouched by any invalidation since its fill began, as a load
  // result.
  std::optional<LoadResult> fresh_in_l1(const std::string& full, const detail::ErasedCodec& codec,
                                        const Policy& policy);
  asio::awaitable<LoadResult> attempt_load(std::string full, const detail::ErasedCodec* codec,
                                           detail::ErasedLoader loader, Policy policy,
                                           std::uint64_t sequence, std::optional<std::uint64_t> epoch,
                                           bool has_stale, detail::ErasedValue previous,
                                           std::shared_ptr<void> running);
  asio::awaitable<void> run_load(std::shared_ptr<LoadFlight> flight, std::string flight_key,
                                 std::string full, const detail::ErasedCodec* codec,
                                 detail::ErasedLoader loader, Policy policy, std::uint64_t sequence,
                                 std::optional<std::uint64_t> epoch, bool has_stale, detail::ErasedValue previous);
  asio::awaitable<LoadResult> wait_for_lease_holder(const std::string& full,
                                                    const detail::ErasedCodec& codec,
                                                    const Policy& policy, bool* acquired,
                                                    std::string* token);
  asio::awaitable<EntryPtr> store_loaded(const std::string& full, const detail::ErasedCodec& codec,
                                         detail::ErasedValue value, const LoadContext& context,
                                         const Policy& policy, std::uint64_t sequence,
                                         std::optional<std::uint64_t> epoch);
  std::string encode_entry(const StoredEntry& entry, const std::string& full) const;
  // A new entry for `value`, created now: fresh for `ttl`, then stale for `stale_ttl`.
  std::shared_ptr<StoredEntry> new_entry(const detail::ErasedCodec& codec, detail::ErasedValue value,
                                         Clock::duration ttl, Clock::duration stale_ttl,
                                         std::vector<std::string> tags, std::uint64_t sequence) const;
  Clock::duration jittered(const Policy& policy);

  // --- invalidation and the bus ---
  // The Redis half of an invalidation. False when Redis could not be reached; the caller then
  // remembers it.
  asio::awaitable<bool> invalidate_remote(Invalidation kind, std::string argument, Outcome* outcome);
  // Invalidations Redis missed while unreachable, replayed when it answers again.
  void remember(Invalidation kind, std::string argument) { journal_.remember(kind, std::move(argument)); }
  asio::awaitable<void> replay_pending();
  cache::InvalidationJournal journal_{10000};
  std::atomic<bool> replaying_{false};

  asio::awaitable<void> publish(Invalidation kind, std::uint64_t epoch, const std::string& argument);
  void on_bus_message(const std::string& payload);
  void on_recovered();
  void drop_l1(std::string_view reason);

  // --- stopping ---
  // A load (its lease, loader and store) starts only while the cache runs: work_token() is null
  // once stopped, and the load holds it until its last part ends (the loader may outlive the
  // rest after a hard timeout), so that stop() can wait for the loads running.
  std::shared_ptr<void> work_token();
  void end_work();
  // Marks the cache stopped; the flight to await when loads are still running, else null.
  std::shared_ptr<cache::Flight<bool>> stop_loads();
  std::mutex stop_mutex_;
  bool stopped_ = false;
  std::size_t loads_running_ = 0;
  std::shared_ptr<cache::Flight<bool>> loads_drained_;

  void log_once(std::size_t slot, std::string_view what) {
    if (!logged_[slot % logged_.size()].exchange(true)) {
      spdlog::warn("strata cache: {} (further occurrences are counted in stats, not logged)", what);
    }
  }
};

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

std::optional<std::uint64_t> Cache::Impl::known_generation(const std::string& name_space) {
  std::shared_lock lock(generations_mutex_);
  if (auto it = generations_.find(name_space); it != generations_.end()) return it->second.generation;
  return std::nullopt;
}

std::string Cache::Impl::known_entry_key(const Key& key) {
  // Read before the lock: a memo remembered under a later table carries an older version and is
  // refreshed on its next use, never trusted past a change.
  const std::uint64_t version = generations_version_.load(std::memory_order_acquire);
  auto& memos = key_head_memos;
  for (const KeyHeadMemo& memo : memos.slots) {
    if (memo.cache == serial_ && memo.version == version && memo.name_space == key.name_space()) {
      return cache::Keyspace::entry_under(memo.head, key);
    }
  }
  std::shared_lock lock(generations_mutex_);
  const auto it = generations_.find(key.name_space());
  if (it == generations_.end()) return {};
  KeyHeadMemo& memo = memos.slots[memos.next++ % memos.slots.size()];
  memo.cache = serial_;
  memo.version = version;
  memo.name_space = key.name_space();
  memo.head = it->second.key_head;
  return cache::Keyspace::entry_under(it->second.key_head, key);
}

void Cache::Impl::set_generation(KnownGeneration& known, std::string_view name_space, std::uint64_t generation) {
  if (!known.key_head.empty() && known.generation == generation) return;
  known.generation = generation;
  known.key_head = keyspace_.entry_head(name_space, generation);
  generations_version_.fetch_add(1, std::memory_order_release);
}

asio::awaitable<std::uint64_t> Cache::Impl::generation_of(const std::string& name_space, bool use_l2) {
  std::optional<std::uint64_t> generation = known_generation(name_space);
  if (generation) co_return *generation;
  if (!l2_) {  // this process keeps the only count: it starts at 0, and known, reads skip this
    learn_generation(name_space, 0);
    co_return 0;
  }
  if (use_l2) {
    generation = co_await l2_->generation(name_space);
    if (generation) learn_generation(name_space, *generation);
  }
  co_return generation.value_or(0);  // unknown while Redis is unreachable: not remembered
}

asio::awaitable<std::string> Cache::Impl::entry_key(const Key& key, bool use_l2) {
  co_return keyspace_.entry(key, co_await generation_of(key.name_space(), use_l2));
}

void Cache::Impl::learn_generation(const std::string& name_space, std::uint64_t generation) {
  std::lock_guard lock(generations_mutex_);
  auto& known = generations_[name_space];  // a new entry starts at generation 0
  set_generation(known, name_space, std::max(known.generation, generation));
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
// Loading

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
  std::shared_ptr<LoadFlight> flight;
  {
    std::lock_guard lock(flights_mutex_);
    auto& slot = flights_[flight_key];
    // A load that began before an invalidation of this key may return old data: callers that
    // arrive after the invalidation start a new one instead of joining it.
    if (slot.flight && !marks_.invalidated_since(slot.sequence, full, policy.tags)) {
      *leader = false;
      return slot.flight;
    }
    // The load this caller missed may have finished between its lookup and now (it stores, then
    // leaves this map): its value is in L1, and loading again would be a second load.
    if (after_miss) {
      if (auto done = fresh_in_l1(full, codec, policy)) {
        if (!slot.flight) flights_.erase(flight_key);
        *leader = false;
        auto finished = std::make_shared<LoadFlight>();
        finished->finish(std::move(*done));
        return finished;
      }
    }
    flight = std::make_shared<LoadFlight>();
    slot = FlightSlot{flight, sequence, policy.tags};
  }
  *leader = true;
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
  {
    std::lock_guard lock(flights_mutex_);
    if (auto it = flights_.find(flight_key); it != flights_.end() && it->second.flight == flight) {
      flights_.erase(it);
    }
  }
  flight->finish(std::move(result));
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
  {
    std::lock_guard lock(generations_mutex_);
    generations_.clear();
    generations_version_.fetch_add(1, std::memory_order_release);
  }
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
      learn_generation(argument, *generation);
      co_await publish(Invalidation::name_space, *generation, argument);
      co_return true;
    }
    case Invalidation::pattern: {
      auto result = co_await l2_->unlink_matching(argument, 1000);
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
    case Invalidation::name_space: learn_generation(message->argument, message->epoch); break;
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

asio::awaitable<std::optional<detail::ErasedFetch>> Cache::get_erased(const Key& key,
                                                                     const detail::ErasedCodec& codec,
                                                                     EntryOptions options) {
  auto impl = impl_;
  const Policy policy = resolve(impl->options_.defaults, std::move(options));
  std::string full = impl->known_entry_key(key);
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
  state.full = state.impl->known_entry_key(key);
  if (state.full.empty()) return Probe::Step::miss;  // serve_miss() learns the key first
  // The fill's invalidation epoch is read when a load starts (not with every lookup): a hit
  // then costs Redis one GET, as a raw client's would.
  state.sequence = state.impl->marks_.sequence();
  if (state.impl->lookup_l1(state.found, state.full, codec, state.policy)) return Probe::Step::read_l2;
  return state.impl->judge(state.found, state.policy);
}

asio::awaitable<redis::Result<redis::Reply>> Cache::probe_get(Probe& probe, const asio::any_io_executor& caller) {
  auto& state = probe.state();
  return state.impl->l2_->get(state.full, caller);
}

Cache::Probe::Step Cache::settle(Probe& probe, const detail::ErasedCodec& codec,
                                 redis::Result<redis::Reply>&& reply) {
  auto& state = probe.state();
  Impl& impl = *state.impl;
  state.corrupt = impl.accept_l2(state.found, impl.l2_->interpret(std::move(reply)), state.full, codec,
                                 state.policy, state.sequence, false);
  if (state.corrupt) return Probe::Step::miss;
  return impl.judge(state.found, state.policy);
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
  {
    std::lock_guard lock(impl->generations_mutex_);
    auto& known = impl->generations_[name_space];  // a new entry starts at generation 0
    impl->set_generation(known, name_space, known.generation + 1);
  }
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
  out.l1_entries = impl_->l1_->size();
  out.l1_bytes = impl_->l1_->bytes_used();
  return out;
}

void Cache::reset_stats() {
  impl_->metrics_.reset();
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
