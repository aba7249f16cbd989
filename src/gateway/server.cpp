#include "gateway/server.hpp"

#include "gateway/access_log.hpp"
#include "gateway/listener_tls.hpp"
#include "gateway/request_framing.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <list>
#include <mutex>
#include <variant>

namespace strata::gateway {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

tcp::acceptor bind(asio::io_context& io, const Endpoint& where, std::string_view what) {
  boost::system::error_code error;
  const auto address = asio::ip::make_address(where.host == "localhost" ? "127.0.0.1" : where.host, error);
  if (error) throw std::runtime_error(fmt::format("{}: \"{}\" is not an IP address", what, where.host));
  tcp::acceptor acceptor(io);
  const tcp::endpoint endpoint(address, where.port);
  acceptor.open(endpoint.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(endpoint, error);
  if (error) {
    throw std::runtime_error(fmt::format("{}: cannot listen on {}:{}: {}", what, where.host, where.port, error.message()));
  }
  acceptor.listen(asio::socket_base::max_listen_connections);
  return acceptor;
}

bool no_body_status(unsigned status) { return status < 200 || status == 204 || status == 304; }

}  // namespace

using PlainStream = beast::tcp_stream;
using TlsStream = beast::ssl_stream<beast::tcp_stream>;

struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::in_place_type<PlainStream>, std::move(socket)) {}
  Connection(tcp::socket socket, std::shared_ptr<ssl::context> context)
      : tls_context(std::move(context)), stream(std::in_place_type<TlsStream>, std::move(socket), *tls_context) {}

  // The TCP layer, under TLS or not: deadlines, cancellation, the peer's address.
  beast::tcp_stream& transport() {
    return std::visit([](auto& layered) -> beast::tcp_stream& { return beast::get_lowest_layer(layered); }, stream);
  }

  std::shared_ptr<ssl::context> tls_context;  // the certificate it was accepted with, kept across reloads
  std::variant<PlainStream, TlsStream> stream;
  bool busy = false;  // a request is being handled (touched on the connection's thread only)
  // Since when the connection waits for a request (idle keep-alive, or a header still coming
  // in); 0 while a request is handled. Read by the acceptor to pick whom to close under pressure.
  std::atomic<std::int64_t> waiting_since{0};

  void mark_waiting() {
    waiting_since.store(std::chrono::steady_clock::now().time_since_epoch().count(), std::memory_order_relaxed);
  }
};

class Server::Impl : public std::enable_shared_from_this<Server::Impl> {
public:
  struct Listener {
    tcp::acceptor acceptor;
    bool admin = false;
  };

  Impl(std::vector<asio::io_context*> workers, Gateway& gateway)
      : workers_(std::move(workers)), io_(*workers_.at(0)), gateway_(gateway), config_(gateway.startup_config()),
        drain_timer_(io_) {
    if (config_.access_log.enabled) {
      access_log_ = std::make_shared<AccessLog>(config_.access_log);
      // Audits finish in the background, possibly after this server: the observer shares the log.
      gateway.on_audit([log = access_log_](const AuditEvent& event) { log->write_audit(event); });
    }
    if (config_.tls.enabled()) tls_ = make_listener_tls_context(config_.tls, config_.source);
    acceptors_.push_back(Listener{bind(io_, config_.listen, "listen"), false});
    if (config_.admin.listen) acceptors_.push_back(Listener{bind(io_, *config_.admin.listen, "admin.listen"), true});
  }

  void start() {
    for (auto& listener : acceptors_) {
      asio::co_spawn(io_, accept_loop(shared_from_this(), &listener), asio::detached);
    }
  }

  asio::awaitable<void> accept_loop(std::shared_ptr<Impl> self, Listener* listener);
  asio::awaitable<void> serve(std::shared_ptr<Impl> self, std::shared_ptr<Connection> connection, bool admin_listener);
  template <class Stream>
  asio::awaitable<void> serve_requests(Stream& stream, Connection& connection, bool admin_listener);
  template <class Stream>
  asio::awaitable<bool> write_reply(Stream& stream, Connection& connection, Reply& reply, bool keep_alive, bool http10);

  std::string reload_tls(const ListenerTls& tls, const std::string& source) {
    if (tls.enabled() != config_.tls.enabled()) return "tls (turning HTTPS on or off); ";
    if (!tls.enabled()) return {};
    auto context = make_listener_tls_context(tls, source);  // throws before anything changes
    std::lock_guard lock(tls_mutex_);
    tls_ = std::move(context);
    return {};
  }
  std::shared_ptr<ssl::context> tls_context() const {
    std::lock_guard lock(tls_mutex_);
    return tls_;
  }
  // One access log line for a request whose header arrived at `received`.
  void log_access(const RequestContext& context, std::string_view method, std::string_view target,
                  const Reply& reply, std::chrono::steady_clock::time_point received,
                  std::chrono::system_clock::time_point received_at);

  void drain(std::function<void()> done) {
    draining_ = true;
    for (auto& listener : acceptors_) {
      boost::system::error_code ignored;
      listener.acceptor.close(ignored);
    }
    std::vector<std::shared_ptr<Connection>> open;
    {
      std::lock_guard lock(mutex_);
      for (auto& weak : connections_) {
        if (auto connection = weak.lock()) open.push_back(std::move(connection));
      }
    }
    for (auto& connection : open) {
      // On the connection's thread: idle ones are closed, busy ones close after their response.
      asio::post(connection->transport().get_executor(), [connection] {
        if (!connection->busy) connection->transport().cancel();
      });
    }
    drain_done_ = std::move(done);
    drain_deadline_ = std::chrono::steady_clock::now() + config_.limits.drain_timeout;
    check_drained();
  }

  void check_drained() {
    if (connections() == 0 || std::chrono::steady_clock::now() >= drain_deadline_) {
      if (auto done = std::exchange(drain_done_, nullptr)) done();
      return;
    }
    drain_timer_.expires_after(std::chrono::milliseconds(20));
    drain_timer_.async_wait([self = shared_from_this()](boost::system::error_code) { self->check_drained(); });
  }

  // Closes the connection that has waited longest for a request; false when none is waiting.
  bool close_longest_waiting() {
    std::shared_ptr<Connection> chosen;
    std::int64_t oldest = 0;
    {
      std::lock_guard lock(mutex_);
      for (const auto& weak : connections_) {
        auto connection = weak.lock();
        if (!connection) continue;
        const auto since = connection->waiting_since.load(std::memory_order_relaxed);
        if (since != 0 && (chosen == nullptr || since < oldest)) {
          chosen = std::move(connection);
          oldest = since;
        }
      }
    }
    if (chosen == nullptr) return false;
    chosen->waiting_since.store(0, std::memory_order_relaxed);  // not chosen twice
    asio::post(chosen->transport().get_executor(), [chosen] {
      if (!chosen->busy) chosen->transport().cancel();
    });
    return true;
  }

  std::size_t connections() const {
    std::lock_guard lock(mutex_);
    std::size_t count = 0;
    for (const auto& weak : connections_) count += weak.expired() ? 0 : 1;
    return count;
  }

  std::vector<asio::io_context*> workers_;
  std::size_t next_worker_ = 0;  // touched by the accept loops, all on workers_[0]
  asio::io_context& io_;
  Gateway& gateway_;
  const GatewayConfig& config_;
  std::list<Listener> acceptors_;
  std::atomic<bool> draining_{false};
  asio::steady_timer drain_timer_;
  std::shared_ptr<AccessLog> access_log_;  // null: off
  mutable std::mutex tls_mutex_;
  std::shared_ptr<ssl::context> tls_;      // null: plain HTTP on `listen`
  std::function<void()> drain_done_;
  std::chrono::steady_clock::time_point drain_deadline_;
  mutable std::mutex mutex_;
  std::list<std::weak_ptr<Connection>> connections_;
};

asio::awaitable<void> Server::Impl::accept_loop(std::shared_ptr<Impl> self, Listener* listener) {
  for (;;) {
    auto& worker = *workers_[next_worker_++ % workers_.size()];
    auto [error, socket] = co_await listener->acceptor.async_accept(worker.get_executor(), kAwait);
    if (error) {
      if (error == asio::error::operation_aborted || !listener->acceptor.is_open()) co_return;
      spdlog::warn("strata serve: accept failed: {}", error.message());
      continue;
    }
    // At the limit, a connection that is only waiting (idle keep-alive, or a header trickling in)
    // makes room for the new one; when every connection is handling a request, the new one is
    // refused rather than let every connection slow down.
    if (connections() >= config_.limits.max_connections && !close_longest_waiting()) {
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    boost::system::error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    auto tls = listener->admin ? nullptr : tls_context();
    auto connection = tls ? std::make_shared<Connection>(std::move(socket), std::move(tls))
                          : std::make_shared<Connection>(std::move(socket));
    {
      std::lock_guard lock(mutex_);
      std::erase_if(connections_, [](const std::weak_ptr<Connection>& weak) { return weak.expired(); });
      connections_.push_back(connection);
    }
    auto executor = connection->transport().get_executor();
    asio::co_spawn(executor, serve(self, std::move(connection), listener->admin), asio::detached);
  }
}

asio::awaitable<void> Server::Impl::serve(std::shared_ptr<Impl> self, std::shared_ptr<Connection> connection,
                                          bool admin_listener) {
  (void)self;  // keeps the server alive while this connection lives
  auto& transport = connection->transport();
  if (auto* tls = std::get_if<TlsStream>(&connection->stream)) {
    transport.expires_after(config_.limits.read_timeout);
    auto [handshake_error] = co_await tls->async_handshake(ssl::stream_base::server, kAwait);
    if (!handshake_error) {
      co_await serve_requests(*tls, *connection, admin_listener);
      // close_notify, without waiting long for the client's.
      transport.expires_after(std::chrono::seconds(1));
      auto [shutdown_error] = co_await tls->async_shutdown(kAwait);
      (void)shutdown_error;
    }
  } else {
    co_await serve_requests(std::get<PlainStream>(connection->stream), *connection, admin_listener);
  }
  boost::system::error_code ignored;
  transport.socket().shutdown(tcp::socket::shutdown_send, ignored);
  transport.close();
}

template <class Stream>
asio::awaitable<void> Server::Impl::serve_requests(Stream& stream, Connection& connection_ref, bool admin_listener) {
  auto* connection = &connection_ref;
  const auto& limits = config_.limits;
  beast::flat_buffer buffer(limits.max_header_bytes * limits.max_pipelined + 64 * 1024);
  RequestContext context;
  context.admin_listener = admin_listener;
  {
    boost::system::error_code error;
    const auto remote = connection->transport().socket().remote_endpoint(error);
    if (!error) context.peer = remote.address().to_string();
  }
  std::string logged_method;
  std::string logged_target;
  auto received = std::chrono::steady_clock::now();
  auto received_at = std::chrono::system_clock::now();
  auto reject = [&](unsigned status, std::string_view code, std::string detail) -> asio::awaitable<void> {
    Reply reply = json_error(status, code, detail);
    reply.close = true;
    reply.reason = code;
    (void)co_await write_reply(stream, *connection, reply, false, false);
    if (access_log_ && access_log_->sampled()) {
      log_access(context, logged_method, logged_target, reply, received, received_at);
    }
  };
  while (!draining_) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(limits.max_header_bytes));
    parser.body_limit(limits.max_request_body_bytes);
    // Two clocks: idle_timeout for a request's first byte, header_timeout for the rest of its
    // header, so that a client trickling its header in cannot hold a connection for long.
    connection->mark_waiting();
    if (buffer.size() == 0) {
      connection->transport().expires_after(limits.idle_timeout);
      const auto room = std::min<std::size_t>(buffer.max_size() - buffer.size(), 16 * 1024);
      auto [first_error, first_bytes] = co_await stream.async_read_some(buffer.prepare(room), kAwait);
      if (first_error) break;
      buffer.commit(first_bytes);
    }
    connection->transport().expires_after(limits.header_timeout);
    auto [header_error, header_bytes] = co_await http::async_read_header(stream, buffer, parser, kAwait);
    (void)header_bytes;
    received = std::chrono::steady_clock::now();
    received_at = std::chrono::system_clock::now();
    logged_method.clear();
    logged_target.clear();
    if (!header_error && access_log_) {
      logged_method = parser.get().method_string();
      logged_target = parser.get().target();
    }
    if (header_error) {
      if (header_error == http::error::body_limit) {  // a declared Content-Length over the limit
        co_await reject(413, "payload_too_large", fmt::format("the request body exceeds {} bytes (limits.max_request_body_bytes)",
                                                               limits.max_request_body_bytes));
      } else if (header_error == http::error::header_limit || header_error == http::error::buffer_overflow) {
        co_await reject(400, "bad_request", fmt::format("request headers exceed {} bytes (limits.max_header_bytes)",
                                                        limits.max_header_bytes));
      } else if (&header_error.category() == &make_error_code(http::error::bad_method).category() &&
                 header_error != http::error::end_of_stream && header_error != http::error::partial_message) {
        co_await reject(400, "bad_request", "malformed request: " + header_error.message());
      }
      break;
    }
    connection->busy = true;
    connection->waiting_since.store(0, std::memory_order_relaxed);
    if (auto framing = check_request_framing(parser.get())) {
      co_await reject(framing->status, framing->status == 501 ? "not_implemented" : "bad_request", framing->detail);
      break;
    }
    if (!parser.is_done()) {
      connection->transport().expires_after(limits.read_timeout);
      auto [body_error, body_bytes] = co_await http::async_read(stream, buffer, parser, kAwait);
      (void)body_bytes;
      if (body_error == http::error::body_limit) {
        co_await reject(413, "payload_too_large", fmt::format("the request body exceeds {} bytes (limits.max_request_body_bytes)",
                                                               limits.max_request_body_bytes));
        break;
      }
      if (body_error) {
        if (body_error != beast::error::timeout) co_await reject(400, "bad_request", "malformed request body: " + body_error.message());
        break;
      }
    }
    Request request = parser.release();
    const bool keep_alive = request.keep_alive();
    const bool http10 = request.version() == 10;
    // Spawned so that an exception from a bug becomes a 500 for this request, not a dead server.
    auto [failure, reply] = co_await asio::co_spawn(connection->transport().get_executor(),
                                                   gateway_.handle(std::move(request), context), kAwait);
    if (failure) {
      std::string what = "internal error";
      try {
        std::rethrow_exception(failure);
      } catch (const std::exception& error) {
        what = error.what();
      }
      spdlog::error("strata serve: request failed: {}", what);
      reply = json_error(500, "internal_error", "the gateway failed to handle this request; see its log");
    }
    const bool keep = keep_alive && !reply.close && !draining_;
    const bool written = co_await write_reply(stream, *connection, reply, keep, http10);
    if (access_log_ && access_log_->sampled()) {
      log_access(context, logged_method, logged_target, reply, received, received_at);
    }
    connection->busy = false;
    if (!written || !keep) break;
  }
}

void Server::Impl::log_access(const RequestContext& context, std::string_view method, std::string_view target,
                              const Reply& reply, std::chrono::steady_clock::time_point received,
                              std::chrono::system_clock::time_point received_at) {
  AccessRecord record;
  record.time = received_at;
  record.client = context.peer;
  record.method = method.empty() ? std::string_view("-") : method;
  record.target = target.empty() ? std::string_view("-") : target;
  record.status = reply.status;
  if (!reply.head && !no_body_status(reply.status)) {
    record.bytes = reply.stream ? reply.content_length.value_or(reply.stream_prefix.size()) : reply.body().size();
  }
  record.duration = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - received);
  record.upstream = reply.upstream_time;
  record.cache = reply.cache_outcome;
  record.reason = reply.reason;
  access_log_->write(record);
}

template <class Stream>
asio::awaitable<bool> Server::Impl::write_reply(Stream& stream, Connection& connection, Reply& reply, bool keep_alive,
                                               bool http10) {
  auto& transport = connection.transport();
  // The head is rendered by hand: for a hit, the stored header block goes out as one piece
  // and the body as a second buffer of the same write (one sendmsg).
  std::string head;
  const std::string_view stored_headers =
      reply.stored && reply.stored_headers ? std::string_view(reply.stored->rendered_headers) : std::string_view();
  head.reserve(64 + stored_headers.size() + reply.fields.size());
  const auto reason = http::obsolete_reason(static_cast<http::status>(reply.status));
  head.append("HTTP/1.1 ").append(std::to_string(reply.status)).append(" ").append(reason.data(), reason.size()).append("\r\n");
  head.append(stored_headers).append(reply.fields);
  const bool streaming = reply.stream != nullptr;
  bool chunked = false;
  if (streaming) {
    if (reply.content_length) {
      head.append("Content-Length: ").append(std::to_string(*reply.content_length)).append("\r\n");
    } else if (http10) {
      keep_alive = false;  // the end of the body is the end of the connection
    } else {
      chunked = true;
      head.append("Transfer-Encoding: chunked\r\n");
    }
  } else if (!no_body_status(reply.status)) {
    const std::uint64_t length = reply.head && reply.content_length ? *reply.content_length : reply.body().size();
    head.append("Content-Length: ").append(std::to_string(length)).append("\r\n");
  }
  if (!keep_alive) head.append("Connection: close\r\n");
  else if (http10) head.append("Connection: keep-alive\r\n");
  head.append("\r\n");

  transport.expires_after(config_.limits.write_timeout);
  const std::string_view body = reply.head || no_body_status(reply.status) ? std::string_view() : reply.body();
  if (!streaming || reply.head) {
    const std::array<asio::const_buffer, 2> buffers{asio::buffer(head), asio::buffer(body.data(), body.size())};
    auto [error, written] = co_await asio::async_write(stream, buffers, kAwait);
    (void)written;
    co_return !error;
  }

  // A body larger than the cacheable limit: relay it as it arrives.
  auto send = [&](std::string_view data, bool last) -> asio::awaitable<bool> {
    std::string frame_head;
    std::array<asio::const_buffer, 3> buffers{};
    if (chunked) {
      if (!data.empty()) frame_head = fmt::format("{:x}\r\n", data.size());
      buffers = {asio::buffer(frame_head), asio::buffer(data.data(), data.size()),
                 asio::buffer(data.empty() ? std::string_view() : std::string_view("\r\n"))};
      if (last) buffers[2] = asio::buffer(std::string_view(data.empty() ? "0\r\n\r\n" : "\r\n0\r\n\r\n"));
    } else {
      buffers = {asio::const_buffer(), asio::buffer(data.data(), data.size()), asio::const_buffer()};
    }
    transport.expires_after(config_.limits.write_timeout);
    auto [error, written] = co_await asio::async_write(stream, buffers, kAwait);
    (void)written;
    co_return !error;
  };
  {
    auto [error, written] = co_await asio::async_write(stream, asio::buffer(head), kAwait);
    (void)written;
    if (error) co_return false;
  }
  std::string chunk = std::move(reply.stream_prefix);
  for (;;) {
    const bool done = reply.stream->done();
    if (!chunk.empty() || done) {
      if (!co_await send(chunk, done)) co_return false;
    }
    if (done) break;
    chunk.clear();
    if (!co_await reply.stream->read_some(chunk, 64 * 1024)) co_return false;  // the origin broke off
  }
  co_return keep_alive;
}

Server::Server(std::vector<asio::io_context*> workers, Gateway& gateway)
    : impl_(std::make_shared<Impl>(std::move(workers), gateway)) {}
Server::~Server() = default;
void Server::start() { impl_->start(); }
void Server::drain(std::function<void()> done) { impl_->drain(std::move(done)); }
tcp::endpoint Server::endpoint() const { return impl_->acceptors_.front().acceptor.local_endpoint(); }
std::optional<tcp::endpoint> Server::admin_endpoint() const {
  if (impl_->acceptors_.size() < 2) return std::nullopt;
  return impl_->acceptors_.back().acceptor.local_endpoint();
}
std::size_t Server::connections() const { return impl_->connections(); }
std::string Server::reload_tls(const ListenerTls& tls, const std::string& source) {
  return impl_->reload_tls(tls, source);
}

}  // namespace strata::gateway
