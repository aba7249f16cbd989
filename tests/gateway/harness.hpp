#pragma once

// End-to-end harness for the gateway: a real HTTP origin on a loopback port (programmable,
// counting what reaches it), a gateway + server on their own threads, and a small HTTP client.

#include "gateway/gateway.hpp"
#include "gateway/server.hpp"

#include <strata/testing/manual_clock.hpp>

#include <boost/asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace strata::testing {

struct HttpResult {
  unsigned status = 0;  // 0: no response (connection failed, timed out)
  std::map<std::string, std::string> headers;  // lower-case name -> value (last one wins)
  std::vector<std::string> set_cookies;
  std::string body;
  std::string error;

  [[nodiscard]] std::string header(const std::string& name) const {
    auto found = headers.find(name);
    return found == headers.end() ? std::string() : found->second;
  }
};

using Fields = std::vector<std::pair<std::string, std::string>>;

// One request on a new connection, bounded by `timeout`.
HttpResult http_request(std::uint16_t port, const std::string& method, const std::string& target,
                        const Fields& fields = {}, const std::string& body = {},
                        std::chrono::milliseconds timeout = std::chrono::seconds(10));
inline HttpResult http_get(std::uint16_t port, const std::string& target, const Fields& fields = {}) {
  return http_request(port, "GET", target, fields);
}
// Raw bytes in, raw bytes out (until the server closes or `timeout`), for malformed requests.
std::string raw_exchange(std::uint16_t port, const std::string& bytes,
                         std::chrono::milliseconds timeout = std::chrono::seconds(5));

// Raw bytes in; what came back, and whether the server closed the connection (rather than the
// client giving up at `timeout`).
struct RawReply {
  std::string received;
  bool closed_by_server = false;
};
RawReply raw_conversation(std::uint16_t port, const std::string& bytes,
                          std::chrono::milliseconds timeout = std::chrono::seconds(5));

// An HTTPS client on one keep-alive connection, verifying the server as "localhost" against
// `ca_file` (SNI "localhost"). `tls_1_1_only` offers nothing newer than TLS 1.1 (and lowers the
// client's own security level so that it does offer it): for servers that must refuse it.
class HttpsConnection {
public:
  HttpsConnection(std::uint16_t port, const std::string& ca_file, bool tls_1_1_only = false);
  ~HttpsConnection();
  HttpsConnection(const HttpsConnection&) = delete;
  HttpsConnection& operator=(const HttpsConnection&) = delete;

  [[nodiscard]] bool connected() const;
  [[nodiscard]] const std::string& error() const;  // why the connection or the last request failed
  HttpResult get(const std::string& target, const Fields& fields = {});
  [[nodiscard]] std::string peer_subject() const;  // the server certificate's subject, one line

private:
  struct State;
  std::unique_ptr<State> state_;
};

// Runs `count` requests at once (each on its own connection) and returns every result.
std::vector<HttpResult> concurrent_requests(std::uint16_t port, std::size_t count,
                                            const std::function<std::pair<std::string, Fields>(std::size_t)>& request);

struct OriginAnswer {
  unsigned status = 200;
  Fields headers;
  std::string body;
  std::chrono::milliseconds delay{0};
};

struct OriginRequestSeen {
  std::string method;
  std::string target;
  std::map<std::string, std::string> headers;  // lower-case
  std::string body;
};

// A real HTTP/1.1 server on 127.0.0.1, answering with `handler` (called on its thread).
class TestOrigin {
public:
  using Handler = std::function<OriginAnswer(const OriginRequestSeen&)>;
  explicit TestOrigin(Handler handler);
  ~TestOrigin();
  TestOrigin(const TestOrigin&) = delete;
  TestOrigin& operator=(const TestOrigin&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  // Requests received for `target` (path and query as sent), or in total.
  [[nodiscard]] std::size_t count(const std::string& target) const;
  [[nodiscard]] std::size_t total() const;
  [[nodiscard]] std::vector<OriginRequestSeen> seen() const;
  void stop();   // closes the listener and every connection: the origin is down
  void start();  // listens again on the same port

private:
  struct State;
  std::shared_ptr<State> state_;
  std::uint16_t port_ = 0;
};

// An origin that answers each request with whatever bytes `script` returns for its target, framing
// mistakes included; requests must not have bodies. Keeps connections open.
class ScriptedOrigin {
public:
  using Script = std::function<std::string(const std::string& target)>;
  explicit ScriptedOrigin(Script script);
  ~ScriptedOrigin();
  ScriptedOrigin(const ScriptedOrigin&) = delete;
  ScriptedOrigin& operator=(const ScriptedOrigin&) = delete;

  [[nodiscard]] std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  [[nodiscard]] std::vector<std::string> targets() const;  // every request's target, in order
  [[nodiscard]] std::size_t connections() const;           // connections accepted

private:
  struct State;
  std::shared_ptr<State> state_;
  std::uint16_t port_ = 0;
};

// A gateway serving on a loopback port in front of `origin_url`, configured by TOML text in
// which "{origin}" stands for the origin URL.
class GatewayUnderTest {
public:
  GatewayUnderTest(const std::string& toml, const std::string& origin_url,
                   std::shared_ptr<const Clock> clock = nullptr, unsigned threads = 2);
  ~GatewayUnderTest();

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::optional<std::uint16_t> admin_port() const noexcept { return admin_port_; }
  gateway::Gateway& gateway() { return *gateway_; }
  gateway::Server& server() { return *server_; }
  // Runs `work` on the gateway's threads and waits for it.
  void run(std::function<boost::asio::awaitable<void>()> work);

private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::unique_ptr<gateway::Gateway> gateway_;
  std::unique_ptr<gateway::Server> server_;
  std::vector<std::thread> threads_;
  std::uint16_t port_ = 0;
  std::optional<std::uint16_t> admin_port_;
};

// An HS256 JWT over `claims` (a JSON object text).
std::string hs256_jwt(const std::string& secret, const std::string& claims);
// The "sub" claim of a JWT, read without verification (as an origin behind the gateway, which
// verified it, would): "unknown" when the token has none.
std::string jwt_subject(const std::string& token);
std::string base64url(const std::string& bytes);

}  // namespace strata::testing
