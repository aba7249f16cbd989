#pragma once

// How to reach Redis: plain values, copied by the clients built from them.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::redis {

struct TlsOptions {
  bool enabled = false;             // rediss://
  std::string ca_file;              // PEM CA bundle; empty: the system's default paths
  std::string cert_file;            // client certificate (PEM), for mutual TLS
  std::string key_file;             // its private key (PEM)
  bool verify_peer = true;          // verify the server certificate and its host name
  std::string server_name;          // name to verify and send as SNI; empty: the host
};

struct Endpoint {
  std::string host;
  std::uint16_t port = 6379;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

// How to reach one Redis endpoint. Every field has a working default; parse_url() fills them
// from a URL such as redis://user:secret@cache.internal:6380/2?command_timeout=250ms.
struct ConnectionOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 6379;
  std::string username;             // ACL user; empty: AUTH with the password alone
  std::string password;             // empty: no AUTH
  int database = 0;                 // SELECT, when not 0
  std::string client_name = "strata";  // CLIENT SETNAME; empty: not sent
  std::chrono::milliseconds connect_timeout{2000};  // TCP + TLS + handshake
  std::chrono::milliseconds command_timeout{1000};  // per request, unless the call says otherwise
  std::size_t pool_size = 4;        // connections per endpoint
  std::size_t max_pending = 65536;  // requests queued or in flight per connection, at most
  // After a connection breaks (or the first connect fails), reconnect in the background, waiting
  // between attempts from reconnect_backoff_initial, doubling up to reconnect_backoff_max, jittered.
  bool reconnect = true;
  std::chrono::milliseconds reconnect_backoff_initial{50};
  std::chrono::milliseconds reconnect_backoff_max{2000};
  // While disconnected, a request fails at once with Error::not_connected (false), or waits for
  // the reconnect in the bounded queue (max_pending), still bounded by its own deadline (true).
  bool queue_while_disconnected = false;
  // Circuit breaker: this many consecutive failures (connect failures, timeouts, lost
  // connections) make requests fail at once with Error::circuit_open for breaker_cooldown;
  // then one probe decides. 0 disables it.
  std::size_t breaker_failures = 5;
  std::chrono::milliseconds breaker_cooldown{2000};
  TlsOptions tls;
  // Asked before every connection attempt for where to connect instead of host:port (Sentinel:
  // the current master; a cluster's bus: a live node). nullopt: no address known yet, the
  // attempt fails and is retried. Called on the connection's executor.
  std::function<std::optional<Endpoint>()> locate;
  // The handshake also sends ROLE and refuses a server that is not a master (after a failover
  // the old master comes back as a replica).
  bool require_master = false;
};

// Parses redis://[user[:password]@]host[:port][/db][?option=value&...] and rediss://... (TLS).
// User and password may be percent-encoded; an IPv6 host goes in brackets. Options:
// connect_timeout, command_timeout, reconnect_backoff_initial, reconnect_backoff_max,
// breaker_cooldown (milliseconds, or with a unit: 250ms, 2s), pool_size, max_pending,
// breaker_failures, client_name, reconnect, queue_while_disconnected, tls_verify (true/false),
// tls_ca_file, tls_cert_file, tls_key_file, tls_server_name. Throws std::invalid_argument naming the part that is wrong and how to fix it;
// the message never contains the password.
ConnectionOptions parse_url(std::string_view url);

// Where the data lives: one server, a Redis Cluster, or a master watched by Sentinel.
struct Deployment {
  enum class Kind { standalone, cluster, sentinel };
  Kind kind = Kind::standalone;
  // The data nodes: AUTH, TLS, database, timeouts, pool size (per master). host:port is the
  // server for standalone, and unused otherwise.
  ConnectionOptions node;
  // cluster: nodes to learn the slot map from; sentinel: the sentinels.
  std::vector<Endpoint> seeds;
  std::string master_name;  // sentinel
  // Towards the sentinels, configured apart from the data nodes (AUTH, TLS).
  ConnectionOptions sentinel;
  // cluster: the slot map is also re-read this often, besides on MOVED and on failures;
  // sentinel: the master's address is asked again this often, besides on +switch-master.
  std::chrono::milliseconds topology_refresh{5000};
  // cluster: MOVED / ASK redirections followed per request before giving up.
  std::size_t max_redirects = 5;
};

// Parses any of
//   redis://... and rediss://...                    (parse_url; one server)
//   redis+cluster://[user:password@]host:port[,host:port...][?options]
//   redis+sentinel://[user:password@]host:port[,host:port...]/master-name[/db][?options]
// and the rediss+cluster / rediss+sentinel forms (TLS towards the data nodes). The user
// information and the options of parse_url apply to the data nodes. More options:
// topology_refresh, max_redirects (cluster); topology_refresh, sentinel_username, sentinel_password,
// sentinel_tls (true/false), sentinel_tls_ca_file, sentinel_tls_verify (towards the sentinels).
// Throws std::invalid_argument naming the wrong part, never printing a password.
Deployment parse_deployment_url(std::string_view url);

}  // namespace strata::redis
