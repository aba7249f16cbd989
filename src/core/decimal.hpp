#pragma once

// Unsigned decimal numbers read from the wire (HTTP fields, Redis replies, bus messages).

#include <cstdint>
#include <optional>
#include <string_view>

namespace strata::core {

// 1*DIGIT as an unsigned 64-bit number: no sign, no spaces, no overflow; nullopt otherwise.
std::optional<std::uint64_t> parse_decimal(std::string_view text) noexcept;

}  // namespace strata::core
