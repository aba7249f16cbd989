#include "gateway/origin.hpp"

#include "core/strand.hpp"
#include "core/tls_client.hpp"
#include "gateway/route.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <fmt/format.h>

#include <array>

namespace strata::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// The connection to the origin, plain or TLS, as one stream type for the HTTP code above it.
class OriginStream {
public:
  using executor_type = beast::tcp_stream::executor_type;

  OriginStream(const asio::any_io_executor& executor, ssl::context* tls) : tcp_(core::strand_of(executor)) {
    if (tls != nullptr) tls_ = std::make_unique<ssl::stream<beast::tcp_stream&>>(tcp_, *tls);
  }

  executor_type get_executor() noexcept { return tcp_.get_executor(); }
  beast::tcp_stream& tcp() noexcept { return tcp_; }
  tcp::socket& socket() noexcept { return tcp_.socket(); }
  ssl::stream<beast::tcp_stream&>* tls() noexcept { return tls_.get(); }
  void expires_after(std::chrono::steady_clock::duration timeout) { tcp_.expires_after(timeout); }

  template <class Buffers, class Token>
  auto async_read_some(const Buffers& buffers, Token&& token) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Token>(token));
    return tcp_.async_read_some(buffers, std::forward<Token>(token));
  }
  template <class Buffers, class Token>
  auto async_write_some(const Buffers& buffers, Token&& token) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<Token>(token));
    return tcp_.async_write_some(buffers, std::forward<Token>(token));
  }

private:
  beast::tcp_stream tcp_;
  std::unique_ptr<ssl::stream<beast::tcp_stream&>> tls_;
};

class OriginConnection {
public:
  OriginConnection(const asio::any_io_executor& executor, ssl::context* tls) : stream(executor, tls) {}

  OriginStream stream;
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::buffer_body>> parser;
  std::chrono::milliseconds timeout{30000};
  std::chrono::steady_clock::time_point idle_since;
  bool reused = false;

  // Reads body bytes into `out` (up to `max`); false on error.
  asio::awaitable<bool> read_body(std::string& out, std::size_t max) {
    std::array<char, 16 * 1024> chunk{};
    while (!parser->is_done() && max > 0) {
      const std::size_t want = std::min(chunk.size(), max);
      parser->get().body().data = chunk.data();
      parser->get().body().size = want;
      stream.expires_after(timeout);
      auto [error, bytes] = co_await http::async_read(stream, buffer, *parser, kAwait);
      (void)bytes;
      if (error && error != http::error::need_buffer) co_return false;
      const std::size_t got = want - parser->get().body().size;
      out.append(chunk.data(), got);
      max -= got;
      if (got == 0 && !parser->is_done() && !error) co_return false;  // no progress: protocol trouble
    }
    co_return true;
  }
};

BodyStream::BodyStream(std::unique_ptr<OriginConnection> connection) : connection_(std::move(connection)) {}
BodyStream::~BodyStream() = default;

asio::awaitable<bool> BodyStream::read_some(std::string& out, std::size_t max) {
  if (connection_->parser->is_done()) co_return true;
  co_return co_await connection_->read_body(out, max);
}

bool BodyStream::done() const { return connection_->parser->is_done(); }

std::optional<std::uint64_t> BodyStream::content_length() const {
  const auto length = connection_->parser->content_length();
  if (!length) return std::nullopt;
  return *length;
}

OriginPool::OriginPool(asio::any_io_executor executor, Origin origin, UpstreamConfig config)
    : executor_(std::move(executor)), origin_(std::move(origin)), config_(std::move(config)) {
  host_header_ = origin_.host.find(':') != std::string::npos ? "[" + origin_.host + "]" : origin_.host;
  if (origin_.port != (origin_.tls ? 443 : 80)) host_header_ += ":" + std::to_string(origin_.port);
  if (origin_.tls) {
    tls_context_ = std::make_unique<ssl::context>(core::make_client_tls_context(
        {config_.tls_ca_file, config_.tls_cert_file, config_.tls_key_file, true}, "upstream option"));
  }
  server_name_ = config_.tls_server_name.empty() ? origin_.host : config_.tls_server_name;
}

OriginPool::~OriginPool() = default;

namespace {

// An idle keep-alive connection is usable when the origin has neither closed it nor sent
// anything unasked: a non-blocking peek must find nothing to read. Over TLS, bytes may be the
// server's own records (TLS 1.3 session tickets): only the end of the stream counts.
bool still_open(tcp::socket& socket, bool tls) {
  boost::system::error_code error;
  socket.non_blocking(true, error);
  char byte = 0;
  const auto peeked = socket.receive(asio::buffer(&byte, 1), tcp::socket::message_peek, error);
  const bool open = error == asio::error::would_block || (tls && !error && peeked > 0);
  socket.non_blocking(false, error);
  return open;
}

}  // namespace

std::unique_ptr<OriginConnection> OriginPool::take_idle() {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  while (!idle_.empty()) {
    auto connection = std::move(idle_.back());
    idle_.pop_back();
    // Origins close idle keep-alive connections (Node after 5 s, nginx after 75 s): one idle
    // longer than idle_timeout, or already closed, is dropped rather than risked.
    if (now - connection->idle_since < config_.idle_timeout && still_open(connection->stream.socket(), origin_.tls)) {
      return connection;
    }
  }
  return nullptr;
}

void OriginPool::give_back(std::unique_ptr<OriginConnection> connection) {
  connection->idle_since = std::chrono::steady_clock::now();
  std::lock_guard lock(mutex_);
  if (idle_.size() < config_.max_idle_per_thread * 4) idle_.push_back(std::move(connection));
}

void OriginPool::close_idle() {
  std::lock_guard lock(mutex_);
  idle_.clear();
}

asio::awaitable<OriginReply> OriginPool::send(OriginRequest request, std::size_t max_body) {
  // A slow origin must not gather an unbounded queue of requests (and connections) behind it:
  // past the bound the caller answers at once.
  if (in_flight_.fetch_add(1, std::memory_order_acq_rel) >= config_.max_in_flight) {
    in_flight_.fetch_sub(1, std::memory_order_acq_rel);
    stats_.refused_overloaded.fetch_add(1, std::memory_order_relaxed);
    OriginReply refused;
    refused.overloaded = true;
    refused.error = fmt::format("{} requests to the origin are under way already (upstream.max_in_flight)",
                                config_.max_in_flight);
    co_return refused;
  }
  struct Release {
    std::atomic<std::size_t>& count;
    ~Release() { count.fetch_sub(1, std::memory_order_acq_rel); }
  } release{in_flight_};
  stats_.requests.fetch_add(1, std::memory_order_relaxed);
  request.set(http::field::host, host_header_);
  if (!origin_.base_path.empty()) request.target(origin_.base_path + std::string(request.target()));
  request.keep_alive(true);
  request.prepare_payload();
  const bool idempotent = request.method() == http::verb::get || request.method() == http::verb::head ||
                          request.method() == http::verb::put || request.method() == http::verb::delete_ ||
                          request.method() == http::verb::options;
  OriginReply reply;
  unsigned retries_left = config_.retries;
  for (unsigned attempts = 0; attempts < 8; ++attempts) {
    bool retryable = false;
    bool stale_connection = false;
    reply = co_await attempt(request, max_body, &retryable, &stale_connection);
    if (reply.ok) co_return reply;
    if (!retryable) break;
    // A reused keep-alive connection the origin closed as we sent on it says nothing about the
    // origin: try again on another (the liveness check makes this rare) without using a retry.
    if (stale_connection && idempotent) continue;
    if (!idempotent || retries_left == 0) break;
    --retries_left;
    stats_.retries.fetch_add(1, std::memory_order_relaxed);
  }
  stats_.failures.fetch_add(1, std::memory_order_relaxed);
  co_return reply;
}

asio::awaitable<OriginReply> OriginPool::attempt(OriginRequest& request, std::size_t max_body, bool* retryable,
                                                 bool* stale_connection) {
  OriginReply reply;
  auto connection = take_idle();
  if (connection) {
    stats_.connections_reused.fetch_add(1, std::memory_order_relaxed);
    connection->reused = true;
  } else {
    connection = std::make_unique<OriginConnection>(executor_, tls_context_.get());
    tcp::resolver resolver(connection->stream.get_executor());
    auto [resolve_error, endpoints] =
        co_await resolver.async_resolve(origin_.host, std::to_string(origin_.port), kAwait);
    if (resolve_error) {
      reply.error = "cannot resolve origin host \"" + origin_.host + "\": " + resolve_error.message();
      *retryable = true;
      co_return reply;
    }
    connection->stream.expires_after(config_.connect_timeout);
    auto [connect_error, endpoint] = co_await connection->stream.tcp().async_connect(endpoints, kAwait);
    (void)endpoint;
    if (connect_error) {
      reply.timed_out = connect_error == beast::error::timeout;
      reply.error = "cannot connect to the origin " + host_header_ + ": " +
                    (reply.timed_out ? "timed out" : connect_error.message());
      *retryable = true;
      co_return reply;
    }
    connection->stream.socket().set_option(tcp::no_delay(true));
    if (auto* tls = connection->stream.tls()) {
      core::expect_server_name(*tls, server_name_, true);
      auto [handshake_error] = co_await tls->async_handshake(ssl::stream_base::client, kAwait);
      if (handshake_error) {
        // Never retried, never downgraded: an origin that cannot prove who it is gets no request.
        reply.timed_out = handshake_error == beast::error::timeout;
        reply.error = "TLS handshake with the origin " + host_header_ + " (as \"" + server_name_ +
                      "\") failed: " + handshake_error.message();
        co_return reply;
      }
    }
    stats_.connections_opened.fetch_add(1, std::memory_order_relaxed);
  }
  connection->timeout = config_.response_timeout;
  connection->stream.expires_after(config_.response_timeout);
  auto [write_error, written] = co_await http::async_write(connection->stream, request, kAwait);
  (void)written;
  if (write_error) {
    reply.error = "sending the request to the origin failed: " + write_error.message();
    *retryable = true;
    *stale_connection = connection->reused;
    co_return reply;
  }
  connection->parser.emplace();
  connection->parser->body_limit(boost::none);
  connection->parser->header_limit(64 * 1024);
  if (request.method() == http::verb::head) connection->parser->skip(true);
  auto [read_error, read] = co_await http::async_read_header(connection->stream, connection->buffer,
                                                             *connection->parser, kAwait);
  (void)read;
  if (read_error) {
    reply.timed_out = read_error == beast::error::timeout;
    reply.error = reply.timed_out ? "the origin did not answer within " +
                                        std::to_string(config_.response_timeout.count()) + " ms"
                                  : "reading the origin's response failed: " + read_error.message();
    // Nothing came back at all, or a reused connection was out of step (an earlier response
    // had more bytes than it declared): the request never got its answer and may be sent again.
    *retryable = !reply.timed_out && (connection->buffer.size() == 0 || connection->reused);
    *stale_connection = *retryable && connection->reused;
    co_return reply;
  }
  const auto& header = connection->parser->get();
  reply.response.status = header.result_int();
  for (const auto& field : header) {
    reply.response.headers.emplace_back(ascii_lower(field.name_string()), std::string(field.value()));
  }
  if (const auto length = connection->parser->content_length(); length && *length <= max_body) {
    reply.response.body.reserve(*length);
  }
  if (!co_await connection->read_body(reply.response.body, max_body + 1)) {
    reply.timed_out = !connection->stream.socket().is_open();
    reply.error = "reading the origin's response body failed";
    co_return reply;
  }
  reply.ok = true;
  if (!connection->parser->is_done()) {
    // Past the limit: the caller streams the rest through.
    reply.rest = std::make_shared<BodyStream>(std::move(connection));
    co_return reply;
  }
  // Reused only when nothing was read past this response: bytes after it (a 204 or 304 with a
  // body, a Content-Length shorter than what was sent) would be taken for the next response.
  // (The parser refuses Content-Length with Transfer-Encoding outright: RFC 9112 6.3.)
  if (connection->parser->keep_alive() && connection->buffer.size() == 0) {
    connection->parser.reset();
    connection->reused = false;
    give_back(std::move(connection));
  }
  co_return reply;
}

}  // namespace strata::gateway
