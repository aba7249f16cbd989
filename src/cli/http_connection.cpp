#include "cli/http_connection.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

namespace strata::cli {

std::string_view trim_blanks(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r')) text.remove_suffix(1);
  return text;
}

std::optional<std::pair<std::string, std::string>> parse_header_line(std::string_view text) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos || colon == 0) return std::nullopt;
  const auto name = trim_blanks(text.substr(0, colon));
  if (name.empty() || name.find_first_of(" \t") != std::string_view::npos) return std::nullopt;
  return std::pair{std::string(name), std::string(trim_blanks(text.substr(colon + 1)))};
}

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;

HttpConnection::HttpConnection(std::string host, std::string port, std::chrono::milliseconds timeout)
    : host_(std::move(host)), port_(std::move(port)), timeout_(timeout), stream_(io_) {}

HttpConnection::Result HttpConnection::send(HttpRequest request) {
  request.set(http::field::host, host_ + ":" + port_);
  request.prepare_payload();
  const bool reused = open_;
  Result result = attempt(request);
  // A kept-alive connection the server closed while idle fails at once: open a new one.
  if (!result.response && reused && !result.timed_out) result = attempt(request);
  return result;
}

HttpConnection::Result HttpConnection::attempt(const HttpRequest& request) {
  Result result;
  auto exchange = [this, &request, &result]() -> asio::awaitable<void> {
    stream_.expires_after(timeout_);
    if (!open_) {
      asio::ip::tcp::resolver resolver(io_);
      auto [resolve_error, endpoints] =
          co_await resolver.async_resolve(host_, port_, asio::as_tuple(asio::use_awaitable));
      if (resolve_error) {
        result.failure = "cannot resolve " + host_ + ": " + resolve_error.message();
        co_return;
      }
      auto [connect_error, connected] = co_await stream_.async_connect(endpoints, asio::as_tuple(asio::use_awaitable));
      (void)connected;
      if (connect_error) {
        result.timed_out = connect_error == beast::error::timeout;
        result.failure = connect_error.message();
        co_return;
      }
      open_ = true;
      buffer_.clear();
    }
    auto [write_error, written] = co_await http::async_write(stream_, request, asio::as_tuple(asio::use_awaitable));
    (void)written;
    if (!write_error) {
      http::response_parser<http::string_body> parser;
      parser.body_limit(256 * 1024 * 1024);
      auto [read_error, read] = co_await http::async_read(stream_, buffer_, parser, asio::as_tuple(asio::use_awaitable));
      (void)read;
      if (!read_error) {
        result.response = parser.release();
        if (!result.response->keep_alive()) {
          beast::error_code ignored;
          stream_.socket().close(ignored);
          open_ = false;
        }
        co_return;
      }
      write_error = read_error;
    }
    result.timed_out = write_error == beast::error::timeout;
    result.failure = write_error.message();
    beast::error_code ignored;
    stream_.socket().close(ignored);
    open_ = false;
  };
  std::exception_ptr crashed;
  io_.restart();
  asio::co_spawn(io_, exchange(), [&crashed](std::exception_ptr error) { crashed = error; });
  io_.run();
  if (crashed) std::rethrow_exception(crashed);
  return result;
}

}  // namespace strata::cli
