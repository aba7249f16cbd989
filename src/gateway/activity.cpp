#include "gateway/activity.hpp"

#include "gateway/runtime.hpp"

namespace strata::gateway {

void TrafficHistory::maybe_sample(const GatewayCounters& counters, std::chrono::steady_clock::time_point now) {
  const auto second = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  auto last = sampled_second_.load(std::memory_order_relaxed);
  if (second <= last) return;
  if (!sampled_second_.compare_exchange_strong(last, second, std::memory_order_relaxed)) return;  // another thread did
  constexpr auto relaxed = std::memory_order_relaxed;
  TrafficSample sample;
  sample.unix_ms = unix_ms_now();
  sample.requests = counters.requests.load(relaxed);
  sample.hits = counters.hits.load(relaxed);
  sample.stale = counters.stale.load(relaxed);
  sample.misses = counters.misses.load(relaxed);
  sample.bypass = counters.bypass.load(relaxed);
  sample.origin_errors = counters.origin_errors.load(relaxed);
  std::lock_guard lock(mutex_);
  samples_.push_back(sample);
  while (samples_.size() > capacity_) samples_.pop_front();
}

std::vector<TrafficSample> TrafficHistory::recent(std::size_t at_most) const {
  std::lock_guard lock(mutex_);
  const auto count = std::min(at_most, samples_.size());
  return {samples_.end() - static_cast<std::ptrdiff_t>(count), samples_.end()};
}

void RecentInvalidations::add(std::string source, std::string what, const Outcome& outcome) {
  InvalidationEvent event{unix_ms_now(), std::move(source), std::move(what), outcome.affected, outcome.ok()};
  std::lock_guard lock(mutex_);
  events_.push_front(std::move(event));
  while (events_.size() > capacity_) events_.pop_back();
}

std::vector<InvalidationEvent> RecentInvalidations::recent() const {
  std::lock_guard lock(mutex_);
  return {events_.begin(), events_.end()};
}

}  // namespace strata::gateway
