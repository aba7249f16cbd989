#pragma once

// The caching proxy: what to do with one HTTP request. Sockets live in server.hpp; this file
// owns rules, keys, identity, the cache, the origin pool and the admin API.

#include "gateway/config.hpp"
#include "gateway/http_cache.hpp"
#include "gateway/origin.hpp"
#include "gateway/reason_counts.hpp"

#include <strata/cache.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <functional>
#include <optional>
#include <string_view>

#include <atomic>
#include <chrono>
#include <memory>
#include <shared_mutex>
#include <string>

namespace strata::gateway {

using Request = boost::beast::http::request<boost::beast::http::string_body>;

// A response to write: status, header lines, and a body that is owned, shared with the cache,
// or still arriving from the origin. Header lines are rendered as they are added, so that a
// cache hit writes its stored header block as one piece (no per-field work).
struct Reply {
  unsigned status = 200;
  std::string fields;                            // "Name: value\r\n" lines added by the gateway
  std::string owned_body;
  std::shared_ptr<const StoredResponse> stored;  // its headers, and its body unless streaming
  bool stored_headers = true;                    // false: the stored header block is left out (304)
  std::shared_ptr<BodyStream> stream;            // then the body is stream_prefix + the stream
  std::string stream_prefix;
  std::optional<std::uint64_t> content_length;   // declared length (HEAD pass-through, streams)
  bool head = false;                             // HEAD: the header only
  bool close = false;                            // close the connection after writing
  // For the access log: the cache's outcome (X-Cache; a string literal), why the response was
  // not stored or not served from the cache (Cache-Status detail), the time the origin took.
  std::string_view cache_outcome;
  std::string reason;
  std::optional<std::chrono::microseconds> upstream_time;

  void add(std::string_view name, std::string_view value) {
    fields.append(name).append(": ").append(value).append("\r\n");
  }
  [[nodiscard]] std::string_view body() const {
    if (stream) return stream_prefix;
    return stored ? std::string_view(stored->body) : std::string_view(owned_body);
  }
};

struct RequestContext {
  std::string peer;             // client address, for X-Forwarded-For
  bool admin_listener = false;  // arrived on admin.listen
  bool warming = false;         // the gateway's own re-warming request: counted apart
};

struct GatewayCounters {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> hits{0};
  std::atomic<std::uint64_t> misses{0};
  std::atomic<std::uint64_t> stale{0};
  std::atomic<std::uint64_t> bypass{0};
  std::atomic<std::uint64_t> not_modified{0};
  std::atomic<std::uint64_t> revalidated{0};     // stale entries the origin confirmed with a 304
  std::atomic<std::uint64_t> ranges{0};          // 206 and 416 answers from stored responses
  std::atomic<std::uint64_t> origin_errors{0};   // 502/504 answered for the origin
  std::atomic<std::uint64_t> rejected{0};        // 4xx for malformed requests
  std::atomic<std::uint64_t> streamed{0};        // bodies over the cacheable limit
  std::atomic<std::uint64_t> invalidations{0};   // by mutation rules and origin headers
  std::atomic<std::uint64_t> admin_requests{0};
  std::atomic<std::uint64_t> admin_refused{0};
  ReasonCounts not_stored;  // origin responses the cache did not keep, by reason
  ReasonCounts bypassed;    // requests sent around the cache, by reason
};

struct AuditEvent;  // audit.hpp

// Re-warming the hot set after a start, as it goes (for /metrics and the log) and at its end.
struct RewarmProgress {
  std::atomic<std::uint64_t> total{0};
  std::atomic<std::uint64_t> from_redis{0};   // found in Redis, now in L1 as well
  std::atomic<std::uint64_t> from_origin{0};  // fetched from the origin
  std::atomic<std::uint64_t> already{0};      // already in L1
  std::atomic<std::uint64_t> skipped{0};      // not cacheable any more, or refused
  std::atomic<std::uint64_t> failed{0};       // the origin failed
  std::atomic<bool> running{false};
};
struct RewarmReport {
  std::uint64_t total = 0, from_redis = 0, from_origin = 0, already = 0, skipped = 0, failed = 0;
  double seconds = 0.0;
  std::string source;  // where the hot set is kept ("file /var/lib/...", "Redis"); empty: nowhere
};

class Gateway {
public:
  // Throws ConfigError for settings that cannot work (bad key file, bad Redis URL). `clock`
  // replaces the cache's time source (tests move it by hand).
  Gateway(boost::asio::any_io_executor executor, GatewayConfig config, std::shared_ptr<const Clock> clock = nullptr);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Connects to Redis when configured; false when it is configured but unreachable (the
  // gateway serves anyway, from L1 and the origin, and keeps retrying).
  boost::asio::awaitable<bool> start();
  // Writes the hot set (to warming.hot_set_file, else to Redis); false when it could not be.
  boost::asio::awaitable<bool> save_hot_set();
  // Fetches the saved hot set through the cache, hottest first, at warming.rewarm_rate and
  // rewarm_concurrency, logging progress; the figures at the end.
  boost::asio::awaitable<RewarmReport> rewarm();

  boost::asio::awaitable<Reply> handle(Request request, RequestContext context);
  // Called with every audited hit (the access log's audit lines); set before serving.
  void on_audit(std::function<void(const AuditEvent&)> observer);

  // SIGHUP: new rules, identity and admin settings apply to requests that start after it.
  // Listeners, origin and cache settings need a restart; returns what was not applied.
  std::string reload(GatewayConfig config);

  [[nodiscard]] const GatewayConfig& startup_config() const noexcept;
  [[nodiscard]] const GatewayCounters& counters() const noexcept;
  [[nodiscard]] Cache& cache() noexcept;
  // Drops idle upstream connections (shutdown).
  void close_idle_upstream();

  class Impl;

private:
  std::shared_ptr<Impl> impl_;
};

// A JSON error reply: {"error": code, "detail": detail}.
Reply json_error(unsigned status, std::string_view code, std::string_view detail);

}  // namespace strata::gateway
