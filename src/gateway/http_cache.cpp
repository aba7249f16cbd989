#include "gateway/http_cache.hpp"

#include <strata/footprint.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <ctime>

namespace strata::gateway {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::optional<std::chrono::seconds> delta_seconds(std::string_view text) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') text = text.substr(1, text.size() - 2);
  if (text.empty()) return std::nullopt;
  std::int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error == std::errc::result_out_of_range) return std::chrono::seconds(std::int64_t{1} << 31);
  if (error != std::errc() || end != text.data() + text.size() || value < 0) return std::nullopt;
  return std::chrono::seconds(std::min<std::int64_t>(value, std::int64_t{1} << 31));
}

}  // namespace

void put_u32(std::string& out, std::uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

bool get_u32(std::string_view& in, std::uint32_t& value) {
  if (in.size() < 4) return false;
  value = 0;
  for (int i = 0; i < 4; ++i) value = (value << 8) | static_cast<unsigned char>(in[static_cast<std::size_t>(i)]);
  in.remove_prefix(4);
  return true;
}

bool get_string(std::string_view& in, std::string& out) {
  std::uint32_t size = 0;
  if (!get_u32(in, size) || in.size() < size) return false;
  out.assign(in.substr(0, size));
  in.remove_prefix(size);
  return true;
}

// 3 added a flags byte after the status; 2 (no flags) still decodes.
constexpr char kFormatVersion = 3;
constexpr char kFormatWithoutFlags = 2;
constexpr unsigned char kSharedWithCredentials = 1;
constexpr unsigned char kGatewayEncoded = 2;
// A variant index: generation, then the varied header names.
constexpr char kVariantIndexFormat = 4;

std::string_view trim_whitespace(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::vector<std::string_view> split_list(std::string_view value, bool also_spaces) {
  std::vector<std::string_view> items;
  std::size_t start = 0;
  while (start <= value.size()) {
    auto end = value.find_first_of(also_spaces ? ", \t" : ",", start);
    if (end == std::string_view::npos) end = value.size();
    auto item = trim_whitespace(value.substr(start, end - start));
    if (!item.empty()) items.push_back(item);
    start = end + 1;
  }
  return items;
}

CacheControl parse_cache_control(std::string_view value) {
  CacheControl control;
  for (auto directive : split_list(value)) {
    const auto equals = directive.find('=');
    const auto name = trim_whitespace(directive.substr(0, equals));
    auto argument = equals == std::string_view::npos ? std::string_view{} : trim_whitespace(directive.substr(equals + 1));
    // Surrogate-Control may aim a directive at one surrogate: "max-age=60;edge". We take every
    // target to include us.
    if (const auto semicolon = argument.find(';'); semicolon != std::string_view::npos && argument.front() != '"') {
      argument = trim_whitespace(argument.substr(0, semicolon));
    }
    if (iequals(name, "no-store")) control.no_store = true;
    else if (iequals(name, "no-cache")) control.no_cache = true;
    else if (iequals(name, "private")) control.is_private = true;
    else if (iequals(name, "public")) control.is_public = true;
    else if (iequals(name, "must-revalidate")) control.must_revalidate = true;
    else if (iequals(name, "proxy-revalidate")) control.proxy_revalidate = true;
    else if (iequals(name, "no-transform")) control.no_transform = true;
    else if (iequals(name, "must-understand")) control.must_understand = true;
    else if (iequals(name, "max-age")) control.max_age = delta_seconds(argument).value_or(std::chrono::seconds(0));
    else if (iequals(name, "s-maxage")) control.s_maxage = delta_seconds(argument).value_or(std::chrono::seconds(0));
    else if (iequals(name, "stale-while-revalidate")) control.stale_while_revalidate = delta_seconds(argument);
    else if (iequals(name, "stale-if-error")) control.stale_if_error = delta_seconds(argument);
  }
  return control;
}

std::optional<std::string_view> StoredResponse::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers) {
    if (name == lower_name) return std::string_view(value);
  }
  return std::nullopt;
}

std::string StoredResponse::joined(std::string_view lower_name) const {
  std::string out;
  for (const auto& [name, value] : headers) {
    if (name != lower_name) continue;
    if (!out.empty()) out += ", ";
    out += value;
  }
  return out;
}

bool StoredResponse::has(std::string_view lower_name) const {
  return std::any_of(headers.begin(), headers.end(), [&](const Header& field) { return field.first == lower_name; });
}

void StoredResponse::render_headers() {
  std::size_t size = 0;
  for (const auto& [name, value] : headers) {
    if (!is_hop_by_hop(name)) size += name.size() + value.size() + 4;
  }
  std::string rendered;  // sized once: it lives as long as the entry
  rendered.reserve(size);
  for (const auto& [name, value] : headers) {
    if (is_hop_by_hop(name)) continue;
    rendered.append(name).append(": ").append(value).append("\r\n");
  }
  rendered_headers = std::move(rendered);
}

std::size_t StoredResponse::heap_bytes() const {
  std::size_t total = allocation_bytes(headers.capacity() * sizeof(Header)) + strata::heap_bytes(body) +
                      strata::heap_bytes(rendered_headers);
  for (const auto& [name, value] : headers) total += strata::heap_bytes(name) + strata::heap_bytes(value);
  return total;
}

bool is_hop_by_hop(std::string_view name) {
  static constexpr std::array<std::string_view, 10> kNames{
      "connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization",
      "te",         "trailer",    "transfer-encoding", "upgrade",          "content-length"};
  return std::find(kNames.begin(), kNames.end(), name) != kNames.end();
}

bool none_match_satisfied(std::string_view if_none_match, std::string_view etag) {
  if (etag.empty()) return false;
  auto opaque = [](std::string_view tag) {
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    return tag;
  };
  for (auto candidate : split_list(if_none_match)) {
    if (candidate == "*" || opaque(candidate) == opaque(etag)) return true;
  }
  return false;
}

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  const std::string copy(trim_whitespace(text));
  for (const char* format : {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT", "%a %b %d %H:%M:%S %Y"}) {
    std::tm parsed{};
    const char* end = strptime(copy.c_str(), format, &parsed);
    if (end != nullptr && *end == '\0') return static_cast<std::int64_t>(timegm(&parsed));
  }
  return std::nullopt;
}

std::string format_http_date(std::int64_t seconds_since_epoch) {
  const auto time = static_cast<std::time_t>(seconds_since_epoch);
  std::tm parts{};
  gmtime_r(&time, &parts);
  std::array<char, 64> buffer{};
  const auto size = std::strftime(buffer.data(), buffer.size(), "%a, %d %b %Y %H:%M:%S GMT", &parts);
  return std::string(buffer.data(), size);
}

}  // namespace strata::gateway

namespace strata {

using gateway::get_string;
using gateway::get_u32;
using gateway::kFormatVersion;
using gateway::kFormatWithoutFlags;
using gateway::kGatewayEncoded;
using gateway::kSharedWithCredentials;
using gateway::kVariantIndexFormat;
using gateway::put_u32;

std::string Codec<gateway::HttpEntry>::encode(const gateway::HttpEntry& entry) {
  std::string out;
  if (entry.variants != nullptr) {
    out.push_back(kVariantIndexFormat);
    put_u32(out, static_cast<std::uint32_t>(entry.variants->generation.size()));
    out += entry.variants->generation;
    put_u32(out, static_cast<std::uint32_t>(entry.variants->headers.size()));
    for (const auto& name : entry.variants->headers) {
      put_u32(out, static_cast<std::uint32_t>(name.size()));
      out += name;
    }
    return out;
  }
  const auto& response = *entry.response;
  std::size_t size = 13 + response.body.size();
  for (const auto& [name, value] : response.headers) size += 8 + name.size() + value.size();
  out.reserve(size);
  out.push_back(kFormatVersion);
  out.push_back(static_cast<char>(response.status >> 8));
  out.push_back(static_cast<char>(response.status & 0xff));
  out.push_back(static_cast<char>((response.shared_with_credentials ? kSharedWithCredentials : 0) |
                                  (response.gateway_encoded ? kGatewayEncoded : 0)));
  put_u32(out, response.initial_age);
  put_u32(out, static_cast<std::uint32_t>(response.headers.size()));
  for (const auto& [name, value] : response.headers) {
    put_u32(out, static_cast<std::uint32_t>(name.size()));
    out += name;
    put_u32(out, static_cast<std::uint32_t>(value.size()));
    out += value;
  }
  out += response.body;
  return out;
}

std::size_t Codec<gateway::HttpEntry>::footprint(const gateway::HttpEntry& entry) {
  std::size_t total = 0;
  if (entry.response != nullptr) {
    total += shared_object_bytes<gateway::StoredResponse>() + entry.response->heap_bytes();
  }
  if (entry.variants != nullptr) {
    total += shared_object_bytes<gateway::VariantIndex>() + heap_bytes(entry.variants->generation) +
             allocation_bytes(entry.variants->headers.capacity() * sizeof(std::string));
    for (const auto& name : entry.variants->headers) total += heap_bytes(name);
  }
  return total;
}

std::optional<gateway::HttpEntry> Codec<gateway::HttpEntry>::decode(std::string_view bytes) {
  if (!bytes.empty() && bytes[0] == kVariantIndexFormat) {
    bytes.remove_prefix(1);
    auto index = std::make_shared<gateway::VariantIndex>();
    std::uint32_t count = 0;
    if (!get_string(bytes, index->generation) || index->generation.empty() || !get_u32(bytes, count) ||
        count == 0 || count > 64) {
      return std::nullopt;
    }
    index->headers.resize(count);
    for (auto& name : index->headers) {
      if (!get_string(bytes, name) || name.empty()) return std::nullopt;
    }
    if (!bytes.empty()) return std::nullopt;
    gateway::HttpEntry entry;
    entry.variants = std::move(index);
    return entry;
  }
  if (bytes.size() < 3 || (bytes[0] != kFormatVersion && bytes[0] != kFormatWithoutFlags)) return std::nullopt;
  auto response = std::make_shared<gateway::StoredResponse>();
  response->status = (static_cast<unsigned char>(bytes[1]) << 8) | static_cast<unsigned char>(bytes[2]);
  if (response->status < 100 || response->status > 599) return std::nullopt;
  const bool has_flags = bytes[0] == kFormatVersion;
  bytes.remove_prefix(3);
  if (has_flags) {
    if (bytes.empty()) return std::nullopt;
    const auto flags = static_cast<unsigned char>(bytes.front());
    if ((flags & ~(kSharedWithCredentials | kGatewayEncoded)) != 0) return std::nullopt;
    response->shared_with_credentials = (flags & kSharedWithCredentials) != 0;
    response->gateway_encoded = (flags & kGatewayEncoded) != 0;
    bytes.remove_prefix(1);
  }
  if (!get_u32(bytes, response->initial_age)) return std::nullopt;
  std::uint32_t count = 0;
  if (!get_u32(bytes, count) || count > 1000) return std::nullopt;
  response->headers.resize(count);
  for (auto& [name, value] : response->headers) {
    if (!get_string(bytes, name) || !get_string(bytes, value)) return std::nullopt;
  }
  response->body.assign(bytes);
  response->render_headers();
  gateway::HttpEntry entry;
  entry.response = std::move(response);
  return entry;
}

}  // namespace strata
