// A stand-in for an API in front of a database: every answer takes a fixed delay (the "query"),
// then returns a body of a fixed size marked shared-cacheable. Used by gateway_vs_nginx.sh.

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <atomic>
#include <iostream>

namespace asio = boost::asio;
namespace http = boost::beast::http;
using asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
std::atomic<std::uint64_t> served{0};

asio::awaitable<void> serve(tcp::socket socket, std::chrono::milliseconds delay, const std::string& body) {
  socket.set_option(tcp::no_delay(true));
  boost::beast::flat_buffer buffer;
  asio::steady_timer timer(socket.get_executor());
  for (;;) {
    http::request<http::string_body> request;
    auto [error, read] = co_await http::async_read(socket, buffer, request, kAwait);
    (void)read;
    if (error) co_return;
    if (delay.count() > 0) {
      timer.expires_after(delay);
      co_await timer.async_wait(kAwait);
    }
    http::response<http::string_body> response(http::status::ok, 11);
    response.set(http::field::content_type, "application/json");
    response.set(http::field::cache_control, "public, max-age=300");
    response.body() = body;
    response.keep_alive(request.keep_alive());
    response.prepare_payload();
    served.fetch_add(1, std::memory_order_relaxed);
    auto [write_error, written] = co_await http::async_write(socket, response, kAwait);
    (void)written;
    if (write_error || !request.keep_alive()) co_return;
  }
}

asio::awaitable<void> accept(tcp::acceptor& acceptor, std::chrono::milliseconds delay, const std::string& body) {
  for (;;) {
    auto [error, socket] = co_await acceptor.async_accept(kAwait);
    if (error) co_return;
    asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), delay, body), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"HTTP origin with a fixed per-request delay, for gateway benchmarks"};
  std::uint16_t port = 0;
  int delay_ms = 20;
  std::size_t body_bytes = 1024;
  app.add_option("--port", port, "Loopback port (0: any; the chosen port is printed)");
  app.add_option("--delay-ms", delay_ms, "Delay before each answer")->check(CLI::Range(0, 10000));
  app.add_option("--body-bytes", body_bytes, "Response body size")->check(CLI::Range(std::size_t{1}, std::size_t{1} << 24));
  CLI11_PARSE(app, argc, argv);

  std::string body = "{\"data\":\"";
  body.append(body_bytes > body.size() + 2 ? body_bytes - body.size() - 2 : 0, 'x');
  body += "\"}";
  asio::io_context io(1);
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  std::cout << "origin listening on " << acceptor.local_endpoint().port() << std::endl;
  asio::co_spawn(io, accept(acceptor, std::chrono::milliseconds(delay_ms), body), asio::detached);
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](auto, int) {
    std::cout << "origin served " << served.load() << " requests" << std::endl;
    io.stop();
  });
  io.run();
  return 0;
}
