#pragma once

// Byte ranges served from a stored full response (RFC 9110 14): which ranges a request asks
// for, whether If-Range lets them apply, and the 206 (one part, or multipart/byteranges) or 416
// that answers it. Pure functions, with a table test.

#include "gateway/http_cache.hpp"

#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

namespace strata::gateway {

struct ByteRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;  // inclusive
  friend bool operator==(const ByteRange&, const ByteRange&) = default;
};

struct RangeRequest {
  enum class Outcome { full, partial, unsatisfiable };
  Outcome outcome = Outcome::full;
  std::vector<ByteRange> ranges;  // partial: in the order asked, clipped to the length
};

// More ranges than this in one request are answered with the whole representation, as a server
// may (RFC 9110 14.2): many small or overlapping ranges cost more to send than the body itself.
inline constexpr std::size_t kMaxRanges = 16;

// `range` (the Range field) against a representation of `length` bytes. A unit other than
// bytes, a syntax error or too many ranges: the full representation. No range that starts
// inside it: unsatisfiable (416).
RangeRequest evaluate_range(std::string_view range, std::uint64_t length);

// If-Range (RFC 9110 13.1.5): the range applies only if the stored response is the one the
// client has part of: a strong ETag equal to the stored strong ETag, or the stored
// Last-Modified exactly. Absent: applies.
bool if_range_allows(std::string_view if_range, const StoredResponse& stored);

// The 206 for `ranges` of `full` (a 200): Content-Range for one part, multipart/byteranges with
// `boundary` for several.
std::shared_ptr<StoredResponse> partial_response(const StoredResponse& full, const std::vector<ByteRange>& ranges,
                                                 std::string_view boundary);

// The 416 for a representation of `length` bytes: Content-Range: bytes */length.
std::shared_ptr<StoredResponse> unsatisfiable_response(std::uint64_t length);

}  // namespace strata::gateway
