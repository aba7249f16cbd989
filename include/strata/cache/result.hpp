#pragma once

// What the cache's operations hand back: values with their source and age, the outcome of a
// write or an invalidation, and the exceptions a read may end in. Plain values owned by the
// caller: nothing in them refers back to the cache.

#include <strata/clock.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>

namespace strata {

// Where a value came from.
enum class Source : std::uint8_t {
  l1,      // the in-process tier
  l2,      // Redis
  loader,  // the loader ran (in this call or in a concurrent one it waited for)
  stale,   // a stale value served because the loader failed or was too slow (fail-safe)
};
[[nodiscard]] std::string_view to_string(Source source) noexcept;

template <typename T>
struct Fetched {
  T value;
  Source source = Source::loader;
  // Time since the value was loaded from the source of truth.
  Clock::duration age{};
};

// Why a write or an invalidation did not reach every tier (Outcome::error). Redis errors of
// the client itself are strata::redis::Error; these say what the cache made of them.
enum class CacheError {
  // Redis did not answer (down, past the deadline, circuit open): done in this process's L1
  // only. Invalidations are replayed to Redis when it answers again.
  redis_unavailable = 1,
  // Redis failed part way through (a pattern's SCAN): what it did stands, and the invalidation
  // is replayed whole when it answers again.
  redis_incomplete,
};
[[nodiscard]] const std::error_category& cache_category() noexcept;
[[nodiscard]] std::error_code make_error_code(CacheError error) noexcept;

// What a write or an invalidation achieved. The local (L1) part always succeeds; when Redis
// could not be updated, `error` says so and `message` what it means for this operation: other
// processes may serve the old value until its TTL ends (or until their L1 is cleared on
// reconnect). The same error model as the Redis layer: std::error_code, with words for people.
struct Outcome {
  std::uint64_t affected = 0;  // entries found and changed or removed, where known
  std::error_code error;       // empty: done in every tier
  std::string message;
  [[nodiscard]] bool ok() const noexcept { return !error; }
  explicit operator bool() const noexcept { return ok(); }
};

// Thrown to a get_or_set() caller when the load exceeded its hard timeout and there was no stale
// value to serve instead.
class LoadTimeout : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Thrown to a get_or_set() caller whose value needed a loader after Cache::stop() began, when
// there was no stale value to serve instead: a stopped cache calls no loader.
class CacheStopped : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

}  // namespace strata

template <>
struct std::is_error_code_enum<strata::CacheError> : std::true_type {};
