#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace strata::memory {

// The shard's hash index: open addressing with linear probing over {hash, node} slots. Each
// probe compares the stored 64-bit hash before touching a node, so a lookup costs one cache
// miss for the slot and one for the matching node. Deletion shifts later slots back instead
// of leaving tombstones, so probe chains never degrade. Node must expose `hash` and `key()`.
template <typename Node>
class NodeIndex {
public:
  NodeIndex() {
    slots_.resize(kInitialSlots);
    publish();
  }

  // Starts loading the slot where `hash` begins its probe. Safe without the shard's lock: it
  // reads only the published address, and prefetching a stale address cannot fault.
  void prefetch(std::uint64_t hash) const noexcept {
    const Slot* slots = published_slots_.load(std::memory_order_relaxed);
    const std::size_t mask = published_mask_.load(std::memory_order_relaxed);
    __builtin_prefetch(slots + (hash & mask));
  }

  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] std::size_t slot_count() const noexcept { return slots_.size(); }

  [[nodiscard]] Node* find(std::string_view key, std::uint64_t hash) const noexcept {
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& slot = slots_[i];
      if (slot.node == nullptr) return nullptr;
      if (slot.hash == hash && slot.node->key() == key) return slot.node;
    }
  }

  // `node` must not be present already.
  void insert(Node* node) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    place(node);
    ++size_;
  }

  void erase(const Node* node) noexcept {
    const std::size_t mask = slots_.size() - 1;
    std::size_t hole = node->hash & mask;
    while (slots_[hole].node != node) hole = (hole + 1) & mask;
    // Backward-shift: move up every later slot of the run that may live in the hole.
    for (std::size_t next = (hole + 1) & mask; slots_[next].node != nullptr; next = (next + 1) & mask) {
      const std::size_t home = slots_[next].hash & mask;
      const bool home_between_hole_and_next =
          hole <= next ? (hole < home && home <= next) : (hole < home || home <= next);
      if (home_between_hole_and_next) continue;
      slots_[hole] = slots_[next];
      hole = next;
    }
    slots_[hole] = Slot{};
    --size_;
  }

  template <typename Visitor>
  void for_each(Visitor&& visit) const {
    for (const Slot& slot : slots_) {
      if (slot.node != nullptr) visit(slot.node);
    }
  }

  void clear() noexcept {
    slots_.assign(kInitialSlots, Slot{});
    size_ = 0;
    publish();
  }

private:
  static constexpr std::size_t kInitialSlots = 16;

  struct Slot {
    std::uint64_t hash = 0;
    Node* node = nullptr;
  };

  void place(Node* node) noexcept {
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = node->hash & mask;
    while (slots_[i].node != nullptr) i = (i + 1) & mask;
    slots_[i] = Slot{node->hash, node};
  }

  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    for (const Slot& slot : old) {
      if (slot.node != nullptr) place(slot.node);
    }
    publish();
  }

  void publish() noexcept {
    // Mask first: a reader pairing the new mask with the old array at worst prefetches a
    // line past it, which is harmless.
    published_mask_.store(slots_.size() - 1, std::memory_order_relaxed);
    published_slots_.store(slots_.data(), std::memory_order_relaxed);
  }

  std::vector<Slot> slots_;
  std::size_t size_ = 0;
  std::atomic<const Slot*> published_slots_{nullptr};
  std::atomic<std::size_t> published_mask_{0};
};

}  // namespace strata::memory
