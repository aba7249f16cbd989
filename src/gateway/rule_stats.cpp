#include "gateway/rule_stats.hpp"

namespace strata::gateway {

void RuleCounters::record(std::string_view outcome, std::string_view reason, std::chrono::nanoseconds elapsed,
                          std::uint64_t body_bytes) noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  requests_.fetch_add(1, relaxed);
  if (outcome == "HIT") {
    hits_.fetch_add(1, relaxed);
    bytes_saved_.fetch_add(body_bytes, relaxed);
  } else if (outcome == "STALE") {
    stale_.fetch_add(1, relaxed);
    bytes_saved_.fetch_add(body_bytes, relaxed);
  } else if (outcome == "MISS" || outcome == "REVALIDATED") {
    misses_.fetch_add(1, relaxed);
  } else if (outcome == "BYPASS") {
    bypass_.fetch_add(1, relaxed);
  }
  if (!reason.empty() && outcome != "BYPASS") not_stored_.add(reason);
  const auto ns = static_cast<std::uint64_t>(elapsed.count() < 0 ? 0 : elapsed.count());
  latency_[LatencyHistogram::bucket_of(ns)].fetch_add(1, relaxed);
  latency_sum_ns_.fetch_add(ns, relaxed);
}

void RuleCounters::record_audit(AuditResult result, std::int64_t age_seconds) noexcept {
  constexpr auto relaxed = std::memory_order_relaxed;
  audited_.fetch_add(1, relaxed);
  if (result == AuditResult::error) {
    audit_errors_.fetch_add(1, relaxed);
    return;
  }
  std::size_t bucket = 0;
  while (kAuditAgeBounds[bucket] < age_seconds) ++bucket;  // the last bound is INT64_MAX
  audited_by_age_[bucket].fetch_add(1, relaxed);
  if (result == AuditResult::differing) {
    differing_.fetch_add(1, relaxed);
    differing_by_age_[bucket].fetch_add(1, relaxed);
  } else {
    identical_.fetch_add(1, relaxed);
  }
}

RuleSnapshot RuleCounters::snapshot() const {
  constexpr auto relaxed = std::memory_order_relaxed;
  RuleSnapshot out;
  out.name = name_;
  out.requests = requests_.load(relaxed);
  out.hits = hits_.load(relaxed);
  out.stale = stale_.load(relaxed);
  out.misses = misses_.load(relaxed);
  out.bypass = bypass_.load(relaxed);
  out.bytes_saved = bytes_saved_.load(relaxed);
  out.not_stored = not_stored_.snapshot();
  for (std::size_t i = 0; i < latency_.size(); ++i) {
    out.latency.counts[i] = latency_[i].load(relaxed);
    out.latency.count += out.latency.counts[i];
  }
  out.latency.sum_ns = latency_sum_ns_.load(relaxed);
  out.audited = audited_.load(relaxed);
  out.identical = identical_.load(relaxed);
  out.differing = differing_.load(relaxed);
  out.audit_errors = audit_errors_.load(relaxed);
  for (std::size_t i = 0; i < kAuditAgeBounds.size(); ++i) {
    out.ages.audited[i] = audited_by_age_[i].load(relaxed);
    out.ages.differing[i] = differing_by_age_[i].load(relaxed);
  }
  return out;
}

void RuleCounters::reset() noexcept {
  for (auto* cell : {&requests_, &hits_, &stale_, &misses_, &bypass_, &bytes_saved_, &latency_sum_ns_, &audited_,
                     &identical_, &differing_, &audit_errors_}) {
    cell->store(0);
  }
  for (auto& cell : latency_) cell.store(0);
  for (auto& cell : audited_by_age_) cell.store(0);
  for (auto& cell : differing_by_age_) cell.store(0);
  not_stored_.reset();
}

RuleCounters& RuleStats::for_rule(std::string_view name) {
  std::lock_guard lock(mutex_);
  if (auto found = by_name_.find(name); found != by_name_.end()) return *found->second;
  const std::string_view counted = ordered_.size() < kMaxRules ? name : std::string_view("other");
  auto [slot, inserted] = by_name_.try_emplace(std::string(counted));
  if (inserted) {
    slot->second = std::make_unique<RuleCounters>(std::string(counted));
    ordered_.push_back(slot->second.get());
  }
  return *slot->second;
}

std::vector<RuleSnapshot> RuleStats::snapshot() const {
  std::lock_guard lock(mutex_);
  std::vector<RuleSnapshot> out;
  out.reserve(ordered_.size());
  for (const auto* counters : ordered_) out.push_back(counters->snapshot());
  return out;
}

void RuleStats::reset() {
  std::lock_guard lock(mutex_);
  for (auto* counters : ordered_) counters->reset();
}

}  // namespace strata::gateway
