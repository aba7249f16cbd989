#pragma once

#include <strata/clock.hpp>

#include <atomic>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace strata::cache {

// What this process knows about recent invalidations (its own and those heard on the bus), so
//  - a fill that began before an invalidation of its key, one of its tags, or everything does
//    not store its (possibly old) data afterwards: the stale-set race;
//  - an L1 entry created before a tag invalidation is never served (L1 cannot be searched by
//    tag, so entries are checked when read);
//  - an L2 entry filled before a tag invalidation is not served while the invalidating process
//    is still deleting the tag's members.
// Every mark gets the next local sequence number; entries and fills remember the sequence at
// which they began. Marks older than the retention are forgotten, and anything that began before
// a forgotten mark counts as invalidated (it cannot be proven otherwise).
class InvalidationMarks {
public:
  using time_point = Clock::time_point;

  explicit InvalidationMarks(Clock::duration retention) : retention_(retention) {}

  [[nodiscard]] std::uint64_t sequence() const noexcept {
    return sequence_.load(std::memory_order_acquire);
  }

  // Each records an invalidation at `now`; `epoch` is the Redis invalidation epoch (0 unknown).
  std::uint64_t mark_key(std::string_view entry_key, std::uint64_t epoch, time_point now);
  std::uint64_t mark_tag(std::string_view tag, std::uint64_t epoch, time_point now);
  std::uint64_t mark_everything(std::uint64_t epoch, time_point now);

  // True when the key, one of the tags, or everything was invalidated after `since`.
  [[nodiscard]] bool invalidated_since(std::uint64_t since, std::string_view entry_key,
                                       const std::vector<std::string>& tags) const;
  // True when one of the tags or everything was invalidated after `since` (L1 entries, whose
  // own key invalidations remove them directly).
  [[nodiscard]] bool tags_invalidated_since(std::uint64_t since,
                                            const std::vector<std::string>& tags) const;
  // True when a tag or everything was invalidated at a Redis epoch later than `fill_epoch`.
  [[nodiscard]] bool epoch_invalidates(std::uint64_t fill_epoch,
                                       const std::vector<std::string>& tags) const;
  // False when no tag or everything was invalidated at a Redis epoch later than `fill_epoch`
  // (most reads): epoch_invalidates() then need not be asked, nor the entry's tags listed.
  [[nodiscard]] bool epoch_may_invalidate(std::uint64_t fill_epoch) const noexcept {
    return fill_epoch < highest_broad_epoch_.load(std::memory_order_acquire);
  }


private:
  struct Mark {
    std::uint64_t sequence = 0;
    std::uint64_t epoch = 0;
    time_point at{};
  };
  std::uint64_t record(std::unordered_map<std::string, Mark>* marks, std::string_view name,
                       std::uint64_t epoch, time_point now);
  void prune_locked(time_point now);

  const Clock::duration retention_;
  mutable std::shared_mutex mutex_;
  std::unordered_map<std::string, Mark> keys_;
  std::unordered_map<std::string, Mark> tags_;
  Mark everything_;
  std::atomic<std::uint64_t> forgotten_through_{0};  // highest sequence pruned
  time_point next_prune_{};
  std::atomic<std::uint64_t> sequence_{0};
  // Highest sequence of a tag or everything mark: entries newer than it skip the lookups.
  std::atomic<std::uint64_t> latest_broad_{0};
  // Highest Redis epoch of a tag or everything mark: entries filled at or after it (most of
  // them) pass epoch_invalidates() without taking the lock.
  std::atomic<std::uint64_t> highest_broad_epoch_{0};
};

}  // namespace strata::cache
