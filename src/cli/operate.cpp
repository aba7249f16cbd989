#include "cli/operate.hpp"

#include "cli/admin_client.hpp"
#include "cli/http_connection.hpp"

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <cmath>
#include <ostream>
#include <thread>

namespace strata::cli {

namespace json = boost::json;

AdminClient connect_admin(const GatewayOptions& options) {
  auto target = parse_gateway_url(options.gateway);
  auto token = resolve_token(options.token, options.token_file);
  const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_seconds * 1000));
  return AdminClient(std::move(target), std::move(token), timeout);
}

namespace {

double number(const json::value* value) {
  if (value == nullptr) return 0.0;
  if (value->is_double()) return value->as_double();
  if (value->is_int64()) return static_cast<double>(value->as_int64());
  if (value->is_uint64()) return static_cast<double>(value->as_uint64());
  return 0.0;
}

double field(const json::object& object, std::string_view name) { return number(object.if_contains(name)); }

const json::object& section(const json::object& object, std::string_view name) {
  static const json::object empty;
  const auto* value = object.if_contains(name);
  return value != nullptr && value->is_object() ? value->as_object() : empty;
}

// 1234567 -> "1,234,567"
std::string grouped(double value) {
  auto digits = fmt::format("{:.0f}", value);
  std::string out;
  const auto first = digits.size() % 3;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (i - first) % 3 == 0 && digits[0] != '-') out += ',';
    out += digits[i];
  }
  return out;
}

std::string bytes(double value) {
  if (value >= 1024.0 * 1024 * 1024) return fmt::format("{:.1f} GiB", value / (1024.0 * 1024 * 1024));
  if (value >= 1024.0 * 1024) return fmt::format("{:.1f} MiB", value / (1024.0 * 1024));
  if (value >= 1024.0) return fmt::format("{:.1f} KiB", value / 1024.0);
  return fmt::format("{:.0f} B", value);
}

std::string duration_us(double micros) {
  if (micros <= 0.0) return "-";
  if (micros < 1000.0) return fmt::format("{:.1f} us", micros);
  if (micros < 1'000'000.0) return fmt::format("{:.2f} ms", micros / 1000.0);
  return fmt::format("{:.2f} s", micros / 1'000'000.0);
}

std::string uptime(double seconds) {
  const auto total = static_cast<long long>(seconds);
  if (total >= 86400) return fmt::format("{}d {:02}h", total / 86400, total % 86400 / 3600);
  if (total >= 3600) return fmt::format("{}h {:02}m", total / 3600, total % 3600 / 60);
  return fmt::format("{}m {:02}s", total / 60, total % 60);
}

void render(const json::object& body, const std::string& where, std::ostream& out) {
  const auto& statistics = section(body, "statistics");
  const auto& gateway = section(body, "gateway");
  const auto& latency = section(statistics, "latency");
  out << fmt::format("strata stats: {}  (up {})\n\n", where, uptime(field(statistics, "uptime_seconds")));
  out << fmt::format("  hit ratio   {:.1f}%   ({} served from the cache, {} fetched for it)\n",
                     field(gateway, "hit_rate"), grouped(field(gateway, "hits") + field(gateway, "stale")),
                     grouped(field(gateway, "misses")));
  out << fmt::format("  requests    {}   hits {}   misses {}   stale {}   bypass {}   304 {}\n",
                     grouped(field(gateway, "requests")), grouped(field(gateway, "hits")),
                     grouped(field(gateway, "misses")), grouped(field(gateway, "stale")),
                     grouped(field(gateway, "bypass")), grouped(field(gateway, "not_modified")));
  out << fmt::format("  origin      errors {}   revalidated {}\n", grouped(field(gateway, "origin_errors")),
                     grouped(field(gateway, "revalidated")));
  const double entries = field(statistics, "l1_entries");
  const double used = field(statistics, "l1_bytes");
  const double capacity = field(statistics, "l1_capacity_bytes");
  out << fmt::format("  L1          {} {}, {} of {} ({:.0f}%)   evictions {}   declined {}\n", grouped(entries),
                     entries == 1 ? "entry" : "entries", bytes(used), bytes(capacity),
                     capacity > 0 ? 100.0 * used / capacity : 0.0, grouped(field(statistics, "l1_evictions")),
                     grouped(field(statistics, "l1_admission_rejections")));
  const auto* enabled = statistics.if_contains("redis_enabled");
  const auto* available = statistics.if_contains("redis_available");
  const bool redis_enabled = enabled != nullptr && enabled->is_bool() && enabled->as_bool();
  const bool redis_available = available != nullptr && available->is_bool() && available->as_bool();
  out << fmt::format("  Redis       {}\n", !redis_enabled ? "not configured (in-process tier only)"
                                          : redis_available ? "available"
                                                            : "UNAVAILABLE: serving from L1 and the origin");
  out << fmt::format("  cache       errors {}   stale served {}   coalesced waits {}   invalidations {}   "
                     "bus gaps {}\n\n",
                     grouped(field(statistics, "errors")), grouped(field(statistics, "stale_served")),
                     grouped(field(statistics, "coalesced_waits")), grouped(field(statistics, "invalidations")),
                     grouped(field(statistics, "bus_gaps")));
  out << fmt::format("  {:<12}{:>12}{:>12}{:>12}{:>12}{:>14}\n", "latency", "p50", "p90", "p99", "mean", "count");
  const std::pair<const char*, const char*> rows[] = {{"l1", "L1 hit"}, {"l2", "Redis hit"}, {"loader", "origin"}};
  for (const auto& [name, label] : rows) {
    const auto& row = section(latency, name);
    out << fmt::format("  {:<12}{:>12}{:>12}{:>12}{:>12}{:>14}\n", label, duration_us(field(row, "p50_us")),
                       duration_us(field(row, "p90_us")), duration_us(field(row, "p99_us")),
                       duration_us(field(row, "mean_us")), grouped(field(row, "count")));
  }
  const auto* rules = body.if_contains("rules");
  if (rules == nullptr || !rules->is_array() || rules->as_array().empty()) return;
  out << fmt::format("\n  {:<20}{:>12}{:>11}{:>12}{:>12}  {}\n", "rule", "requests", "hit ratio", "p99", "saved",
                     "not stored");
  for (const auto& value : rules->as_array()) {
    if (!value.is_object()) continue;
    const auto& rule = value.as_object();
    const auto* name = rule.if_contains("name");
    std::vector<std::string> reasons;
    for (const auto& [reason, count] : section(rule, "not_stored")) {
      reasons.push_back(fmt::format("{} {}", std::string_view(reason), grouped(number(&count))));
    }
    const bool served = field(rule, "hits") + field(rule, "stale") + field(rule, "misses") > 0;
    out << fmt::format("  {:<20}{:>12}{:>11}{:>12}{:>12}  {}\n",
                       name != nullptr && name->is_string() ? std::string(name->as_string()) : std::string("?"),
                       grouped(field(rule, "requests")),
                       served ? fmt::format("{:.1f}%", field(rule, "hit_rate")) : std::string("-"),
                       duration_us(field(section(rule, "latency"), "p99_us")), bytes(field(rule, "bytes_saved")),
                       reasons.empty() ? std::string("-") : fmt::format("{}", fmt::join(reasons, ", ")));
  }
}

// An invalidation's answer: complete (exit 0), or what Redis missed (exit 1; the gateway replays
// it when Redis answers again).
int finished(const json::object& result, std::ostream& err) {
  const auto* ok = result.if_contains("ok");
  if (ok == nullptr || !ok->is_bool() || ok->as_bool()) return exit_ok;
  const auto* error = result.if_contains("error");
  err << "strata: incomplete: "
      << (error != nullptr && error->is_string() ? std::string(error->as_string()) : std::string("see the gateway's log"))
      << '\n';
  return exit_failed;
}

}  // namespace

int run_stats(const GatewayOptions& gateway, const StatsOptions& options, std::ostream& out, std::ostream& err,
              bool terminal) {
  return reporting_errors(err, [&]() -> int {
    if (options.watch_seconds < 0.0 || (options.watch_seconds > 0.0 && options.watch_seconds < 0.1)) {
      throw CommandError(exit_usage, "--watch: give a refresh interval of at least 0.1 seconds");
    }
    const auto client = connect_admin(gateway);
    for (unsigned refresh = 1;; ++refresh) {
      const auto body = client.get("/stats");
      if (options.json) {
        out << json::serialize(body) << '\n';
      } else {
        if (options.watch_seconds > 0.0 && terminal) out << "\x1b[H\x1b[2J";  // redraw in place
        render(body.is_object() ? body.as_object() : json::object{}, client.target().url, out);
      }
      out.flush();
      if (options.watch_seconds <= 0.0 || (options.count != 0 && refresh >= options.count)) return exit_ok;
      if (!terminal && !options.json) out << '\n';
      std::this_thread::sleep_for(std::chrono::duration<double>(options.watch_seconds));
    }
  });
}

int run_invalidate(const GatewayOptions& gateway, const InvalidateOptions& options, std::ostream& out,
                   std::ostream& err) {
  return reporting_errors(err, [&]() -> int {
    json::object body;
    std::vector<std::string> named;
    auto add = [&](const char* field, const char* flag, const std::vector<std::string>& values) {
      if (values.empty()) return;
      json::array list;
      for (const auto& value : values) {
        list.emplace_back(value);
        named.push_back(fmt::format("{} {}", flag, value));
      }
      body[field] = std::move(list);
    };
    add("keys", "key", options.keys);
    add("paths", "path", options.paths);
    add("tags", "tag", options.tags);
    add("namespaces", "namespace", options.namespaces);
    add("users", "user", options.users);
    add("patterns", "pattern", options.patterns);
    if (body.empty()) {
      throw CommandError(exit_usage,
                         "nothing to invalidate: give --key, --path, --tag, --namespace, --user or --pattern");
    }
    if (options.dry_run) body["dry_run"] = true;
    const auto client = connect_admin(gateway);
    const auto answer = client.post("/invalidate", body);
    const auto& result = answer.is_object() ? answer.as_object() : json::object{};
    const auto affected = field(result, "affected");
    if (options.dry_run) {
      const auto& counted = section(result, "counted");
      std::vector<std::string> parts;
      if (counted.contains("keys_and_paths")) parts.push_back(fmt::format("keys and paths {}", grouped(field(counted, "keys_and_paths"))));
      if (counted.contains("patterns")) parts.push_back(fmt::format("patterns {}", grouped(field(counted, "patterns"))));
      out << fmt::format("dry run, nothing removed: {} would remove ", fmt::join(named, ", "));
      if (parts.empty()) {
        out << "an uncounted number of entries";
      } else {
        out << fmt::format("{} entr{} ({})", grouped(affected), affected == 1 ? "y" : "ies", fmt::join(parts, ", "));
      }
      if (!options.tags.empty() || !options.namespaces.empty() || !options.users.empty()) {
        out << (parts.empty() ? "" : ", and more: ")
            << (parts.empty() ? ": " : "")
            << "tags, namespaces and users are not counted (they are marks that entries are checked against, not lists of entries)";
      }
      out << '\n';
      return finished(result, err);
    }
    out << fmt::format("invalidated {}: {} entr{} removed", fmt::join(named, ", "), grouped(affected),
                       affected == 1 ? "y" : "ies");
    if (!options.tags.empty() || !options.namespaces.empty() || !options.users.empty()) {
      out << " (tags, namespaces and users also drop entries as they are next read)";
    }
    out << '\n';
    return finished(result, err);
  });
}

int run_clear(const GatewayOptions& gateway, bool confirmed, std::ostream& out, std::ostream& err) {
  return reporting_errors(err, [&]() -> int {
    if (!confirmed) {
      throw CommandError(exit_usage,
                         "clear drops every entry under the gateway's prefix, in Redis and in every gateway's L1: "
                         "add --yes to do it");
    }
    const auto client = connect_admin(gateway);
    const auto answer = client.post("/clear", json::object{});
    const auto& result = answer.is_object() ? answer.as_object() : json::object{};
    const double removed = field(result, "affected");
    out << fmt::format("cleared: {} entr{} removed\n", grouped(removed), removed == 1 ? "y" : "ies");
    return finished(result, err);
  });
}

namespace {

std::string text_of(const json::object& object, std::string_view name) {
  const auto* value = object.if_contains(name);
  if (value == nullptr) return {};
  if (value->is_string()) return std::string(value->as_string());
  return json::serialize(*value);
}

std::string seconds(double value) {
  if (value >= 86400) return fmt::format("{:.1f} d", value / 86400);
  if (value >= 3600) return fmt::format("{:.1f} h", value / 3600);
  if (value >= 60) return fmt::format("{:.1f} min", value / 60);
  return fmt::format("{:.1f} s", value);
}

void render_entry(const json::object& entry, std::string_view indent, std::ostream& out) {
  const auto line = [&](std::string_view label, const std::string& value) {
    if (!value.empty()) out << fmt::format("{}{:<14}{}\n", indent, label, value);
  };
  line("key", text_of(entry, "key"));
  line("stored as", text_of(entry, "storage_key"));
  const auto state = text_of(entry, "state");
  std::string where;
  for (const auto& [tier, label] : {std::pair{"l1", "L1"}, std::pair{"redis", "Redis"}}) {
    const auto& copy = section(entry, tier);
    if (copy.empty()) continue;
    if (!where.empty()) where += ", ";
    where += fmt::format("{} ({}{})", label, bytes(field(copy, "stored_bytes")),
                         copy.contains("invalidated") && copy.at("invalidated").is_bool() && copy.at("invalidated").as_bool()
                             ? ", invalidated"
                             : "");
  }
  line("state", state);
  line("held in", where.empty() ? std::string("nowhere") : where);
  line("note", text_of(entry, "redis_note"));
  if (state == "fresh" || state == "stale") {
    line("age", seconds(field(entry, "age_seconds")));
    line("fresh for", seconds(field(entry, "fresh_for_seconds")));
    line("stale window", seconds(field(entry, "stale_for_seconds")));
    std::vector<std::string> tags;
    if (const auto* list = entry.if_contains("tags"); list != nullptr && list->is_array()) {
      for (const auto& tag : list->as_array()) {
        if (tag.is_string()) tags.emplace_back(tag.as_string());
      }
    }
    line("tags", tags.empty() ? std::string("-") : fmt::format("{}", fmt::join(tags, ", ")));
  }
  if (entry.contains("status")) {
    line("response", fmt::format("{}, {} body{}", text_of(entry, "status"), bytes(field(entry, "body_bytes")),
                                 entry.contains("content_encoding") ? " (" + text_of(entry, "content_encoding") + ")" : ""));
    line("etag", text_of(entry, "etag"));
    line("cache-control", text_of(entry, "cache_control"));
  }
  if (const auto* varies = entry.if_contains("varies_on"); varies != nullptr && varies->is_array()) {
    std::vector<std::string> names;
    for (const auto& name : varies->as_array()) {
      if (name.is_string()) names.emplace_back(name.as_string());
    }
    line("varies on", fmt::format("{}", fmt::join(names, ", ")));
  }
  line("note", text_of(entry, "note"));
  const auto& variant = section(entry, "variant");
  if (!variant.empty()) {
    out << fmt::format("{}this request's variant:\n", indent);
    render_entry(variant, std::string(indent) + "  ", out);
  }
}

}  // namespace

int run_inspect(const GatewayOptions& gateway, const InspectOptions& options, std::ostream& out, std::ostream& err) {
  return reporting_errors(err, [&]() -> int {
    if (options.path.empty() || options.path.front() != '/') {
      throw CommandError(exit_usage, fmt::format("inspect: give the request target, starting with '/' (got \"{}\")",
                                                 options.path));
    }
    json::object body;
    body["path"] = options.path;
    json::object headers;
    for (const auto& text : options.headers) {
      auto header = parse_header_line(text);
      if (!header) throw CommandError(exit_usage, fmt::format("--header \"{}\": write Name: value", text));
      headers[header->first] = header->second;
    }
    if (!headers.empty()) body["headers"] = std::move(headers);
    const auto client = connect_admin(gateway);
    const auto answer = client.post("/inspect", body);
    if (options.json) {
      out << json::serialize(answer) << '\n';
      return exit_ok;
    }
    const auto& result = answer.is_object() ? answer.as_object() : json::object{};
    out << fmt::format("{}\n", text_of(result, "path"));
    const auto rule = text_of(result, "rule");
    out << fmt::format("  {:<14}{}\n", "rule", rule == "null" || rule.empty() ? "none (the origin's headers decide)" : rule);
    if (const auto user = text_of(result, "user"); !user.empty()) out << fmt::format("  {:<14}{}\n", "user", user);
    if (text_of(result, "state") == "not cached") {
      out << fmt::format("  {:<14}not cached: {}\n", "state", text_of(result, "reason"));
      return exit_ok;
    }
    render_entry(section(result, "entry"), "  ", out);
    return exit_ok;
  });
}

int run_audit(const GatewayOptions& gateway, bool json_output, std::ostream& out, std::ostream& err) {
  return reporting_errors(err, [&]() -> int {
    const auto client = connect_admin(gateway);
    const auto answer = client.get("/audit");
    if (json_output) {
      out << json::serialize(answer) << '\n';
      return exit_ok;
    }
    const auto& result = answer.is_object() ? answer.as_object() : json::object{};
    out << fmt::format("strata audit: {}  (suggested TTLs keep the stale ratio under {:.1f}% at 95% confidence)\n\n",
                       client.target().url, field(result, "stale_target"));
    out << fmt::format("  {:<20}{:>9}{:>10}{:>9}{:>8}{:>13}  {}\n", "rule", "sampled", "audited", "stale", "errors",
                       "stale ratio", "suggested TTL");
    const auto* rules = result.if_contains("rules");
    for (const auto& value : rules != nullptr && rules->is_array() ? rules->as_array() : json::array{}) {
      if (!value.is_object()) continue;
      const auto& rule = value.as_object();
      const auto& audit = section(rule, "audit");
      const auto& suggestion = section(audit, "suggestion");
      const double fraction = field(rule, "fraction");
      const double audited = field(audit, "audited");
      std::string advice;
      if (audited == 0) {
        advice = fraction > 0 ? "- (no audited hits yet)"
                 : text_of(rule, "name") == "(unmatched)" ? "- (audit off: set audit.unmatched)"
                                                          : "- (audit off: set the rule's audit fraction)";
      } else if (const auto* ttl = suggestion.if_contains("ttl_seconds"); ttl != nullptr && !ttl->is_null()) {
        advice = fmt::format("{}  ({:.1f}% stale, at most {:.1f}% with 95% confidence, {} samples)",
                             seconds(number(ttl)), field(suggestion, "stale_rate"), field(suggestion, "stale_rate_upper_95"),
                             grouped(field(suggestion, "samples")));
      } else {
        advice = "none";
      }
      if (const auto note = text_of(suggestion, "note"); !note.empty() && audited != 0) advice += ": " + note;
      out << fmt::format("  {:<20}{:>9}{:>10}{:>9}{:>8}{:>13}  {}\n", text_of(rule, "name"),
                         fraction > 0 ? fmt::format("{:g}%", fraction * 100) : std::string("off"), grouped(audited),
                         grouped(field(audit, "stale")), grouped(field(audit, "errors")),
                         audited > 0 ? fmt::format("{:.1f}%", field(audit, "stale_rate")) : std::string("-"), advice);
    }
    out << fmt::format("\n  missed invalidations {}   audits skipped by audit.rate / audit.concurrency {}\n",
                       grouped(field(result, "missed_invalidations")), grouped(field(result, "skipped_by_limits")));
    return exit_ok;
  });
}

}  // namespace strata::cli
