#include "gateway/audit.hpp"

#include "gateway/compression.hpp"
#include "gateway/gateway_impl.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <random>

namespace strata::gateway {

namespace {

// The body as a client that takes no coding would get it; nullopt when it cannot be decoded.
std::optional<std::string> decoded_body(const StoredResponse& response, std::size_t max_bytes) {
  const auto coding = coding_named(response.joined("content-encoding"));
  if (!coding) return std::nullopt;  // a coding the gateway does not know
  if (*coding == Coding::identity) return response.body;
  return decode(*coding, response.body, max_bytes);
}

}  // namespace

std::string_view audit_result_name(AuditResult result) noexcept {
  switch (result) {
    case AuditResult::identical: return "identical";
    case AuditResult::differing: return "stale";
    case AuditResult::error: return "error";
  }
  return "error";
}

bool same_representation(const StoredResponse& served, const StoredResponse& fresh, std::size_t max_bytes) {
  if (served.status != fresh.status) return false;
  const auto before = decoded_body(served, max_bytes);
  const auto now = decoded_body(fresh, max_bytes);
  if (before && now) return *before == *now;
  return served.body == fresh.body && served.joined("content-encoding") == fresh.joined("content-encoding");
}

double wilson_upper(std::uint64_t successes, std::uint64_t trials) {
  if (trials == 0) return 1.0;
  constexpr double z = 1.959964;
  const double n = static_cast<double>(trials);
  const double p = static_cast<double>(successes) / n;
  const double centre = p + z * z / (2 * n);
  const double spread = z * std::sqrt(p * (1 - p) / n + z * z / (4 * n * n));
  return std::min(1.0, (centre + spread) / (1 + z * z / n));
}

TtlAdvice advise_ttl(const AuditAges& ages, double target) {
  TtlAdvice advice;
  std::uint64_t audited = 0;
  std::uint64_t differing = 0;
  std::uint64_t total = 0;
  for (const auto count : ages.audited) total += count;
  if (total == 0) {
    advice.reason = "no audited hits yet";
    return advice;
  }
  for (std::size_t i = 0; i + 1 < kAuditAgeBounds.size(); ++i) {
    audited += ages.audited[i];
    differing += ages.differing[i];
    if (ages.audited[i] == 0) continue;  // no entry that old was seen: that TTL is not judged
    const double upper = wilson_upper(differing, audited);
    if (upper > target) continue;
    advice.ttl_seconds = kAuditAgeBounds[i];
    advice.samples = audited;
    advice.stale_ratio = static_cast<double>(differing) / static_cast<double>(audited);
    advice.stale_upper_bound = upper;
  }
  if (!advice.ttl_seconds) {
    // With no stale hit at all, n samples bound the ratio by about 3.84 / n.
    const auto needed = static_cast<std::uint64_t>(std::ceil(3.8415 * (1 - target) / target));
    advice.reason = differing == 0 ? "too few audited hits for that confidence: about " + std::to_string(needed) +
                                         " are needed, " + std::to_string(total) + " so far"
                                   : "stale even at the youngest ages audited: lower the TTL, or add the "
                                     "invalidation the writes miss";
    advice.samples = total;
  } else {
    // Older entries than the oldest audited were not seen: longer TTLs are not judged.
    std::int64_t oldest = 0;
    for (std::size_t i = 0; i < kAuditAgeBounds.size(); ++i) {
      if (ages.audited[i] != 0) oldest = kAuditAgeBounds[i];
    }
    if (*advice.ttl_seconds >= oldest) {
      advice.reason = "no stale hit up to the oldest entries audited: a longer TTL may hold too (not observed)";
    }
  }
  return advice;
}

AuditGate::AuditGate(double rate, std::size_t concurrency)
    : rate_(rate), concurrency_(std::max<std::size_t>(1, concurrency)), tokens_(std::max(1.0, rate)) {}

bool AuditGate::sampled(double fraction) noexcept {
  if (fraction <= 0.0) return false;
  if (fraction >= 1.0) return true;
  thread_local std::minstd_rand generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator) < fraction;
}

bool AuditGate::try_begin(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  const double burst = std::max(1.0, rate_);
  if (refilled_.time_since_epoch().count() != 0) {
    tokens_ = std::min(burst, tokens_ + std::chrono::duration<double>(now - refilled_).count() * rate_);
  }
  refilled_ = now;
  if (tokens_ < 1.0 || running_ >= concurrency_) {
    skipped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  tokens_ -= 1.0;
  ++running_;
  return true;
}

void AuditGate::end() noexcept {
  std::lock_guard lock(mutex_);
  --running_;
}

void Gateway::Impl::maybe_audit(const Runtime& runtime, const std::shared_ptr<LoadInputs>& state,
                                std::shared_ptr<const StoredResponse> served, std::int64_t age_seconds) {
  const auto* rule = state->plan.rule;
  const double fraction = rule != nullptr ? rule->rule.audit : runtime.config.audit.unmatched;
  if (!AuditGate::sampled(fraction) || served == nullptr) return;
  if (!audit_gate_.try_begin(std::chrono::steady_clock::now())) return;
  boost::asio::co_spawn(executor_, audit_hit(shared_from_this(), state, std::move(served), age_seconds),
                        boost::asio::detached);
}

// The origin's answer now against what the hit served. Its arguments by value (GCC 12 and
// detached coroutines): the request, the plan and the runtime they point into stay alive.
boost::asio::awaitable<void> Gateway::Impl::audit_hit(std::shared_ptr<Impl> self, std::shared_ptr<LoadInputs> inputs,
                                                      std::shared_ptr<const StoredResponse> served,
                                                      std::int64_t age_seconds) {
  namespace http = boost::beast::http;
  struct Slot {  // the gate's slot goes back however this ends
    Impl& impl;
    ~Slot() { impl.audit_gate_.end(); }
  } slot{*self};
  const Runtime& runtime = *inputs->runtime;
  const EntryPlan& plan = inputs->plan;
  AuditResult result = AuditResult::error;
  try {
    // The request a miss would send (the same identity, keyed headers, GET), made conditional
    // when the entry holds the origin's own validator.
    auto upstream = upstream_request(runtime, inputs->request, plan.upstream_target, inputs->context, true,
                                     plan.keyed_headers);
    if (!served->gateway_encoded) {
      if (const auto etag = served->header("etag")) {
        upstream.set(http::field::if_none_match, *etag);
      } else if (const auto modified = served->header("last-modified")) {
        upstream.set(http::field::if_modified_since, *modified);
      }
    }
    const auto limit = runtime.config.limits.max_cacheable_bytes;
    const OriginReply reply = co_await self->origin_->send(std::move(upstream), limit);
    if (reply.ok && !reply.rest) {
      result = reply.response.status == 304 || same_representation(*served, reply.response, limit * 16)
                   ? AuditResult::identical
                   : AuditResult::differing;
    }
  } catch (const std::exception& error) {
    spdlog::warn("strata serve: audit of {} failed: {}", plan.upstream_target, error.what());
  }
  RuleCounters* counters = plan.rule != nullptr ? plan.rule->counters : runtime.unmatched_counters;
  counters->record_audit(result, age_seconds);
  if (result == AuditResult::differing) {
    // The next client gets what the origin has now; the write that changed it went unseen.
    self->missed_invalidations_.fetch_add(1, std::memory_order_relaxed);
    const Key key = plan.key;
    const Outcome removed = co_await self->cache_->remove(key);
    (void)removed;
  }
  if (self->audit_observer_) {
    self->audit_observer_(AuditEvent{std::chrono::system_clock::now(),
                                     plan.rule != nullptr ? plan.rule->rule.name : std::string(RuleStats::kUnmatched),
                                     plan.upstream_target, age_seconds, result});
  }
}

}  // namespace strata::gateway
