#include "redis/transport.hpp"

#include "core/tls_client.hpp"

#include <strata/redis/command.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <openssl/ssl.h>

#include <array>
#include <stdexcept>

namespace strata::redis {

namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using boost::system::error_code;
using tcp = asio::ip::tcp;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

ssl::context make_tls_context(const TlsOptions& tls) {
  return core::make_client_tls_context({tls.ca_file, tls.cert_file, tls.key_file, tls.verify_peer}, "Redis TLS option");
}

}  // namespace

Transport::Transport(asio::any_io_executor executor, const ConnectionOptions& options)
    : executor_(std::move(executor)), options_(options), resolver_(executor_), plain_(executor_) {
  if (options_.tls.enabled) tls_context_.emplace(make_tls_context(options_.tls));
}

void Transport::close() noexcept {
  error_code ignored;
  resolver_.cancel();
  tcp().close(ignored);
}

asio::awaitable<Result<void>> Transport::open(std::string& detail) {
  close();
  reader_ = std::make_unique<RespReader>();
  if (tls_context_) {
    tls_ = std::make_unique<ssl::stream<tcp::socket>>(executor_, *tls_context_);
  }
  Endpoint target{options_.host, options_.port};
  if (options_.locate) {
    auto located = options_.locate();
    if (!located) {
      detail = "no server address known yet (waiting for the deployment's topology)";
      co_return make_error_code(Error::not_connected);
    }
    target = std::move(*located);
  }
  const std::string where = target.host + ":" + std::to_string(target.port);

  // The watchdog closes the socket at the deadline, which fails whatever step is under way.
  // It shares `timed_out` through a shared_ptr because it may fire after open() returned.
  auto timed_out = std::make_shared<bool>(false);
  auto finished = std::make_shared<bool>(false);
  asio::steady_timer watchdog(executor_, options_.connect_timeout);
  watchdog.async_wait([this, timed_out, finished](error_code ec) {
    if (ec || *finished) return;
    *timed_out = true;
    close();
  });
  auto done = [&](Result<void> result) {
    *finished = true;
    watchdog.cancel();
    if (!result && *timed_out) {
      detail = "connecting to " + where + " took longer than " +
               std::to_string(options_.connect_timeout.count()) + " ms";
      return Result<void>(make_error_code(Error::connect_timeout));
    }
    if (!result) close();
    return result;
  };

  auto [resolve_error, endpoints] =
      co_await resolver_.async_resolve(target.host, std::to_string(target.port), kUseTuple);
  if (resolve_error) {
    detail = "cannot resolve '" + target.host + "': " + resolve_error.message();
    co_return done(make_error_code(Error::resolve_failed));
  }
  auto [connect_error, endpoint] = co_await asio::async_connect(tcp(), endpoints, kUseTuple);
  if (connect_error) {
    detail = "cannot connect to " + where + ": " + connect_error.message();
    co_return done(connect_error);
  }
  error_code ignored;
  // Without it, Nagle's algorithm holds small commands back while an ACK is outstanding.
  tcp().set_option(tcp::no_delay(true), ignored);
  tcp().non_blocking(true, ignored);  // write_now() must never block

  if (tls_) {
    const std::string& name = options_.tls.server_name.empty() ? target.host : options_.tls.server_name;
    core::expect_server_name(*tls_, name, options_.tls.verify_peer);
    auto [tls_error] = co_await tls_->async_handshake(ssl::stream_base::client, kUseTuple);
    if (tls_error) {
      detail = "TLS handshake with " + where + " (as '" + name + "') failed: " + tls_error.message();
      co_return done(make_error_code(Error::tls_failed));
    }
  }
  auto greeted = co_await greet(detail, *timed_out);
  if (!greeted) detail = where + ": " + detail;
  co_return done(greeted);
}

// AUTH, SELECT and CLIENT SETNAME in one write, their replies read before anything else may use
// the stream.
asio::awaitable<Result<void>> Transport::greet(std::string& detail, const bool& timed_out) {
  enum class Step { auth, select, setname, role };
  Request greeting;
  std::vector<Step> steps;
  if (!options_.password.empty()) {
    if (options_.username.empty()) {
      greeting.push({"AUTH", options_.password});
    } else {
      greeting.push({"AUTH", options_.username, options_.password});
    }
    steps.push_back(Step::auth);
  }
  if (options_.database != 0) {
    greeting.push({"SELECT", std::to_string(options_.database)});
    steps.push_back(Step::select);
  }
  if (!options_.client_name.empty()) {
    greeting.push({"CLIENT", "SETNAME", options_.client_name});
    steps.push_back(Step::setname);
  }
  if (options_.require_master) {
    greeting.push({"ROLE"});
    steps.push_back(Step::role);
  }
  if (steps.empty()) co_return Result<void>{};

  const std::vector<asio::const_buffer> payload{asio::buffer(greeting.payload())};
  auto [write_error, written] = co_await write(payload);
  if (write_error) {
    detail = "handshake write failed: " + write_error.message();
    co_return make_error_code(timed_out ? Error::connect_timeout : Error::connection_lost);
  }
  std::array<char, 4096> buffer;
  std::vector<Reply> replies;
  while (replies.size() < steps.size()) {
    auto [read_error, n] = co_await read_some(asio::buffer(buffer));
    if (read_error) {
      detail = "handshake read failed: " + read_error.message();
      co_return make_error_code(timed_out ? Error::connect_timeout : Error::connection_lost);
    }
    reader_->feed(buffer.data(), n);
    while (auto reply = reader_->next()) replies.push_back(std::move(*reply));
    if (reader_->failed()) {
      detail = "handshake: the server does not speak RESP: " + reader_->error();
      co_return make_error_code(Error::protocol_error);
    }
  }
  for (std::size_t i = 0; i < steps.size(); ++i) {
    if (!replies[i].is_error()) continue;
    switch (steps[i]) {
      case Step::auth:
        detail = "AUTH refused: " + replies[i].text();
        co_return make_error_code(Error::authentication_failed);
      case Step::select:
        detail = "SELECT " + std::to_string(options_.database) + " refused: " + replies[i].text();
        co_return make_error_code(Error::handshake_failed);
      case Step::setname:
        detail = "CLIENT SETNAME refused: " + replies[i].text();
        co_return make_error_code(Error::handshake_failed);
      case Step::role:
        detail = "ROLE refused: " + replies[i].text();
        co_return make_error_code(Error::handshake_failed);
    }
  }
  if (options_.require_master) {
    const Reply& role = replies.back();
    const bool master = role.is_array() && !role.elements().empty() &&
                        role.elements().front().as_string() == std::optional<std::string_view>("master");
    if (!master) {
      detail = "the server is not a master (ROLE: " + role.describe() + ")";
      co_return make_error_code(Error::handshake_failed);
    }
  }
  co_return Result<void>{};
}

asio::awaitable<std::tuple<error_code, std::size_t>> Transport::write(
    const std::vector<asio::const_buffer>& buffers) {
  if (tls_) co_return co_await asio::async_write(*tls_, buffers, kUseTuple);
  co_return co_await asio::async_write(plain_, buffers, kUseTuple);
}

asio::awaitable<std::tuple<error_code, std::size_t>> Transport::read_some(asio::mutable_buffer buffer) {
  if (tls_) co_return co_await tls_->async_read_some(buffer, kUseTuple);
  co_return co_await plain_.async_read_some(buffer, kUseTuple);
}

std::size_t Transport::write_now(const std::vector<asio::const_buffer>& buffers, error_code& error) {
  error = {};
  if (tls_) return 0;  // TLS records are written by the asynchronous path only
  const std::size_t written = plain_.write_some(buffers, error);
  if (error == asio::error::would_block || error == asio::error::try_again) error = {};
  return written;
}

}  // namespace strata::redis
