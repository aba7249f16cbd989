#pragma once

// What a Cache is built with, and what each call may override. Plain values: copied into the
// cache when it is built (changing them afterwards changes nothing), and safe to share read-only.

#include <strata/clock.hpp>
#include <strata/memory_store.hpp>
#include <strata/redis/options.hpp>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace strata {

// How long entries live and how loads behave, for every entry that does not say otherwise.
struct EntryDefaults {
  // Fresh lifetime: served without question before it ends.
  Clock::duration ttl = std::chrono::minutes(5);
  // Each entry's ttl is shortened by a random amount up to this, so that entries written
  // together do not expire together.
  Clock::duration ttl_jitter = Clock::duration::zero();
  // After the fresh lifetime, how long a value is kept to be served when reloading fails or is
  // too slow (fail-safe). Zero: entries vanish when they stop being fresh.
  Clock::duration stale_ttl = Clock::duration::zero();
  // A hit later than this fraction of the fresh lifetime (e.g. 0.8) reloads the entry in the
  // background, so that hot entries never expire in front of a reader. 0 disables it.
  double eager_refresh = 0.0;
  // With a stale value at hand, a reader waits this long for the loader before it gets the
  // stale value; the load goes on in the background. Zero: wait for the loader.
  std::chrono::milliseconds soft_timeout{0};
  // A value that stopped being fresh less than this long ago is served at once while the
  // loader refreshes it in the background (HTTP's stale-while-revalidate). Only values still
  // inside their stale window qualify. Zero: readers wait for the loader (up to soft_timeout).
  Clock::duration stale_while_revalidate = Clock::duration::zero();
  // A load is abandoned after this long: waiters get the stale value if there is one, or
  // Cache::LoadTimeout. Must not exceed CacheOptions::max_fill_duration.
  std::chrono::milliseconds hard_timeout{30000};
  // Serve the stale value when the loader throws (fail-safe). The error is counted.
  bool fail_safe = true;
  // Upper bound on how long a value read from or written to Redis stays in L1 (it never
  // outlives its L2 copy either). Without Redis (or with use_l2 off) L1 holds the only copy,
  // for the value's whole lifetime.
  Clock::duration l1_ttl = std::chrono::minutes(5);
  bool use_l1 = true;
  bool use_l2 = true;
  // Run the loader once across every process sharing Redis (a lease in Redis), not only once
  // per process. Falls back to per-process single flight when Redis is unavailable.
  bool distributed_lock = false;
};

// Per-call overrides: every field that is set replaces the cache's default; tags and user add
// to the entry.
struct EntryOptions {
  std::optional<Clock::duration> ttl;
  std::optional<Clock::duration> ttl_jitter;
  std::optional<Clock::duration> stale_ttl;
  std::optional<double> eager_refresh;
  std::optional<std::chrono::milliseconds> soft_timeout;
  std::optional<Clock::duration> stale_while_revalidate;
  std::optional<std::chrono::milliseconds> hard_timeout;
  std::optional<bool> fail_safe;
  std::optional<Clock::duration> l1_ttl;
  std::optional<bool> use_l1;
  std::optional<bool> use_l2;
  std::optional<bool> distributed_lock;
  // Invalidating any of these tags invalidates the entry.
  std::vector<std::string> tags;
  // The user the entry belongs to: adds the tag "user:<id>", which invalidate_user() drops.
  std::optional<std::string> user;
};

// Given to a loader that wants to decide, once it has the data, how it is cached.
struct LoadContext {
  // Replace the fresh / stale lifetimes for this value.
  std::optional<Clock::duration> ttl;
  std::optional<Clock::duration> stale_ttl;
  // Tags learned from the data (e.g. from an origin's Cache-Tag header).
  std::vector<std::string> tags;
  // Set to false to return the value without caching it (e.g. a job still running).
  bool cacheable = true;
  // True when a stale value exists and will be served if this load fails.
  bool has_stale_value = false;
  // The value this load replaces, when the cache still holds one past its freshness (inside
  // its stale window); null otherwise. A loader may revalidate it instead of loading anew, as
  // HTTP's conditional requests do. It holds the type the load is for: previous_as<T>().
  std::shared_ptr<const void> previous;
  template <class T>
  [[nodiscard]] std::shared_ptr<const T> previous_as() const {
    return std::static_pointer_cast<const T>(previous);
  }
};

struct CacheOptions {
  // First piece of every key; several applications can share a Redis under different prefixes,
  // and clear() only touches this one.
  std::string prefix = "strata";

  // L2: one server (redis://, rediss://), a Redis Cluster (redis+cluster://host:port,...) or a
  // master watched by Sentinel (redis+sentinel://host:port,.../master-name); see
  // redis::parse_deployment_url. Empty: no L2 (L1 only). The library reads no environment
  // variable by itself: from_env() is the explicit way to take REDIS_URL.
  std::string redis_url;
  // Alternatively, the deployment itself: one server, a Cluster or a Sentinel-watched master,
  // as parse_deployment_url builds it (takes precedence over the URL).
  std::optional<redis::Deployment> redis;
  // The longest any one Redis command of a cache operation may keep its caller waiting (the
  // connection's command_timeout still bounds the rest: SCANs, the bus). Past it the command
  // counts as failed: a read is a miss, and the load that follows leaves Redis out (L1 and the
  // loader only), so a stalled Redis costs a caller about this much, once.
  std::chrono::milliseconds redis_deadline{250};

  // L1. Its clock is replaced by `clock` below.
  MemoryStoreOptions l1;

  EntryDefaults defaults;

  // Values of at least this many bytes are stored zstd-compressed when that saves 10% or more.
  // 0 turns compression off.
  std::size_t compression_threshold = 1024;
  // zstd's level: 1 to 22, or its fast levels -1 and below, which inflate about twice as fast
  // (every L2 hit inflates) and store a third more bytes. See docs/benchmarks.md.
  int compression_level = 3;

  // Non-empty: entries in Redis carry an HMAC-SHA256 over key and content under this secret,
  // and entries failing it are misses. Every process sharing the prefix needs the same secret.
  std::string integrity_secret;

  // Longest any load may take (hard_timeout is checked against it). Invalidation marks that
  // stop a slow fill from storing data older than an invalidation live this long.
  std::chrono::milliseconds max_fill_duration{120000};

  // Keep L1 coherent across processes through a Redis pub/sub channel (<prefix>#bus).
  bool bus = true;

  // Time source for lifetimes; null: strata::steady_clock(). Tests inject a ManualClock.
  std::shared_ptr<const Clock> clock;

  // Seed for TTL jitter.
  std::uint64_t seed = 0x5eed;

  // The defaults, with redis_url taken from the REDIS_URL environment variable (empty, so L1
  // only, when it is unset). The URL is checked when a Cache is built from the options.
  [[nodiscard]] static CacheOptions from_env();
};

}  // namespace strata
