#include "gateway/variants.hpp"

#include "gateway/identity.hpp"
#include "gateway/route.hpp"

#include <algorithm>

namespace strata::gateway {

std::optional<std::vector<std::string>> varied_headers(const StoredResponse& response,
                                                       const std::vector<std::string>& keyed) {
  std::vector<std::string> names;
  // A view into this string is kept by the loop: it must outlive it.
  const std::string vary = response.joined("vary");
  for (auto item : split_list(vary)) {
    auto name = ascii_lower(item);
    if (name == "*") return std::nullopt;
    if (name == "accept-encoding" || std::find(keyed.begin(), keyed.end(), name) != keyed.end()) continue;
    names.push_back(std::move(name));
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

std::optional<std::string> normalized_field(const boost::beast::http::request<boost::beast::http::string_body>& request,
                                            std::string_view name) {
  std::optional<std::string> value;
  for (auto [at, end] = request.equal_range(name); at != end; ++at) {
    if (!value) value.emplace();
    for (auto item : split_list(at->value())) {
      if (!value->empty()) value->push_back(',');
      value->append(item);
    }
  }
  return value;
}

std::string variant_id(const boost::beast::http::request<boost::beast::http::string_body>& request,
                       const std::vector<std::string>& headers) {
  std::string material;
  for (const auto& name : headers) {
    const auto value = normalized_field(request, name);
    // Length-prefixed, so that no two different value lists read the same.
    material += name;
    material += value ? "=" + std::to_string(value->size()) + ":" + *value : std::string("!");
    material.push_back('\n');
  }
  return sha256_hex(material).substr(0, 32);
}

std::string new_variant_generation() { return random_hex(12); }

bool VariantCounts::admit(const std::string& generation, const std::string& id, std::size_t limit) {
  std::lock_guard lock(mutex_);
  if (seen_.size() >= capacity_ && !seen_.contains(generation)) seen_.clear();
  auto& ids = seen_[generation];
  if (std::find(ids.begin(), ids.end(), id) != ids.end()) return true;
  if (ids.size() >= limit) return false;
  ids.push_back(id);
  return true;
}

}  // namespace strata::gateway
