#pragma once

// HTTP caching semantics (RFC 9111) that do not depend on sockets: Cache-Control parsing, the
// stored form of a response, and conditional-request checks.

#include <strata/cache/codec.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace strata::gateway {

struct CacheControl {
  bool no_store = false;
  bool no_cache = false;
  bool is_private = false;
  bool is_public = false;
  bool must_revalidate = false;
  bool proxy_revalidate = false;
  bool no_transform = false;
  bool must_understand = false;
  std::optional<std::chrono::seconds> max_age;
  std::optional<std::chrono::seconds> s_maxage;
  std::optional<std::chrono::seconds> stale_while_revalidate;
  std::optional<std::chrono::seconds> stale_if_error;
};
// One or more Cache-Control (or Surrogate-Control) field values. Unknown directives are ignored;
// a malformed delta-seconds makes the directive count as absent, except max-age and s-maxage
// which then count as 0 (RFC 9111 4.2.1: treat invalid freshness as stale).
CacheControl parse_cache_control(std::string_view value);

// Without the spaces and tabs around it (optional whitespace, RFC 9110 5.6.3).
std::string_view trim_whitespace(std::string_view text);
// Comma-separated list members, trimmed, empty ones dropped (header lists, Vary, Cache-Tag).
std::vector<std::string_view> split_list(std::string_view value, bool also_spaces = false);

using Header = std::pair<std::string, std::string>;  // lower-case name, value

// A response as stored: status, the headers worth replaying, body.
struct StoredResponse {
  unsigned status = 200;
  std::vector<Header> headers;
  std::string body;
  std::string rendered_headers;  // "name: value\r\n" for each header, written as is on a hit
  std::uint32_t initial_age = 0;  // seconds the response had spent in caches upstream (its Age)
  // The origin allowed a shared cache to answer requests with credentials from it (public,
  // s-maxage, must-revalidate, Surrogate-Control), or the rule declared it the same for all.
  bool shared_with_credentials = false;
  // The gateway compressed the origin's identity body for storage: the coding and the (weak)
  // ETag are the gateway's, kept when a 304 refreshes the entry.
  bool gateway_encoded = false;

  void render_headers();
  // The heap memory its fields, body and rendered block hold (the object itself not included).
  [[nodiscard]] std::size_t heap_bytes() const;

  // The first value of a field.
  [[nodiscard]] std::optional<std::string_view> header(std::string_view lower_name) const;
  // Every value of a field, joined with ", " as a list (empty when absent).
  [[nodiscard]] std::string joined(std::string_view lower_name) const;
  [[nodiscard]] bool has(std::string_view lower_name) const;
};

// What a URL's entry holds when its responses vary on request headers outside its key (see
// variants.hpp): where to find the variant a request selects.
struct VariantIndex {
  std::vector<std::string> headers;  // lowercase, sorted, without repeats
  std::string generation;            // random; a new index starts a new generation
};

// What the cache holds for an HTTP entry: a response, or (under a URL whose responses vary) a
// variant index. Only those two are stored; the rest is how a load hands a response that must
// not be shared to the one request that caused it.
struct HttpEntry {
  std::shared_ptr<const StoredResponse> response;
  std::shared_ptr<const VariantIndex> variants;
  // This load refreshed a stale entry with a 304 from the origin (not stored with the entry).
  bool revalidated = false;
  // The load's own response was not stored (no-store, Set-Cookie, credentials, too large...):
  // only the request whose loader ran may use it; coalesced waiters ask the origin themselves.
  bool requester_only = false;
  std::string not_stored;  // why (StorageDecision::reason, or "too-large"), for Cache-Status
  // Set when the body was larger than the cacheable limit: the rest of it, still on the wire.
  std::shared_ptr<void> body_stream;
};

// Hop-by-hop headers (RFC 9110 7.6.1), and Content-Length (recomputed): never stored or relayed.
bool is_hop_by_hop(std::string_view lower_name);

// If-None-Match against a stored ETag (weak comparison, RFC 9110 13.1.2).
bool none_match_satisfied(std::string_view if_none_match, std::string_view etag);
// Seconds since the epoch of an HTTP-date (IMF-fixdate, RFC 850 and asctime forms).
std::optional<std::int64_t> parse_http_date(std::string_view text);
std::string format_http_date(std::int64_t seconds_since_epoch);

}  // namespace strata::gateway

namespace strata {
// A compact binary form: version, status, headers, body. Entries that do not parse are misses.
template <>
struct Codec<gateway::HttpEntry> {
  static constexpr std::string_view name = "http1";
  static std::string encode(const gateway::HttpEntry& entry);
  static std::optional<gateway::HttpEntry> decode(std::string_view bytes);
  static std::size_t footprint(const gateway::HttpEntry& entry);
};
}  // namespace strata
