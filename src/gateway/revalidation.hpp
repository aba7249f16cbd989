#pragma once

// Revalidating a stored response with its origin (RFC 9111 4.3) and when a stale copy may stand
// in for the origin's answer (RFC 9111 4.2.4). Pure functions, each with a table test.

#include "gateway/config.hpp"
#include "gateway/http_cache.hpp"

#include <memory>
#include <vector>

namespace strata::gateway {

// The conditional request fields that ask the origin whether `stored` is still current:
// If-None-Match with its ETag, and If-Modified-Since with its Last-Modified. Empty when it has
// neither (it cannot be revalidated, only refetched).
std::vector<Header> validators_for(const StoredResponse& stored);

// `stored` refreshed by a 304 (RFC 9111 4.3.4): every header field the 304 carries replaces the
// stored ones of that name, except those that describe the stored body itself (its framing,
// Content-Encoding, Content-Range, Content-MD5 and its ETag, which the gateway may have made
// weak for a coding of its own) and Age.
std::shared_ptr<StoredResponse> refreshed_by(const StoredResponse& stored, const StoredResponse& not_modified);

// must-revalidate, proxy-revalidate and s-maxage (RFC 9111 5.2.2.2, 5.2.2.8, 5.2.2.10): a shared
// cache never serves such a response stale, the origin unreachable or not.
bool forbids_stale(const CacheControl& control);
// The same, read from the stored response's own Cache-Control.
bool forbids_stale(const StoredResponse& stored);

// Whether `stored`, stale, may be served instead of the origin's answer: when the origin cannot
// be reached (`unreachable`, RFC 9111 4.2.4 "disconnected"), unless the response forbids it;
// when the origin answered with a server error, only if the response (stale-if-error,
// stale-while-revalidate) or the rule (`rule` may be null) gave it a stale window.
bool stale_may_stand_in(const StoredResponse& stored, const Rule* rule, bool unreachable);

}  // namespace strata::gateway
