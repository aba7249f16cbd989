#pragma once

// What one call's EntryOptions make of the cache's defaults: pure functions, so every rule about
// per-call options (what overrides what, what is valid) is tested without a cache.

#include <strata/cache/options.hpp>

#include <string>
#include <string_view>
#include <vector>

namespace strata::cache {

// Sorted, without repeats: tags are compared and stored in this form.
void normalize_tags(std::vector<std::string>& tags);

// EntryDefaults with the per-call overrides applied, plus the entry's tags.
struct Policy : EntryDefaults {
  std::vector<std::string> tags;
};

// The part of a policy that reading needs. A hit resolves only this (on the stack), so that
// get_or_set's frame stays small; the full Policy is resolved when a load starts.
struct ReadPolicy {
  ReadPolicy(const EntryDefaults& policy)  // NOLINT: every policy is usable as a read policy
      : use_l1(policy.use_l1), use_l2(policy.use_l2), l1_ttl(policy.l1_ttl), eager_refresh(policy.eager_refresh) {}
  bool use_l1;
  bool use_l2;
  Clock::duration l1_ttl;
  double eager_refresh;
};

// `defaults` with the options' overrides applied; `changed` says whether any applied.
EntryDefaults overridden(const EntryDefaults& defaults, const EntryOptions& options, bool* changed = nullptr);
// The full policy of a call: overrides, and the tags (a per-user entry carries "user:<id>").
Policy resolve(const EntryDefaults& defaults, const EntryOptions& options);
// Throws std::invalid_argument naming `where` and the field when `policy` is not usable.
void validate(const EntryDefaults& policy, const CacheOptions& options, std::string_view where);

}  // namespace strata::cache
