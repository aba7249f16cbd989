#include "gateway/hot_set.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>

namespace strata::gateway {

namespace json = boost::json;

HotSet::HotSet(std::size_t capacity, unsigned sample_every)
    : capacity_(capacity), sample_every_(std::max(1U, sample_every)) {}

bool HotSet::sampling() const noexcept {
  if (capacity_ == 0) return false;
  thread_local unsigned countdown = 0;
  if (countdown != 0) {
    --countdown;
    return false;
  }
  countdown = sample_every_ - 1;
  return true;
}

void HotSet::record(std::string_view target, HeaderValues headers) {
  if (capacity_ == 0) return;
  std::string key(target);
  for (const auto& [name, value] : headers) key.append(1, '\0').append(name).append(1, '\0').append(value);
  std::lock_guard lock(mutex_);
  if (++recorded_ % (16 * capacity_) == 0) fade_locked();
  auto found = counts_.find(key);
  if (found == counts_.end()) {
    if (counts_.size() >= 4 * capacity_) drop_coldest_locked();
    found = counts_.emplace(std::move(key), Counted{std::move(headers), 0}).first;
  }
  ++found->second.count;
}

void HotSet::fade_locked() {
  for (auto it = counts_.begin(); it != counts_.end();) {
    it->second.count /= 2;
    it = it->second.count == 0 ? counts_.erase(it) : std::next(it);
  }
}

void HotSet::drop_coldest_locked() {
  // Down to three quarters of the bound, the least counted first: a scan of one-off targets
  // pushes out other one-offs, not what is asked for again and again.
  const std::size_t room = 3 * capacity_;
  if (counts_.size() <= room) return;
  std::vector<std::uint64_t> values;
  values.reserve(counts_.size());
  for (const auto& [key, counted] : counts_) values.push_back(counted.count);
  const auto cut = values.begin() + static_cast<std::ptrdiff_t>(values.size() - room);
  std::nth_element(values.begin(), cut, values.end());
  const std::uint64_t threshold = *cut;
  std::size_t excess = counts_.size() - room;
  for (const bool below_only : {true, false}) {
    for (auto it = counts_.begin(); it != counts_.end() && excess > 0;) {
      const bool drop = below_only ? it->second.count < threshold : it->second.count == threshold;
      if (drop) {
        it = counts_.erase(it);
        --excess;
      } else {
        ++it;
      }
    }
  }
}

std::vector<HotTarget> HotSet::hottest() const {
  std::vector<HotTarget> out;
  {
    std::lock_guard lock(mutex_);
    out.reserve(counts_.size());
    for (const auto& [key, counted] : counts_) {
      out.push_back(HotTarget{key.substr(0, key.find('\0')), counted.headers, counted.count});
    }
  }
  const auto keep = std::min(out.size(), capacity_);
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(keep), out.end(),
                    [](const HotTarget& a, const HotTarget& b) {
                      return a.count != b.count ? a.count > b.count : a.target < b.target;
                    });
  out.resize(keep);
  return out;
}

std::size_t HotSet::tracked() const {
  std::lock_guard lock(mutex_);
  return counts_.size();
}

std::string hot_set_json(const std::vector<HotTarget>& entries, std::int64_t written_unix_ms) {
  json::array list;
  for (const auto& entry : entries) {
    json::object item;
    item["target"] = entry.target;
    json::object headers;
    for (const auto& [name, value] : entry.headers) headers[name] = value;
    item["headers"] = std::move(headers);
    item["count"] = entry.count;
    list.push_back(std::move(item));
  }
  json::object document;
  document["version"] = 1;
  document["written_unix_ms"] = written_unix_ms;
  document["entries"] = std::move(list);
  return json::serialize(document);
}

std::optional<std::vector<HotTarget>> parse_hot_set(std::string_view text, std::string* error) {
  boost::system::error_code code;
  const auto document = json::parse(text, code);
  if (code || !document.is_object()) {
    *error = "not a JSON object" + (code ? ": " + code.message() : std::string());
    return std::nullopt;
  }
  const auto& object = document.as_object();
  const auto* version = object.if_contains("version");
  if (version == nullptr || !version->is_int64() || version->as_int64() != 1) {
    *error = "\"version\" is not 1 (written by another Strata version?)";
    return std::nullopt;
  }
  const auto* entries = object.if_contains("entries");
  if (entries == nullptr || !entries->is_array()) {
    *error = "\"entries\" must be an array";
    return std::nullopt;
  }
  std::vector<HotTarget> out;
  std::size_t index = 0;
  for (const auto& value : entries->as_array()) {
    const auto* item = value.if_object();
    const auto* target = item != nullptr ? item->if_contains("target") : nullptr;
    if (target == nullptr || !target->is_string() || target->as_string().empty() || target->as_string()[0] != '/') {
      *error = "entries[" + std::to_string(index) + "]: \"target\" must be a path starting with '/'";
      return std::nullopt;
    }
    HotTarget entry;
    entry.target = std::string(target->as_string());
    if (const auto* headers = item->if_contains("headers"); headers != nullptr) {
      if (!headers->is_object()) {
        *error = "entries[" + std::to_string(index) + "]: \"headers\" must be an object";
        return std::nullopt;
      }
      for (const auto& [name, header] : headers->as_object()) {
        if (!header.is_string()) {
          *error = "entries[" + std::to_string(index) + "]: header \"" + std::string(name) + "\" must be a string";
          return std::nullopt;
        }
        entry.headers.emplace_back(std::string(name), std::string(header.as_string()));
      }
    }
    if (const auto* count = item->if_contains("count"); count != nullptr && count->is_uint64()) entry.count = count->as_uint64();
    if (const auto* count = item->if_contains("count"); count != nullptr && count->is_int64() && count->as_int64() > 0) {
      entry.count = static_cast<std::uint64_t>(count->as_int64());
    }
    out.push_back(std::move(entry));
    ++index;
  }
  return out;
}

}  // namespace strata::gateway
