#pragma once

// The generation of each namespace this process has seen, and the head of its entry keys.
// Invalidating a namespace moves it to a new generation, which makes every entry of the old one
// unreachable at once. Reads ask for an entry key on every call, so the key head a thread used
// last is remembered per thread and found without the lock while the table is unchanged.
// Thread-safe.

#include "cache/keyspace.hpp"

#include <strata/cache/key.hpp>

#include <atomic>
#include <cstdint>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace strata::cache {

class Generations {
public:
  explicit Generations(const Keyspace& keyspace) : keyspace_(keyspace) {}
  Generations(const Generations&) = delete;
  Generations& operator=(const Generations&) = delete;

  [[nodiscard]] std::optional<std::uint64_t> known(const std::string& name_space) const;
  // The key's entry key under its namespace's known generation; empty when the generation is not
  // known yet (entry keys are never empty).
  [[nodiscard]] std::string entry_key(const Key& key) const;
  // Learns a generation heard from Redis or the bus: a namespace only ever moves forward.
  void learn(std::string_view name_space, std::uint64_t generation);
  // Moves a namespace to its next generation in this process alone (no Redis to count it);
  // returns the new generation.
  std::uint64_t advance(std::string_view name_space);
  // Forgets every generation: the next read of each namespace asks Redis again.
  void forget_all();

private:
  struct Known {
    std::uint64_t generation = 0;
    std::string key_head;  // prefix, escaped namespace and generation, built once per generation
  };
  // With mutex_ held: `known` (the entry of `name_space`) moves to `generation`.
  void set(Known& known, std::string_view name_space, std::uint64_t generation);

  const Keyspace& keyspace_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, Known> table_;
  // Bumped, with mutex_ held, whenever table_ changes: a thread's memo of a key head counts only
  // while it is unchanged.
  std::atomic<std::uint64_t> version_{0};
  const std::uint64_t serial_ = next_serial();  // names this table in per-thread memos

  static std::uint64_t next_serial();
};

}  // namespace strata::cache
