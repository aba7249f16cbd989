#pragma once

// One HTTP/1.1 connection from a command-line tool to a server, kept alive between requests,
// each request bounded by a deadline. Blocking: each call runs its own I/O to completion. Not
// thread-safe; use one per thread.

#include <boost/asio/io_context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace strata::cli {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

// `text` without the spaces, tabs (and a trailing CR) around it.
std::string_view trim_blanks(std::string_view text);
// "Name: value" as a command line or a list file gives a header; nullopt when it is not one.
std::optional<std::pair<std::string, std::string>> parse_header_line(std::string_view text);

class HttpConnection {
public:
  HttpConnection(std::string host, std::string port, std::chrono::milliseconds timeout);

  struct Result {
    std::optional<HttpResponse> response;
    std::string failure;  // what went wrong before a response arrived
    bool timed_out = false;
  };
  // Sends `request` (Host is set here) and reads the answer. A keep-alive connection the server
  // closed meanwhile is reopened once.
  Result send(HttpRequest request);

private:
  Result attempt(const HttpRequest& request);

  std::string host_;
  std::string port_;
  std::chrono::milliseconds timeout_;
  boost::asio::io_context io_;
  boost::beast::tcp_stream stream_;
  boost::beast::flat_buffer buffer_;
  bool open_ = false;
};

}  // namespace strata::cli
