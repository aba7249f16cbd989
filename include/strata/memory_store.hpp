#pragma once

#include <strata/bytes.hpp>
#include <strata/clock.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

namespace strata {

namespace memory {
class Shard;
}

enum class EvictionPolicy {
  // Window TinyLFU: a small LRU window admits newcomers into a segmented LRU main area only when
  // a frequency sketch says they are more popular than the entry they would displace.
  w_tinylfu,
  // Plain least-recently-used; the baseline W-TinyLFU is measured against.
  lru,
};

// Options for MemoryStore. Defaults suit a general-purpose L1; the constructor validates every
// field and throws std::invalid_argument naming the field, its value and the accepted range.
struct MemoryStoreOptions {
  // Upper bound, over all shards, on the sum of every entry's charge (key bytes + value bytes +
  // MemoryStore::kEntryOverhead). The store never holds more.
  std::size_t capacity_bytes = 64 * 1024 * 1024;

  EvictionPolicy policy = EvictionPolicy::w_tinylfu;

  // Independently locked shards, a power of two. Each shard gets capacity_bytes / shard_count,
  // which is also the largest charge one entry may have. 0 picks 16 per core (at most 128),
  // halved until every shard holds at least 1 MiB.
  std::size_t shard_count = 0;

  // W-TinyLFU only: initial share of each shard's bytes for the admission window, in (0, 1).
  double window_fraction = 0.01;
  // W-TinyLFU only: let the window grow and shrink with the hit rate (hill climbing, as in
  // Caffeine), so that recency-biased or shifting workloads are served as well as LRU would.
  bool adaptive_window = true;
  // W-TinyLFU only: share of the main area for entries hit at least twice, in [0, 1].
  double protected_fraction = 0.80;
  // W-TinyLFU only: typical entry charge, used to size the frequency sketch up front. The sketch
  // grows on its own when more entries than this predicts are resident.
  std::size_t expected_entry_bytes = 1024;

  // Expired entries a write reclaims from its shard before anything else (incremental sweep).
  std::size_t sweep_batch = 8;

  // Time source for expiry; null means strata::steady_clock().
  std::shared_ptr<const Clock> clock;

  // Seed of the admission tie-breaker (makes hash-flooding attacks on admission useless while
  // keeping runs reproducible).
  std::uint64_t seed = 0x5eed5eed5eed5eedULL;
};

struct MemoryStoreStats {
  std::uint64_t hits = 0;
  std::uint64_t misses = 0;
  std::uint64_t inserts = 0;    // new entries accepted
  std::uint64_t updates = 0;    // values replaced under an existing key
  std::uint64_t erases = 0;     // entries removed by erase()
  std::uint64_t rejected_too_large = 0;    // writes refused: charge above max_entry_bytes()
  std::uint64_t admission_rejections = 0;  // newcomers W-TinyLFU declined to keep
  std::uint64_t evictions_by_size = 0;     // resident entries evicted to make room
  std::uint64_t evictions_by_expiry = 0;   // expired entries reclaimed (on access or by sweep)
  std::size_t bytes_used = 0;
  std::size_t entries = 0;
  std::size_t capacity_bytes = 0;

  [[nodiscard]] double hit_ratio() const noexcept {
    const auto lookups = hits + misses;
    return lookups == 0 ? 0.0 : static_cast<double>(hits) / static_cast<double>(lookups);
  }
};

// The in-process tier (L1): a sharded, thread-safe, byte-bounded map from keys to immutable
// byte buffers with per-entry absolute expiry and W-TinyLFU (or LRU) eviction.
//
// A hit returns the stored Bytes (a reference count, no copy of the value). An entry is live
// while clock.now() < its expiry; an expired entry is never returned. Expired entries are
// reclaimed when touched, a few at a time by every write, and by sweep_expired(); nothing ever
// scans the whole store.
class MemoryStore {
public:
  using time_point = Clock::time_point;

  // Bytes charged per entry on top of its key and value: the node, its hash-table slot and the
  // value buffer's control block, rounded up. Verified against the real layout at compile time.
  static constexpr std::size_t kEntryOverhead = 192;

  explicit MemoryStore(MemoryStoreOptions options = {});
  ~MemoryStore();
  MemoryStore(const MemoryStore&) = delete;
  MemoryStore& operator=(const MemoryStore&) = delete;

  // The value stored under `key`, or nullopt when absent or expired.
  [[nodiscard]] std::optional<Bytes> get(std::string_view key);
  // The live value under `key` and when it expires, for introspection: unlike get() it counts
  // no hit or miss and does not tell the eviction policy the entry was used.
  struct Peeked {
    Bytes value;
    time_point expires_at;
  };
  [[nodiscard]] std::optional<Peeked> peek(std::string_view key) const;

  // Stores `value` under `key`, replacing any previous value, live until `expires_at` (forever
  // when nullopt). Returns false, and removes any previous value so it can never be served in
  // place of the new one, when the entry is already expired or its charge exceeds
  // max_entry_bytes(). Under W-TinyLFU an accepted newcomer may still be declined at admission.
  //
  // `footprint` is what keeping the value costs when that is more than its size: a Bytes that
  // views part of a larger owner (a decoded copy, an envelope) keeps all of it alive, and the
  // entry is charged for all of it (see strata/footprint.hpp). 0 charges the value's size.
  bool set(std::string_view key, Bytes value, std::optional<time_point> expires_at = std::nullopt,
           std::size_t footprint = 0);
  // set() with expiry `ttl` from now.
  bool set_for(std::string_view key, Bytes value, Clock::duration ttl, std::size_t footprint = 0);

  // Removes `key`; true if a live or expired entry was there.
  bool erase(std::string_view key);
  // Removes every entry whose key satisfies `matches` (called under a shard's lock: it must not
  // touch the store), visiting each shard in turn; returns how many. O(entries): for rare,
  // administrative removals such as pattern invalidation.
  std::size_t erase_if(const std::function<bool(std::string_view key)>& matches);
  // How many live entries erase_if(matches) would remove now. O(entries), like erase_if.
  [[nodiscard]] std::size_t count_if(const std::function<bool(std::string_view key)>& matches) const;
  // Removes every entry. Statistics and frequency history are kept.
  void clear();

  // Reclaims up to `max_entries` expired entries, visiting shards in turn; returns how many.
  std::size_t sweep_expired(std::size_t max_entries);

  [[nodiscard]] std::size_t size() const;
  [[nodiscard]] std::size_t bytes_used() const;
  [[nodiscard]] std::size_t capacity_bytes() const noexcept { return capacity_bytes_; }
  [[nodiscard]] std::size_t shard_count() const noexcept { return shard_count_; }
  // Largest charge a single entry may have (one shard's capacity).
  [[nodiscard]] std::size_t max_entry_bytes() const noexcept;
  [[nodiscard]] static constexpr std::size_t charge_of(std::size_t key_size, std::size_t value_size,
                                                       std::size_t footprint = 0) noexcept {
    return key_size + std::max(value_size, footprint) + kEntryOverhead;
  }

  [[nodiscard]] MemoryStoreStats stats() const;
  void reset_stats();

private:
  struct LockedShard;

  LockedShard& shard_for(std::uint64_t hash) const noexcept;
  // The write behind set() and set_for(), given the time they already read.
  bool store(std::string_view key, Bytes value, time_point expires_at, time_point now, std::size_t footprint);

  std::shared_ptr<const Clock> clock_;
  std::size_t capacity_bytes_ = 0;
  std::size_t shard_count_ = 0;
  unsigned shard_shift_ = 0;
  std::vector<std::unique_ptr<LockedShard>> shards_;
  std::atomic<std::size_t> sweep_cursor_{0};
};

}  // namespace strata
