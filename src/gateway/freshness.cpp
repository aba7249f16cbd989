#include "gateway/freshness.hpp"

#include <algorithm>
#include <charconv>

namespace strata::gateway {

namespace {

constexpr std::int64_t kMaxAge = std::int64_t{1} << 31;  // RFC 9111 1.2.2: larger values are 2^31

}  // namespace

std::optional<std::int64_t> upstream_age(const StoredResponse& response) {
  std::size_t lines = 0;
  std::string_view value;
  for (const auto& [name, field] : response.headers) {
    if (name == "age") {
      ++lines;
      value = field;
    }
  }
  if (lines == 0) return 0;
  std::int64_t age = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), age);
  if (error == std::errc::result_out_of_range && lines == 1) return kMaxAge;
  if (lines > 1 || error != std::errc() || end != value.data() + value.size() || age < 0) return std::nullopt;
  return age;
}

std::int64_t initial_age(std::int64_t upstream_age, std::chrono::steady_clock::duration response_delay) {
  const auto delay = std::chrono::duration_cast<std::chrono::seconds>(response_delay).count();
  return std::clamp<std::int64_t>(upstream_age + std::max<std::int64_t>(0, delay), 0, kMaxAge);
}

std::optional<std::chrono::seconds> explicit_lifetime(const StoredResponse& response, const CacheControl& control,
                                                      const CacheControl& surrogate) {
  if (surrogate.max_age) return *surrogate.max_age;
  if (control.s_maxage) return *control.s_maxage;
  if (control.max_age) return *control.max_age;
  const auto expires = response.joined("expires");
  if (expires.empty()) return std::nullopt;
  // Relative to the origin's own Date, so clock skew cancels out; invalid means already stale.
  const auto date = parse_http_date(response.joined("date"));
  const auto until = parse_http_date(expires);
  if (!until || !date) return std::chrono::seconds(0);
  return std::chrono::seconds(*until - *date);
}

std::int64_t current_age(std::int64_t arrival_age, std::int64_t resident_seconds) {
  return std::clamp<std::int64_t>(arrival_age + std::max<std::int64_t>(0, resident_seconds), 0, kMaxAge);
}

}  // namespace strata::gateway
