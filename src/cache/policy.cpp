#include "cache/policy.hpp"

#include <algorithm>
#include <chrono>
#include <stdexcept>

namespace strata::cache {

using namespace std::chrono_literals;

void normalize_tags(std::vector<std::string>& tags) {
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
}

EntryDefaults overridden(const EntryDefaults& defaults, const EntryOptions& options, bool* changed) {
  EntryDefaults policy = defaults;
  bool any = false;
  auto apply = [&any](auto& field, const auto& override_value) {
    if (!override_value) return;
    field = *override_value;
    any = true;
  };
  apply(policy.ttl, options.ttl);
  apply(policy.ttl_jitter, options.ttl_jitter);
  apply(policy.stale_ttl, options.stale_ttl);
  apply(policy.eager_refresh, options.eager_refresh);
  apply(policy.soft_timeout, options.soft_timeout);
  apply(policy.stale_while_revalidate, options.stale_while_revalidate);
  apply(policy.hard_timeout, options.hard_timeout);
  apply(policy.fail_safe, options.fail_safe);
  apply(policy.l1_ttl, options.l1_ttl);
  apply(policy.use_l1, options.use_l1);
  apply(policy.use_l2, options.use_l2);
  apply(policy.distributed_lock, options.distributed_lock);
  if (changed != nullptr) *changed = any;
  return policy;
}

Policy resolve(const EntryDefaults& defaults, const EntryOptions& options) {
  Policy policy;
  static_cast<EntryDefaults&>(policy) = overridden(defaults, options);
  policy.tags = options.tags;
  if (options.user) policy.tags.push_back("user:" + *options.user);
  normalize_tags(policy.tags);
  return policy;
}

void validate(const EntryDefaults& policy, const CacheOptions& options, std::string_view where) {
  auto fail = [&](const std::string& what) {
    throw std::invalid_argument(std::string(where) + ": " + what);
  };
  if (policy.ttl <= Clock::duration::zero()) fail("ttl must be positive");
  if (policy.ttl_jitter < Clock::duration::zero() || policy.ttl_jitter >= policy.ttl) {
    fail("ttl_jitter must be in [0, ttl)");
  }
  if (policy.stale_ttl < Clock::duration::zero()) fail("stale_ttl must not be negative");
  if (policy.eager_refresh < 0.0 || policy.eager_refresh >= 1.0) {
    fail("eager_refresh must be 0 (off) or a fraction of the ttl in (0, 1), e.g. 0.8");
  }
  if (policy.hard_timeout <= 0ms || policy.hard_timeout > options.max_fill_duration) {
    fail("hard_timeout must be positive and at most max_fill_duration (" +
         std::to_string(options.max_fill_duration.count()) + " ms)");
  }
  if (policy.soft_timeout < 0ms || policy.soft_timeout > policy.hard_timeout) {
    fail("soft_timeout must be in [0, hard_timeout]");
  }
  if (policy.stale_while_revalidate < Clock::duration::zero()) {
    fail("stale_while_revalidate must not be negative");
  }
  if (policy.l1_ttl <= Clock::duration::zero()) fail("l1_ttl must be positive");
}

}  // namespace strata::cache
