#include "cache/journal.hpp"

#include <iterator>

namespace strata::cache {

void InvalidationJournal::remember(Invalidation kind, std::string argument) {
  std::lock_guard lock(mutex_);
  if (overflowed_) return;  // the clear to come covers it
  if (entries_.size() >= capacity_) {
    overflowed_ = true;
    entries_.clear();
    return;
  }
  entries_.push_back(Entry{kind, std::move(argument)});
}

bool InvalidationJournal::empty() const {
  std::lock_guard lock(mutex_);
  return entries_.empty() && !overflowed_;
}

std::vector<InvalidationJournal::Entry> InvalidationJournal::take() {
  std::lock_guard lock(mutex_);
  if (std::exchange(overflowed_, false)) {
    entries_.clear();
    return {Entry{Invalidation::clear, std::string()}};
  }
  return std::exchange(entries_, {});
}

void InvalidationJournal::give_back(std::vector<Entry> rest) {
  std::lock_guard lock(mutex_);
  if (overflowed_) {
    // Whatever overflowed since is replayed as a clear; a clear that failed is part of it.
    return;
  }
  entries_.insert(entries_.begin(), std::make_move_iterator(rest.begin()), std::make_move_iterator(rest.end()));
  if (entries_.size() > capacity_) {
    overflowed_ = true;
    entries_.clear();
  }
}

}  // namespace strata::cache
