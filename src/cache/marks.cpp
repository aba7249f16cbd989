#include "cache/marks.hpp"

#include <mutex>

namespace strata::cache {

std::uint64_t InvalidationMarks::record(std::unordered_map<std::string, Mark>* marks,
                                        std::string_view name, std::uint64_t epoch,
                                        time_point now) {
  std::unique_lock lock(mutex_);
  const std::uint64_t sequence = sequence_.load(std::memory_order_relaxed) + 1;
  Mark mark{sequence, epoch, now};
  if (marks == nullptr) {
    if (epoch < everything_.epoch) mark.epoch = everything_.epoch;
    everything_ = mark;
  } else {
    auto [it, inserted] = marks->try_emplace(std::string(name), mark);
    if (!inserted) {
      if (epoch < it->second.epoch) mark.epoch = it->second.epoch;  // epochs only move forward
      it->second = mark;
    }
  }
  if (marks != &keys_) {
    latest_broad_.store(sequence, std::memory_order_release);
    if (mark.epoch > highest_broad_epoch_.load(std::memory_order_relaxed)) {
      highest_broad_epoch_.store(mark.epoch, std::memory_order_release);  // writers hold the lock
    }
  }
  // Published last: a reader that sees the new sequence sees the mark too.
  sequence_.store(sequence, std::memory_order_release);
  if (now >= next_prune_) prune_locked(now);
  return sequence;
}

std::uint64_t InvalidationMarks::mark_key(std::string_view entry_key, std::uint64_t epoch,
                                          time_point now) {
  return record(&keys_, entry_key, epoch, now);
}
std::uint64_t InvalidationMarks::mark_tag(std::string_view tag, std::uint64_t epoch, time_point now) {
  return record(&tags_, tag, epoch, now);
}
std::uint64_t InvalidationMarks::mark_everything(std::uint64_t epoch, time_point now) {
  return record(nullptr, {}, epoch, now);
}

void InvalidationMarks::prune_locked(time_point now) {
  next_prune_ = now + retention_ / 4;
  const auto horizon = now - retention_;
  for (auto* marks : {&keys_, &tags_}) {
    for (auto it = marks->begin(); it != marks->end();) {
      if (it->second.at < horizon) {
        if (it->second.sequence > forgotten_through_.load(std::memory_order_relaxed)) {
          forgotten_through_.store(it->second.sequence, std::memory_order_release);
        }
        it = marks->erase(it);
      } else {
        ++it;
      }
    }
  }
}

bool InvalidationMarks::invalidated_since(std::uint64_t since, std::string_view entry_key,
                                          const std::vector<std::string>& tags) const {
  if (since >= sequence()) return false;
  std::shared_lock lock(mutex_);
  if (since < forgotten_through_.load(std::memory_order_acquire) || everything_.sequence > since) return true;
  if (auto it = keys_.find(std::string(entry_key)); it != keys_.end() && it->second.sequence > since) {
    return true;
  }
  for (const auto& tag : tags) {
    if (auto it = tags_.find(tag); it != tags_.end() && it->second.sequence > since) return true;
  }
  return false;
}

bool InvalidationMarks::tags_invalidated_since(std::uint64_t since,
                                               const std::vector<std::string>& tags) const {
  if (since >= latest_broad_.load(std::memory_order_acquire)) {
    return since < forgotten_through_.load(std::memory_order_acquire);
  }
  std::shared_lock lock(mutex_);
  if (since < forgotten_through_.load(std::memory_order_acquire) || everything_.sequence > since) return true;
  for (const auto& tag : tags) {
    if (auto it = tags_.find(tag); it != tags_.end() && it->second.sequence > since) return true;
  }
  return false;
}

bool InvalidationMarks::epoch_invalidates(std::uint64_t fill_epoch,
                                          const std::vector<std::string>& tags) const {
  if (!epoch_may_invalidate(fill_epoch)) return false;
  std::shared_lock lock(mutex_);
  if (everything_.epoch > fill_epoch) return true;
  for (const auto& tag : tags) {
    if (auto it = tags_.find(tag); it != tags_.end() && it->second.epoch > fill_epoch) return true;
  }
  return false;
}

}  // namespace strata::cache
