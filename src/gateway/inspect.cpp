// The admin API's /inspect: what the gateway holds for a request, as a GET of it would find it.

#include "gateway/gateway_impl.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <fmt/format.h>

namespace strata::gateway {

namespace json = boost::json;
namespace http = boost::beast::http;

namespace {

json::value seconds_or_null(std::int64_t ms) {
  return ms >= 0 ? json::value(static_cast<double>(ms / 100) / 10.0) : json::value(nullptr);
}

json::object copy_json(const StoredCopy& copy, std::int64_t now_ms) {
  json::object out;
  out["age_seconds"] = seconds_or_null(now_ms - copy.created_ms);
  out["fresh_for_seconds"] = static_cast<double>(std::max<std::int64_t>(0, copy.fresh_until_ms - now_ms) / 100) / 10.0;
  out["stale_window_seconds"] = static_cast<double>((copy.stale_until_ms - copy.fresh_until_ms) / 100) / 10.0;
  out["stored_bytes"] = copy.stored_bytes;
  out["invalidated"] = copy.invalidated;
  return out;
}

// One entry key: where it lives, and what its stored response is.
json::object entry_json(const Key& key, const EntryInspection& seen, std::shared_ptr<const VariantIndex>* index) {
  json::object out;
  out["key"] = key.to_string();
  out["storage_key"] = seen.storage_key;
  if (seen.l1) out["l1"] = copy_json(*seen.l1, seen.now_ms);
  if (seen.l2) out["redis"] = copy_json(*seen.l2, seen.now_ms);
  if (!seen.l2_error.empty()) out["redis_note"] = seen.l2_error;
  const StoredCopy* served = seen.served();
  if (served == nullptr) {
    const bool marked = (seen.l1 && seen.l1->invalidated) || (seen.l2 && seen.l2->invalidated);
    out["state"] = marked ? "invalidated" : "absent";
    return out;
  }
  out["state"] = seen.now_ms < served->fresh_until_ms ? "fresh" : "stale";
  out["served_from"] = seen.l1 && served == &*seen.l1 ? "l1" : "redis";
  out["age_seconds"] = seconds_or_null(seen.now_ms - served->created_ms);
  out["fresh_for_seconds"] = static_cast<double>(std::max<std::int64_t>(0, served->fresh_until_ms - seen.now_ms) / 100) / 10.0;
  out["stale_for_seconds"] =
      static_cast<double>(std::max<std::int64_t>(0, served->stale_until_ms - std::max(seen.now_ms, served->fresh_until_ms)) / 100) / 10.0;
  json::array tags;
  for (const auto& tag : served->tags) tags.emplace_back(tag);
  out["tags"] = std::move(tags);
  const auto entry = Codec<HttpEntry>::decode(served->value);
  if (!entry) {
    out["note"] = fmt::format("the stored value is not an HTTP entry (codec \"{}\")", served->codec);
    return out;
  }
  if (entry->variants) {
    json::array headers;
    for (const auto& name : entry->variants->headers) headers.emplace_back(name);
    out["varies_on"] = std::move(headers);
    *index = entry->variants;
    return out;
  }
  if (entry->response) {
    const auto& response = *entry->response;
    out["status"] = response.status;
    out["body_bytes"] = response.body.size();
    if (auto coding = response.header("content-encoding")) out["content_encoding"] = std::string(*coding);
    if (auto etag = response.header("etag")) out["etag"] = std::string(*etag);
    if (auto control = response.header("cache-control")) out["cache_control"] = std::string(*control);
    if (auto type = response.header("content-type")) out["content_type"] = std::string(*type);
  }
  return out;
}

}  // namespace

boost::asio::awaitable<Reply> Gateway::Impl::inspect_request(const Runtime& runtime, const json::object& body) {
  for (const auto& [field, value] : body) {
    (void)value;
    if (field != "path" && field != "headers") {
      co_return json_error(400, "bad_request", fmt::format("unknown field \"{}\"; expected path and headers", std::string_view(field)));
    }
  }
  const auto* path = body.if_contains("path");
  if (path == nullptr || !path->is_string() || path->get_string().empty()) {
    co_return json_error(400, "bad_request", "\"path\" must be the request target to inspect, e.g. \"/api/jobs/1?page=2\"");
  }
  Request request;
  request.method(http::verb::get);
  request.target(std::string_view(path->get_string()));
  if (const auto* headers = body.if_contains("headers")) {
    if (!headers->is_object()) co_return json_error(400, "bad_request", "\"headers\" must be an object of name: value");
    for (const auto& [name, value] : headers->get_object()) {
      if (!value.is_string() || name.empty()) {
        co_return json_error(400, "bad_request", fmt::format("headers: \"{}\" must have a string value", std::string_view(name)));
      }
      request.insert(std::string_view(name), std::string_view(value.get_string()));
    }
  }
  std::string problem;
  const auto target = normalize_target(request.target(), &problem);
  if (!target) co_return json_error(400, "bad_request", fmt::format("path: {}", problem));

  json::object out;
  out["path"] = target->query.empty() ? target->path : target->path + "?" + target->query;
  auto [rule, variables] = runtime.match("GET", target->path);
  out["rule"] = rule != nullptr ? json::value(rule->rule.name) : json::value(nullptr);
  auto not_cached = [&](std::string_view why) {
    out["state"] = "not cached";
    out["reason"] = why;
    return json_reply(200, out);
  };
  if (rule != nullptr && !rule->rule.cache) co_return not_cached("its rule says cache = false");
  // The identity a client presenting these headers would have; the admin vouches for the peer.
  const auto& identity_header = runtime.config.identity.header;
  const std::string_view claimed = identity_header.empty() ? std::string_view() : std::string_view(request[identity_header]);
  const auto identity = runtime.identity.resolve(request[http::field::authorization], claimed, unix_now());
  if (rule != nullptr && rule->rule.per_user && !identity.user) {
    co_return not_cached(identity.problem.empty()
                             ? "a per-user rule: give the user's identity in \"headers\""
                             : fmt::format("a per-user rule, and the identity given is refused: {}", identity.problem));
  }
  if (identity.user) out["user"] = *identity.user;
  auto plan = plan_entry(runtime, rule, std::move(variables), *target, request, identity.user);
  std::shared_ptr<const VariantIndex> index;
  const Key url_key = plan.key;
  const auto seen = co_await cache_->inspect(url_key);
  auto entry = entry_json(url_key, seen, &index);
  if (index) {
    const auto variant = plan_variant(plan, request, index);
    std::shared_ptr<const VariantIndex> nested;
    const Key variant_key = variant.key;
    const auto variant_seen = co_await cache_->inspect(variant_key);
    entry["variant"] = entry_json(variant_key, variant_seen, &nested);
  }
  if (uncacheable_.marked(plan.key, clock_->now())) {
    entry["note"] = "its last response could not be stored: requests go to the origin for now";
  }
  out["entry"] = std::move(entry);
  co_return json_reply(200, out);
}

}  // namespace strata::gateway
