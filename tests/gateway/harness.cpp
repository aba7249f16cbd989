#include "gateway/harness.hpp"

#include "core/tls_client.hpp"
#include "gateway/config.hpp"
#include "gateway/identity.hpp"
#include "gateway/route.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <openssl/hmac.h>

#include <array>
#include <future>
#include <optional>
#include <list>
#include <regex>
#include <stdexcept>

namespace strata::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

asio::awaitable<HttpResult> exchange(std::uint16_t port, std::string method, std::string target, Fields fields,
                                     std::string body, std::chrono::milliseconds timeout) {
  HttpResult result;
  beast::tcp_stream stream(co_await asio::this_coro::executor);
  stream.expires_after(timeout);
  auto [connect_error] = co_await stream.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kAwait);
  if (connect_error) {
    result.error = "connect: " + connect_error.message();
    co_return result;
  }
  http::request<http::string_body> request(http::string_to_verb(method), target, 11);
  request.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  for (const auto& [name, value] : fields) request.insert(name, value);
  request.body() = body;
  if (!body.empty() || method == "POST" || method == "PUT") request.prepare_payload();
  request.keep_alive(false);
  auto [write_error, written] = co_await http::async_write(stream, request, kAwait);
  (void)written;
  if (write_error) {
    result.error = "write: " + write_error.message();
    co_return result;
  }
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(256 * 1024 * 1024);
  if (method == "HEAD") parser.skip(true);
  auto [read_error, read] = co_await http::async_read(stream, buffer, parser, kAwait);
  (void)read;
  if (read_error) {
    result.error = "read: " + read_error.message();
    co_return result;
  }
  auto response = parser.release();
  result.status = response.result_int();
  for (const auto& field : response) {
    const auto name = gateway::ascii_lower(field.name_string());
    if (name == "set-cookie") result.set_cookies.emplace_back(field.value());
    result.headers[name] = std::string(field.value());
  }
  result.body = std::move(response.body());
  co_return result;
}

}  // namespace

HttpResult http_request(std::uint16_t port, const std::string& method, const std::string& target, const Fields& fields,
                        const std::string& body, std::chrono::milliseconds timeout) {
  asio::io_context io;
  HttpResult result;
  result.error = "no answer within the time limit";
  asio::co_spawn(io, exchange(port, method, target, fields, body, timeout), [&](std::exception_ptr failure, HttpResult got) {
    if (!failure) result = std::move(got);
  });
  io.run_for(timeout + std::chrono::seconds(1));
  return result;
}

struct HttpsConnection::State {
  asio::io_context io;
  asio::ssl::context context{asio::ssl::context::tls_client};
  std::optional<beast::ssl_stream<beast::tcp_stream>> stream;
  bool connected = false;
  std::string error;
  beast::flat_buffer buffer;

  // Runs `work` to completion, or gives up after `limit`.
  void run(asio::awaitable<void> work, std::chrono::milliseconds limit) {
    io.restart();
    asio::co_spawn(io, std::move(work), asio::detached);
    io.run_for(limit);
  }
};

HttpsConnection::HttpsConnection(std::uint16_t port, const std::string& ca_file, bool tls_1_1_only)
    : state_(std::make_unique<State>()) {
  auto& state = *state_;
  state.context.load_verify_file(ca_file);
  state.context.set_verify_mode(asio::ssl::verify_peer);
  if (tls_1_1_only) {
    SSL_CTX_set_security_level(state.context.native_handle(), 0);
    SSL_CTX_set_min_proto_version(state.context.native_handle(), TLS1_1_VERSION);
    SSL_CTX_set_max_proto_version(state.context.native_handle(), TLS1_1_VERSION);
  }
  state.stream.emplace(state.io, state.context);
  core::set_server_name(state.stream->native_handle(), "localhost");
  state.stream->set_verify_callback(asio::ssl::host_name_verification("localhost"));
  state.error = "no TLS session within the time limit";
  state.run(
      [](State& s, std::uint16_t to) -> asio::awaitable<void> {
        auto& layer = beast::get_lowest_layer(*s.stream);
        layer.expires_after(std::chrono::seconds(5));
        auto [connect_error] = co_await layer.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), to), kAwait);
        if (connect_error) {
          s.error = "connect: " + connect_error.message();
          co_return;
        }
        auto [handshake_error] = co_await s.stream->async_handshake(asio::ssl::stream_base::client, kAwait);
        if (handshake_error) {
          s.error = "handshake: " + handshake_error.message();
          co_return;
        }
        s.connected = true;
        s.error.clear();
      }(state, port),
      std::chrono::seconds(6));
}

HttpsConnection::~HttpsConnection() = default;

bool HttpsConnection::connected() const { return state_->connected; }
const std::string& HttpsConnection::error() const { return state_->error; }

HttpResult HttpsConnection::get(const std::string& target, const Fields& fields) {
  HttpResult result;
  if (!state_->connected) {
    result.error = "not connected: " + state_->error;
    return result;
  }
  result.error = "no answer within the time limit";
  state_->run(
      [](State& s, std::string path, Fields extra, HttpResult& out) -> asio::awaitable<void> {
        beast::get_lowest_layer(*s.stream).expires_after(std::chrono::seconds(10));
        http::request<http::string_body> request(http::verb::get, path, 11);
        request.set(http::field::host, "localhost");
        for (const auto& [name, value] : extra) request.insert(name, value);
        auto [write_error, written] = co_await http::async_write(*s.stream, request, kAwait);
        (void)written;
        if (write_error) {
          out.error = "write: " + write_error.message();
          co_return;
        }
        http::response<http::string_body> response;
        auto [read_error, read] = co_await http::async_read(*s.stream, s.buffer, response, kAwait);
        (void)read;
        if (read_error) {
          out.error = "read: " + read_error.message();
          co_return;
        }
        out.error.clear();
        out.status = response.result_int();
        for (const auto& field : response) {
          out.headers[gateway::ascii_lower(field.name_string())] = std::string(field.value());
        }
        out.body = std::move(response.body());
      }(*state_, target, fields, result),
      std::chrono::seconds(11));
  if (!result.error.empty()) state_->error = result.error;
  return result;
}

std::string HttpsConnection::peer_subject() const {
  if (!state_->connected) return {};
  X509* certificate = SSL_get1_peer_certificate(state_->stream->native_handle());
  if (certificate == nullptr) return {};
  std::array<char, 512> line{};
  X509_NAME_oneline(X509_get_subject_name(certificate), line.data(), static_cast<int>(line.size()));
  X509_free(certificate);
  return line.data();
}

std::string raw_exchange(std::uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout) {
  return raw_conversation(port, bytes, timeout).received;
}

RawReply raw_conversation(std::uint16_t port, const std::string& bytes, std::chrono::milliseconds timeout) {
  asio::io_context io;
  RawReply reply;
  auto& received = reply.received;
  auto work = [&]() -> asio::awaitable<void> {
    beast::tcp_stream stream(co_await asio::this_coro::executor);
    stream.expires_after(timeout);
    auto [connect_error] = co_await stream.async_connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), kAwait);
    if (connect_error) co_return;
    auto [write_error, written] = co_await asio::async_write(stream, asio::buffer(bytes), kAwait);
    (void)written;
    if (write_error) co_return;
    std::array<char, 4096> chunk{};
    for (;;) {
      auto [error, got] = co_await stream.async_read_some(asio::buffer(chunk), kAwait);
      received.append(chunk.data(), got);
      if (error) {
        reply.closed_by_server = error == asio::error::eof || error == asio::error::connection_reset;
        break;
      }
    }
  };
  asio::co_spawn(io, work(), asio::detached);
  io.run_for(timeout + std::chrono::seconds(1));
  return reply;
}

std::vector<HttpResult> concurrent_requests(std::uint16_t port, std::size_t count,
                                            const std::function<std::pair<std::string, Fields>(std::size_t)>& request) {
  asio::io_context io;
  std::vector<HttpResult> results(count);
  for (std::size_t i = 0; i < count; ++i) {
    auto [target, fields] = request(i);
    asio::co_spawn(io, exchange(port, "GET", target, fields, {}, std::chrono::seconds(20)),
                   [&results, i](std::exception_ptr failure, HttpResult got) {
                     if (!failure) results[i] = std::move(got);
                   });
  }
  io.run_for(std::chrono::seconds(30));
  return results;
}

// ------------------------------------------------------------------------------------------
// TestOrigin

struct TestOrigin::State : std::enable_shared_from_this<TestOrigin::State> {
  explicit State(Handler h) : handler(std::move(h)) {}
  asio::io_context io;
  // Keeps io.run() going while the origin is stopped; released on destruction so that run()
  // returns once every connection coroutine has ended (none is left suspended, none leaks).
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work{io.get_executor()};
  std::optional<tcp::acceptor> acceptor;
  std::list<std::weak_ptr<tcp::socket>> sockets;
  Handler handler;
  mutable std::mutex mutex;
  std::vector<OriginRequestSeen> log;
  std::thread thread;
  std::uint16_t port = 0;

  void listen() {
    acceptor.emplace(io);
    const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), port);
    acceptor->open(endpoint.protocol());
    acceptor->set_option(tcp::acceptor::reuse_address(true));
    acceptor->bind(endpoint);
    acceptor->listen();
    port = acceptor->local_endpoint().port();
    asio::co_spawn(io, accept_loop(shared_from_this()), asio::detached);
  }

  asio::awaitable<void> accept_loop(std::shared_ptr<State> self) {
    while (acceptor && acceptor->is_open()) {
      auto socket = std::make_shared<tcp::socket>(io);
      auto [error] = co_await acceptor->async_accept(*socket, kAwait);
      if (error) co_return;
      socket->set_option(tcp::no_delay(true));
      sockets.push_back(socket);
      asio::co_spawn(io, serve(self, socket), asio::detached);
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<State> self, std::shared_ptr<tcp::socket> socket) {
    (void)self;  // keeps the state alive while the connection lives
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
      auto [error, read] = co_await http::async_read(*socket, buffer, request, kAwait);
      (void)read;
      if (error) co_return;
      OriginRequestSeen seen;
      seen.method = std::string(request.method_string());
      seen.target = std::string(request.target());
      for (const auto& field : request) seen.headers[gateway::ascii_lower(field.name_string())] = std::string(field.value());
      seen.body = request.body();
      {
        std::lock_guard lock(mutex);
        log.push_back(seen);
      }
      OriginAnswer answer = handler(seen);
      if (answer.delay > std::chrono::milliseconds::zero()) {
        asio::steady_timer timer(io, answer.delay);
        co_await timer.async_wait(kAwait);
      }
      http::response<http::string_body> response(static_cast<http::status>(answer.status), 11);
      for (const auto& [name, value] : answer.headers) response.insert(name, value);
      response.body() = std::move(answer.body);
      response.keep_alive(request.keep_alive());
      response.prepare_payload();
      if (seen.method == "HEAD") response.body().clear();
      auto [write_error, written] = co_await http::async_write(*socket, response, kAwait);
      (void)written;
      if (write_error || !request.keep_alive()) co_return;
    }
  }

  void close_all() {
    if (acceptor) {
      boost::system::error_code ignored;
      acceptor->close(ignored);
      acceptor.reset();
    }
    for (auto& weak : sockets) {
      if (auto socket = weak.lock()) {
        boost::system::error_code ignored;
        socket->close(ignored);
      }
    }
    sockets.clear();
  }
};

TestOrigin::TestOrigin(Handler handler) : state_(std::make_shared<State>(std::move(handler))) {
  state_->listen();
  port_ = state_->port;
  state_->thread = std::thread([state = state_.get()] { state->io.run(); });
}

TestOrigin::~TestOrigin() {
  asio::post(state_->io, [state = state_.get()] {
    state->close_all();
    state->work.reset();
  });
  state_->thread.join();
}

std::size_t TestOrigin::count(const std::string& target) const {
  std::lock_guard lock(state_->mutex);
  std::size_t n = 0;
  for (const auto& seen : state_->log) n += seen.target == target ? 1 : 0;
  return n;
}

std::size_t TestOrigin::total() const {
  std::lock_guard lock(state_->mutex);
  return state_->log.size();
}

std::vector<OriginRequestSeen> TestOrigin::seen() const {
  std::lock_guard lock(state_->mutex);
  return state_->log;
}

void TestOrigin::stop() {
  std::promise<void> done;
  asio::post(state_->io, [&] {
    state_->close_all();
    done.set_value();
  });
  done.get_future().wait();
}

void TestOrigin::start() {
  std::promise<void> done;
  asio::post(state_->io, [&] {
    state_->listen();
    done.set_value();
  });
  done.get_future().wait();
}

// ------------------------------------------------------------------------------------------
// ScriptedOrigin

struct ScriptedOrigin::State : std::enable_shared_from_this<ScriptedOrigin::State> {
  explicit State(Script s) : script(std::move(s)), acceptor(io) {}
  Script script;
  asio::io_context io;
  tcp::acceptor acceptor;
  std::list<std::weak_ptr<tcp::socket>> sockets;
  mutable std::mutex mutex;
  std::vector<std::string> targets;
  std::size_t connections = 0;
  std::thread thread;

  asio::awaitable<void> accept_loop(std::shared_ptr<State> self) {
    for (;;) {
      auto socket = std::make_shared<tcp::socket>(io);
      auto [error] = co_await acceptor.async_accept(*socket, kAwait);
      if (error) co_return;
      {
        std::lock_guard lock(mutex);
        ++connections;
      }
      sockets.push_back(socket);
      asio::co_spawn(io, serve(self, socket), asio::detached);
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<State> self, std::shared_ptr<tcp::socket> socket) {
    (void)self;
    std::string pending;
    std::array<char, 4096> chunk{};
    for (;;) {
      const auto end = pending.find("\r\n\r\n");
      if (end == std::string::npos) {
        auto [error, got] = co_await socket->async_read_some(asio::buffer(chunk), kAwait);
        if (error) co_return;
        pending.append(chunk.data(), got);
        continue;
      }
      const std::string head = pending.substr(0, end);
      pending.erase(0, end + 4);
      const auto first_space = head.find(' ');
      const auto second_space = head.find(' ', first_space + 1);
      const std::string target = head.substr(first_space + 1, second_space - first_space - 1);
      {
        std::lock_guard lock(mutex);
        targets.push_back(target);
      }
      const std::string answer = script(target);
      auto [error, written] = co_await asio::async_write(*socket, asio::buffer(answer), kAwait);
      (void)written;
      if (error) co_return;
    }
  }
};

ScriptedOrigin::ScriptedOrigin(Script script) : state_(std::make_shared<State>(std::move(script))) {
  const tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
  state_->acceptor.open(endpoint.protocol());
  state_->acceptor.bind(endpoint);
  state_->acceptor.listen();
  port_ = state_->acceptor.local_endpoint().port();
  asio::co_spawn(state_->io, state_->accept_loop(state_), asio::detached);
  state_->thread = std::thread([state = state_.get()] { state->io.run(); });
}

ScriptedOrigin::~ScriptedOrigin() {
  asio::post(state_->io, [state = state_.get()] {
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
    for (auto& weak : state->sockets) {
      if (auto socket = weak.lock()) socket->close(ignored);
    }
  });
  state_->thread.join();
}

std::vector<std::string> ScriptedOrigin::targets() const {
  std::lock_guard lock(state_->mutex);
  return state_->targets;
}

std::size_t ScriptedOrigin::connections() const {
  std::lock_guard lock(state_->mutex);
  return state_->connections;
}

// ------------------------------------------------------------------------------------------
// GatewayUnderTest

GatewayUnderTest::GatewayUnderTest(const std::string& toml, const std::string& origin_url,
                                   std::shared_ptr<const Clock> clock, unsigned threads) {
  std::string text = toml;
  for (auto at = text.find("{origin}"); at != std::string::npos; at = text.find("{origin}")) {
    text.replace(at, 8, origin_url);
  }
  text = "listen = \"127.0.0.1:0\"\n" + text;  // top-level keys come before any table
  auto config = gateway::parse_config(text, "test.toml");
  std::vector<asio::io_context*> workers;
  for (unsigned i = 0; i < threads; ++i) {
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    workers.push_back(contexts_.back().get());
  }
  gateway_ = std::make_unique<gateway::Gateway>(workers.front()->get_executor(), config, std::move(clock));
  server_ = std::make_unique<gateway::Server>(workers, *gateway_);
  server_->start();
  port_ = server_->endpoint().port();
  if (auto admin = server_->admin_endpoint()) admin_port_ = admin->port();
  for (auto* worker : workers) {
    threads_.emplace_back([worker] {
      auto guard = asio::make_work_guard(*worker);
      worker->run();
    });
  }
  run([this]() -> asio::awaitable<void> { (void)co_await gateway_->start(); });
}

GatewayUnderTest::~GatewayUnderTest() {
  std::promise<void> drained;
  asio::post(*contexts_.front(), [&] { server_->drain([&] { drained.set_value(); }); });
  drained.get_future().wait_for(std::chrono::seconds(30));
  gateway_->close_idle_upstream();
  for (auto& context : contexts_) context->stop();
  for (auto& thread : threads_) thread.join();
  server_.reset();
  gateway_.reset();
}

void GatewayUnderTest::run(std::function<asio::awaitable<void>()> work) {
  std::promise<void> done;
  asio::co_spawn(*contexts_.front(), work(), [&](std::exception_ptr failure) {
    if (failure) {
      done.set_exception(failure);
    } else {
      done.set_value();
    }
  });
  auto future = done.get_future();
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    throw std::runtime_error("gateway work did not finish within 30 s");
  }
  future.get();
}

std::string base64url(const std::string& bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  unsigned buffer = 0;
  int bits = 0;
  for (unsigned char c : bytes) {
    buffer = (buffer << 8) | c;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 63]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 63]);
  return out;
}

std::string jwt_subject(const std::string& token) {
  const auto first = token.find('.');
  const auto second = token.find('.', first + 1);
  if (first == std::string::npos || second == std::string::npos) return "unknown";
  std::string decoded;
  unsigned buffer = 0;
  int bits = 0;
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  for (char c : token.substr(first + 1, second - first - 1)) {
    buffer = (buffer << 6) | static_cast<unsigned>(kAlphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      decoded.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  std::smatch match;
  if (std::regex_search(decoded, match, std::regex(R"re("sub":"([^"]*)")re"))) return match[1];
  return "unknown";
}

std::string hs256_jwt(const std::string& secret, const std::string& claims) {
  const std::string signing_input = base64url(R"({"alg":"HS256","typ":"JWT"})") + "." + base64url(claims);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned size = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(signing_input.data()), signing_input.size(), digest, &size);
  return signing_input + "." + base64url(std::string(reinterpret_cast<char*>(digest), size));
}

}  // namespace strata::testing
