#include "gateway/pass_marks.hpp"

#include <algorithm>
#include <functional>

namespace strata::gateway {

PassMarks::PassMarks(std::size_t capacity) : shard_capacity_(std::max<std::size_t>(1, capacity / kShards)) {}

PassMarks::Shard& PassMarks::shard_of(std::string_view key) {
  return shards_[std::hash<std::string_view>{}(key) % kShards];
}

void PassMarks::mark(const Key& marked_key, Clock::time_point now, Clock::time_point until) {
  const std::string key = marked_key.to_string();
  auto& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  if (shard.until.size() >= shard_capacity_) {
    const auto before = shard.until.size();
    std::erase_if(shard.until, [&](const auto& entry) { return entry.second <= now; });
    if (shard.until.size() >= shard_capacity_) shard.until.clear();
    count_.fetch_sub(before - shard.until.size(), std::memory_order_relaxed);
  }
  const auto [it, inserted] = shard.until.insert_or_assign(key, until);
  (void)it;
  if (inserted) count_.fetch_add(1, std::memory_order_relaxed);
}

bool PassMarks::marked(const Key& marked_key, Clock::time_point now) {
  // Most gateways serve cacheable traffic: no lock on the hit path while nothing is marked.
  if (count_.load(std::memory_order_relaxed) == 0) return false;
  const std::string key = marked_key.to_string();
  auto& shard = shard_of(key);
  std::lock_guard lock(shard.mutex);
  const auto found = shard.until.find(key);
  if (found == shard.until.end()) return false;
  if (found->second > now) return true;
  shard.until.erase(found);
  count_.fetch_sub(1, std::memory_order_relaxed);
  return false;
}

}  // namespace strata::gateway
