#pragma once

// The gateway's settings as one immutable snapshot: compiled rules, the identity resolver and
// the trust and stripping lists. A SIGHUP builds a new one; each request keeps the one it began
// with.

#include "gateway/gateway.hpp"
#include "gateway/identity.hpp"
#include "gateway/route.hpp"
#include "gateway/rule_stats.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace strata::gateway {

struct CompiledRule {
  Rule rule;
  PathTemplate path;
  RuleCounters* counters = nullptr;  // owned by the gateway's RuleStats, which outlives every Runtime
};

// The settings a SIGHUP replaces, as one immutable snapshot per request.
struct Runtime {
  Runtime(GatewayConfig settings, RuleStats& rule_stats);
  GatewayConfig config;
  std::vector<CompiledRule> rules;
  RuleCounters* unmatched_counters = nullptr;  // requests no rule matched
  IdentityResolver identity;
  std::unordered_set<std::string> stripped;  // request headers removed before going upstream

  std::vector<Network> trusted_proxies;

  // Whether `peer` may set the trusted identity header.
  [[nodiscard]] bool trusts(std::string_view peer) const;
  // The caller's identity, as configured (the identity header only from trusted peers).
  [[nodiscard]] Identity identify(const Request& request, const RequestContext& context) const;
  // Whether the request carries credentials (identity.credential_headers, or the identity
  // header from a trusted peer): its answer may be personal.
  [[nodiscard]] bool carries_credentials(const Request& request, const RequestContext& context) const;
  // Whether a header (lower-case name) is one that carries credentials: Authorization, Cookie,
  // Proxy-Authorization, the identity header, identity.credential_headers.
  [[nodiscard]] bool is_credential_header(std::string_view lower_name) const;
  // An admin caller: the admin token (compared by digest, in constant time) or a verified JWT
  // with the admin claim. The same test for the admin API and for what Cache-Status shows.
  [[nodiscard]] bool is_admin(const Request& request, const Identity& caller) const;

  // The first rule for this method and path (GET rules also answer HEAD).
  [[nodiscard]] std::pair<const CompiledRule*, Variables> match(std::string_view method, std::string_view path) const;
};

// Seconds since the Unix epoch, for token expiry and stored dates.
std::int64_t unix_now();
// Milliseconds since the Unix epoch, for what the admin API and the hot set timestamp.
std::int64_t unix_ms_now();

}  // namespace strata::gateway
