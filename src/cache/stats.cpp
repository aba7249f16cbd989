#include <strata/cache/stats.hpp>

#include "cache/metrics.hpp"

#include <strata/cache/codec.hpp>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace strata {

std::chrono::nanoseconds LatencyHistogram::quantile(double q) const noexcept {
  if (count == 0) return std::chrono::nanoseconds(0);
  const auto rank = std::max<std::uint64_t>(1, static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count))));
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < kBuckets; ++i) {
    seen += counts[i];
    if (seen < rank) continue;
    if (i == kBuckets - 1) return std::chrono::nanoseconds(lower_bound_ns(i));  // beyond the range
    const std::uint64_t lower = lower_bound_ns(i);
    const std::uint64_t upper = upper_bound_ns(i);
    return std::chrono::nanoseconds(lower + (upper - lower + 1) / 2);  // the middle of lower+1..upper
  }
  return std::chrono::nanoseconds(lower_bound_ns(kBuckets - 1));
}

std::uint64_t LatencyHistogram::count_at_most(std::uint64_t ns) const noexcept {
  std::uint64_t total = 0;
  for (std::size_t i = 0; i < kBuckets && upper_bound_ns(i) <= ns; ++i) total += counts[i];
  return total;
}

void append_prometheus_histogram(std::string& out, std::string_view name, std::string_view labels,
                                 const LatencyHistogram& histogram, unsigned first_exponent,
                                 unsigned exponent_step) {
  const std::string_view comma = labels.empty() ? "" : ",";
  // Power-of-two bounds: few enough series for Prometheus, and exact sums of the fine buckets,
  // whose bounds fall on every power of two.
  for (unsigned exponent = first_exponent; exponent <= 34; exponent += std::max(1U, exponent_step)) {
    const std::uint64_t bound = std::uint64_t{1} << exponent;
    fmt::format_to(std::back_inserter(out), "{}_bucket{{{}{}le=\"{:g}\"}} {}\n", name, labels, comma,
                   static_cast<double>(bound) / 1e9, histogram.count_at_most(bound));
  }
  const std::string braced = labels.empty() ? std::string() : fmt::format("{{{}}}", labels);
  fmt::format_to(std::back_inserter(out), "{}_bucket{{{}{}le=\"+Inf\"}} {}\n{}_sum{} {:g}\n{}_count{} {}\n", name,
                 labels, comma, histogram.count, name, braced, static_cast<double>(histogram.sum_ns) / 1e9, name,
                 braced, histogram.count);
}

namespace {

boost::json::object latency_json(const LatencyHistogram& histogram) {
  auto micros = [](std::chrono::nanoseconds ns) { return static_cast<double>(ns.count()) / 1000.0; };
  boost::json::object out;
  out["count"] = histogram.count;
  out["mean_us"] = micros(histogram.mean());
  out["p50_us"] = micros(histogram.quantile(0.50));
  out["p90_us"] = micros(histogram.quantile(0.90));
  out["p99_us"] = micros(histogram.quantile(0.99));
  return out;
}

void prometheus_histogram(std::string& out, std::string_view name, std::string_view help,
                          const LatencyHistogram& histogram) {
  fmt::format_to(std::back_inserter(out), "# HELP {} {}\n# TYPE {} histogram\n", name, help, name);
  append_prometheus_histogram(out, name, {}, histogram);
}

}  // namespace

std::string to_json(const CacheStats& stats) {
  boost::json::object out;
  out["hits"] = stats.hits();
  for (const auto& field : cache::kCounterFields) out[field.name] = stats.*field.snapshot;
  out["total_requests"] = stats.total_requests();
  out["hit_rate"] = stats.hit_rate();
  out["uptime_seconds"] = stats.uptime_seconds;
  out["redis_enabled"] = stats.redis_enabled;
  out["redis_available"] = stats.redis_available;
  out["l1_entries"] = stats.l1_entries;
  out["l1_bytes"] = stats.l1_bytes;
  out["l1_capacity_bytes"] = stats.l1_capacity_bytes;
  out["l1_evictions"] = stats.l1_evictions;
  out["l1_admission_rejections"] = stats.l1_admission_rejections;
  boost::json::object latency;
  latency["l1"] = latency_json(stats.l1_latency);
  latency["l2"] = latency_json(stats.l2_latency);
  latency["loader"] = latency_json(stats.loader_latency);
  out["latency"] = std::move(latency);
  return detail::json_serialize(out);
}

std::string to_prometheus(const CacheStats& stats, std::string_view prefix) {
  std::string out;
  auto gauge = [&](std::string_view name, std::string_view help, double value) {
    fmt::format_to(std::back_inserter(out), "# HELP {0}_{1} {2}\n# TYPE {0}_{1} gauge\n{0}_{1} {3:g}\n",
                   prefix, name, help, value);
  };
  auto counter = [&](std::string_view name, std::string_view help, std::uint64_t value) {
    fmt::format_to(std::back_inserter(out), "# HELP {0}_{1}_total {2}\n# TYPE {0}_{1}_total counter\n{0}_{1}_total {3}\n",
                   prefix, name, help, value);
  };
  fmt::format_to(std::back_inserter(out),
                 "# HELP {0}_hits_total Lookups answered from a tier.\n# TYPE {0}_hits_total counter\n"
                 "{0}_hits_total{{tier=\"l1\"}} {1}\n{0}_hits_total{{tier=\"l2\"}} {2}\n",
                 prefix, stats.l1_hits, stats.l2_hits);
  for (const auto& field : cache::kCounterFields) {
    if (!field.tier_hit) counter(field.name, field.help, stats.*field.snapshot);
  }
  gauge("hit_rate", "Hits over total requests.", stats.hit_rate());
  gauge("uptime_seconds", "Seconds since the cache started or stats were reset.", stats.uptime_seconds);
  gauge("redis_enabled", "1 when a Redis tier is configured.", stats.redis_enabled ? 1 : 0);
  gauge("redis_available", "1 when Redis answered the last request.", stats.redis_available ? 1 : 0);
  gauge("l1_entries", "Entries in L1.", static_cast<double>(stats.l1_entries));
  gauge("l1_bytes", "Bytes charged in L1.", static_cast<double>(stats.l1_bytes));
  gauge("l1_capacity_bytes", "L1's byte budget.", static_cast<double>(stats.l1_capacity_bytes));
  counter("l1_evictions", "Resident L1 entries evicted to make room.", stats.l1_evictions);
  counter("l1_admission_rejections", "Newcomers L1 declined as colder than what they would evict.",
          stats.l1_admission_rejections);
  prometheus_histogram(out, fmt::format("{}_l1_latency_seconds", prefix), "L1 lookup latency.",
                       stats.l1_latency);
  prometheus_histogram(out, fmt::format("{}_l2_latency_seconds", prefix), "Redis lookup latency.",
                       stats.l2_latency);
  prometheus_histogram(out, fmt::format("{}_loader_latency_seconds", prefix), "Loader latency.",
                       stats.loader_latency);
  return out;
}

}  // namespace strata
