#include "gateway/revalidation.hpp"

#include <algorithm>

namespace strata::gateway {

std::vector<Header> validators_for(const StoredResponse& stored) {
  std::vector<Header> out;
  if (auto etag = stored.header("etag"); etag && !etag->empty()) out.emplace_back("if-none-match", std::string(*etag));
  if (auto modified = stored.header("last-modified"); modified && parse_http_date(*modified)) {
    out.emplace_back("if-modified-since", std::string(*modified));
  }
  return out;
}

std::shared_ptr<StoredResponse> refreshed_by(const StoredResponse& stored, const StoredResponse& not_modified) {
  auto refreshed = std::make_shared<StoredResponse>(stored);
  auto kept = [&](std::string_view name) {
    return is_hop_by_hop(name) || name == "content-encoding" || name == "content-range" || name == "content-md5" ||
           name == "etag" || name == "age";
  };
  std::vector<std::string> replaced;
  for (const auto& field : not_modified.headers) {
    const std::string& name = field.first;  // not a structured binding: clang 15 cannot capture those
    if (kept(name)) continue;
    if (std::find(replaced.begin(), replaced.end(), name) == replaced.end()) {
      std::erase_if(refreshed->headers, [&](const Header& old) { return old.first == name; });
      replaced.push_back(name);
    }
    refreshed->headers.emplace_back(name, field.second);
  }
  refreshed->render_headers();
  return refreshed;
}

bool forbids_stale(const CacheControl& control) {
  return control.must_revalidate || control.proxy_revalidate || control.s_maxage.has_value() || control.no_cache;
}

bool forbids_stale(const StoredResponse& stored) {
  return forbids_stale(parse_cache_control(stored.joined("cache-control")));
}

bool stale_may_stand_in(const StoredResponse& stored, const Rule* rule, bool unreachable) {
  const auto control = parse_cache_control(stored.joined("cache-control"));
  if (forbids_stale(control)) return false;
  if (unreachable) return true;
  const bool rule_window = rule != nullptr && (rule->stale_if_error.count() > 0 || rule->stale_while_revalidate.count() > 0);
  return rule_window || control.stale_if_error.has_value() || control.stale_while_revalidate.has_value();
}

}  // namespace strata::gateway
