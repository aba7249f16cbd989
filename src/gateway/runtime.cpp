#include "gateway/runtime.hpp"

#include <boost/beast/http/field.hpp>

#include <algorithm>
#include <chrono>

namespace strata::gateway {

namespace http = boost::beast::http;

std::int64_t unix_now() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Runtime::Runtime(GatewayConfig settings, RuleStats& rule_stats)
    : config(std::move(settings)), unmatched_counters(&rule_stats.for_rule(RuleStats::kUnmatched)), identity(config.identity) {
  for (const auto& rule : config.rules) {
    std::string error;
    auto compiled = PathTemplate::compile(rule.path, &error);
    if (!compiled) throw ConfigError(config.source + ": rule \"" + rule.name + "\": " + error);
    rules.push_back(CompiledRule{rule, std::move(*compiled), &rule_stats.for_rule(rule.name)});
  }
  stripped.insert(config.strip_request_headers.begin(), config.strip_request_headers.end());
  for (const auto& text : config.identity.trusted_proxies) {
    if (auto network = parse_network(text)) trusted_proxies.push_back(*network);
  }
}

bool Runtime::trusts(std::string_view peer) const {
  return std::any_of(trusted_proxies.begin(), trusted_proxies.end(),
                     [&](const Network& network) { return network.contains(peer); });
}

Identity Runtime::identify(const Request& request, const RequestContext& context) const {
  const auto& header = config.identity.header;
  const std::string_view claimed =
      header.empty() || !trusts(context.peer) ? std::string_view{} : std::string_view(request[header]);
  return identity.resolve(request[http::field::authorization], claimed, unix_now());
}

bool Runtime::carries_credentials(const Request& request, const RequestContext& context) const {
  // Field lookups are case-insensitive: no name is lowered (or allocated) per request.
  for (const auto& name : config.identity.credential_headers) {
    if (request.find(name) != request.end()) return true;
  }
  const auto& header = config.identity.header;
  return !header.empty() && request.find(header) != request.end() && trusts(context.peer);
}

bool Runtime::is_credential_header(std::string_view lower_name) const {
  const auto& settings = config.identity;
  if (lower_name == "authorization" || lower_name == "cookie" || lower_name == "proxy-authorization") return true;
  if (!settings.header.empty() && ascii_lower(settings.header) == lower_name) return true;
  return std::find(settings.credential_headers.begin(), settings.credential_headers.end(), lower_name) !=
         settings.credential_headers.end();
}

bool Runtime::is_admin(const Request& request, const Identity& caller) const {
  if (caller.admin) return true;
  const auto token = bearer_token(request[http::field::authorization]);
  if (token.empty()) return false;
  return !config.admin.token_sha256.empty() && constant_time_equal(sha256_hex(token), config.admin.token_sha256);
}

std::pair<const CompiledRule*, Variables> Runtime::match(std::string_view method, std::string_view path) const {
  for (const auto& compiled : rules) {
    const auto& methods = compiled.rule.methods;
    const bool method_matches = std::find(methods.begin(), methods.end(), method) != methods.end() ||
                                (method == "HEAD" && std::find(methods.begin(), methods.end(), "GET") != methods.end());
    if (!method_matches) continue;
    if (auto variables = compiled.path.match(path)) return {&compiled, std::move(*variables)};
  }
  return {nullptr, {}};
}

}  // namespace strata::gateway
