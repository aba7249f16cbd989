#pragma once

// Secondary cache keys (RFC 9111 4.1): a response that varies on request headers the entry's
// key does not hold is stored under a variant key made of those headers' values, beside the
// other variants of the same URL. The URL's own entry then holds a variant index: which headers
// to read, and the generation the variants were written under. Removing the index (a write to
// the URL, an admin invalidation) makes every variant of that generation unreachable at once,
// in this gateway and every other sharing the cache, without enumerating them.

#include "gateway/http_cache.hpp"

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace strata::gateway {

// The request headers `response` varies on beyond `keyed` (already in the entry's key) and
// Accept-Encoding (the gateway negotiates codings itself): lowercase, sorted, without repeats.
// nullopt for `Vary: *`, which no request can match.
std::optional<std::vector<std::string>> varied_headers(const StoredResponse& response,
                                                       const std::vector<std::string>& keyed);

// One request header's value as a variant sees it: its field lines joined, whitespace around
// list commas removed; nullopt when absent (distinct from present and empty).
std::optional<std::string> normalized_field(const boost::beast::http::request<boost::beast::http::string_body>& request,
                                            std::string_view name);

// Which variant of `headers` the request selects: equal ids, equal normalised values. A digest,
// since the values may be credentials and the id ends up in a stored key.
std::string variant_id(const boost::beast::http::request<boost::beast::http::string_body>& request,
                       const std::vector<std::string>& headers);

std::string new_variant_generation();

// How many variants of one URL generation this gateway has stored, to keep a URL whose responses
// vary on an unbounded header (User-Agent, a session) from filling the cache with copies.
// Bounded memory: past `capacity` generations it forgets them all, which lets a few more
// variants in, never a wrong one.
class VariantCounts {
public:
  explicit VariantCounts(std::size_t capacity = 16384) : capacity_(capacity) {}
  // Whether variant `id` of `generation` may be stored under `limit` variants; counts it if so.
  bool admit(const std::string& generation, const std::string& id, std::size_t limit);

private:
  std::mutex mutex_;
  std::size_t capacity_;
  std::unordered_map<std::string, std::vector<std::string>> seen_;
};

}  // namespace strata::gateway
