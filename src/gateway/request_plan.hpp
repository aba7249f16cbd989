#pragma once

// Request planning, as pure functions of the settings and the request: which cache entry a
// request names (its key), and what the gateway sends the origin for it (target and headers).

#include "gateway/origin.hpp"
#include "gateway/runtime.hpp"
#include "gateway/variants.hpp"

#include "strata/cache/key.hpp"

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::gateway {

// A request resolved to one cache entry.
struct EntryPlan {
  const CompiledRule* rule = nullptr;  // null: no rule, the origin's headers decide
  Variables variables;                 // path variables, plus "user" when known
  Key key{"http", {}};
  std::vector<std::string> key_parts;  // what `key` is made of, for its variants' keys
  // Set when `key` names one variant of a URL whose responses vary (the URL's index, and the
  // URL's own key): see variants.hpp.
  std::shared_ptr<const VariantIndex> variant_of;
  std::string variant_id;  // which variant of `variant_of` the request selects
  std::optional<Key> url_key;
  std::string upstream_target;         // normalised path + the keyed query only
  std::vector<std::string> keyed_headers;
  std::optional<std::string> user;
  UnmatchedRoutes unmatched_policy = UnmatchedRoutes::public_only;
  // The request carries credentials and the entry is shared (no user in the key, the rule does
  // not declare its answers the same for all): see CredentialPolicy::bypass.
  bool credentialed = false;
};

// The keyed query parameters in a fixed order, percent-encoded the same way whatever the client
// wrote: the rule's order (`keyed` = its `query` list), or sorted by name for all of them (null
// or "*"). Repeated names keep their order of appearance.
std::string canonical_query(std::string_view raw, const std::vector<std::string>* keyed);

// The entry a cacheable request names: the rule's namespace, the normalised path, the canonical
// query, the rule's keyed headers and, for per-user rules, the user.
EntryPlan plan_entry(const Runtime& runtime, const CompiledRule* rule, Variables variables, const Target& target,
                     const Request& request, const std::optional<std::string>& user);

// `url`'s plan narrowed to the variant `index` selects for `request` (RFC 9111 4.1).
EntryPlan plan_variant(const EntryPlan& url, const Request& request, std::shared_ptr<const VariantIndex> index);

// The request sent upstream. Hop-by-hop fields, Host, Expect and the configured stripped
// headers are dropped (a keyed header is kept: the origin must see what the key holds), and an
// identity header from an untrusted peer; X-Forwarded-For gains the peer. A request made for the
// cache (`for_cache`) is a GET without conditionals or ranges (the cache answers those itself)
// asking for gzip when the client accepts it, identity otherwise.
OriginRequest upstream_request(const Runtime& runtime, const Request& request, std::string target,
                               const RequestContext& context, bool for_cache,
                               const std::vector<std::string>& keyed_headers);

}  // namespace strata::gateway
