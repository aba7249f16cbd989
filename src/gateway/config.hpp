#pragma once

// The gateway's configuration: what `strata serve` reads from its TOML file (see
// examples/gateway/strata.toml for every option, documented), with flags and environment
// variables layered on top by the CLI.

#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace strata::gateway {

using Seconds = std::chrono::seconds;
using Millis = std::chrono::milliseconds;

// A configuration mistake, with where it is ("strata.toml:12:1: rules[2].ttl: ...") and how to
// fix it.
class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct Endpoint {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};
// "host:port", "[::1]:port" or ":port" (all interfaces). `what` names the option in errors.
Endpoint parse_endpoint(std::string_view text, std::string_view what);

// Where requests go: http://host[:port][/base]. Only plain HTTP to the origin (it usually runs
// beside the gateway); the base path is prepended to every upstream target.
struct Origin {
  std::string host;  // required
  std::uint16_t port = 80;  // 443 for https
  bool tls = false;         // https://
  std::string base_path;  // "" or "/v1" (no trailing slash)
  friend bool operator==(const Origin&, const Origin&) = default;
};
Origin parse_origin(std::string_view url, std::string_view what);

enum class IdentitySource : std::uint8_t { none, jwt, header, bearer_digest };

struct IdentityConfig {
  IdentitySource source = IdentitySource::none;
  // jwt: HS256 (secret), RS256 or ES256 (public key, PEM). Tokens come from
  // "Authorization: Bearer <jwt>".
  std::string jwt_algorithm = "HS256";
  std::string jwt_secret;
  std::string jwt_public_key_pem;
  std::string user_claim = "sub";
  std::string issuer;    // checked when set
  std::string audience;  // checked when set
  Seconds leeway{30};
  // The claim and value that make a caller an admin (a string claim, or an array holding it).
  std::string admin_claim = "role";
  std::string admin_value = "admin";
  // header: the header a trusted auth proxy sets to the user id. It is believed only from these
  // peers (CIDR); from anyone else it is ignored and removed before the request goes upstream,
  // so a client cannot name itself another user.
  std::string header;
  std::vector<std::string> trusted_proxies{"127.0.0.0/8", "::1/128"};
  // bearer_digest: the identity is HMAC-SHA256(secret, bearer token); never the token itself.
  std::string digest_secret;
  // Request headers that make a request personal: with any of them (or the identity header
  // from a trusted peer) a request does not share entries unless the origin or the rule allows
  // it (Rule::credentials). Lower case.
  std::vector<std::string> credential_headers{"authorization", "cookie", "x-api-key"};
};

// How a rule without per_user treats requests that carry credentials (Authorization, Cookie,
// the identity header, ...; see IdentityConfig::credential_headers).
enum class CredentialPolicy : std::uint8_t {
  // The default (RFC 9111 3.5, as Varnish's built-in policy): such a request is answered from
  // the shared entry, and fills it, only when the origin marked the response public, s-maxage,
  // must-revalidate or Surrogate-Control; otherwise it goes to the origin for its own answer.
  bypass,
  // The operator declares the route's answers the same for every caller: credentials are
  // ignored by the cache (they still reach the origin).
  shared,
};

struct Rule {
  std::string name;                        // for logs and Cache-Status detail
  std::vector<std::string> methods{"GET"};  // upper case
  std::string path;                        // template: /api/jobs/{id}
  bool cache = true;                       // false: pass through, never cached
  std::string name_space;                  // default: the first literal path segment
  std::optional<Seconds> ttl;              // unset: the origin's Cache-Control decides
  Seconds stale_while_revalidate{0};
  Seconds stale_if_error{0};
  // With stale_if_error: how long a request waits for the origin while a stale copy may stand
  // in; then the stale copy is served and the fetch goes on in the background (FusionCache's
  // soft timeout). 0: wait for the origin as long as upstream.response_timeout allows.
  Millis soft_timeout{1500};
  // Query parameters in the key and sent to the origin, in this order; {"*"} (the default):
  // all of them, sorted by name. Parameters not listed are dropped before the origin too, so
  // that what the origin answered is exactly what the key says.
  std::vector<std::string> query{"*"};
  std::vector<std::string> headers;        // request headers in the key (lower case)
  bool per_user = false;                   // keyed by the caller's verified identity
  CredentialPolicy credentials = CredentialPolicy::bypass;
  std::vector<std::string> tags;           // templates: "job:{id}", "user:{user}"
  // Negative caching: these statuses are stored for negative_ttl (off when empty).
  std::vector<unsigned> negative_statuses;
  Seconds negative_ttl{0};
  // For mutations (methods other than GET/HEAD): what a successful (2xx) response invalidates.
  std::vector<std::string> invalidate_namespaces;
  std::vector<std::string> invalidate_tags;  // templates
  // The fraction of this rule's hits re-fetched from the origin in the background to measure
  // how often a hit differs from what the origin would answer (see AuditConfig); 0: never.
  double audit = 0.0;
};

// The gateway owns content negotiation: it stores one representation per entry (gzip whenever
// the response is compressible) and serves each client a coding it accepts.
struct CompressionConfig {
  // Compress cacheable identity responses of these types (at least min_bytes) once, when they
  // are stored, as nginx's `gzip on` does per response. Responses marked no-transform never.
  bool enabled = true;
  std::size_t min_bytes = 256;
  int gzip_level = 6;
  // Decoded (or re-encoded) forms kept for clients that cannot take an entry's stored coding,
  // so that their hits do not decode again; least recently used first out.
  std::size_t forms_cache_mib = 32;
  std::vector<std::string> types{"text/*", "application/json", "*+json", "application/javascript",
                                 "application/xml", "*+xml", "application/x-ndjson", "image/svg+xml"};
};

struct Limits {
  std::size_t max_header_bytes = 16 * 1024;
  std::size_t max_request_body_bytes = 8 * 1024 * 1024;
  std::size_t max_cacheable_bytes = 4 * 1024 * 1024;  // larger responses stream through uncached
  std::size_t max_variants = 32;  // stored variants per URL (Vary on headers outside the key)
  Seconds header_timeout{10};    // a request's header, from its first byte to its last
  Seconds read_timeout{30};      // a request's body
  Seconds write_timeout{30};
  Seconds idle_timeout{60};      // keep-alive connections waiting for a request's first byte
  std::size_t max_pipelined = 16;  // requests read ahead on one connection
  std::size_t max_connections = 10000;
  Seconds drain_timeout{20};     // SIGTERM: how long in-flight requests may finish
};

struct UpstreamConfig {
  Millis connect_timeout{2000};
  Millis response_timeout{30000};  // until the whole response is read
  std::size_t max_idle_per_thread = 64;
  Millis idle_timeout{4000};  // idle keep-alive connections older than this are not reused
  unsigned retries = 1;  // idempotent requests, on connection failure only
  // Requests to the origin at once, at most; past it a request is answered 503 with
  // Retry-After (or from a stale copy that may stand in) instead of queueing.
  std::size_t max_in_flight = 1024;
  // https:// origins: the certificate is verified against this CA bundle (PEM; empty: the
  // system's trust store, where SSL_CERT_FILE also works) and the origin's host name, or
  // tls_server_name when set (also sent as SNI). A client certificate for mutual TLS.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_server_name;
};

struct AdminConfig {
  std::string base = "/api/cache";
  // Hex SHA-256 of the admin bearer token (never the token itself).
  std::string token_sha256;
  std::optional<Endpoint> listen;  // a separate listener for admin endpoints and /metrics
  bool expose_on_main_listener = true;
};

// HTTPS on `listen`: the certificate chain (leaf first) and its key, PEM; both or neither.
// Read again on SIGHUP: new connections get the new certificate, open ones keep theirs.
struct ListenerTls {
  std::string cert_file;
  std::string key_file;
  [[nodiscard]] bool enabled() const noexcept { return !cert_file.empty(); }
  friend bool operator==(const ListenerTls&, const ListenerTls&) = default;
};

enum class AccessLogFormat { json, common };

struct AccessLogConfig {
  bool enabled = false;
  AccessLogFormat format = AccessLogFormat::json;
  std::string path = "-";  // "-": standard output
  double sample = 1.0;     // the fraction of requests logged
};

struct CacheConfig {
  std::string prefix = "strata";
  std::string redis_url;  // empty: REDIS_URL, else L1 only
  std::size_t l1_capacity_mib = 256;
  bool l1 = true;
  std::string integrity_secret;
  // The longest one Redis command may hold a request up; past it the request goes on without
  // Redis (L1, the origin). See CacheOptions::redis_deadline.
  Millis redis_deadline{250};
};

// The staleness audit (audit.hpp): a sampled fraction of hits (Rule::audit, `unmatched` for
// routes no rule matches) is fetched again from the origin after the client has its answer, and
// compared with what was served.
struct AuditConfig {
  double unmatched = 0.0;       // the fraction of hits audited on routes no rule matches
  double rate = 10.0;           // audit requests per second, at most, for the whole gateway
  std::size_t concurrency = 2;  // audit requests at once, at most
  double stale_target = 0.01;   // TTL advice: the stale ratio a suggested TTL stays under
};

// The hot set (hot_set.hpp) and re-warming from it when the gateway starts.
struct WarmingConfig {
  std::size_t hot_set_size = 1000;   // targets kept; 0: no hot set
  unsigned hot_set_sample = 8;       // record one request in this many (per thread)
  std::string hot_set_file;          // where it is written; empty: in Redis when configured
  Millis hot_set_interval{60000};    // written this often, and when the gateway drains
  bool rewarm_on_start = true;
  double rewarm_rate = 50.0;         // re-warming requests per second at most
  std::size_t rewarm_concurrency = 4;
};

// Routes no rule matches: cached only when the origin says `public` (the default, because an
// API that never thought about shared caches often sends max-age for the browser), or whenever
// RFC 9111 allows a shared cache to (max-age, s-maxage or Expires).
enum class UnmatchedRoutes : std::uint8_t { public_only, rfc9111 };

struct GatewayConfig {
  Endpoint listen{"127.0.0.1", 8080};
  ListenerTls tls;
  Origin origin;
  unsigned threads = 0;  // 0: one per core
  Limits limits;
  UpstreamConfig upstream;
  CompressionConfig compression;
  AccessLogConfig access_log;
  AdminConfig admin;
  CacheConfig cache;
  WarmingConfig warming;
  AuditConfig audit;
  IdentityConfig identity;
  // Response header with which the origin names what a mutation invalidates:
  // "tag=meeting:1, namespace=analytics".
  std::string invalidation_header = "x-strata-invalidate";
  UnmatchedRoutes unmatched_routes = UnmatchedRoutes::public_only;
  // Request headers that can change what the origin serves but are not in a rule's key: removed
  // before the request goes upstream (so they cannot poison a shared entry).
  // The defaults are the headers that web-cache-poisoning research found frameworks acting on
  // (host, scheme, port, path prefix, URL and method overrides): Rack/Rails, Django, Flask's
  // ProxyFix, Express, Spring, Symfony/Laravel, IIS.
  std::vector<std::string> strip_request_headers{
      "forwarded",          "x-forwarded-host",  "x-forwarded-server", "x-forwarded-proto",
      "x-forwarded-scheme", "x-forwarded-ssl",   "x-forwarded-port",   "x-forwarded-prefix",
      "x-forwarded-path",   "x-url-scheme",      "front-end-https",    "x-original-url",
      "x-original-uri",     "x-rewrite-url",     "x-original-host",    "x-host",
      "x-http-host-override", "x-http-method-override", "x-http-method", "x-method-override"};
  std::vector<Rule> rules;
  std::string source;  // the file it came from, for messages
};

// Parses TOML text; `source` names it in messages. Unknown options are errors (a typo must not
// silently fall back to a default).
GatewayConfig parse_config(std::string_view toml_text, std::string source = "<config>");
GatewayConfig load_config(const std::string& path);
// Cross-field checks (also run by parse_config); throws ConfigError.
void validate(const GatewayConfig& config);

// An address range: "10.0.0.0/8", "::1/128", or one address.
struct Network {
  std::variant<boost::asio::ip::network_v4, boost::asio::ip::network_v6> range;
  [[nodiscard]] bool contains(std::string_view address) const;
};
std::optional<Network> parse_network(std::string_view text);

}  // namespace strata::gateway
