#pragma once

// Content codings (RFC 9110 8.4, 12.5.3): which codings a client accepts. Pure functions with a
// table test; the gateway never sends a client a coding it did not accept.

#include <string_view>

namespace strata::gateway {

// Whether a client whose Accept-Encoding value is `accept_encoding` accepts `coding` ("gzip",
// "br", "zstd", "identity"; case-insensitive; "x-gzip" is gzip). q-values are honoured, q=0
// refuses, "*" stands for codings not listed. An absent or empty Accept-Encoding accepts
// identity only: RFC 9110 would allow any coding, but clients that send none (curl, scripts,
// health checks) cannot decode one, and no server we know of compresses for them.
bool accepts_coding(std::string_view accept_encoding, std::string_view coding);

// Whether every coding a Content-Encoding value lists (in the order applied) is accepted.
bool accepts_content_encoding(std::string_view accept_encoding, std::string_view content_encoding);

}  // namespace strata::gateway
