#pragma once

// The state a Cache shares with its parts, and the steps it is composed of. cache.cpp holds the
// facade, entry keys, reading, invalidation and the bus; fill.cpp what follows a miss (single
// flight, the distributed lease, the loader, the store). Private to the cache layer.

#include <strata/cache.hpp>

#include "cache/bus_message.hpp"
#include "cache/envelope.hpp"
#include "cache/flight.hpp"
#include "cache/generations.hpp"
#include "cache/journal.hpp"
#include "cache/keyspace.hpp"
#include "cache/marks.hpp"
#include "cache/metrics.hpp"
#include "cache/policy.hpp"
#include "cache/redis_tier.hpp"
#include "cache/single_flight.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace strata {
namespace cache {

// One value as the cache holds it in L1: decoded, with what readers need to judge it.
// Keys asked for per SCAN (pattern invalidation and counting).
inline constexpr std::size_t kScanBatch = 1000;

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

inline std::int64_t to_ms(Clock::duration duration) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(duration).count();
}

}  // namespace cache

class Cache::Impl : public std::enable_shared_from_this<Cache::Impl> {
public:
  Impl(boost::asio::any_io_executor executor, CacheOptions options);
  void attach_redis();

  boost::asio::any_io_executor executor_;
  CacheOptions options_;
  std::shared_ptr<const Clock> clock_;
  bool real_clock_ = false;  // clock_ is the process's steady clock, not one injected by a test
  std::int64_t unix_offset_ms_ = 0;
  cache::Keyspace keyspace_;
  cache::EnvelopeCodec envelopes_;
  cache::Metrics metrics_;
  std::unique_ptr<MemoryStore> l1_;
  std::shared_ptr<cache::RedisTier> l2_;
  cache::InvalidationMarks marks_;
  std::atomic<Clock::duration::rep> started_at_;  // clock ticks, reset by reset_stats()
  const std::string instance_;  // names this process on the bus and in lease tokens

  cache::SingleFlight<cache::LoadResult> flights_;
  cache::Generations generations_{keyspace_};
  std::atomic<std::uint64_t> bus_sequence_{0};
  cache::SenderSequences heard_;
  std::mutex random_mutex_;
  std::mt19937_64 random_;
  std::atomic<std::uint64_t> lock_tokens_{0};
  std::array<std::atomic<bool>, 8> logged_{};

  // --- time ---
  [[nodiscard]] std::int64_t now_ms() const {
    return cache::to_ms(clock_->now().time_since_epoch()) + unix_offset_ms_;
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
    return {cache::to_ms(real.time_since_epoch()) + unix_offset_ms_, real};
  }

  // --- keys ---
  boost::asio::awaitable<std::uint64_t> generation_of(const std::string& name_space, bool use_l2);
  boost::asio::awaitable<std::string> entry_key(const Key& key, bool use_l2);

  // --- reading ---
  struct Lookup {
    cache::EntryPtr fresh;
    Source fresh_source = Source::l1;
    bool l2_failed = false;  // Redis did not answer the read in time: the load that follows leaves it out
    cache::EntryPtr stale;
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

    void set_fresh(cache::EntryPtr entry, detail::ErasedValue value, Source source) {
      fresh_created_ms = entry->envelope.created_ms;
      fresh_until_ms = entry->envelope.fresh_until_ms;
      fresh = std::move(entry);
      fresh_value = std::move(value);
      fresh_source = source;
    }
  };
  boost::asio::awaitable<Lookup> lookup(const std::string& full, const detail::ErasedCodec& codec,
                                 const cache::Policy& policy, bool want_epoch);
  boost::asio::awaitable<detail::ErasedFetch> serve_miss(const Key& key, const detail::ErasedCodec& codec,
                                                  detail::ErasedLoader loader, const EntryOptions& options,
                                                  std::string full, std::uint64_t sequence, Lookup found);
  // What get_or_set's hit path needs of the caller's options, validated (throws invalid_argument).
  cache::ReadPolicy read_policy(const EntryOptions& options) const;
  // A hit (counted) when `found` holds a fresh value, due for an eager refresh or not; else a miss.
  Probe::Step judge(const Lookup& found, const cache::ReadPolicy& policy);
  // Starts a background reload of a fresh entry past its eager-refresh point.
  void refresh_eagerly(const std::string& full, const detail::ErasedCodec& codec, detail::ErasedLoader loader,
                       const EntryOptions& options);
  // lookup() in parts, for get_or_set's hit path. lookup_l1 never suspends and says whether L2
  // must be asked; accept_l2 records L2's latency (since out.l2_began), judges its answer into
  // `out` and returns why the stored bytes must be deleted, when they must. Without keep_entry,
  // a fresh L2 value that L1 does not keep comes without its entry (only fresh_value and its
  // lifetimes).
  bool lookup_l1(Lookup& out, const std::string& full, const detail::ErasedCodec& codec, const cache::ReadPolicy& policy);
  // L2's part: the GET (with the invalidation epoch when asked for a fill), then accept_l2.
  boost::asio::awaitable<void> read_l2(Lookup& out, const std::string& full, const detail::ErasedCodec& codec,
                                const cache::ReadPolicy& policy, std::uint64_t sequence, bool want_epoch, bool keep_entry);
  std::optional<std::string> accept_l2(Lookup& out, cache::RedisTier::Read&& read, const std::string& full,
                                       const detail::ErasedCodec& codec, const cache::ReadPolicy& policy,
                                       std::uint64_t sequence, bool keep_entry);
  detail::ErasedValue typed_value(const cache::StoredEntry& entry, const detail::ErasedCodec& codec) const;
  void put_l1(const std::string& full, const cache::EntryPtr& entry, const cache::ReadPolicy& policy);
  cache::EntryPtr entry_from(cache::Envelope envelope, detail::ErasedValue value,
                      const detail::ErasedCodec& codec, std::uint64_t sequence) const;
  boost::asio::awaitable<void> drop_corrupt(const std::string& full, std::string_view why);

  // --- loading ---
  // `after_miss`: the caller missed; a load that finished since its lookup is reused instead of
  // starting another (false for eager refresh, which reloads a fresh value on purpose).
  std::shared_ptr<cache::LoadFlight> start_load(const std::string& full, const detail::ErasedCodec& codec,
                                         detail::ErasedLoader loader, const cache::Policy& policy,
                                         std::uint64_t sequence, std::optional<std::uint64_t> epoch,
                                         bool has_stale, bool after_miss, bool* leader,
                                         detail::ErasedValue previous = nullptr);
  // The fresh L1 entry for `full`, untouched by any invalidation since its fill began, as a load
  // result.
  std::optional<cache::LoadResult> fresh_in_l1(const std::string& full, const detail::ErasedCodec& codec,
                                        const cache::Policy& policy);
  boost::asio::awaitable<cache::LoadResult> attempt_load(std::string full, const detail::ErasedCodec* codec,
                                           detail::ErasedLoader loader, cache::Policy policy,
                                           std::uint64_t sequence, std::optional<std::uint64_t> epoch,
                                           bool has_stale, detail::ErasedValue previous,
                                           std::shared_ptr<void> running);
  boost::asio::awaitable<void> run_load(std::shared_ptr<cache::LoadFlight> flight, std::string flight_key,
                                 std::string full, const detail::ErasedCodec* codec,
                                 detail::ErasedLoader loader, cache::Policy policy, std::uint64_t sequence,
                                 std::optional<std::uint64_t> epoch, bool has_stale, detail::ErasedValue previous);
  boost::asio::awaitable<cache::LoadResult> wait_for_lease_holder(const std::string& full,
                                                    const detail::ErasedCodec& codec,
                                                    const cache::Policy& policy, bool* acquired,
                                                    std::string* token);
  boost::asio::awaitable<cache::EntryPtr> store_loaded(const std::string& full, const detail::ErasedCodec& codec,
                                         detail::ErasedValue value, const LoadContext& context,
                                         const cache::Policy& policy, std::uint64_t sequence,
                                         std::optional<std::uint64_t> epoch);
  std::string encode_entry(const cache::StoredEntry& entry, const std::string& full) const;
  // A new entry for `value`, created now: fresh for `ttl`, then stale for `stale_ttl`.
  std::shared_ptr<cache::StoredEntry> new_entry(const detail::ErasedCodec& codec, detail::ErasedValue value,
                                         Clock::duration ttl, Clock::duration stale_ttl,
                                         std::vector<std::string> tags, std::uint64_t sequence) const;
  Clock::duration jittered(const cache::Policy& policy);

  // --- invalidation and the bus ---
  // The Redis half of an invalidation. False when Redis could not be reached; the caller then
  // remembers it.
  boost::asio::awaitable<bool> invalidate_remote(cache::Invalidation kind, std::string argument, Outcome* outcome);
  // Invalidations Redis missed while unreachable, replayed when it answers again.
  void remember(cache::Invalidation kind, std::string argument) { journal_.remember(kind, std::move(argument)); }
  boost::asio::awaitable<void> replay_pending();
  cache::InvalidationJournal journal_{10000};
  std::atomic<bool> replaying_{false};

  boost::asio::awaitable<void> publish(cache::Invalidation kind, std::uint64_t epoch, const std::string& argument);
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

}  // namespace strata
