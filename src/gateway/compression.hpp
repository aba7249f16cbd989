#pragma once

// The content codings the gateway speaks (RFC 9110 8.4.1): gzip (zlib), br (brotli) and zstd,
// each one call in, one call out. Decoding is bounded, so a small body cannot inflate into
// gigabytes (a decompression bomb fails instead).

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace strata::gateway {

enum class Coding { identity, gzip, br, zstd };

// "gzip" / "x-gzip", "br", "zstd", "identity" (any case); nullopt for codings we do not speak
// (compress, deflate, ...) and for lists of more than one coding.
std::optional<Coding> coding_named(std::string_view content_encoding);
std::string_view coding_name(Coding coding);

// The decoded bytes, or nullopt when `encoded` is not valid in `coding` or would exceed
// `max_bytes` decoded.
std::optional<std::string> decode(Coding coding, std::string_view encoded, std::size_t max_bytes);
// `level` is the coding's own scale (gzip 1-9, br 0-11, zstd 1-19), clamped. nullopt when the
// compression library fails (out of memory): the caller keeps the body it has.
std::optional<std::string> encode(Coding coding, std::string_view plain, int level);

}  // namespace strata::gateway
