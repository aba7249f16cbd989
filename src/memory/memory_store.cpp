#include <strata/memory_store.hpp>

#include "memory/shard.hpp"
#include "memory/shard_lock.hpp"

#include <algorithm>
#include <bit>
#include <mutex>  // std::lock_guard
#include <new>
#include <stdexcept>
#include <string>
#include <thread>

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace strata {
namespace {

constexpr std::size_t kMaxShards = 1024;
constexpr std::size_t kMaxAutoShards = 128;
constexpr std::size_t kMinAutoShardBytes = 1024 * 1024;

// kEntryOverhead is a promise about memory use; keep it true if Node grows. Per entry: the node
// (key bytes are charged separately), its malloc header, an index slot of 16 bytes at a load
// factor as low as 3/8 just after growth, and the value buffer's control block and header.
constexpr std::size_t kMallocHeader = 16;
constexpr std::size_t kIndexSlotsPerEntry = 43;  // 16 / (3 / 8) rounded up, in bytes
constexpr std::size_t kValueControlBlock = 16 + kMallocHeader;
static_assert(sizeof(memory::Node) + kMallocHeader + kIndexSlotsPerEntry + kValueControlBlock <=
                  MemoryStore::kEntryOverhead,
              "MemoryStore::kEntryOverhead no longer covers the per-entry bookkeeping");

[[noreturn]] void invalid_option(const std::string& field, const std::string& value,
                                 const std::string& how_to_fix) {
  throw std::invalid_argument("MemoryStoreOptions." + field + " = " + value + " is invalid: " +
                              how_to_fix);
}

void validate(const MemoryStoreOptions& options) {
  if (options.capacity_bytes < MemoryStore::kEntryOverhead + 1) {
    invalid_option("capacity_bytes", std::to_string(options.capacity_bytes),
                   "it must hold at least one entry; use at least " +
                       std::to_string(MemoryStore::kEntryOverhead + 1) + " bytes");
  }
  if (options.shard_count != 0) {
    if (!std::has_single_bit(options.shard_count) || options.shard_count > kMaxShards) {
      invalid_option("shard_count", std::to_string(options.shard_count),
                     "use a power of two up to " + std::to_string(kMaxShards) +
                         ", or 0 to choose from the core count");
    }
    if (options.capacity_bytes / options.shard_count <= MemoryStore::kEntryOverhead) {
      invalid_option("shard_count", std::to_string(options.shard_count),
                     "each shard would be too small to hold an entry; use fewer shards or a "
                     "larger capacity_bytes");
    }
  }
  if (options.policy == EvictionPolicy::w_tinylfu) {
    if (!(options.window_fraction > 0.0 && options.window_fraction < 1.0)) {
      invalid_option("window_fraction", std::to_string(options.window_fraction),
                     "use a fraction strictly between 0 and 1 (default 0.01)");
    }
    if (!(options.protected_fraction >= 0.0 && options.protected_fraction <= 1.0)) {
      invalid_option("protected_fraction", std::to_string(options.protected_fraction),
                     "use a fraction between 0 and 1 (default 0.8)");
    }
    if (options.expected_entry_bytes == 0) {
      invalid_option("expected_entry_bytes", "0", "use a typical entry size, e.g. 1024");
    }
  }
}

std::size_t choose_shard_count(const MemoryStoreOptions& options) {
  if (options.shard_count != 0) return options.shard_count;
  const std::size_t cores = std::max(1U, std::thread::hardware_concurrency());
  // Many more shards than cores, so that two threads rarely want the same lock.
  std::size_t shards = std::min<std::size_t>(kMaxAutoShards, std::bit_ceil(16 * cores));
  while (shards > 1 && options.capacity_bytes / shards < kMinAutoShardBytes) shards /= 2;
  return shards;
}

std::uint64_t hash_key(std::string_view key) noexcept {
  return XXH3_64bits(key.data(), key.size());
}

// Visits every shard under its own lock, one at a time (never all locks at once).
template <typename LockedShards, typename Visitor>
void for_each_locked(LockedShards& shards, Visitor&& visit) {
  for (auto& locked : shards) {
    std::lock_guard lock(locked->mutex);
    visit(locked->shard);
  }
}

}  // namespace

// Each shard on its own cache lines, so two cores working on neighbouring shards do not
// invalidate each other's lock word.
// libstdc++ defines the interference sizes for GCC only; clang (the fuzz build) gets the x86-64
// and AArch64 line size.
#ifdef __cpp_lib_hardware_interference_size
inline constexpr std::size_t kShardAlignment = std::hardware_destructive_interference_size;
#else
inline constexpr std::size_t kShardAlignment = 64;
#endif

struct alignas(kShardAlignment) MemoryStore::LockedShard {
  explicit LockedShard(const memory::ShardConfig& config) : shard(config) {}
  memory::ShardLock mutex;
  memory::Shard shard;
};

MemoryStore::MemoryStore(MemoryStoreOptions options) {
  validate(options);
  clock_ = options.clock ? std::move(options.clock) : steady_clock();
  capacity_bytes_ = options.capacity_bytes;
  shard_count_ = choose_shard_count(options);
  shard_shift_ = static_cast<unsigned>(64 - std::countr_zero(shard_count_));

  memory::ShardConfig config;
  config.capacity_bytes = capacity_bytes_ / shard_count_;
  config.policy = options.policy;
  config.window_fraction = options.window_fraction;
  config.adaptive_window = options.adaptive_window;
  config.protected_fraction = options.protected_fraction;
  config.expected_entry_bytes = options.expected_entry_bytes;
  config.sweep_batch = options.sweep_batch;

  shards_.reserve(shard_count_);
  for (std::size_t i = 0; i < shard_count_; ++i) {
    config.seed = options.seed + 0x9e3779b97f4a7c15ULL * (i + 1);
    shards_.push_back(std::make_unique<LockedShard>(config));
  }
}

MemoryStore::~MemoryStore() = default;

MemoryStore::LockedShard& MemoryStore::shard_for(std::uint64_t hash) const noexcept {
  // The top bits pick the shard; the hash table inside uses the low bits.
  const std::size_t index = shard_shift_ >= 64 ? 0 : static_cast<std::size_t>(hash >> shard_shift_);
  return *shards_[index];
}

std::optional<Bytes> MemoryStore::get(std::string_view key) {
  const std::uint64_t hash = hash_key(key);
  LockedShard& locked = shard_for(hash);
  locked.shard.prefetch(hash);
  const auto now = clock_->now();
  std::lock_guard lock(locked.mutex);
  return locked.shard.get(key, hash, now);
}

std::optional<MemoryStore::Peeked> MemoryStore::peek(std::string_view key) const {
  const std::uint64_t hash = hash_key(key);
  LockedShard& locked = shard_for(hash);
  const auto now = clock_->now();
  std::lock_guard lock(locked.mutex);
  auto found = locked.shard.peek(key, hash, now);
  if (!found) return std::nullopt;
  return Peeked{std::move(found->first), found->second};
}

bool MemoryStore::set(std::string_view key, Bytes value, std::optional<time_point> expires_at,
                      std::size_t footprint) {
  return store(key, std::move(value), expires_at.value_or(memory::kNever), clock_->now(), footprint);
}

bool MemoryStore::set_for(std::string_view key, Bytes value, Clock::duration ttl, std::size_t footprint) {
  const auto now = clock_->now();
  // Saturate instead of overflowing for very long TTLs.
  const auto expires_at = ttl >= memory::kNever - now ? memory::kNever : now + ttl;
  return store(key, std::move(value), expires_at, now, footprint);
}

bool MemoryStore::store(std::string_view key, Bytes value, time_point expires_at, time_point now,
                        std::size_t footprint) {
  const std::uint64_t hash = hash_key(key);
  LockedShard& locked = shard_for(hash);
  std::lock_guard lock(locked.mutex);
  return locked.shard.set(key, hash, std::move(value), expires_at, now, footprint);
}

bool MemoryStore::erase(std::string_view key) {
  const std::uint64_t hash = hash_key(key);
  LockedShard& locked = shard_for(hash);
  std::lock_guard lock(locked.mutex);
  return locked.shard.erase(key, hash);
}

std::size_t MemoryStore::erase_if(const std::function<bool(std::string_view key)>& matches) {
  std::size_t erased = 0;
  for_each_locked(shards_, [&](memory::Shard& shard) { erased += shard.erase_if(matches); });
  return erased;
}

std::size_t MemoryStore::count_if(const std::function<bool(std::string_view key)>& matches) const {
  const auto now = clock_->now();
  std::size_t count = 0;
  for_each_locked(shards_, [&](const memory::Shard& shard) { count += shard.count_if(matches, now); });
  return count;
}

void MemoryStore::clear() {
  for_each_locked(shards_, [](memory::Shard& shard) { shard.clear(); });
}

std::size_t MemoryStore::sweep_expired(std::size_t max_entries) {
  const auto now = clock_->now();
  const std::size_t start = sweep_cursor_.fetch_add(1, std::memory_order_relaxed);
  std::size_t reclaimed = 0;
  for (std::size_t visited = 0; visited < shard_count_ && reclaimed < max_entries; ++visited) {
    LockedShard& locked = *shards_[(start + visited) % shard_count_];
    std::lock_guard lock(locked.mutex);
    reclaimed += locked.shard.sweep_expired(now, max_entries - reclaimed);
  }
  return reclaimed;
}

std::size_t MemoryStore::size() const {
  std::size_t entries = 0;
  for_each_locked(shards_, [&](const memory::Shard& shard) { entries += shard.size(); });
  return entries;
}

std::size_t MemoryStore::bytes_used() const {
  std::size_t bytes = 0;
  for_each_locked(shards_, [&](const memory::Shard& shard) { bytes += shard.bytes_used(); });
  return bytes;
}

std::size_t MemoryStore::max_entry_bytes() const noexcept { return shards_[0]->shard.capacity_bytes(); }

MemoryStoreStats MemoryStore::stats() const {
  MemoryStoreStats total;
  for_each_locked(shards_, [&](const memory::Shard& shard) {
    const MemoryStoreStats& counters = shard.counters();
    total.hits += counters.hits;
    total.misses += counters.misses;
    total.inserts += counters.inserts;
    total.updates += counters.updates;
    total.erases += counters.erases;
    total.rejected_too_large += counters.rejected_too_large;
    total.admission_rejections += counters.admission_rejections;
    total.evictions_by_size += counters.evictions_by_size;
    total.evictions_by_expiry += counters.evictions_by_expiry;
    total.bytes_used += shard.bytes_used();
    total.entries += shard.size();
  });
  total.capacity_bytes = capacity_bytes_;
  return total;
}

void MemoryStore::reset_stats() {
  for_each_locked(shards_, [](memory::Shard& shard) { shard.reset_counters(); });
}

}  // namespace strata
