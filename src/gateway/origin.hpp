#pragma once

// The upstream side: a keep-alive connection pool to the origin, with deadlines, a bounded retry
// of idempotent requests when a connection fails, and bodies read up to a limit (the rest is
// handed over still on the wire, to be streamed through uncached).

#include "gateway/config.hpp"
#include "gateway/http_cache.hpp"

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace strata::gateway {

using OriginRequest = boost::beast::http::request<boost::beast::http::string_body>;

class OriginConnection;

// The unread rest of a body larger than the cacheable limit, with its connection.
class BodyStream {
public:
  explicit BodyStream(std::unique_ptr<OriginConnection> connection);
  ~BodyStream();
  // Appends up to `max` bytes to `out`; 0 appended and ok: the body is complete.
  boost::asio::awaitable<bool> read_some(std::string& out, std::size_t max);
  [[nodiscard]] bool done() const;
  [[nodiscard]] std::optional<std::uint64_t> content_length() const;

private:
  std::unique_ptr<OriginConnection> connection_;
};

struct OriginReply {
  bool ok = false;
  std::string error;     // why no response was obtained (connect, timeout, protocol)
  bool timed_out = false;
  bool overloaded = false;  // not sent: upstream.max_in_flight requests were under way already
  StoredResponse response;  // status and headers; body up to the limit
  std::shared_ptr<BodyStream> rest;  // non-null when the body went past the limit
};

struct OriginStats {
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> failures{0};
  std::atomic<std::uint64_t> retries{0};
  std::atomic<std::uint64_t> connections_opened{0};
  std::atomic<std::uint64_t> connections_reused{0};
  std::atomic<std::uint64_t> refused_overloaded{0};  // over upstream.max_in_flight
};

class OriginPool {
public:
  // Throws std::invalid_argument when a TLS file cannot be used.
  OriginPool(boost::asio::any_io_executor executor, Origin origin, UpstreamConfig config);
  ~OriginPool();

  // Sends `request` (its target without the origin's base path) and reads the response, the
  // body up to `max_body` bytes.
  boost::asio::awaitable<OriginReply> send(OriginRequest request, std::size_t max_body);

  [[nodiscard]] const Origin& origin() const noexcept { return origin_; }
  [[nodiscard]] const OriginStats& stats() const noexcept { return stats_; }
  void close_idle();

private:
  boost::asio::awaitable<OriginReply> attempt(OriginRequest& request, std::size_t max_body, bool* retryable,
                                              bool* stale_connection);
  std::unique_ptr<OriginConnection> take_idle();
  void give_back(std::unique_ptr<OriginConnection> connection);

  boost::asio::any_io_executor executor_;
  Origin origin_;
  UpstreamConfig config_;
  std::unique_ptr<boost::asio::ssl::context> tls_context_;  // https:// origins
  std::string server_name_;                                 // verified, and sent as SNI
  std::mutex mutex_;
  std::vector<std::unique_ptr<OriginConnection>> idle_;
  OriginStats stats_;
  std::atomic<std::size_t> in_flight_{0};
  std::string host_header_;
};

}  // namespace strata::gateway
