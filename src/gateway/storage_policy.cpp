#include "gateway/storage_policy.hpp"

#include "gateway/freshness.hpp"

#include <algorithm>
#include <iterator>

namespace strata::gateway {

using namespace std::chrono_literals;

namespace {

constexpr std::size_t kMaxTags = 64;

}  // namespace

bool understood_status(unsigned status) {
  static constexpr unsigned kKnown[] = {200, 201, 202, 203, 204, 205, 206, 300, 301, 302, 303, 304, 305, 307, 308,
                                        400, 401, 402, 403, 404, 405, 406, 407, 408, 409, 410, 411, 412, 413,
                                        414, 415, 416, 417, 421, 422, 426, 500, 501, 502, 503, 504, 505};
  return std::find(std::begin(kKnown), std::end(kKnown), status) != std::end(kKnown);
}

bool origin_allows_credentialed_reuse(const CacheControl& control, const CacheControl& surrogate) {
  return control.is_public || control.s_maxage.has_value() || control.must_revalidate || surrogate.max_age.has_value();
}

StorageDecision decide_storage(const StoredResponse& response, const StorageContext& context) {
  StorageDecision decision;
  const Rule* rule = context.rule;
  const auto control = parse_cache_control(response.joined("cache-control"));
  const auto surrogate = parse_cache_control(response.joined("surrogate-control"));
  auto refuse = [&](std::string reason) {
    decision.store = false;
    // A request with credentials may get a personal answer (private, Set-Cookie) where an
    // anonymous one would be cacheable: only anonymous answers speak for the entry.
    decision.uncacheable_for_now = !context.credentialed && reason != "credentials" && response.status < 500;
    decision.reason = std::move(reason);
    return decision;
  };
  const auto age = upstream_age(response);
  decision.initial_age = age ? initial_age(*age, context.response_delay) : 0;
  // Set-Cookie belongs to the one client it was sent to.
  if (response.has("set-cookie")) return refuse("set-cookie");
  if (control.is_private && !(rule != nullptr && rule->per_user && context.keyed_by_user)) return refuse("private");
  // A view into this string is kept by the loop: it must outlive it.
  const std::string vary = response.joined("vary");
  const auto varied_names = split_list(vary);
  if (std::find(varied_names.begin(), varied_names.end(), "*") != varied_names.end()) return refuse("vary-star");
  for (auto varied : varied_names) {
    const auto name = ascii_lower(varied);
    if (name == "accept-encoding" && context.negotiates_codings) continue;
    const auto* keyed = context.keyed_headers;
    if (keyed == nullptr || std::find(keyed->begin(), keyed->end(), name) == keyed->end()) {
      return refuse("vary-unkeyed:" + name);
    }
  }
  // must-understand (RFC 9111 5.2.2.3): stored only with a status code we know the semantics
  // of, and then no-store is for caches that do not.
  const bool understood = understood_status(response.status);
  if (control.must_understand && !understood) return refuse("must-understand");
  const bool no_store = control.no_store && !(control.must_understand && understood);
  // Surrogate-Control speaks to this gateway; Cache-Control's no-store then speaks to browsers.
  if ((no_store && !surrogate.max_age) || surrogate.no_store) return refuse("no-store");
  if (!age) return refuse("invalid-age");
  if (!context.invalidation_header.empty() && response.has(context.invalidation_header)) return refuse("invalidating");

  // A rule's ttl applies to these; any other final status is stored only for the lifetime the
  // origin gave it explicitly (RFC 9111 3), or under the rule's negative_statuses.
  static constexpr unsigned kStorable[] = {200, 203, 204, 300, 301, 308};
  const bool storable_status = std::find(std::begin(kStorable), std::end(kStorable), response.status) != std::end(kStorable);
  const bool negative = rule != nullptr && std::find(rule->negative_statuses.begin(), rule->negative_statuses.end(),
                                                     response.status) != rule->negative_statuses.end();
  const auto lifetime = explicit_lifetime(response, control, surrogate);
  const bool final_status = response.status >= 200 && response.status != 206 && response.status != 304;
  if (!storable_status && !negative && !(lifetime && final_status)) return refuse("status");

  // RFC 9111 3.5: a response to a request with credentials enters a shared entry only when the
  // origin says a shared cache may reuse it. A rule's ttl does not say so; `credentials =
  // "shared"` on the rule does, and then the request is not counted as credentialed at all.
  const bool origin_allows = origin_allows_credentialed_reuse(control, surrogate);
  if (context.credentialed && !origin_allows) return refuse("credentials");
  decision.shared_with_credentials = origin_allows || (rule != nullptr && rule->credentials == CredentialPolicy::shared);

  if (negative && !storable_status) {
    decision.ttl = rule->negative_ttl;
  } else if (surrogate.max_age) {
    decision.ttl = *lifetime - std::chrono::seconds(decision.initial_age);
  } else if (rule != nullptr && rule->ttl && storable_status) {
    if (control.no_cache) return refuse("no-cache");
    decision.ttl = *rule->ttl;
  } else {
    // No rule lifetime: the origin's freshness, and for routes without a rule its say-so that
    // the response may be shared (RFC 9111 3).
    if (control.no_cache) return refuse("no-cache");
    if (rule == nullptr && context.unmatched == UnmatchedRoutes::public_only && !control.is_public) {
      return refuse("not-public");
    }
    // The time the response already spent in caches upstream, and on its way, counts against
    // its freshness.
    decision.ttl = lifetime.value_or(0s) - std::chrono::seconds(decision.initial_age);
  }
  if (decision.ttl <= 0s) return refuse("no-lifetime");

  if (!control.must_revalidate && !control.proxy_revalidate) {
    if (rule != nullptr) decision.stale = std::max(rule->stale_while_revalidate, rule->stale_if_error);
    decision.stale = std::max({decision.stale, control.stale_while_revalidate.value_or(0s),
                               control.stale_if_error.value_or(0s)});
  }
  if (rule != nullptr && context.variables != nullptr) {
    for (const auto& pattern : rule->tags) {
      if (auto tag = expand(pattern, *context.variables)) decision.tags.push_back(std::move(*tag));
    }
  }
  for (const char* name : {"cache-tag", "surrogate-key"}) {
    const std::string listed = response.joined(name);
    for (auto tag : split_list(listed, std::string_view(name) == "surrogate-key")) {
      if (decision.tags.size() >= kMaxTags) break;
      decision.tags.emplace_back(tag);
    }
  }
  decision.store = true;
  return decision;
}

}  // namespace strata::gateway
