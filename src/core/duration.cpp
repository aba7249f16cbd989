#include "duration.hpp"

#include "decimal.hpp"

#include <cstdint>

namespace strata::core {

std::optional<std::chrono::milliseconds> parse_duration(std::string_view text) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const auto number = parse_decimal(text.substr(0, digits));
  if (!number) return std::nullopt;
  const std::string_view unit = text.substr(digits);
  std::uint64_t factor = 0;
  if (unit == "ms") factor = 1;
  else if (unit == "s") factor = 1000;
  else if (unit == "m") factor = 60'000;
  else if (unit == "h") factor = 3'600'000;
  else if (unit == "d") factor = 86'400'000;
  else return std::nullopt;
  constexpr std::uint64_t kCentury = 100ULL * 365 * 86'400'000;
  if (*number > kCentury / factor) return std::nullopt;
  return std::chrono::milliseconds(static_cast<std::int64_t>(*number * factor));
}

}  // namespace strata::core
