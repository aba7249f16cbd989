#pragma once

// Freshness and age (RFC 9111 4.2): how long a response is fresh for, how old it was when it
// reached the gateway, and how old it is when served. Pure functions of the response and of
// times measured by the caller.

#include "gateway/http_cache.hpp"

#include <chrono>
#include <cstdint>
#include <optional>

namespace strata::gateway {

// The origin's Age: 0 when absent; nullopt unless one non-negative integer (RFC 9111 5.1: a
// list, a second line or a fraction make the response stale). Capped at 2^31 seconds.
std::optional<std::int64_t> upstream_age(const StoredResponse& response);

// The response's age on arrival (RFC 9111 4.2.3, corrected_age_value): its Age plus the time
// the origin took to answer, in whole seconds. The apparent age (now - Date) is left out on
// purpose: an origin whose clock runs a minute behind would otherwise have every
// max-age=60 response arrive stale, which no deployed cache we compare with does either.
std::int64_t initial_age(std::int64_t upstream_age, std::chrono::steady_clock::duration response_delay);

// The freshness lifetime the origin gave (RFC 9111 4.2.1): s-maxage, then max-age, then
// Expires - Date (an invalid Expires or Date: 0). Surrogate-Control's max-age, which speaks to
// the gateway alone, comes first. Nullopt when none is given.
std::optional<std::chrono::seconds> explicit_lifetime(const StoredResponse& response, const CacheControl& control,
                                                      const CacheControl& surrogate);

// The age a served response shows: its age on arrival plus the time it spent stored.
std::int64_t current_age(std::int64_t arrival_age, std::int64_t resident_seconds);

}  // namespace strata::gateway
