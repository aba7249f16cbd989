#include <strata/redis/options.hpp>

#include "core/duration.hpp"

#include <charconv>
#include <stdexcept>
#include <string>

namespace strata::redis {
namespace {

constexpr std::string_view kForm =
    "expected redis://[user[:password]@]host[:port][/db][?option=value&...] or rediss://...";

[[noreturn]] void fail(const std::string& what) {
  throw std::invalid_argument("invalid Redis URL: " + what);
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decode(std::string_view text, std::string_view part) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      decoded.push_back(text[i]);
      continue;
    }
    const int high = i + 1 < text.size() ? hex_value(text[i + 1]) : -1;
    const int low = i + 2 < text.size() ? hex_value(text[i + 2]) : -1;
    if (high < 0 || low < 0) {
      fail("the " + std::string(part) + " has a '%' not followed by two hex digits; encode '%' as %25");
    }
    decoded.push_back(static_cast<char>(high * 16 + low));
    i += 2;
  }
  return decoded;
}

template <typename Integer>
Integer parse_integer(std::string_view text, Integer min, Integer max, const std::string& part) {
  Integer value{};
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc{} || end != text.data() + text.size() || value < min ||
      value > max) {
    fail(part + " '" + std::string(text) + "' is not a whole number from " + std::to_string(min) +
         " to " + std::to_string(max));
  }
  return value;
}

std::chrono::milliseconds parse_duration(std::string_view text, const std::string& option) {
  const auto parsed = core::parse_duration(text);
  if (!parsed) {
    fail("option " + option + "='" + std::string(text) + "' is not a duration; write a number and its unit (250ms, 2s)");
  }
  if (*parsed < std::chrono::milliseconds(1) || *parsed > std::chrono::hours(1)) {
    fail("option " + option + "='" + std::string(text) + "' must be between 1ms and 3600s");
  }
  return *parsed;
}

bool parse_bool(std::string_view text, const std::string& option) {
  if (text == "true" || text == "1" || text == "yes") return true;
  if (text == "false" || text == "0" || text == "no") return false;
  fail("option " + option + "='" + std::string(text) + "' is not a boolean; use true or false");
}

void apply_option(ConnectionOptions& options, std::string_view name, std::string_view raw_value) {
  const std::string option(name);
  const std::string value = percent_decode(raw_value, "value of option " + option);
  if (name == "connect_timeout") {
    options.connect_timeout = parse_duration(value, option);
  } else if (name == "command_timeout") {
    options.command_timeout = parse_duration(value, option);
  } else if (name == "reconnect_backoff_initial") {
    options.reconnect_backoff_initial = parse_duration(value, option);
  } else if (name == "reconnect_backoff_max") {
    options.reconnect_backoff_max = parse_duration(value, option);
  } else if (name == "breaker_cooldown") {
    options.breaker_cooldown = parse_duration(value, option);
  } else if (name == "breaker_failures") {
    options.breaker_failures = parse_integer<std::size_t>(value, 0, 1'000'000, "option breaker_failures");
  } else if (name == "reconnect") {
    options.reconnect = parse_bool(value, option);
  } else if (name == "queue_while_disconnected") {
    options.queue_while_disconnected = parse_bool(value, option);
  } else if (name == "pool_size") {
    options.pool_size = parse_integer<std::size_t>(value, 1, 1024, "option pool_size");
  } else if (name == "max_pending") {
    options.max_pending = parse_integer<std::size_t>(value, 1, 10'000'000, "option max_pending");
  } else if (name == "client_name") {
    if (value.find_first_of(" \n\r\t") != std::string::npos) {
      fail("option client_name='" + value + "' may not contain spaces or line breaks");
    }
    options.client_name = value;
  } else if (name == "tls_ca_file") {
    options.tls.ca_file = value;
  } else if (name == "tls_cert_file") {
    options.tls.cert_file = value;
  } else if (name == "tls_key_file") {
    options.tls.key_file = value;
  } else if (name == "tls_verify") {
    options.tls.verify_peer = parse_bool(value, option);
  } else if (name == "tls_server_name") {
    options.tls.server_name = value;
  } else {
    fail("unknown option '" + option +
         "'; known: connect_timeout, command_timeout, reconnect, reconnect_backoff_initial, "
         "reconnect_backoff_max, queue_while_disconnected, breaker_failures, breaker_cooldown, "
         "pool_size, max_pending, client_name, tls_ca_file, tls_cert_file, tls_key_file, "
         "tls_verify, tls_server_name");
  }
}

// host[:port] or [v6]:port.
Endpoint parse_endpoint(std::string_view text) {
  std::string_view host = text;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) fail("IPv6 host '" + std::string(host) + "' lacks its closing ']'");
    const std::string_view after = host.substr(close + 1);
    host = host.substr(1, close - 1);
    if (!after.empty()) {
      if (after.front() != ':') fail("unexpected '" + std::string(after) + "' after the IPv6 host");
      port = after.substr(1);
      if (port.empty()) fail("empty port after ':'; give a port from 1 to 65535 or drop the ':'");
    }
  } else if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    port = host.substr(colon + 1);
    host = host.substr(0, colon);
    if (port.empty()) fail("empty port after ':'; give a port from 1 to 65535 or drop the ':'");
  }
  if (host.empty()) fail("missing host; " + std::string(kForm));
  if (host.find_first_of(" \t/\\") != std::string_view::npos) {
    fail("host '" + std::string(host) + "' contains characters a host name cannot have");
  }
  Endpoint endpoint{std::string(host), 6379};
  if (!port.empty()) endpoint.port = parse_integer<std::uint16_t>(port, 1, 65535, "port");
  return endpoint;
}

// The pieces of scheme://[userinfo@]hosts[/path][?query].
struct UrlParts {
  std::string_view scheme;
  std::string_view hosts;
  std::string_view path;  // without the leading '/'
  std::string_view query;
};

UrlParts split_url(std::string_view url, ConnectionOptions& options, std::string_view form) {
  UrlParts parts;
  const std::size_t scheme_end = url.find("://");
  if (scheme_end == std::string_view::npos) fail("missing scheme; " + std::string(form));
  parts.scheme = url.substr(0, scheme_end);
  std::string_view rest = url.substr(scheme_end + 3);
  if (const auto question = rest.find('?'); question != std::string_view::npos) {
    parts.query = rest.substr(question + 1);
    rest = rest.substr(0, question);
  }
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    parts.path = rest.substr(slash + 1);
    rest = rest.substr(0, slash);
  }
  // rest is [userinfo@]hosts; the last '@' ends the user info (passwords may contain '@'
  // only percent-encoded, but be lenient).
  if (const auto at = rest.rfind('@'); at != std::string_view::npos) {
    const std::string_view userinfo = rest.substr(0, at);
    rest = rest.substr(at + 1);
    if (const auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      options.username = percent_decode(userinfo.substr(0, colon), "user name");
      options.password = percent_decode(userinfo.substr(colon + 1), "password");
    } else {
      options.username = percent_decode(userinfo, "user name");
    }
    if (options.username.empty() && options.password.empty()) {
      fail("empty user information before '@'; remove the '@' or give user:password");
    }
  }
  parts.hosts = rest;
  return parts;
}

// Calls apply(name, value) for each option of the query string.
template <typename Apply>
void for_each_option(std::string_view query, Apply apply) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const auto equals = pair.find('=');
    if (equals == std::string_view::npos) {
      fail("option '" + std::string(pair) + "' has no value; write " + std::string(pair) + "=<value>");
    }
    apply(pair.substr(0, equals), pair.substr(equals + 1));
  }
}

void check_backoff(const ConnectionOptions& options) {
  if (options.reconnect_backoff_max < options.reconnect_backoff_initial) {
    fail("reconnect_backoff_max (" + std::to_string(options.reconnect_backoff_max.count()) +
         "ms) is below reconnect_backoff_initial (" +
         std::to_string(options.reconnect_backoff_initial.count()) + "ms); raise the maximum");
  }
}

}  // namespace

ConnectionOptions parse_url(std::string_view url) {
  ConnectionOptions options;
  const UrlParts parts = split_url(url, options, kForm);
  if (parts.scheme == "rediss") {
    options.tls.enabled = true;
  } else if (parts.scheme == "redis+cluster" || parts.scheme == "rediss+cluster" ||
             parts.scheme == "redis+sentinel" || parts.scheme == "rediss+sentinel") {
    fail("scheme '" + std::string(parts.scheme) +
         "' names a cluster or Sentinel deployment, which needs parse_deployment_url, not one server");
  } else if (parts.scheme != "redis") {
    fail("unsupported scheme '" + std::string(parts.scheme) + "'; " + std::string(kForm));
  }
  if (parts.hosts.find(',') != std::string_view::npos) {
    fail("several hosts ('" + std::string(parts.hosts) +
         "') in a redis:// URL; use redis+cluster:// or redis+sentinel:// for several nodes");
  }
  const Endpoint endpoint = parse_endpoint(parts.hosts);
  options.host = endpoint.host;
  options.port = endpoint.port;
  if (!parts.path.empty()) {
    options.database = parse_integer<int>(parts.path, 0, 100000, "database number in the path");
  }
  for_each_option(parts.query, [&](std::string_view name, std::string_view value) {
    apply_option(options, name, value);
  });
  check_backoff(options);
  return options;
}

Deployment parse_deployment_url(std::string_view url) {
  constexpr std::string_view kDeploymentForm =
      "expected redis://host:port, redis+cluster://host:port[,host:port...] or "
      "redis+sentinel://host:port[,host:port...]/master-name[/db] (rediss... for TLS)";
  Deployment deployment;
  const std::size_t scheme_end = url.find("://");
  const std::string_view scheme = scheme_end == std::string_view::npos ? "" : url.substr(0, scheme_end);
  if (scheme == "redis" || scheme == "rediss") {
    deployment.node = parse_url(url);
    return deployment;
  }
  ConnectionOptions& node = deployment.node;
  const UrlParts parts = split_url(url, node, kDeploymentForm);
  if (parts.scheme == "redis+cluster" || parts.scheme == "rediss+cluster") {
    deployment.kind = Deployment::Kind::cluster;
  } else if (parts.scheme == "redis+sentinel" || parts.scheme == "rediss+sentinel") {
    deployment.kind = Deployment::Kind::sentinel;
  } else {
    fail("unsupported scheme '" + std::string(parts.scheme) + "'; " + std::string(kDeploymentForm));
  }
  node.tls.enabled = parts.scheme.starts_with("rediss");
  std::string_view hosts = parts.hosts;
  while (true) {
    const auto comma = hosts.find(',');
    const std::string_view one = hosts.substr(0, comma);
    if (one.empty()) fail("empty host in the list '" + std::string(parts.hosts) + "'; drop the extra ','");
    deployment.seeds.push_back(parse_endpoint(one));
    if (comma == std::string_view::npos) break;
    hosts = hosts.substr(comma + 1);
  }
  node.host = deployment.seeds.front().host;
  node.port = deployment.seeds.front().port;

  if (deployment.kind == Deployment::Kind::cluster) {
    if (!parts.path.empty()) {
      fail("path '/" + std::string(parts.path) +
           "' in a cluster URL: Redis Cluster has only database 0; drop the path");
    }
  } else {
    const auto slash = parts.path.find('/');
    const std::string_view name = parts.path.substr(0, slash);
    if (name.empty()) {
      fail("missing master name; " + std::string(kDeploymentForm) +
           " (the name the sentinels monitor, e.g. /mymaster)");
    }
    deployment.master_name = percent_decode(name, "master name");
    if (slash != std::string_view::npos) {
      node.database = parse_integer<int>(parts.path.substr(slash + 1), 0, 100000,
                                         "database number after the master name");
    }
  }

  std::vector<std::pair<std::string_view, std::string_view>> sentinel_options;
  for_each_option(parts.query, [&](std::string_view name, std::string_view raw) {
    const std::string option(name);
    if (name.starts_with("sentinel_")) {
      if (deployment.kind != Deployment::Kind::sentinel) {
        fail("option " + option + " applies to redis+sentinel:// URLs only");
      }
      sentinel_options.emplace_back(name, raw);
    } else if (name == "topology_refresh" || name == "max_redirects") {
      if (name == "max_redirects" && deployment.kind != Deployment::Kind::cluster) {
        fail("option " + option + " applies to redis+cluster:// URLs only");
      }
      const std::string value = percent_decode(raw, "value of option " + option);
      if (name == "topology_refresh") {
        deployment.topology_refresh = parse_duration(value, option);
      } else {
        deployment.max_redirects = parse_integer<std::size_t>(value, 1, 100, "option max_redirects");
      }
    } else {
      apply_option(node, name, raw);
    }
  });
  check_backoff(node);

  if (deployment.kind == Deployment::Kind::sentinel) {
    // The sentinels share the data nodes' timeouts, but not their credentials or TLS.
    ConnectionOptions& sentinel = deployment.sentinel;
    sentinel = node;
    sentinel.username.clear();
    sentinel.password.clear();
    sentinel.database = 0;
    sentinel.tls = TlsOptions{};
    sentinel.pool_size = 1;
    sentinel.client_name = node.client_name.empty() ? "" : node.client_name + "-sentinel";
    for (const auto& [name, raw] : sentinel_options) {
      const std::string option(name);
      const std::string value = percent_decode(raw, "value of option " + option);
      if (name == "sentinel_username") {
        sentinel.username = value;
      } else if (name == "sentinel_password") {
        sentinel.password = value;
      } else if (name == "sentinel_tls") {
        sentinel.tls.enabled = parse_bool(value, option);
      } else if (name == "sentinel_tls_ca_file") {
        sentinel.tls.ca_file = value;
      } else if (name == "sentinel_tls_verify") {
        sentinel.tls.verify_peer = parse_bool(value, option);
      } else {
        fail("unknown option '" + option +
             "'; known for sentinels: sentinel_username, sentinel_password, sentinel_tls, "
             "sentinel_tls_ca_file, sentinel_tls_verify");
      }
    }
  }
  return deployment;
}

}  // namespace strata::redis
