#pragma once

// Content codings (RFC 9110 8.4, 12.5.3): which codings a client accepts. Pure functions with a
// table test; the gateway never sends a client a coding it did not accept.

#include "gateway/compression.hpp"

#include <string_view>
#include <vector>

namespace strata::gateway {

// Whether a client whose Accept-Encoding value is `accept_encoding` accepts `coding` ("gzip",
// "br", "zstd", "identity"; case-insensitive; "x-gzip" is gzip). q-values are honoured, q=0
// refuses, "*" stands for codings not listed. An absent or empty Accept-Encoding accepts
// identity only: RFC 9110 would allow any coding, but clients that send none (curl, scripts,
// health checks) cannot decode one, and no server we know of compresses for them.
bool accepts_coding(std::string_view accept_encoding, std::string_view coding);

// Whether every coding a Content-Encoding value lists (in the order applied) is accepted.
bool accepts_content_encoding(std::string_view accept_encoding, std::string_view content_encoding);

// How to answer a client from a stored representation in `stored`: as it is when the client
// accepts it (no work), else decoded to identity, else re-encoded in a coding the client does
// accept (gzip, br, zstd, in the client's order of preference), else 406.
struct CodingChoice {
  enum class Action { as_stored, decode, encode, refuse };
  Action action = Action::as_stored;
  Coding coding = Coding::identity;  // what the client gets
  friend bool operator==(const CodingChoice&, const CodingChoice&) = default;
};
CodingChoice choose_coding(std::string_view accept_encoding, Coding stored);

// Whether a Content-Type (parameters ignored, any case) matches one of `types`: "text/*",
// "application/json", or "*+json" for every type with that suffix.
bool compressible_type(std::string_view content_type, const std::vector<std::string>& types);

}  // namespace strata::gateway
