#pragma once

// Other codings of stored responses (the identity body of a gzip entry, most often), kept so
// that a hit for a client that cannot take the stored coding does not decode it again. Bounded
// by bytes, least recently used first out; a form lives no longer than the stored response it
// was made from.

#include "gateway/compression.hpp"
#include "gateway/http_cache.hpp"

#include <cstddef>
#include <list>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace strata::gateway {

class Representations {
public:
  explicit Representations(std::size_t capacity_bytes);

  // `stored` in `coding`, when kept.
  [[nodiscard]] std::shared_ptr<const StoredResponse> find(const std::shared_ptr<const StoredResponse>& stored,
                                                           Coding coding);
  void keep(const std::shared_ptr<const StoredResponse>& stored, Coding coding,
            std::shared_ptr<const StoredResponse> form);
  [[nodiscard]] std::size_t bytes() const;

private:
  struct Slot {
    const StoredResponse* source_address;
    Coding coding;
    std::weak_ptr<const StoredResponse> source;
    std::shared_ptr<const StoredResponse> form;
    std::size_t bytes;
  };
  struct Key {
    const StoredResponse* source;
    Coding coding;
    friend bool operator==(const Key&, const Key&) = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& key) const noexcept {
      return std::hash<const void*>{}(key.source) ^ static_cast<std::size_t>(key.coding);
    }
  };
  void erase(std::list<Slot>::iterator slot);

  const std::size_t capacity_;
  mutable std::mutex mutex_;
  std::size_t bytes_ = 0;
  std::list<Slot> recency_;  // most recently used first
  std::unordered_map<Key, std::list<Slot>::iterator, KeyHash> index_;
};

}  // namespace strata::gateway
