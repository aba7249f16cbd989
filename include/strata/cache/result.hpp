#pragma once

// What the cache's operations hand back: values with their source and age, the outcome of a
// write or an invalidation, and the exceptions a read may end in.

#include <strata/clock.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>

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

// What a write or an invalidation achieved. The local (L1) part always succeeds; `ok` is false
// when Redis could not be updated, in which case `error` says why and other processes may still
// serve the old value until its TTL ends (or until their L1 is cleared on reconnect).
struct Outcome {
  bool ok = true;
  std::uint64_t affected = 0;  // entries found and changed or removed, where known
  std::string error;
  explicit operator bool() const noexcept { return ok; }
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
