// Header fields from the origin and from clients: Cache-Control / Surrogate-Control, Vary,
// Age, dates, Range / If-Range, Accept-Encoding and Content-Type. The first byte picks the
// field; the rest is its value.

#include "gateway/content_coding.hpp"
#include "gateway/freshness.hpp"
#include "gateway/ranges.hpp"
#include "gateway/variants.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace strata::gateway;
  if (size == 0) return 0;
  const std::string value(reinterpret_cast<const char*>(data + 1), size - 1);
  StoredResponse response;
  response.status = 200;
  response.body = "0123456789abcdefghijklmnopqrstuvwxyz";
  switch (data[0] % 7) {
    case 0: {
      const auto control = parse_cache_control(value);
      response.headers = {{"cache-control", value}, {"date", "Mon, 01 Jan 2024 00:00:00 GMT"}};
      (void)explicit_lifetime(response, control, control);
      break;
    }
    case 1: {
      response.headers = {{"vary", value}};
      (void)varied_headers(response, {"x-tenant"});
      break;
    }
    case 2: {
      response.headers = {{"age", value}};
      (void)upstream_age(response);
      (void)parse_http_date(value);
      break;
    }
    case 3: {
      const auto range = evaluate_range(value, response.body.size());
      if (range.outcome == RangeRequest::Outcome::partial) {
        for (const auto& part : range.ranges) {
          if (part.first > part.last || part.last >= response.body.size()) std::abort();
        }
        (void)partial_response(response, range.ranges, "fuzz-boundary");
      }
      break;
    }
    case 4: {
      response.headers = {{"etag", "\"v1\""}, {"last-modified", "Mon, 01 Jan 2024 00:00:00 GMT"}};
      (void)if_range_allows(value, response);
      break;
    }
    case 5: {
      for (auto stored : {Coding::identity, Coding::gzip, Coding::br, Coding::zstd}) {
        const auto choice = choose_coding(value, stored);
        (void)choice;
      }
      (void)accepts_coding(value, "gzip");
      break;
    }
    default:
      (void)compressible_type(value, {"text/*", "application/json", "*+json"});
      (void)split_list(value, true);
  }
  return 0;
}
