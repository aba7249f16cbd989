#include "gateway/config.hpp"

#include <strata/redis/options.hpp>

#include "gateway/route.hpp"
#include "core/duration.hpp"

#include <boost/asio/ip/address.hpp>

#include <toml++/toml.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <fstream>
#include <set>
#include <sstream>

namespace strata::gateway {
namespace {

// Reads one TOML table, knowing where it is (for messages) and which options it consumed (so
// that the rest can be reported as unknown).
class TableReader {
public:
  TableReader(const toml::table& table, std::string path, const std::string& source)
      : table_(table), path_(std::move(path)), source_(source) {}

  [[noreturn]] void fail(const toml::node* node, std::string_view key, std::string_view message) const {
    std::string where = source_;
    const auto& region = node != nullptr ? node->source() : table_.source();
    if (region.begin.line != 0) where += fmt::format(":{}:{}", region.begin.line, region.begin.column);
    throw ConfigError(fmt::format("{}: {}: {}", where, qualified(key), message));
  }

  std::string qualified(std::string_view key) const {
    if (path_.empty()) return std::string(key);
    if (key.empty()) return path_;
    return path_ + "." + std::string(key);
  }

  const toml::node* get(std::string_view key) {
    known_.insert(std::string(key));
    return table_.get(key);
  }

  void read(std::string_view key, std::string& out) {
    if (const auto* node = get(key)) {
      if (!node->is_string()) fail(node, key, "expected a string");
      out = **node->as_string();
    }
  }
  void read(std::string_view key, bool& out) {
    if (const auto* node = get(key)) {
      if (!node->is_boolean()) fail(node, key, "expected true or false");
      out = **node->as_boolean();
    }
  }
  template <typename Integer>
  void read_integer(std::string_view key, Integer& out, long long minimum, long long maximum) {
    if (const auto* node = get(key)) {
      if (!node->is_integer()) fail(node, key, "expected an integer");
      const long long value = **node->as_integer();
      if (value < minimum || value > maximum) {
        fail(node, key, fmt::format("{} is out of range [{}, {}]", value, minimum, maximum));
      }
      out = static_cast<Integer>(value);
    }
  }
  void read_size(std::string_view key, std::size_t& out, long long minimum, long long maximum) {
    read_integer(key, out, minimum, maximum);
  }
  // A duration: a string with its unit ("30s", "5m", "250ms"), or a TOML integer of seconds.
  template <typename Duration>
  void read_duration(std::string_view key, Duration& out, Millis minimum = Millis::zero()) {
    if (const auto* node = get(key)) {
      std::optional<Millis> parsed;
      if (node->is_integer()) {
        parsed = std::chrono::seconds(**node->as_integer());
      } else if (node->is_string()) {
        parsed = core::parse_duration(**node->as_string());
      } else {
        fail(node, key, "expected a duration such as \"30s\", \"5m\" or \"250ms\"");
      }
      if (!parsed) {
        fail(node, key, fmt::format("\"{}\" is not a duration; write a number and its unit, e.g. \"30s\", \"5m\" or \"250ms\"",
                                    **node->as_string()));
      }
      if (*parsed < minimum) fail(node, key, fmt::format("must be at least {} ms", minimum.count()));
      out = std::chrono::duration_cast<Duration>(*parsed);
      if (Millis(out) != *parsed) {
        fail(node, key, "must be a whole number of " +
                            std::string(std::is_same_v<Duration, Seconds> ? "seconds" : "milliseconds"));
      }
    }
  }
  template <typename Duration>
  void read_duration(std::string_view key, std::optional<Duration>& out) {
    if (table_.contains(key)) {
      Duration value{};
      read_duration(key, value, Millis(1));
      out = value;
    } else {
      known_.insert(std::string(key));
    }
  }
  void read(std::string_view key, std::vector<std::string>& out) {
    if (const auto* node = get(key)) {
      if (node->is_string()) {  // one value may be written without brackets
        out = {std::string(**node->as_string())};
        return;
      }
      const auto* array = node->as_array();
      if (array == nullptr) fail(node, key, "expected an array of strings");
      out.clear();
      for (const auto& element : *array) {
        if (!element.is_string()) fail(&element, key, "expected an array of strings");
        out.emplace_back(**element.as_string());
      }
    }
  }
  // A fraction between 0 and 1 (0.01, or 1).
  void read_fraction(std::string_view key, double& out) {
    if (const auto* node = get(key)) {
      if (!node->is_floating_point() && !node->is_integer()) fail(node, key, "expected a number between 0 and 1");
      const double value = node->is_integer() ? static_cast<double>(**node->as_integer()) : **node->as_floating_point();
      if (!(value >= 0.0 && value <= 1.0)) fail(node, key, fmt::format("{} is not between 0 and 1", value));
      out = value;
    }
  }
  // A number above zero and at most `maximum` (a rate: 50, or 2.5).
  void read_positive(std::string_view key, double& out, double maximum = 1e6) {
    if (const auto* node = get(key)) {
      if (!node->is_floating_point() && !node->is_integer()) fail(node, key, "expected a number above 0");
      const double value = node->is_integer() ? static_cast<double>(**node->as_integer()) : **node->as_floating_point();
      if (!(value > 0.0 && value <= maximum)) fail(node, key, fmt::format("{} is not above 0 and at most {}", value, maximum));
      out = value;
    }
  }
  void read(std::string_view key, std::vector<unsigned>& out) {
    if (const auto* node = get(key)) {
      const auto* array = node->as_array();
      if (array == nullptr) fail(node, key, "expected an array of HTTP status codes, e.g. [404, 410]");
      out.clear();
      for (const auto& element : *array) {
        if (!element.is_integer() || **element.as_integer() < 100 || **element.as_integer() > 599) {
          fail(&element, key, "expected HTTP status codes between 100 and 599");
        }
        out.push_back(static_cast<unsigned>(**element.as_integer()));
      }
    }
  }
  const toml::table* sub_table(std::string_view key) {
    if (const auto* node = get(key)) {
      if (!node->is_table()) fail(node, key, "expected a table ([" + qualified(key) + "])");
      return node->as_table();
    }
    return nullptr;
  }

  void reject_unknown() const {
    for (const auto& [key, node] : table_) {
      if (!known_.contains(std::string(key.str()))) {
        std::string known;
        for (const auto& name : known_) known += (known.empty() ? "" : ", ") + name;
        fail(&node, key.str(), "unknown option; known options here: " + known);
      }
    }
  }

  const std::string& source() const { return source_; }

private:
  const toml::table& table_;
  std::string path_;
  const std::string& source_;
  std::set<std::string> known_;
};

void read_endpoint(TableReader& reader, std::string_view key, Endpoint& out) {
  std::string text;
  reader.read(key, text);
  if (text.empty()) return;
  try {
    out = parse_endpoint(text, reader.qualified(key));
  } catch (const ConfigError& error) {
    reader.fail(reader.get(key), key, error.what());
  }
}

Rule read_rule(const toml::table& table, std::size_t index, const std::string& source) {
  TableReader reader(table, fmt::format("rules[{}]", index), source);
  Rule rule;
  reader.read("name", rule.name);
  reader.read("path", rule.path);
  if (rule.path.empty()) reader.fail(nullptr, "path", "every rule needs a path template, e.g. \"/api/jobs/{id}\"");
  std::string method;
  if (const auto* node = reader.get("method"); node != nullptr && node->is_string()) {
    rule.methods = {std::string(**node->as_string())};
  } else if (node != nullptr) {
    TableReader again(table, fmt::format("rules[{}]", index), source);
    again.read("method", rule.methods);
  }
  for (auto& name : rule.methods) {
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::toupper(c); });
    static const std::set<std::string> known{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
    if (!known.contains(name)) reader.fail(reader.get("method"), "method", "unknown HTTP method \"" + name + "\"");
  }
  reader.read("cache", rule.cache);
  reader.read("namespace", rule.name_space);
  reader.read_duration("ttl", rule.ttl);
  reader.read_duration("stale_while_revalidate", rule.stale_while_revalidate);
  reader.read_duration("stale_if_error", rule.stale_if_error);
  reader.read_duration("soft_timeout", rule.soft_timeout);
  reader.read("query", rule.query);
  if (rule.query.size() > 1 && std::find(rule.query.begin(), rule.query.end(), "*") != rule.query.end()) {
    reader.fail(reader.get("query"), "query", "\"*\" (every parameter) stands alone; list names or write [\"*\"]");
  }
  reader.read("headers", rule.headers);
  for (auto& header : rule.headers) header = ascii_lower(header);
  reader.read("per_user", rule.per_user);
  std::string credentials = "bypass";
  reader.read("credentials", credentials);
  if (credentials == "bypass") {
    rule.credentials = CredentialPolicy::bypass;
  } else if (credentials == "shared") {
    rule.credentials = CredentialPolicy::shared;
  } else {
    reader.fail(reader.get("credentials"), "credentials",
                "expected \"bypass\" (requests with credentials use the shared entry only when the origin allows "
                "it) or \"shared\" (this route answers every caller alike)");
  }
  if (rule.per_user && rule.credentials == CredentialPolicy::shared) {
    reader.fail(reader.get("credentials"), "credentials",
                "a per_user rule keys every entry by its caller; credentials = \"shared\" applies to shared rules only");
  }
  reader.read("tags", rule.tags);
  reader.read("negative_statuses", rule.negative_statuses);
  reader.read_duration("negative_ttl", rule.negative_ttl);
  reader.read("invalidate_namespaces", rule.invalidate_namespaces);
  reader.read("invalidate_tags", rule.invalidate_tags);
  reader.read_fraction("audit", rule.audit);
  reader.reject_unknown();

  std::string problem;
  const auto compiled = PathTemplate::compile(rule.path, &problem);
  if (!compiled) reader.fail(nullptr, "path", problem);
  auto check_templates = [&](const std::vector<std::string>& templates, std::string_view key) {
    for (const auto& text : templates) {
      if (auto missing = compiled->unknown_variable(text)) {
        reader.fail(nullptr, key,
                    fmt::format("\"{}\" uses {{{}}}, which the path \"{}\" does not define (known: the "
                                "path's variables and {{user}})",
                                text, *missing, rule.path));
      }
    }
  };
  check_templates(rule.tags, "tags");
  check_templates(rule.invalidate_tags, "invalidate_tags");
  if (rule.name_space.empty()) rule.name_space = compiled->default_namespace();
  if (rule.name.empty()) rule.name = rule.methods.front() + " " + rule.path;
  if (!rule.negative_statuses.empty() && rule.negative_ttl <= Seconds::zero()) {
    reader.fail(nullptr, "negative_ttl", "negative_statuses needs a positive negative_ttl");
  }
  return rule;
}

}  // namespace

std::optional<Network> parse_network(std::string_view text) {
  boost::system::error_code error;
  std::string spec(text);
  if (spec.find('/') == std::string::npos) spec += spec.find(':') == std::string::npos ? "/32" : "/128";
  if (spec.find(':') == std::string::npos) {
    auto network = boost::asio::ip::make_network_v4(spec, error);
    if (error) return std::nullopt;
    return Network{network.canonical()};
  }
  auto network = boost::asio::ip::make_network_v6(spec, error);
  if (error) return std::nullopt;
  return Network{network.canonical()};
}

bool Network::contains(std::string_view address) const {
  boost::system::error_code error;
  const auto parsed = boost::asio::ip::make_address(address, error);
  if (error) return false;
  if (const auto* v4 = std::get_if<boost::asio::ip::network_v4>(&range)) {
    if (!parsed.is_v4()) return false;
    return boost::asio::ip::make_network_v4(parsed.to_v4(), v4->prefix_length()).canonical() == *v4;
  }
  const auto& v6 = std::get<boost::asio::ip::network_v6>(range);
  if (!parsed.is_v6()) return false;
  return boost::asio::ip::make_network_v6(parsed.to_v6(), v6.prefix_length()).canonical() == v6;
}

Endpoint parse_endpoint(std::string_view text, std::string_view what) {
  Endpoint endpoint;
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      throw ConfigError(fmt::format("{}: \"{}\" is not host:port (IPv6 as [::1]:8080)", what, text));
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      throw ConfigError(fmt::format("{}: \"{}\" has no port; write host:port, e.g. 127.0.0.1:8080", what, text));
    }
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
  }
  unsigned value = 0;
  const auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (error != std::errc() || end != port.data() + port.size() || value > 65535) {
    throw ConfigError(fmt::format("{}: port \"{}\" in \"{}\" is not a number from 0 to 65535", what, port, text));
  }
  endpoint.host = host.empty() ? "0.0.0.0" : std::string(host);
  endpoint.port = static_cast<std::uint16_t>(value);
  return endpoint;
}

Origin parse_origin(std::string_view url, std::string_view what) {
  const bool tls = url.substr(0, 8) == "https://";
  if (!tls && url.substr(0, 7) != "http://") {
    throw ConfigError(fmt::format("{}: \"{}\" is not an http:// or https:// URL, e.g. http://127.0.0.1:5000",
                                  what, url));
  }
  std::string_view rest = url.substr(tls ? 8 : 7);
  const auto slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view base = slash == std::string_view::npos ? std::string_view{} : rest.substr(slash);
  if (authority.empty()) throw ConfigError(fmt::format("{}: \"{}\" has no host", what, url));
  if (authority.find('@') != std::string_view::npos) {
    throw ConfigError(fmt::format("{}: \"{}\": credentials in the origin URL are not supported", what, url));
  }
  if (base.find_first_of("?#") != std::string_view::npos) {
    throw ConfigError(fmt::format("{}: \"{}\": an origin URL has no query or fragment", what, url));
  }
  Origin origin;
  origin.tls = tls;
  origin.port = tls ? 443 : 80;
  const bool bracketed = authority.front() == '[';
  const auto colon = authority.rfind(':');
  if (colon != std::string_view::npos && (!bracketed || authority.find(']') < colon)) {
    origin.port = parse_endpoint(authority, what).port;
    authority = authority.substr(0, colon);
  }
  if (bracketed) authority = authority.substr(1, authority.size() - 2);
  origin.host = std::string(authority);
  while (base.size() > 0 && base.back() == '/') base.remove_suffix(1);
  origin.base_path = std::string(base);
  return origin;
}

GatewayConfig parse_config(std::string_view toml_text, std::string source) {
  toml::table root;
  try {
    root = toml::parse(toml_text, source);
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    throw ConfigError(fmt::format("{}:{}:{}: not valid TOML: {}", source, begin.line, begin.column,
                                  error.description()));
  }
  GatewayConfig config;
  config.source = source;
  TableReader top(root, "", config.source);
  read_endpoint(top, "listen", config.listen);
  std::string origin;
  top.read("origin", origin);
  if (!origin.empty()) {
    try {
      config.origin = parse_origin(origin, "origin");
    } catch (const ConfigError& error) {
      top.fail(top.get("origin"), "origin", error.what());
    }
  }
  top.read_integer("threads", config.threads, 0, 256);
  top.read("invalidation_header", config.invalidation_header);
  config.invalidation_header = ascii_lower(config.invalidation_header);
  std::string unmatched = "public";
  top.read("unmatched_routes", unmatched);
  if (unmatched == "public") config.unmatched_routes = UnmatchedRoutes::public_only;
  else if (unmatched == "rfc9111") config.unmatched_routes = UnmatchedRoutes::rfc9111;
  else top.fail(top.get("unmatched_routes"), "unmatched_routes", "expected \"public\" or \"rfc9111\"");
  top.read("strip_request_headers", config.strip_request_headers);
  for (auto& header : config.strip_request_headers) header = ascii_lower(header);

  if (const auto* table = top.sub_table("limits")) {
    TableReader reader(*table, "limits", config.source);
    auto& limits = config.limits;
    reader.read_size("max_header_bytes", limits.max_header_bytes, 1024, 1 << 20);
    reader.read_size("max_request_body_bytes", limits.max_request_body_bytes, 0, 1LL << 32);
    reader.read_size("max_cacheable_bytes", limits.max_cacheable_bytes, 0, 1LL << 30);
    reader.read_size("max_variants", limits.max_variants, 1, 4096);
    reader.read_duration("header_timeout", limits.header_timeout, Millis(1000));
    reader.read_duration("read_timeout", limits.read_timeout, Millis(1000));
    reader.read_duration("write_timeout", limits.write_timeout, Millis(1000));
    reader.read_duration("idle_timeout", limits.idle_timeout, Millis(1000));
    reader.read_duration("drain_timeout", limits.drain_timeout);
    reader.read_size("max_pipelined", limits.max_pipelined, 1, 1024);
    reader.read_size("max_connections", limits.max_connections, 1, 1'000'000);
    reader.reject_unknown();
  }
  if (const auto* table = top.sub_table("upstream")) {
    TableReader reader(*table, "upstream", config.source);
    auto& upstream = config.upstream;
    reader.read_duration("connect_timeout", upstream.connect_timeout, Millis(1));
    reader.read_duration("response_timeout", upstream.response_timeout, Millis(1));
    reader.read_size("max_idle_per_thread", upstream.max_idle_per_thread, 0, 10'000);
    reader.read_duration("idle_timeout", upstream.idle_timeout, Millis(1));
    reader.read_integer("retries", upstream.retries, 0, 5);
    reader.read_size("max_in_flight", upstream.max_in_flight, 1, 1'000'000);
    reader.read("tls_ca_file", upstream.tls_ca_file);
    reader.read("tls_cert_file", upstream.tls_cert_file);
    reader.read("tls_key_file", upstream.tls_key_file);
    reader.read("tls_server_name", upstream.tls_server_name);
    reader.reject_unknown();
  }
  if (const auto* table = top.sub_table("compression")) {
    TableReader reader(*table, "compression", config.source);
    auto& compression = config.compression;
    reader.read("enabled", compression.enabled);
    reader.read_size("min_bytes", compression.min_bytes, 0, std::size_t{1} << 30);
    reader.read_integer("gzip_level", compression.gzip_level, 1, 9);
    reader.read_size("forms_cache_mib", compression.forms_cache_mib, 0, 1 << 20);
    reader.read("types", compression.types);
    for (auto& type : compression.types) type = ascii_lower(type);
    reader.reject_unknown();
  }
  if (const auto* table = top.sub_table("tls")) {
    TableReader reader(*table, "tls", config.source);
    reader.read("cert_file", config.tls.cert_file);
    reader.read("key_file", config.tls.key_file);
    reader.reject_unknown();
    if (config.tls.cert_file.empty() != config.tls.key_file.empty()) {
      reader.fail(nullptr, "", "cert_file and key_file go together: give both to serve HTTPS, or neither");
    }
  }
  if (const auto* table = top.sub_table("access_log")) {
    TableReader reader(*table, "access_log", config.source);
    auto& log = config.access_log;
    reader.read("enabled", log.enabled);
    std::string format = "json";
    reader.read("format", format);
    if (format == "json") {
      log.format = AccessLogFormat::json;
    } else if (format == "common") {
      log.format = AccessLogFormat::common;
    } else {
      reader.fail(reader.get("format"), "format", "\"" + format + "\" is not a format; use \"json\" or \"common\"");
    }
    reader.read("path", log.path);
    if (log.path.empty()) reader.fail(reader.get("path"), "path", "must name a file, or \"-\" for standard output");
    reader.read_fraction("sample", log.sample);
    reader.reject_unknown();
  }
  if (const auto* table = top.sub_table("admin")) {
    TableReader reader(*table, "admin", config.source);
    auto& admin = config.admin;
    reader.read("base", admin.base);
    reader.read("token_sha256", admin.token_sha256);
    admin.token_sha256 = ascii_lower(admin.token_sha256);
    Endpoint endpoint;
    endpoint.port = 0;
    if (table->contains("listen")) {
      read_endpoint(reader, "listen", endpoint);
      admin.listen = endpoint;
    }
    reader.read("expose_on_main_listener", admin.expose_on_main_listener);
    reader.reject_unknown();
    if (admin.base.empty() || admin.base.front() != '/' || admin.base.back() == '/') {
      reader.fail(reader.get("base"), "base", "must start with '/' and not end with one, e.g. \"/api/cache\"");
    }
    if (!admin.token_sha256.empty() &&
        (admin.token_sha256.size() != 64 ||
         admin.token_sha256.find_first_not_of("0123456789abcdef") != std::string::npos)) {
      reader.fail(reader.get("token_sha256"), "token_sha256",
                  "expected 64 hex digits: the SHA-256 of the admin token (printf %s TOKEN | sha256sum)");
    }
  }
  if (const auto* table = top.sub_table("cache")) {
    TableReader reader(*table, "cache", config.source);
    auto& cache = config.cache;
    reader.read("prefix", cache.prefix);
    reader.read("redis_url", cache.redis_url);
    if (!cache.redis_url.empty()) {
      try {
        (void)redis::parse_deployment_url(cache.redis_url);
      } catch (const std::invalid_argument& error) {
        reader.fail(reader.get("redis_url"), "redis_url", error.what());
      }
    }
    reader.read_size("l1_capacity_mib", cache.l1_capacity_mib, 1, 1 << 20);
    reader.read("l1", cache.l1);
    reader.read("integrity_secret", cache.integrity_secret);
    reader.read_duration("redis_deadline", cache.redis_deadline, Millis(1));
    reader.reject_unknown();
  }
  if (const auto* table = top.sub_table("audit")) {
    TableReader reader(*table, "audit", config.source);
    auto& audit = config.audit;
    reader.read_fraction("unmatched", audit.unmatched);
    reader.read_positive("rate", audit.rate);
    reader.read_size("concurrency", audit.concurrency, 1, 1024);
    reader.read_fraction("stale_target", audit.stale_target);
    reader.reject_unknown();
    if (audit.stale_target <= 0.0 || audit.stale_target >= 1.0) {
      reader.fail(reader.get("stale_target"), "stale_target", "must be above 0 and below 1, e.g. 0.01 for 1%");
    }
  }
  if (const auto* table = top.sub_table("warming")) {
    TableReader reader(*table, "warming", config.source);
    auto& warming = config.warming;
    reader.read_size("hot_set_size", warming.hot_set_size, 0, 1'000'000);
    reader.read_integer("hot_set_sample", warming.hot_set_sample, 1, 1'000'000);
    reader.read("hot_set_file", warming.hot_set_file);
    reader.read_duration("hot_set_interval", warming.hot_set_interval, Millis(1000));
    reader.read("rewarm_on_start", warming.rewarm_on_start);
    reader.read_positive("rewarm_rate", warming.rewarm_rate);
    reader.read_size("rewarm_concurrency", warming.rewarm_concurrency, 1, 1024);
    reader.reject_unknown();
  }
  if (const auto* table = top.sub_table("identity")) {
    TableReader reader(*table, "identity", config.source);
    auto& identity = config.identity;
    std::string source_name = "none";
    reader.read("source", source_name);
    if (source_name == "none") identity.source = IdentitySource::none;
    else if (source_name == "jwt") identity.source = IdentitySource::jwt;
    else if (source_name == "header") identity.source = IdentitySource::header;
    else if (source_name == "bearer_digest") identity.source = IdentitySource::bearer_digest;
    else reader.fail(reader.get("source"), "source", "expected \"none\", \"jwt\", \"header\" or \"bearer_digest\"");
    reader.read("jwt_algorithm", identity.jwt_algorithm);
    reader.read("jwt_secret", identity.jwt_secret);
    std::string key_file;
    reader.read("jwt_public_key_file", key_file);
    if (!key_file.empty()) {
      std::ifstream in(key_file);
      if (!in) reader.fail(reader.get("jwt_public_key_file"), "jwt_public_key_file", "cannot read \"" + key_file + "\"");
      std::ostringstream text;
      text << in.rdbuf();
      identity.jwt_public_key_pem = text.str();
    }
    reader.read("jwt_public_key_pem", identity.jwt_public_key_pem);
    reader.read("user_claim", identity.user_claim);
    reader.read("issuer", identity.issuer);
    reader.read("audience", identity.audience);
    reader.read_duration("leeway", identity.leeway);
    reader.read("admin_claim", identity.admin_claim);
    reader.read("admin_value", identity.admin_value);
    reader.read("header", identity.header);
    identity.header = ascii_lower(identity.header);
    reader.read("trusted_proxies", identity.trusted_proxies);
    for (const auto& network : identity.trusted_proxies) {
      if (!parse_network(network)) {
        reader.fail(reader.get("trusted_proxies"), "trusted_proxies",
                    "\"" + network + "\" is not an address or CIDR network such as \"10.0.0.0/8\" or \"::1/128\"");
      }
    }
    reader.read("digest_secret", identity.digest_secret);
    reader.read("credential_headers", identity.credential_headers);
    for (auto& header : identity.credential_headers) header = ascii_lower(header);
    reader.reject_unknown();
  }
  if (const auto* node = top.get("rules")) {
    const auto* array = node->as_array();
    if (array == nullptr) top.fail(node, "rules", "expected [[rules]] tables");
    std::size_t index = 0;
    for (const auto& element : *array) {
      if (!element.is_table()) top.fail(&element, "rules", "expected [[rules]] tables");
      config.rules.push_back(read_rule(*element.as_table(), index++, config.source));
    }
  }
  top.reject_unknown();
  validate(config);
  return config;
}

void validate(const GatewayConfig& config) {
  const auto fail = [&](const std::string& message) {
    throw ConfigError(fmt::format("{}: {}", config.source, message));
  };
  if (config.origin.host.empty()) fail("origin: set the API to cache, e.g. origin = \"http://127.0.0.1:5000\"");
  const auto& identity = config.identity;
  switch (identity.source) {
    case IdentitySource::jwt:
      if (identity.jwt_algorithm == "HS256") {
        if (identity.jwt_secret.size() < 16) fail("identity.jwt_secret: HS256 needs a secret of at least 16 bytes");
      } else if (identity.jwt_algorithm == "RS256" || identity.jwt_algorithm == "ES256") {
        if (identity.jwt_public_key_pem.empty()) {
          fail("identity: " + identity.jwt_algorithm + " needs jwt_public_key_file (a PEM public key)");
        }
      } else {
        fail("identity.jwt_algorithm: \"" + identity.jwt_algorithm + "\" is not supported; use HS256, RS256 or ES256");
      }
      if (identity.user_claim.empty()) fail("identity.user_claim must not be empty");
      break;
    case IdentitySource::header:
      if (identity.header.empty()) fail("identity.header: name the header your auth proxy sets, e.g. \"X-User-Id\"");
      break;
    case IdentitySource::bearer_digest:
      if (identity.digest_secret.size() < 16) {
        fail("identity.digest_secret: bearer_digest needs a secret of at least 16 bytes (the token is keyed with it)");
      }
      break;
    case IdentitySource::none:
      break;
  }
  for (std::size_t i = 0; i < config.rules.size(); ++i) {
    const auto& rule = config.rules[i];
    const bool uses_user = std::any_of(rule.tags.begin(), rule.tags.end(), [](const std::string& tag) {
      return tag.find("{user}") != std::string::npos;
    });
    if ((rule.per_user || uses_user) && identity.source == IdentitySource::none) {
      fail(fmt::format("rules[{}] ({}): per_user and {{user}} need an [identity] source (jwt, header or bearer_digest)",
                       i, rule.name));
    }
  }
  if (config.admin.listen && config.admin.listen->port != 0 && config.admin.listen->port == config.listen.port &&
      config.admin.listen->host == config.listen.host) {
    fail("admin.listen must differ from listen");
  }
}

GatewayConfig load_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot read the configuration file (does it exist? is it readable?)");
  std::ostringstream text;
  text << in.rdbuf();
  return parse_config(text.str(), path);
}

}  // namespace strata::gateway
