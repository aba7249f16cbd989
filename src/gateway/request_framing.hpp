#pragma once

// Where a request ends (RFC 9112 6): the checks that keep a front proxy and this gateway from
// reading one stream of bytes as different requests (request smuggling). Pure: a header in, a
// verdict out, so every combination is a row of a table test.

#include <boost/beast/http/message.hpp>

#include <optional>
#include <string>

namespace strata::gateway {

struct FramingError {
  unsigned status = 400;  // 400, or 501 for a transfer coding we do not implement
  std::string detail;     // what is wrong, for the client and the log
};

// Every request with a framing problem is answered with the error and its connection closed:
// the bytes after its header cannot be trusted to start the next request.
//   - Transfer-Encoding: only "chunked" (once, last) is accepted; any other coding is 501, a
//     list that does not end in chunked is 400. Never in HTTP/1.0, never with Content-Length.
//   - Content-Length: one field line holding one decimal number.
//   - Host: exactly one in HTTP/1.1, at most one in HTTP/1.0, with a valid value.
std::optional<FramingError> check_request_framing(const boost::beast::http::request_header<>& header);

}  // namespace strata::gateway
