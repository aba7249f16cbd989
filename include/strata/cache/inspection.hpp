#pragma once

// What the cache holds for one key, for operators (Cache::inspect). Reading it changes nothing:
// no hit or miss is counted and the eviction policy is not told the entry was used.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace strata {

// One tier's copy of an entry. Times are Unix milliseconds (the cache clock's), so that they
// mean the same in every process.
struct StoredCopy {
  std::int64_t created_ms = 0;
  std::int64_t fresh_until_ms = 0;  // served as fresh before this
  std::int64_t stale_until_ms = 0;  // kept for fail-safe and stale-while-revalidate until this
  std::vector<std::string> tags;
  std::string codec;               // "raw", "json", or a custom codec's name
  std::size_t value_bytes = 0;     // the encoded value
  std::size_t stored_bytes = 0;    // what the tier keeps for it (L1: its charge; Redis: the envelope)
  bool invalidated = false;        // a tag or user invalidation since it was written: never served
  std::string value;               // the encoded value, for a caller that knows its codec
};

struct EntryInspection {
  std::string storage_key;  // the key in L1 and Redis (prefix and namespace generation included)
  std::int64_t now_ms = 0;  // the cache clock when it was read
  std::optional<StoredCopy> l1;
  std::optional<StoredCopy> l2;
  bool l2_checked = false;  // Redis configured for this entry and answered
  std::string l2_error;     // why Redis was not read, or what it held that is not an entry

  // The copy a read would be served from (L1's, else Redis'), when one is live.
  [[nodiscard]] const StoredCopy* served() const noexcept {
    if (l1 && !l1->invalidated) return &*l1;
    if (l2 && !l2->invalidated && now_ms < l2->stale_until_ms) return &*l2;
    return nullptr;
  }
};

}  // namespace strata
