// The admin API (the seeds' cache endpoints), health and /metrics.

#include "gateway/dashboard/dashboard_page.hpp"
#include "gateway/gateway_impl.hpp"

#include <strata/version.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>

namespace strata::gateway {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

json::object outcome_json(const Outcome& outcome) {
  json::object out;
  out["ok"] = outcome.ok();
  out["affected"] = outcome.affected;
  if (!outcome.ok()) out["error"] = outcome.message;
  return out;
}

// "used_memory_human:1.02M" out of INFO text.
std::string info_field(std::string_view info, std::string_view name) {
  const std::string needle = std::string(name) + ":";
  auto at = info.find(needle);
  if (at == std::string_view::npos) return {};
  at += needle.size();
  const auto end = info.find_first_of("\r\n", at);
  return std::string(info.substr(at, end == std::string_view::npos ? std::string_view::npos : end - at));
}

double percent(double fraction) { return std::round(fraction * 10000.0) / 100.0; }

// A list of strings from body[field]; a JSON error names the field.
std::optional<std::vector<std::string>> string_list(const json::object& body, std::string_view field, std::string* error) {
  std::vector<std::string> out;
  const auto* value = body.if_contains(field);
  if (value == nullptr) return out;
  if (!value->is_array()) {
    *error = fmt::format("\"{}\" must be an array of strings", field);
    return std::nullopt;
  }
  for (const auto& element : value->get_array()) {
    if (!element.is_string() || element.get_string().empty()) {
      *error = fmt::format("\"{}\" must hold non-empty strings", field);
      return std::nullopt;
    }
    out.emplace_back(element.get_string());
  }
  return out;
}

// "namespace:part:part" (as Cache-Status and logs show keys) into a Key.
std::optional<Key> parse_key(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  std::vector<std::string> parts;
  std::size_t start = colon + 1;
  while (start <= text.size()) {
    auto end = text.find(':', start);
    if (end == std::string_view::npos) end = text.size();
    auto part = percent_decode(text.substr(start, end - start), false);
    if (!part) return std::nullopt;
    parts.push_back(std::move(*part));
    start = end + 1;
  }
  auto name_space = percent_decode(text.substr(0, colon), false);
  if (!name_space || name_space->empty()) return std::nullopt;
  return Key(std::move(*name_space), std::move(parts));
}

// A Prometheus label value: backslash, quote and newline escaped.
std::string label_value(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

json::object latency_summary(const LatencyHistogram& histogram) {
  auto micros = [](std::chrono::nanoseconds ns) { return static_cast<double>(ns.count()) / 1000.0; };
  json::object out;
  out["count"] = histogram.count;
  out["p50_us"] = micros(histogram.quantile(0.50));
  out["p90_us"] = micros(histogram.quantile(0.90));
  out["p99_us"] = micros(histogram.quantile(0.99));
  return out;
}

json::object audit_json(const RuleSnapshot& rule, double target) {
  json::object out;
  out["audited"] = rule.audited;
  out["identical"] = rule.identical;
  out["stale"] = rule.differing;
  out["errors"] = rule.audit_errors;
  const auto compared = rule.identical + rule.differing;
  out["stale_rate"] = compared == 0 ? 0.0 : percent(static_cast<double>(rule.differing) / static_cast<double>(compared));
  json::array ages;
  for (std::size_t i = 0; i < kAuditAgeBounds.size(); ++i) {
    if (rule.ages.audited[i] == 0) continue;
    json::object bucket;
    bucket["age_le_seconds"] = i + 1 == kAuditAgeBounds.size() ? json::value(nullptr) : json::value(kAuditAgeBounds[i]);
    bucket["audited"] = rule.ages.audited[i];
    bucket["stale"] = rule.ages.differing[i];
    ages.push_back(std::move(bucket));
  }
  out["by_age"] = std::move(ages);
  const auto advice = advise_ttl(rule.ages, target);
  json::object suggestion;
  suggestion["ttl_seconds"] = advice.ttl_seconds ? json::value(*advice.ttl_seconds) : json::value(nullptr);
  suggestion["target_stale_rate"] = percent(target);
  suggestion["samples"] = advice.samples;
  suggestion["stale_rate"] = percent(advice.stale_ratio);
  suggestion["stale_rate_upper_95"] = percent(advice.stale_upper_bound);
  if (!advice.reason.empty()) suggestion["note"] = advice.reason;
  out["suggestion"] = std::move(suggestion);
  return out;
}

json::array rules_json(const std::vector<RuleSnapshot>& rules, double audit_target) {
  json::array out;
  for (const auto& rule : rules) {
    json::object item;
    item["name"] = rule.name;
    item["requests"] = rule.requests;
    item["hits"] = rule.hits;
    item["stale"] = rule.stale;
    item["misses"] = rule.misses;
    item["bypass"] = rule.bypass;
    item["hit_rate"] = percent(rule.hit_ratio());
    item["bytes_saved"] = rule.bytes_saved;
    json::object reasons;
    for (const auto& [reason, count] : rule.not_stored) reasons[reason] = count;
    item["not_stored"] = std::move(reasons);
    item["latency"] = latency_summary(rule.latency);
    if (rule.audited != 0) item["audit"] = audit_json(rule, audit_target);
    out.push_back(std::move(item));
  }
  return out;
}

void rules_prometheus(std::string& text, const std::vector<RuleSnapshot>& rules) {
  auto per_rule = [&](std::string_view name, std::string_view type, std::string_view help, auto value) {
    text += fmt::format("# HELP strata_gateway_rule_{0} {1}\n# TYPE strata_gateway_rule_{0} {2}\n", name, help, type);
    for (const auto& rule : rules) {
      text += fmt::format("strata_gateway_rule_{}{{rule=\"{}\"}} {}\n", name, label_value(rule.name), value(rule));
    }
  };
  per_rule("requests_total", "counter", "Requests each rule matched ((unmatched): none)",
           [](const RuleSnapshot& rule) { return rule.requests; });
  per_rule("hits_total", "counter", "Responses each rule served from the cache",
           [](const RuleSnapshot& rule) { return rule.hits; });
  per_rule("stale_total", "counter", "Stale responses each rule served",
           [](const RuleSnapshot& rule) { return rule.stale; });
  per_rule("misses_total", "counter", "Responses each rule fetched from the origin for the cache",
           [](const RuleSnapshot& rule) { return rule.misses; });
  per_rule("bypass_total", "counter", "Requests each rule sent around the cache",
           [](const RuleSnapshot& rule) { return rule.bypass; });
  per_rule("saved_bytes_total", "counter", "Body bytes each rule served from the cache instead of the origin",
           [](const RuleSnapshot& rule) { return rule.bytes_saved; });
  text += "# HELP strata_gateway_rule_not_stored_total Origin responses each rule did not store, by reason\n"
          "# TYPE strata_gateway_rule_not_stored_total counter\n";
  for (const auto& rule : rules) {
    for (const auto& [reason, count] : rule.not_stored) {
      text += fmt::format("strata_gateway_rule_not_stored_total{{rule=\"{}\",reason=\"{}\"}} {}\n",
                          label_value(rule.name), reason, count);
    }
  }
  text += "# HELP strata_gateway_rule_audits_total Audited hits each rule served, by what the origin said\n"
          "# TYPE strata_gateway_rule_audits_total counter\n";
  for (const auto& rule : rules) {
    if (rule.audited == 0) continue;
    for (const auto& [result, count] : {std::pair{"identical", rule.identical}, std::pair{"stale", rule.differing},
                                        std::pair{"error", rule.audit_errors}}) {
      text += fmt::format("strata_gateway_rule_audits_total{{rule=\"{}\",result=\"{}\"}} {}\n",
                          label_value(rule.name), result, count);
    }
  }
  text += "# HELP strata_gateway_rule_response_seconds Time until each rule's responses were ready to send\n"
          "# TYPE strata_gateway_rule_response_seconds histogram\n";
  for (const auto& rule : rules) {
    append_prometheus_histogram(text, "strata_gateway_rule_response_seconds",
                                fmt::format("rule=\"{}\"", label_value(rule.name)), rule.latency,
                                /*first_exponent=*/10, /*exponent_step=*/2);  // 1 us to 17 s: 13 series a rule
  }
}

}  // namespace

Reply json_reply(unsigned status, const json::value& body) {
  Reply reply;
  reply.status = status;
  reply.add("Content-Type", "application/json");
  reply.add("Cache-Control", "no-store");
  reply.owned_body = detail::json_serialize(body);
  return reply;
}

bool Gateway::Impl::named_entries(const Runtime& runtime, const std::vector<std::string>& keys,
                                  const std::vector<std::string>& paths, std::vector<Key>& out,
                                  std::string* error) const {
  for (const auto& text : keys) {
    auto key = parse_key(text);
    if (!key) {
      *error = fmt::format("keys: \"{}\" is not namespace:part[:part...]", text);
      return false;
    }
    out.push_back(std::move(*key));
  }
  // A path names the shared entry a GET of it would use (per-user entries: invalidate the user).
  for (const auto& text : paths) {
    std::string problem;
    auto named = normalize_target(text, &problem);
    if (!named) {
      *error = fmt::format("paths: \"{}\": {}", text, problem);
      return false;
    }
    auto [rule, variables] = runtime.match("GET", named->path);
    const Request probe;
    out.push_back(plan_entry(runtime, rule, std::move(variables), *named, probe, std::nullopt).key);
  }
  return true;
}

json::object Gateway::Impl::stats_body() const {
  const auto stats = cache_->stats();
  json::object statistics = json::parse(to_json(stats)).as_object();
  statistics["hit_rate"] = percent(stats.hit_rate());
  statistics["redis_enabled"] = stats.redis_enabled;
  statistics["redis_available"] = stats.redis_available;
  json::object gateway;
  gateway["requests"] = counters_.requests.load();
  gateway["hits"] = counters_.hits.load();
  gateway["misses"] = counters_.misses.load();
  gateway["stale"] = counters_.stale.load();
  gateway["bypass"] = counters_.bypass.load();
  gateway["not_modified"] = counters_.not_modified.load();
  gateway["revalidated"] = counters_.revalidated.load();
  gateway["ranges"] = counters_.ranges.load();
  gateway["origin_errors"] = counters_.origin_errors.load();
  const auto served = counters_.hits.load() + counters_.stale.load() + counters_.misses.load();
  gateway["hit_rate"] = served == 0 ? 0.0 : percent(static_cast<double>(counters_.hits.load() + counters_.stale.load()) / static_cast<double>(served));
  json::object body;
  body["cache_enabled"] = true;
  body["statistics"] = std::move(statistics);
  body["gateway"] = std::move(gateway);
  const auto& audit = runtime()->config.audit;
  body["rules"] = rules_json(rule_stats_.snapshot(), audit.stale_target);
  json::object warming;
  json::object audits;
  audits["missed_invalidations"] = missed_invalidations_.load();
  audits["skipped_by_limits"] = audit_gate_.skipped();
  body["audit"] = std::move(audits);
  warming["hot_set_tracked"] = hot_set_.tracked();
  warming["hot_set_saves"] = hot_set_saves_.load();
  warming["rewarm_running"] = rewarm_.running.load();
  warming["rewarm_total"] = rewarm_.total.load();
  warming["rewarm_pending"] = rewarm_pending();
  warming["rewarm_from_redis"] = rewarm_.from_redis.load();
  warming["rewarm_from_origin"] = rewarm_.from_origin.load();
  warming["rewarm_already"] = rewarm_.already.load();
  warming["rewarm_skipped"] = rewarm_.skipped.load();
  warming["rewarm_failed"] = rewarm_.failed.load();
  body["warming"] = std::move(warming);
  body["message"] = !stats.redis_enabled ? "Cache is working normally (in-process tier only)"
                    : stats.redis_available ? "Cache is working normally"
                                            : "Redis is unavailable: serving from the in-process tier and the origin";
  return body;
}

bool Gateway::Impl::is_admin_path(std::string_view path, const Runtime& runtime) const {
  const auto& base = runtime.config.admin.base;
  if (path == "/metrics" || path == "/health") return true;
  return path == base || (path.size() > base.size() && path.substr(0, base.size()) == base && path[base.size()] == '/');
}

asio::awaitable<Reply> Gateway::Impl::handle_admin(Request& request, const Target& target, const Identity& identity,
                                                   std::shared_ptr<const Runtime> runtime) {
  const auto& config = runtime->config;
  const auto method = request.method();
  std::string_view path = target.path;
  if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);

  if (path == "/health") {  // liveness for load balancers: no secrets, no authentication
    json::object body;
    body["status"] = "ok";
    co_return json_reply(200, body);
  }

  if (path == config.admin.base + "/dashboard") {
    // The page alone holds nothing: its script asks /dashboard/data with the admin token.
    if (method != http::verb::get && method != http::verb::head) {
      Reply refused = json_error(405, "method_not_allowed", fmt::format("{} accepts GET", path));
      refused.add("Allow", "GET");
      co_return refused;
    }
    Reply page;
    page.status = 200;
    page.add("Content-Type", "text/html; charset=utf-8");
    page.add("Cache-Control", "no-store");
    page.add("X-Content-Type-Options", "nosniff");
    page.add("Referrer-Policy", "no-referrer");
    page.add("Content-Security-Policy",
             "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
             "base-uri 'none'; form-action 'none'; frame-ancestors 'none'");
    page.owned_body = std::string(dashboard_page());
    page.head = method == http::verb::head;
    co_return page;
  }
  const auto token = bearer_token(request[http::field::authorization]);
  const bool admin = runtime->is_admin(request, identity);
  const std::string_view relative = path == "/metrics" ? std::string_view("/metrics") : path.substr(config.admin.base.size());

  auto refuse_unless_admin = [&]() -> std::optional<Reply> {
    if (admin) return std::nullopt;
    counters_.admin_refused.fetch_add(1, std::memory_order_relaxed);
    if (token.empty() && !identity.user) {
      Reply reply = json_error(401, "unauthorized", "admin endpoints need \"Authorization: Bearer <admin token>\" or an admin JWT");
      reply.add("WWW-Authenticate", "Bearer realm=\"strata admin\"");
      return reply;
    }
    if (config.admin.token_sha256.empty() && config.identity.source != IdentitySource::jwt) {
      return json_error(403, "forbidden", "the admin API is disabled: set admin.token_sha256 or use jwt identity");
    }
    return json_error(403, "forbidden", "these credentials do not grant admin access");
  };
  auto method_not_allowed = [&](std::string_view allowed) {
    Reply reply = json_error(405, "method_not_allowed", fmt::format("{} accepts {}", path, allowed));
    reply.add("Allow", allowed);
    return reply;
  };
  auto parse_body = [&](json::object& out) -> std::optional<Reply> {
    if (request.body().empty()) return std::nullopt;
    boost::system::error_code error;
    auto parsed = json::parse(request.body(), error);
    if (error || !parsed.is_object()) {
      return json_error(400, "bad_request", "the body must be a JSON object" + (error ? ": " + error.message() : std::string()));
    }
    out = std::move(parsed.as_object());
    return std::nullopt;
  };

  // The caller's own entries: needs the caller's identity, not admin rights.
  if (relative == "/invalidate/user") {
    if (method != http::verb::post) co_return method_not_allowed("POST");
    if (!identity.user) {
      counters_.admin_refused.fetch_add(1, std::memory_order_relaxed);
      co_return json_error(401, "unauthorized", "invalidating your entries needs a verified identity (" +
                                                    std::string(identity.problem.empty() ? "none presented" : identity.problem) + ")");
    }
    auto outcome = co_await cache_->invalidate_user(*identity.user);
    co_return json_reply(200, outcome_json(outcome));
  }
  if (auto refused = refuse_unless_admin()) co_return std::move(*refused);

  if (relative == "/metrics") {
    if (method != http::verb::get) co_return method_not_allowed("GET");
    std::string text = to_prometheus(cache_->stats());
    const auto& c = counters_;
    auto counter = [&](std::string_view name, std::string_view help, const std::atomic<std::uint64_t>& value) {
      text += fmt::format("# HELP strata_gateway_{0} {1}\n# TYPE strata_gateway_{0} counter\nstrata_gateway_{0} {2}\n",
                          name, help, value.load(std::memory_order_relaxed));
    };
    counter("requests_total", "Requests received (the admin API's own not counted)", c.requests);
    counter("admin_requests_total", "Requests to the admin API, /metrics and /health", c.admin_requests);
    counter("hits_total", "Responses served from the cache", c.hits);
    counter("misses_total", "Responses fetched from the origin for the cache", c.misses);
    counter("stale_total", "Stale responses served (stale-while-revalidate, stale-if-error)", c.stale);
    counter("bypass_total", "Requests passed to the origin without the cache", c.bypass);
    counter("not_modified_total", "304 answers from the cache", c.not_modified);
    counter("revalidated_total", "stale entries the origin confirmed with a 304", c.revalidated);
    counter("ranges_total", "206 and 416 answers from stored responses", c.ranges);
    counter("origin_errors_total", "502/503/504 answers because the origin failed or was at its bound", c.origin_errors);
    counter("rejected_total", "Malformed requests refused", c.rejected);
    counter("streamed_total", "Bodies over the cacheable limit streamed through", c.streamed);
    counter("invalidations_total", "Invalidations by mutation rules and origin headers", c.invalidations);
    counter("admin_refused_total", "Admin requests refused (401/403)", c.admin_refused);
    auto by_reason = [&](std::string_view name, std::string_view help, const ReasonCounts& counts) {
      text += fmt::format("# HELP strata_gateway_{0} {1}\n# TYPE strata_gateway_{0} counter\n", name, help);
      for (const auto& [reason, count] : counts.snapshot()) {
        text += fmt::format("strata_gateway_{}{{reason=\"{}\"}} {}\n", name, reason, count);
      }
    };
    by_reason("not_stored_total", "Origin responses not stored, by reason (Cache-Status detail)", c.not_stored);
    by_reason("bypass_reason_total", "Requests passed around the cache, by reason (Cache-Status detail)", c.bypassed);
    const auto& origin = origin_->stats();
    counter("origin_requests_total", "Requests sent to the origin", origin.requests);
    counter("origin_failures_total", "Origin requests that got no response", origin.failures);
    counter("origin_refused_overloaded_total",
            "Requests answered 503 (or from a stale copy) because upstream.max_in_flight were under way",
            origin.refused_overloaded);
    text += fmt::format("# HELP strata_gateway_coding_forms_bytes Decoded or re-encoded bodies kept for clients that "
                        "cannot take an entry's stored coding\n# TYPE strata_gateway_coding_forms_bytes gauge\n"
                        "strata_gateway_coding_forms_bytes {}\n",
                        forms_->bytes());
    counter("origin_connections_opened_total", "Connections opened to the origin", origin.connections_opened);
    rules_prometheus(text, rule_stats_.snapshot());
    const auto& rewarm = rewarm_;
    text += "# HELP strata_gateway_rewarm_targets_total Hot-set targets re-warmed after the start, by where they came from\n"
            "# TYPE strata_gateway_rewarm_targets_total counter\n";
    for (const auto& [result, value] : {std::pair{"redis", &rewarm.from_redis}, std::pair{"origin", &rewarm.from_origin},
                                        std::pair{"already", &rewarm.already}, std::pair{"skipped", &rewarm.skipped},
                                        std::pair{"failed", &rewarm.failed}}) {
      text += fmt::format("strata_gateway_rewarm_targets_total{{result=\"{}\"}} {}\n", result, value->load());
    }
    text += fmt::format("# HELP strata_gateway_rewarm_pending Hot-set targets still to re-warm\n"
                        "# TYPE strata_gateway_rewarm_pending gauge\nstrata_gateway_rewarm_pending {}\n",
                        rewarm_pending());
    text += fmt::format("# HELP strata_gateway_hot_set_tracked Targets the hot set is counting\n"
                        "# TYPE strata_gateway_hot_set_tracked gauge\nstrata_gateway_hot_set_tracked {}\n",
                        hot_set_.tracked());
    counter("hot_set_saves_total", "Hot-set writes", hot_set_saves_);
    counter("missed_invalidations_total", "Audited hits the origin had changed: writes no invalidation reached",
            missed_invalidations_);
    text += fmt::format("# HELP strata_gateway_audits_skipped_total Sampled hits not audited: audit.rate or "
                        "audit.concurrency reached\n# TYPE strata_gateway_audits_skipped_total counter\n"
                        "strata_gateway_audits_skipped_total {}\n",
                        audit_gate_.skipped());
    counter("hot_set_save_failures_total", "Hot-set writes that failed", hot_set_save_failures_);
    Reply reply;
    reply.status = 200;
    reply.add("Content-Type", "text/plain; version=0.0.4");
    reply.owned_body = std::move(text);
    co_return reply;
  }
  if (relative == "/stats") {
    if (method != http::verb::get) co_return method_not_allowed("GET");
    co_return json_reply(200, stats_body());
  }
  if (relative == "/dashboard/data") {
    if (method != http::verb::get) co_return method_not_allowed("GET");
    json::object body;
    body["time_ms"] = unix_ms_now();
    body["prefix"] = startup_.cache.prefix;
    body["stats"] = stats_body();
    json::array traffic;
    for (const auto& sample : traffic_.recent(300)) {
      json::object point;
      point["unix_ms"] = sample.unix_ms;
      point["requests"] = sample.requests;
      point["hits"] = sample.hits;
      point["stale"] = sample.stale;
      point["misses"] = sample.misses;
      point["bypass"] = sample.bypass;
      point["origin_errors"] = sample.origin_errors;
      traffic.push_back(std::move(point));
    }
    body["traffic"] = std::move(traffic);
    json::array invalidations;
    for (const auto& event : invalidation_log_.recent()) {
      json::object item;
      item["unix_ms"] = event.unix_ms;
      item["source"] = event.source;
      item["what"] = event.what;
      item["affected"] = event.affected;
      item["complete"] = event.complete;
      invalidations.push_back(std::move(item));
    }
    body["invalidations"] = std::move(invalidations);
    json::object redis;
    redis["enabled"] = cache_->redis_enabled();
    redis["available"] = false;
    if (cache_->redis_enabled()) {
      const auto latency = co_await cache_->ping_redis();
      redis["available"] = latency.has_value();
      if (latency) redis["latency_ms"] = std::chrono::duration<double, std::milli>(*latency).count();
    }
    body["redis"] = std::move(redis);
    co_return json_reply(200, body);
  }
  if (relative == "/info") {
    if (method != http::verb::get) co_return method_not_allowed("GET");
    json::object body;
    body["version"] = version_string;
    body["prefix"] = startup_.cache.prefix;
    body["redis_enabled"] = cache_->redis_enabled();
    body["origin"] = fmt::format("http://{}:{}{}", startup_.origin.host, startup_.origin.port, startup_.origin.base_path);
    body["rules"] = config.rules.size();
    json::array rules;
    for (const auto& rule : config.rules) {
      json::object item;
      item["name"] = rule.name;
      item["path"] = rule.path;
      item["namespace"] = rule.name_space;
      item["cache"] = rule.cache;
      item["per_user"] = rule.per_user;
      if (rule.ttl) item["ttl_seconds"] = rule.ttl->count();
      rules.push_back(std::move(item));
    }
    body["rule_list"] = std::move(rules);
    body["uptime_seconds"] = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count();
    co_return json_reply(200, body);
  }
  if (relative == "/health") {
    if (method != http::verb::get) co_return method_not_allowed("GET");
    const auto stats = cache_->stats();
    json::object redis;
    redis["enabled"] = cache_->redis_enabled();
    bool healthy = true;
    if (cache_->redis_enabled()) {
      const auto latency = co_await cache_->ping_redis();
      redis["available"] = latency.has_value();
      healthy = latency.has_value();
      if (latency) redis["latency_ms"] = std::round(std::chrono::duration<double, std::milli>(*latency).count() * 1000.0) / 1000.0;
      if (auto info = co_await cache_->redis_info("memory")) {
        json::object memory;
        memory["used_memory_human"] = info_field(*info, "used_memory_human");
        memory["maxmemory_human"] = info_field(*info, "maxmemory_human");
        redis["memory_usage"] = std::move(memory);
      }
    }
    json::object cache;
    cache["status"] = healthy ? "healthy" : "degraded";
    cache["redis"] = std::move(redis);
    json::object summary;
    summary["hit_rate"] = percent(stats.hit_rate());
    summary["total_requests"] = stats.total_requests();
    summary["errors"] = stats.errors;
    cache["stats"] = std::move(summary);
    json::object body;
    body["status"] = healthy ? "ok" : "degraded";
    body["cache"] = std::move(cache);
    co_return json_reply(200, body);
  }
  if (relative == "/clear") {
    if (method != http::verb::post) co_return method_not_allowed("POST");
    const Outcome outcome = co_await cache_->clear();
    invalidation_log_.add("admin", "everything (clear)", outcome);
    co_return json_reply(200, outcome_json(outcome));
  }
  if (relative == "/reset-stats") {
    if (method != http::verb::post) co_return method_not_allowed("POST");
    cache_->reset_stats();
    rule_stats_.reset();
    json::object body;
    body["ok"] = true;
    co_return json_reply(200, body);
  }
  if (relative == "/invalidate") {
    if (method != http::verb::post) co_return method_not_allowed("POST");
    json::object body;
    if (auto bad = parse_body(body)) co_return std::move(*bad);
    std::string error;
    for (const auto& [field, value] : body) {
      (void)value;
      if (field != "keys" && field != "paths" && field != "tags" && field != "namespaces" && field != "patterns" &&
          field != "users" && field != "dry_run") {
        co_return json_error(400, "bad_request", fmt::format("unknown field \"{}\"; expected keys, paths, tags, namespaces, users, patterns or dry_run", std::string_view(field)));
      }
    }
    const auto* dry_run = body.if_contains("dry_run");
    if (dry_run != nullptr && !dry_run->is_bool()) co_return json_error(400, "bad_request", "\"dry_run\" must be true or false");
    auto keys = string_list(body, "keys", &error);
    auto paths = keys ? string_list(body, "paths", &error) : std::nullopt;
    auto tags = paths ? string_list(body, "tags", &error) : std::nullopt;
    auto namespaces = tags ? string_list(body, "namespaces", &error) : std::nullopt;
    auto patterns = namespaces ? string_list(body, "patterns", &error) : std::nullopt;
    auto users = patterns ? string_list(body, "users", &error) : std::nullopt;
    if (!users) co_return json_error(400, "bad_request", error);
    if (keys->empty() && paths->empty() && tags->empty() && namespaces->empty() && patterns->empty() && users->empty()) {
      co_return json_error(400, "bad_request", "nothing to invalidate: give keys, paths, tags, namespaces, users or patterns");
    }
    std::vector<Key> parsed_keys;
    if (!named_entries(*runtime, *keys, *paths, parsed_keys, &error)) co_return json_error(400, "bad_request", error);
    if (dry_run != nullptr && dry_run->as_bool()) {
      // What can be counted is: named entries that are live, and keys a pattern matches. Tags,
      // namespaces and users are marks and generations, not lists of entries.
      std::uint64_t named_live = 0;
      for (const auto& key : parsed_keys) {
        const auto seen = co_await cache_->inspect(key);
        if (seen.served() != nullptr) ++named_live;
      }
      std::uint64_t matched = 0;
      json::object result;
      for (const auto& pattern : *patterns) {
        const Outcome counted = co_await cache_->count_pattern(pattern);
        if (!counted.ok()) {
          result["ok"] = false;
          result["error"] = counted.message;
        }
        matched += counted.affected;
      }
      json::object counted;
      if (!parsed_keys.empty()) counted["keys_and_paths"] = named_live;
      if (!patterns->empty()) counted["patterns"] = matched;
      json::array uncounted;
      if (!tags->empty()) uncounted.emplace_back("tags");
      if (!namespaces->empty()) uncounted.emplace_back("namespaces");
      if (!users->empty()) uncounted.emplace_back("users");
      if (!result.contains("ok")) result["ok"] = true;
      result["dry_run"] = true;
      result["affected"] = named_live + matched;
      result["counted"] = std::move(counted);
      result["uncounted"] = std::move(uncounted);
      co_return json_reply(200, result);
    }
    json::object result;
    std::uint64_t affected = 0;
    bool ok = true;
    std::string failure;
    auto account = [&](const Outcome& outcome) {
      affected += outcome.affected;
      if (!outcome.ok()) {
        ok = false;
        failure = outcome.message;
      }
    };
    // Named arguments and outcomes: no temporary with a destructor inside a co_await (GCC 12).
    for (const auto& key : parsed_keys) {
      const Outcome outcome = co_await cache_->remove(key);
      account(outcome);
      invalidation_log_.add("admin", "key " + key.to_string(), outcome);
    }
    if (!tags->empty()) {
      const Outcome outcome = co_await cache_->invalidate_tags(*tags);
      account(outcome);
      invalidation_log_.add("admin", fmt::format("tag{} {}", tags->size() == 1 ? "" : "s", fmt::join(*tags, ", ")), outcome);
    }
    for (const auto& name : *namespaces) {
      std::string argument = name;
      const Outcome outcome = co_await cache_->invalidate_namespace(std::move(argument));
      account(outcome);
      invalidation_log_.add("admin", "namespace " + name, outcome);
    }
    for (const auto& pattern : *patterns) {
      std::string argument = pattern;
      const Outcome outcome = co_await cache_->invalidate_pattern(std::move(argument));
      account(outcome);
      invalidation_log_.add("admin", "pattern " + pattern, outcome);
    }
    for (const auto& user : *users) {
      std::string id = user;
      const Outcome outcome = co_await cache_->invalidate_user(std::move(id));
      account(outcome);
      invalidation_log_.add("admin", "a user's entries", outcome);
    }
    result["ok"] = ok;
    result["affected"] = affected;
    if (!ok) result["error"] = failure;
    co_return json_reply(200, result);
  }
  if (relative == "/audit") {
    if (method != http::verb::get) co_return method_not_allowed("GET");
    json::object body;
    json::array rules;
    const double stale_target = config.audit.stale_target;
    for (const auto& rule : rule_stats_.snapshot()) {
      json::object item;
      item["name"] = rule.name;
      json::value fraction = 0.0;
      if (rule.name == RuleStats::kUnmatched) fraction = config.audit.unmatched;
      for (const auto& configured : config.rules) {
        if (configured.name == rule.name) fraction = configured.audit;
      }
      item["fraction"] = fraction;
      item["hits"] = rule.hits + rule.stale;
      item["audit"] = audit_json(rule, stale_target);
      rules.push_back(std::move(item));
    }
    body["rules"] = std::move(rules);
    body["missed_invalidations"] = missed_invalidations_.load();
    body["skipped_by_limits"] = audit_gate_.skipped();
    body["stale_target"] = percent(stale_target);
    co_return json_reply(200, body);
  }
  if (relative == "/hot-set") {
    if (method != http::verb::get) co_return method_not_allowed("GET");
    Reply reply = json_reply(200, json::value(nullptr));
    reply.owned_body = hot_set_json(hot_set_.hottest(), unix_ms_now());
    co_return reply;
  }
  if (relative == "/inspect") {
    if (method != http::verb::post) co_return method_not_allowed("POST");
    json::object body;
    if (auto bad = parse_body(body)) co_return std::move(*bad);
    co_return co_await inspect_request(*runtime, body);
  }
  if (relative == "/extend-ttl") {
    if (method != http::verb::post) co_return method_not_allowed("POST");
    json::object body;
    if (auto bad = parse_body(body)) co_return std::move(*bad);
    const auto* ttl = body.if_contains("ttl_seconds");
    if (ttl == nullptr || !(ttl->is_int64() || ttl->is_uint64()) || ttl->to_number<std::int64_t>() <= 0 ||
        ttl->to_number<std::int64_t>() > 365LL * 86400) {
      co_return json_error(400, "bad_request", "ttl_seconds must be an integer from 1 to 31536000");
    }
    std::string error;
    auto keys = string_list(body, "keys", &error);
    auto paths = keys ? string_list(body, "paths", &error) : std::nullopt;
    if (!paths) co_return json_error(400, "bad_request", error);
    if (keys->empty() && paths->empty()) co_return json_error(400, "bad_request", "give keys or paths to extend");
    std::vector<Key> parsed_keys;
    if (!named_entries(*runtime, *keys, *paths, parsed_keys, &error)) co_return json_error(400, "bad_request", error);
    std::uint64_t affected = 0;
    const auto seconds = std::chrono::seconds(ttl->to_number<std::int64_t>());
    for (const auto& key : parsed_keys) affected += (co_await cache_->extend_ttl(key, seconds)).affected;
    json::object result;
    result["ok"] = true;
    result["affected"] = affected;
    co_return json_reply(200, result);
  }
  constexpr std::string_view invalidate_prefix = "/invalidate/";
  if (relative.substr(0, invalidate_prefix.size()) == invalidate_prefix && relative.size() > invalidate_prefix.size()) {
    const auto decoded = percent_decode(relative.substr(invalidate_prefix.size()), false);
    if (!decoded) co_return json_error(400, "bad_request", "the namespace or tag name has a malformed %-escape");
    const std::string name = *decoded;
    if (method == http::verb::post || method == http::verb::delete_) {
      const bool by_namespace = method == http::verb::post;
      std::string argument = name;
      Outcome outcome;
      if (by_namespace) {
        outcome = co_await cache_->invalidate_namespace(std::move(argument));
      } else {
        outcome = co_await cache_->invalidate_tag(std::move(argument));
      }
      invalidation_log_.add("admin", (by_namespace ? "namespace " : "tag ") + name, outcome);
      co_return json_reply(200, outcome_json(outcome));
    }
    co_return method_not_allowed("POST (namespace), DELETE (tag)");
  }
  co_return json_error(404, "not_found", fmt::format("no admin endpoint {}; see docs/gateway.md", path));
}

}  // namespace strata::gateway
