#include "cache/generations.hpp"

#include <algorithm>
#include <array>
#include <mutex>

namespace strata::cache {
namespace {

// The entry-key heads this thread used last, so that a read finds its namespace's head without
// the lock and the map (~30 ns of a hit).
struct KeyHeadMemo {
  std::uint64_t table = 0;    // Generations::serial_: unlike an address, never reused
  std::uint64_t version = 0;  // Generations::version_ when the head was read
  std::string name_space;
  std::string head;
};
struct KeyHeadMemos {
  std::array<KeyHeadMemo, 4> slots;
  std::size_t next = 0;
};
thread_local KeyHeadMemos key_head_memos;

}  // namespace

std::uint64_t Generations::next_serial() {
  static std::atomic<std::uint64_t> serials{0};
  return ++serials;
}

std::optional<std::uint64_t> Generations::known(const std::string& name_space) const {
  std::shared_lock lock(mutex_);
  if (auto it = table_.find(name_space); it != table_.end()) return it->second.generation;
  return std::nullopt;
}

std::string Generations::entry_key(const Key& key) const {
  // Read before the lock: a memo remembered under a later table carries an older version and is
  // refreshed on its next use, never trusted past a change.
  const std::uint64_t version = version_.load(std::memory_order_acquire);
  auto& memos = key_head_memos;
  for (const KeyHeadMemo& memo : memos.slots) {
    if (memo.table == serial_ && memo.version == version && memo.name_space == key.name_space()) {
      return Keyspace::entry_under(memo.head, key);
    }
  }
  std::shared_lock lock(mutex_);
  const auto it = table_.find(key.name_space());
  if (it == table_.end()) return {};
  KeyHeadMemo& memo = memos.slots[memos.next++ % memos.slots.size()];
  memo.table = serial_;
  memo.version = version;
  memo.name_space = key.name_space();
  memo.head = it->second.key_head;
  return Keyspace::entry_under(it->second.key_head, key);
}

void Generations::set(Known& known, std::string_view name_space, std::uint64_t generation) {
  if (!known.key_head.empty() && known.generation == generation) return;
  known.generation = generation;
  known.key_head = keyspace_.entry_head(name_space, generation);
  version_.fetch_add(1, std::memory_order_release);
}

void Generations::learn(std::string_view name_space, std::uint64_t generation) {
  std::lock_guard lock(mutex_);
  auto& known = table_[std::string(name_space)];  // a new entry starts at generation 0
  set(known, name_space, std::max(known.generation, generation));
}

std::uint64_t Generations::advance(std::string_view name_space) {
  std::lock_guard lock(mutex_);
  auto& known = table_[std::string(name_space)];
  set(known, name_space, known.generation + 1);
  return known.generation;
}

void Generations::forget_all() {
  std::lock_guard lock(mutex_);
  table_.clear();
  version_.fetch_add(1, std::memory_order_release);
}

}  // namespace strata::cache
