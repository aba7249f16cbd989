#include "gateway/ranges.hpp"

#include "core/decimal.hpp"
#include "gateway/route.hpp"

#include <optional>
#include <string>

namespace strata::gateway {

namespace {

std::string content_range(const ByteRange& range, std::uint64_t length) {
  return "bytes " + std::to_string(range.first) + "-" + std::to_string(range.last) + "/" + std::to_string(length);
}

}  // namespace

RangeRequest evaluate_range(std::string_view range, std::uint64_t length) {
  RangeRequest out;
  const auto equals = range.find('=');
  if (equals == std::string_view::npos || ascii_lower(trim_whitespace(range.substr(0, equals))) != "bytes") return out;
  const auto specs = split_list(range.substr(equals + 1));
  if (specs.empty() || specs.size() > kMaxRanges) return out;
  std::vector<ByteRange> satisfiable;
  for (auto spec : specs) {
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) return out;
    const auto first_text = spec.substr(0, dash);
    const auto last_text = spec.substr(dash + 1);
    if (first_text.empty()) {  // a suffix: the last N bytes
      const auto suffix = core::parse_decimal(last_text);
      if (!suffix) return out;
      if (*suffix == 0 || length == 0) continue;
      satisfiable.push_back({length - std::min(*suffix, length), length - 1});
      continue;
    }
    const auto first = core::parse_decimal(first_text);
    const auto last = last_text.empty() ? std::optional<std::uint64_t>(UINT64_MAX) : core::parse_decimal(last_text);
    if (!first || !last || *last < *first) return out;
    if (*first >= length) continue;
    satisfiable.push_back({*first, std::min(*last, length - 1)});
  }
  if (satisfiable.empty()) {
    out.outcome = RangeRequest::Outcome::unsatisfiable;
    return out;
  }
  out.outcome = RangeRequest::Outcome::partial;
  out.ranges = std::move(satisfiable);
  return out;
}

bool if_range_allows(std::string_view if_range, const StoredResponse& stored) {
  const auto condition = trim_whitespace(if_range);
  if (condition.empty()) return true;
  if (condition.front() == '"' || condition.substr(0, 2) == "W/") {
    // Strong comparison: a weak tag on either side never matches.
    const auto etag = stored.header("etag");
    return condition.front() == '"' && etag && etag->substr(0, 2) != "W/" && *etag == condition;
  }
  const auto modified = stored.header("last-modified");
  const auto asked = parse_http_date(condition);
  const auto stored_time = modified ? parse_http_date(*modified) : std::nullopt;
  return asked && stored_time && *asked == *stored_time;
}

std::shared_ptr<StoredResponse> partial_response(const StoredResponse& full, const std::vector<ByteRange>& ranges,
                                                 std::string_view boundary) {
  auto partial = std::make_shared<StoredResponse>();
  partial->status = 206;
  partial->initial_age = full.initial_age;
  const std::uint64_t length = full.body.size();
  const std::string content_type(full.header("content-type").value_or(""));
  for (const auto& header : full.headers) {
    if (ranges.size() > 1 && header.first == "content-type") continue;
    partial->headers.push_back(header);
  }
  if (ranges.size() == 1) {
    const auto& range = ranges.front();
    partial->headers.emplace_back("content-range", content_range(range, length));
    partial->body = full.body.substr(range.first, range.last - range.first + 1);
  } else {
    partial->headers.emplace_back("content-type", "multipart/byteranges; boundary=" + std::string(boundary));
    for (const auto& range : ranges) {
      partial->body += "\r\n--";
      partial->body += boundary;
      if (!content_type.empty()) partial->body += "\r\ncontent-type: " + content_type;
      partial->body += "\r\ncontent-range: " + content_range(range, length) + "\r\n\r\n";
      partial->body.append(full.body, range.first, range.last - range.first + 1);
    }
    partial->body += "\r\n--";
    partial->body += boundary;
    partial->body += "--\r\n";
  }
  partial->headers.emplace_back("accept-ranges", "bytes");
  partial->render_headers();
  return partial;
}

std::shared_ptr<StoredResponse> unsatisfiable_response(std::uint64_t length) {
  auto refused = std::make_shared<StoredResponse>();
  refused->status = 416;
  refused->headers = {{"content-range", "bytes */" + std::to_string(length)}, {"accept-ranges", "bytes"}};
  refused->render_headers();
  return refused;
}

}  // namespace strata::gateway
