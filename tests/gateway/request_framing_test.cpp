// Request framing as a table: every Transfer-Encoding / Content-Length / Host combination, and
// what RFC 9112 requires of a server receiving it.

#include "gateway/request_framing.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <gtest/gtest.h>

#include <string>

namespace strata::gateway {
namespace {

namespace http = boost::beast::http;

struct Row {
  const char* name;
  std::string head;  // request line and fields, without the final empty line
  unsigned status;   // 0: accepted; else 400, 501, or 1 for "the parser refuses it itself"
};

const Row kRows[] = {
    {"plain GET", "GET / HTTP/1.1\r\nHost: a.example", 0},
    {"Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3", 0},
    {"chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked", 0},
    {"chunked, any case", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:  Chunked ", 0},
    {"host with port", "GET / HTTP/1.1\r\nHost: a.example:8080", 0},
    {"IPv6 host", "GET / HTTP/1.1\r\nHost: [::1]:8080", 0},
    {"empty Host", "GET / HTTP/1.1\r\nHost:", 0},
    {"HTTP/1.0 without Host", "GET / HTTP/1.0", 0},
    {"chunked then gzip", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip", 400},
    {"gzip alone", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip", 400},
    {"xchunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked", 400},
    {"chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked", 400},
    {"chunked in two lines", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked", 1},
    {"gzip then chunked", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked", 501},
    {"gzip then chunked in two lines", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked", 501},
    {"empty Transfer-Encoding", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ", 400},
    {"HTTP/1.0 with chunked", "POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked", 400},
    {"Content-Length with chunked", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked", 1},
    {"chunked with Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3", 1},
    {"Content-Length twice", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3", 400},
    {"Content-Length list of one value", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3", 400},
    {"two Host fields", "GET / HTTP/1.1\r\nHost: a\r\nHost: b", 400},
    {"HTTP/1.1 without Host", "GET / HTTP/1.1", 400},
    {"Host with a path", "GET / HTTP/1.1\r\nHost: a/b", 400},
    {"Host with a space", "GET / HTTP/1.1\r\nHost: a b", 400},
    {"Host with userinfo", "GET / HTTP/1.1\r\nHost: user@a", 400},
    {"Host with a bad port", "GET / HTTP/1.1\r\nHost: a:80x", 400},
    {"HTTP/1.0 with two Hosts", "GET / HTTP/1.0\r\nHost: a\r\nHost: b", 400},
    // Refused by the parser before our checks run: the server answers 400 for these too.
    {"Content-Length list of two values", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4", 1},
    {"Content-Length twice, two values", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4", 1},
    {"signed Content-Length", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3", 1},
    {"space before the colon", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding : chunked", 1},
    {"NUL in a value", std::string("GET / HTTP/1.1\r\nHost: a\r\nX: a\0b", 31), 1},
};

TEST(RequestFraming, EveryCombinationRfc9112Names) {
  for (const auto& row : kRows) {
    SCOPED_TRACE(row.name);
    http::request_parser<http::string_body> parser;
    boost::beast::flat_buffer buffer;
    const std::string bytes = row.head + "\r\n\r\n";
    boost::system::error_code error;
    parser.put(boost::asio::buffer(bytes), error);
    if (row.status == 1) {
      EXPECT_TRUE(error) << "the parser accepted it";
      continue;
    }
    ASSERT_TRUE(!error || error == http::error::need_more) << error.message();
    ASSERT_TRUE(parser.is_header_done());
    const auto verdict = check_request_framing(parser.get());
    if (row.status == 0) {
      EXPECT_FALSE(verdict) << verdict->detail;
    } else {
      ASSERT_TRUE(verdict);
      EXPECT_EQ(verdict->status, row.status) << verdict->detail;
      EXPECT_FALSE(verdict->detail.empty());
    }
  }
}

}  // namespace
}  // namespace strata::gateway
