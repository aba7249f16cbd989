#pragma once

// Cache::warm: filling the cache with a range of keys before traffic asks for them.

#include <strata/cache/key.hpp>
#include <strata/cache/options.hpp>

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

namespace strata {

// How far a warming got: after each key (WarmOptions::progress) and at the end.
struct WarmReport {
  std::size_t total = 0;
  std::size_t loaded = 0;          // the loader ran and the value was stored
  std::size_t already_cached = 0;  // found in L1 or Redis: nothing loaded
  std::size_t failed = 0;          // the loader threw
  double seconds = 0.0;
  // The first failures (at most 16): the key and what its loader threw.
  std::vector<std::pair<Key, std::string>> failures;

  [[nodiscard]] std::size_t done() const noexcept { return loaded + already_cached + failed; }
};

struct WarmOptions {
  std::size_t concurrency = 8;  // loads at once, at most
  double rate = 0.0;            // keys started per second, at most; 0: no limit
  EntryOptions entry;           // lifetimes, tags, ... of the entries loaded
  // Called after each key, on one strand (never concurrently with itself).
  std::function<void(const WarmReport&)> progress;
};

}  // namespace strata
