#pragma once

// A duration as configuration writes it, everywhere Strata reads one (TOML files, Redis URLs):
// a whole number and its unit, "250ms", "30s", "5m", "2h", "1d". A number without a unit is
// refused: "250" could mean seconds or milliseconds, and a guess is how a 250 ms timeout becomes
// four minutes.

#include <chrono>
#include <optional>
#include <string_view>

namespace strata::core {

// nullopt unless `text` is digits then one of the units above, within a century.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text);

}  // namespace strata::core
