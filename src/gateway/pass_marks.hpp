#pragma once

// Entries whose last response could not be stored (Set-Cookie, no-store, private, ...), for a
// short while: requests for them go straight to the origin instead of queueing behind one
// another's fetch, only to be sent to the origin one by one afterwards (Varnish's hit-for-pass).
// Bounded: past its capacity it forgets, which costs only coalescing, never correctness.

#include <strata/cache/key.hpp>
#include <strata/clock.hpp>

#include <array>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace strata::gateway {

class PassMarks {
public:
  explicit PassMarks(std::size_t capacity = 65536);

  // Marks `key` until `until`; a full shard first drops marks that ended by `now`.
  void mark(const Key& key, Clock::time_point now, Clock::time_point until);
  // Costs one relaxed load while nothing is marked: the key is not even rendered then.
  [[nodiscard]] bool marked(const Key& key, Clock::time_point now);
  [[nodiscard]] std::size_t size() const noexcept { return count_.load(std::memory_order_relaxed); }

private:
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Clock::time_point> until;
  };
  static constexpr std::size_t kShards = 16;
  Shard& shard_of(std::string_view key);

  std::size_t shard_capacity_;
  std::atomic<std::size_t> count_{0};
  std::array<Shard, kShards> shards_;
};

}  // namespace strata::gateway
