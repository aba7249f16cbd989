#pragma once

// Whether an origin's response may be stored in a shared entry, for how long and under which
// tags (RFC 9111 3, 3.5, 4.2, and the rule that governs the route). Pure: a response and the
// request's plan in, a decision out; gateway.cpp acts on it.
//
// A response that is not stored reaches only the request that fetched it: coalesced waiters
// ask the origin themselves, so that a waiter never receives what a later request could not
// have read from the cache.

#include "gateway/config.hpp"
#include "gateway/http_cache.hpp"
#include "gateway/route.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::gateway {

// What the storage decision needs to know about the request and its entry.
struct StorageContext {
  const Rule* rule = nullptr;  // null: no rule matched; the origin's headers decide
  UnmatchedRoutes unmatched = UnmatchedRoutes::public_only;
  bool keyed_by_user = false;  // the entry's key holds the caller's verified identity
  // The request carried credentials (Authorization, Cookie, ...) and the entry is shared by
  // everyone: its response is stored only when the origin says a shared cache may reuse it.
  bool credentialed = false;
  const std::vector<std::string>* keyed_headers = nullptr;  // request headers in the key
  // The gateway serves every client a coding it accepts, whatever the stored one: Vary on
  // Accept-Encoding is then satisfied without a key of its own.
  bool negotiates_codings = false;
  const Variables* variables = nullptr;                      // for the rule's tag templates
  std::string_view invalidation_header;
  // From the request to the origin to its response: it counts in the response's age.
  std::chrono::steady_clock::duration response_delay{};
};

struct StorageDecision {
  bool store = false;
  std::chrono::seconds ttl{0};
  std::chrono::seconds stale{0};
  std::vector<std::string> tags;
  std::int64_t initial_age = 0;  // age on arrival: the origin's Age plus the response delay
  bool shared_with_credentials = false;  // requests with credentials may be answered from it
  std::string reason;                    // why not stored: Cache-Status detail, logs, metrics
  // Not stored for a reason of the response itself, to a request without credentials, and not
  // a server error that may pass: later requests for the entry can skip coalescing for a while.
  bool uncacheable_for_now = false;
};

StorageDecision decide_storage(const StoredResponse& response, const StorageContext& context);

// A status code whose semantics RFC 9110 defines (for must-understand).
bool understood_status(unsigned status);

// Whether the origin's directives let a shared cache answer requests with credentials from this
// response (RFC 9111 3.5: public, s-maxage or must-revalidate; Surrogate-Control speaks to
// surrogates directly).
bool origin_allows_credentialed_reuse(const CacheControl& control, const CacheControl& surrogate);

}  // namespace strata::gateway
