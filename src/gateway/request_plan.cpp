#include "gateway/request_plan.hpp"

#include "gateway/content_coding.hpp"

#include <boost/beast/http/field.hpp>

#include <algorithm>

namespace strata::gateway {

namespace http = boost::beast::http;

std::string canonical_query(std::string_view raw, const std::vector<std::string>* keyed) {
  auto pairs = parse_query(raw);
  std::vector<std::pair<std::string, std::string>> kept;
  if (keyed == nullptr || (keyed->size() == 1 && keyed->front() == "*")) {
    kept = std::move(pairs);
    std::stable_sort(kept.begin(), kept.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  } else {
    for (const auto& name : *keyed) {
      for (const auto& pair : pairs) {
        if (pair.first == name) kept.push_back(pair);
      }
    }
  }
  std::string out;
  for (const auto& [name, value] : kept) {
    if (!out.empty()) out.push_back('&');
    out += percent_encode(name);
    out.push_back('=');
    out += percent_encode(value);
  }
  return out;
}

EntryPlan plan_entry(const Runtime& runtime, const CompiledRule* rule, Variables variables, const Target& target,
                     const Request& request, const std::optional<std::string>& user) {
  EntryPlan plan;
  plan.rule = rule;
  plan.user = rule != nullptr && rule->rule.per_user ? user : std::nullopt;
  if (user) variables["user"] = *user;
  plan.variables = std::move(variables);
  const std::string query = canonical_query(target.query, rule != nullptr ? &rule->rule.query : nullptr);
  plan.unmatched_policy = runtime.config.unmatched_routes;
  plan.upstream_target = target.path;
  if (!query.empty()) plan.upstream_target += "?" + query;
  std::vector<std::string> parts{target.path, "?" + query};
  if (rule != nullptr) {
    for (const auto& name : rule->rule.headers) {
      plan.keyed_headers.push_back(name);
      std::string value;
      for (const auto& field : request) {
        if (ascii_lower(field.name_string()) != name) continue;
        if (!value.empty()) value += ", ";
        value += std::string(field.value());
      }
      parts.push_back("h:" + name + "=" + value);
    }
  }
  if (plan.user) parts.push_back("u:" + *plan.user);
  plan.key = Key(rule != nullptr ? rule->rule.name_space : "http", parts);
  plan.key_parts = std::move(parts);
  return plan;
}

EntryPlan plan_variant(const EntryPlan& url, const Request& request, std::shared_ptr<const VariantIndex> index) {
  EntryPlan plan = url;
  plan.url_key = url.key;
  plan.variant_id = variant_id(request, index->headers);
  auto parts = url.key_parts;
  parts.push_back("v:" + index->generation + ":" + plan.variant_id);
  plan.key = Key(url.key.name_space(), std::move(parts));
  plan.variant_of = std::move(index);
  return plan;
}

OriginRequest upstream_request(const Runtime& runtime, const Request& request, std::string target,
                               const RequestContext& context, bool for_cache,
                               const std::vector<std::string>& keyed_headers) {
  OriginRequest upstream;
  if (for_cache) upstream.method(http::verb::get);
  else if (request.method() == http::verb::unknown) upstream.method_string(request.method_string());  // extension
  else upstream.method(request.method());
  upstream.target(target);
  upstream.version(11);
  // Headers named in Connection are hop-by-hop too (RFC 9110 7.6.1).
  std::vector<std::string> connection_listed;
  for (auto item : split_list(request[http::field::connection])) connection_listed.push_back(ascii_lower(item));
  std::string forwarded_for;
  for (const auto& field : request) {
    const std::string name = ascii_lower(field.name_string());
    if (is_hop_by_hop(name) || name == "host" || name == "expect" || name == "x-forwarded-for") {
      if (name == "x-forwarded-for") forwarded_for = std::string(field.value());
      continue;
    }
    if (std::find(connection_listed.begin(), connection_listed.end(), name) != connection_listed.end()) continue;
    if (runtime.stripped.contains(name) &&
        std::find(keyed_headers.begin(), keyed_headers.end(), name) == keyed_headers.end()) {
      continue;
    }
    // An identity header from an untrusted peer is a forgery: the origin must not see it either.
    if (name == runtime.config.identity.header && !runtime.trusts(context.peer)) continue;
    if (for_cache && (name == "if-none-match" || name == "if-modified-since" || name == "if-match" ||
                      name == "if-unmodified-since" || name == "if-range" || name == "range")) {
      continue;  // the cache needs the full response; it answers conditionals itself
    }
    if (for_cache && name == "accept-encoding") continue;  // the gateway negotiates codings itself
    upstream.insert(field.name_string(), field.value());
  }
  if (!context.peer.empty()) {
    upstream.set("X-Forwarded-For", forwarded_for.empty() ? context.peer : forwarded_for + ", " + context.peer);
  }
  if (!for_cache) upstream.body() = request.body();
  // One stored coding every client can be given: gzip (decoded for the rare client without it);
  // identity when this client cannot take gzip, so that its own answer, even one streamed
  // through uncached, is always in a coding it accepts.
  if (for_cache && accepts_coding(request[http::field::accept_encoding], "gzip")) {
    upstream.set(http::field::accept_encoding, "gzip");
  }
  return upstream;
}

}  // namespace strata::gateway
