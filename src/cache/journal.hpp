#pragma once

// Invalidations Redis missed (it could not be reached when they were made), kept to replay once
// it answers again, so that an invalidation is never lost. Bounded: past its capacity it
// forgets them all and replays one clear of the whole prefix instead, which loses no
// invalidation either, only cached entries. Thread-safe.

#include "cache/bus_message.hpp"

#include <cstddef>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace strata::cache {

class InvalidationJournal {
public:
  struct Entry {
    Invalidation kind;
    std::string argument;
    friend bool operator==(const Entry&, const Entry&) = default;
  };

  explicit InvalidationJournal(std::size_t capacity) : capacity_(capacity) {}

  void remember(Invalidation kind, std::string argument);
  [[nodiscard]] bool empty() const;
  // Everything remembered, oldest first (one clear when it overflowed), leaving it empty.
  [[nodiscard]] std::vector<Entry> take();
  // What a replay could not apply (Redis failed again), back before anything remembered since.
  void give_back(std::vector<Entry> rest);

private:
  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::vector<Entry> entries_;
  bool overflowed_ = false;
};

}  // namespace strata::cache
