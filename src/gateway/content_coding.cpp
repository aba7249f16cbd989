#include "gateway/content_coding.hpp"

#include "gateway/http_cache.hpp"
#include "gateway/route.hpp"

#include <charconv>
#include <optional>
#include <string>

namespace strata::gateway {

namespace {

std::string canonical_coding(std::string_view coding) {
  std::string name = ascii_lower(trim_whitespace(coding));
  if (name == "x-gzip") return "gzip";
  if (name == "x-compress") return "compress";
  return name;
}

// The weight of "coding;q=0.5": 1000 for 1, 0 for 0; nullopt when the q-value is malformed (the
// member is then ignored, as if absent).
std::optional<int> weight(std::string_view parameters) {
  int result = 1000;
  while (!parameters.empty()) {
    const auto semicolon = parameters.find(';');
    const auto parameter = trim_whitespace(parameters.substr(0, semicolon));
    parameters = semicolon == std::string_view::npos ? std::string_view() : parameters.substr(semicolon + 1);
    const auto equals = parameter.find('=');
    if (equals == std::string_view::npos) continue;
    if (canonical_coding(parameter.substr(0, equals)) != "q") continue;
    const auto value = trim_whitespace(parameter.substr(equals + 1));
    // qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
    if (value.empty() || value.size() > 5 || (value[0] != '0' && value[0] != '1')) return std::nullopt;
    if (value.size() > 1 && value[1] != '.') return std::nullopt;
    int thousandths = value[0] == '1' ? 1000 : 0;
    int scale = 100;
    for (std::size_t i = 2; i < value.size(); ++i, scale /= 10) {
      if (value[i] < '0' || value[i] > '9') return std::nullopt;
      thousandths += (value[i] - '0') * scale;
    }
    if (thousandths > 1000) return std::nullopt;
    result = thousandths;
  }
  return result;
}

}  // namespace

bool accepts_coding(std::string_view accept_encoding, std::string_view coding) {
  const std::string wanted = canonical_coding(coding);
  std::optional<int> listed;
  std::optional<int> any;
  for (auto member : split_list(accept_encoding)) {
    const auto semicolon = member.find(';');
    const auto name = canonical_coding(member.substr(0, semicolon));
    const auto q = weight(semicolon == std::string_view::npos ? std::string_view() : member.substr(semicolon + 1));
    if (!q) continue;
    if (name == wanted) listed = std::max(listed.value_or(0), *q);
    else if (name == "*") any = std::max(any.value_or(0), *q);
  }
  if (listed) return *listed > 0;
  if (wanted == "identity") return !any || *any > 0;  // refused only by "identity;q=0" or "*;q=0"
  return any && *any > 0;
}

bool accepts_content_encoding(std::string_view accept_encoding, std::string_view content_encoding) {
  for (auto coding : split_list(content_encoding)) {
    if (canonical_coding(coding) == "identity") continue;
    if (!accepts_coding(accept_encoding, coding)) return false;
  }
  return true;
}

CodingChoice choose_coding(std::string_view accept_encoding, Coding stored) {
  if (accepts_coding(accept_encoding, coding_name(stored))) return {CodingChoice::Action::as_stored, stored};
  if (accepts_coding(accept_encoding, "identity")) return {CodingChoice::Action::decode, Coding::identity};
  for (const Coding coding : {Coding::gzip, Coding::br, Coding::zstd}) {
    if (coding != stored && accepts_coding(accept_encoding, coding_name(coding))) return {CodingChoice::Action::encode, coding};
  }
  return {CodingChoice::Action::refuse, Coding::identity};
}

bool compressible_type(std::string_view content_type, const std::vector<std::string>& types) {
  const std::string type = ascii_lower(trim_whitespace(content_type.substr(0, content_type.find(';'))));
  if (type.empty()) return false;
  for (const auto& pattern : types) {
    if (pattern == type) return true;
    if (pattern.size() > 2 && pattern.ends_with("/*") && type.starts_with(pattern.substr(0, pattern.size() - 1))) return true;
    if (pattern.size() > 1 && pattern.front() == '*' && type.ends_with(pattern.substr(1))) return true;
  }
  return false;
}

}  // namespace strata::gateway
