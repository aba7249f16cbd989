#include "gateway/request_framing.hpp"

#include "gateway/http_cache.hpp"
#include "gateway/route.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <string_view>

namespace strata::gateway {

namespace http = boost::beast::http;

namespace {

bool unreserved_or_sub_delim(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || std::string_view("-._~!$&'()*+,;=%").find(c) != std::string_view::npos;
}

bool all_digits(std::string_view text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// uri-host [ ":" port ] (RFC 9110 7.2); empty is allowed (a target without an authority).
bool valid_host(std::string_view host) {
  if (host.empty()) return true;
  std::string_view name = host;
  std::string_view port;
  if (host.front() == '[') {
    const auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    name = host.substr(1, close - 1);
    const auto rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
    if (name.empty() || !std::all_of(name.begin(), name.end(), [](char c) { return c == ':' || unreserved_or_sub_delim(c); })) {
      return false;
    }
    return all_digits(port);
  }
  if (const auto colon = host.rfind(':'); colon != std::string_view::npos) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
  }
  return std::all_of(name.begin(), name.end(), unreserved_or_sub_delim) && all_digits(port);
}

std::size_t field_lines(const http::request_header<>& header, http::field name) {
  const auto [first, last] = header.equal_range(name);
  return static_cast<std::size_t>(std::distance(first, last));
}

}  // namespace

std::optional<FramingError> check_request_framing(const http::request_header<>& header) {
  const auto content_lengths = field_lines(header, http::field::content_length);
  if (content_lengths > 1) return FramingError{400, "a request may carry one Content-Length field"};
  // One decimal number: the parser would take "3, 3" as 3, a front proxy perhaps not.
  if (content_lengths == 1 && !all_digits(header[http::field::content_length])) {
    return FramingError{400, "Content-Length must be one decimal number"};
  }

  const auto [first_coding, end_coding] = header.equal_range(http::field::transfer_encoding);
  if (first_coding != end_coding) {
    if (header.version() < 11) {
      return FramingError{400, "Transfer-Encoding is not allowed in an HTTP/1.0 request"};
    }
    if (content_lengths > 0) return FramingError{400, "a request may not carry both Content-Length and Transfer-Encoding"};
    std::vector<std::string> codings;
    for (auto it = first_coding; it != end_coding; ++it) {
      for (auto coding : split_list(it->value())) codings.push_back(ascii_lower(coding));
    }
    if (codings.empty() || codings.back() != "chunked") {
      return FramingError{400, "the final transfer coding of a request must be chunked"};
    }
    if (std::count(codings.begin(), codings.end(), "chunked") > 1) {
      return FramingError{400, "chunked may be applied to a request once"};
    }
    if (codings.size() > 1) {
      return FramingError{501, fmt::format("transfer coding \"{}\" is not supported (only chunked)", codings.front())};
    }
  }

  const auto hosts = field_lines(header, http::field::host);
  if (hosts > 1) return FramingError{400, "a request may carry one Host field"};
  if (hosts == 0 && header.version() >= 11) return FramingError{400, "an HTTP/1.1 request needs a Host field"};
  if (hosts == 1 && !valid_host(header[http::field::host])) return FramingError{400, "the Host field is not a valid host[:port]"};
  return std::nullopt;
}

}  // namespace strata::gateway
