#pragma once

// Single flight: at most one load per key runs in this process, and every caller that misses
// the key while it runs waits for that load instead of starting its own. Two exceptions keep
// it from serving old data or loading twice:
//  - a load that began before an invalidation of its key may return what the invalidation
//    removed, so a caller that arrives after the invalidation leads a new load (the old one
//    still finishes for those already waiting on it);
//  - a load that finished between a caller's lookup and its arrival here already stored its
//    value, so that caller takes the value instead of loading again.
// Thread-safe; the callbacks run with the table's lock held and must not call back into it.

#include "cache/flight.hpp"

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>

namespace strata::cache {

template <typename Result>
class SingleFlight {
public:
  using FlightPtr = std::shared_ptr<Flight<Result>>;
  struct Joined {
    FlightPtr flight;
    bool leader = false;  // this caller runs the load, then calls end()
  };

  // `sequence`: the caller's invalidation sequence, recorded with a load it leads.
  // `invalidated_since(began)`: whether the key was invalidated after a load that began at
  // sequence `began`. `finished_meanwhile()`: the result of a load that ended since the caller's
  // lookup, if one did.
  template <typename InvalidatedSince, typename FinishedMeanwhile>
  Joined join(const std::string& key, std::uint64_t sequence, InvalidatedSince&& invalidated_since,
              FinishedMeanwhile&& finished_meanwhile) {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = running_.try_emplace(key);
    Slot& slot = it->second;
    if (!inserted && !invalidated_since(slot.began)) return {slot.flight, false};
    if (std::optional<Result> done = finished_meanwhile()) {
      if (inserted) running_.erase(it);
      auto finished = std::make_shared<Flight<Result>>();
      finished->finish(std::move(*done));
      return {std::move(finished), false};
    }
    slot = Slot{std::make_shared<Flight<Result>>(), sequence};
    return {slot.flight, true};
  }

  // The leader's load ended: later callers start a new one. A newer load that replaced this one
  // in the table (after an invalidation) keeps its place.
  void end(const std::string& key, const FlightPtr& flight) {
    std::lock_guard lock(mutex_);
    if (auto it = running_.find(key); it != running_.end() && it->second.flight == flight) running_.erase(it);
  }

  [[nodiscard]] std::size_t running() const {
    std::lock_guard lock(mutex_);
    return running_.size();
  }

private:
  struct Slot {
    FlightPtr flight;
    std::uint64_t began = 0;  // the leader's invalidation sequence when its load began
  };
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Slot> running_;
};

}  // namespace strata::cache
