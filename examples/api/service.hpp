#pragma once

// The example API: the five seeds' endpoints over SQLite, cached with libstrata the way the seeds
// cache them (cache-aside, invalidate on write, pre-warm, per-user keys, namespaces, a content
// hash for AI results). With the cache off every read goes to the database: the baseline the
// benchmark compares against.

#include "database.hpp"

#include <strata/cache.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <atomic>
#include <chrono>
#include <memory>

namespace strata::example {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct ServiceOptions {
  std::chrono::seconds job_ttl{30};             // seed 004
  std::chrono::seconds transcription_ttl{1800};  // seed 000
  std::chrono::seconds library_ttl{300};        // seed 002
  std::chrono::seconds dashboard_ttl{600};      // seed 003
  int ai_rounds = 20000;                        // seed 001: SHA-256 rounds per "model call"
};

class Service {
public:
  // `cache` null: caching off. Database work runs on `database_executor` (a thread pool), never
  // on the I/O threads.
  Service(Database& database, Cache* cache, boost::asio::any_io_executor database_executor, ServiceOptions options = {});

  boost::asio::awaitable<Response> handle(Request request);

  [[nodiscard]] std::uint64_t ai_calls() const noexcept { return ai_calls_.load(); }

  struct Answer;  // status, JSON body, X-Cache

private:
  boost::asio::awaitable<Answer> route(const Request& request);

  Database& database_;
  Cache* cache_;
  boost::asio::any_io_executor database_executor_;
  ServiceOptions options_;
  std::atomic<std::uint64_t> ai_calls_{0};
};

}  // namespace strata::example
