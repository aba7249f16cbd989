#pragma once

#include <cassert>
#include <cstdint>
#include <utility>
#include <vector>

namespace strata::memory {

// A binary min-heap of nodes ordered by `expires_at`, where every node remembers its own
// position (`heap_index`) so it can be removed or re-keyed in O(log n). Holds only entries
// that expire; the earliest expiry is always at the top, so reclaiming expired entries
// touches only expired entries.
template <typename Node>
class ExpiryHeap {
public:
  static constexpr std::uint32_t kAbsent = UINT32_MAX;

  [[nodiscard]] bool empty() const noexcept { return nodes_.empty(); }
  [[nodiscard]] std::size_t size() const noexcept { return nodes_.size(); }
  [[nodiscard]] Node* top() const noexcept { return nodes_.empty() ? nullptr : nodes_.front(); }

  void push(Node* node) {
    assert(node->heap_index == kAbsent);
    node->heap_index = static_cast<std::uint32_t>(nodes_.size());
    nodes_.push_back(node);
    sift_up(node->heap_index);
  }

  void remove(Node* node) noexcept {
    const std::uint32_t index = node->heap_index;
    assert(index < nodes_.size() && nodes_[index] == node);
    const std::uint32_t last = static_cast<std::uint32_t>(nodes_.size() - 1);
    if (index != last) {
      place(index, nodes_[last]);
      nodes_.pop_back();
      restore(index);
    } else {
      nodes_.pop_back();
    }
    node->heap_index = kAbsent;
  }

  // Call after changing node->expires_at of a node in the heap.
  void update(Node* node) noexcept { restore(node->heap_index); }

  void reset() noexcept {
    for (Node* node : nodes_) node->heap_index = kAbsent;
    nodes_.clear();
  }

private:
  void place(std::uint32_t index, Node* node) noexcept {
    nodes_[index] = node;
    node->heap_index = index;
  }

  void restore(std::uint32_t index) noexcept {
    if (index > 0 && nodes_[index]->expires_at < nodes_[(index - 1) / 2]->expires_at) {
      sift_up(index);
    } else {
      sift_down(index);
    }
  }

  void sift_up(std::uint32_t index) noexcept {
    Node* node = nodes_[index];
    while (index > 0) {
      const std::uint32_t parent = (index - 1) / 2;
      if (!(node->expires_at < nodes_[parent]->expires_at)) break;
      place(index, nodes_[parent]);
      index = parent;
    }
    place(index, node);
  }

  void sift_down(std::uint32_t index) noexcept {
    Node* node = nodes_[index];
    const std::size_t count = nodes_.size();
    while (true) {
      std::size_t child = 2 * static_cast<std::size_t>(index) + 1;
      if (child >= count) break;
      if (child + 1 < count && nodes_[child + 1]->expires_at < nodes_[child]->expires_at) ++child;
      if (!(nodes_[child]->expires_at < node->expires_at)) break;
      place(index, nodes_[child]);
      index = static_cast<std::uint32_t>(child);
    }
    place(index, node);
  }

  std::vector<Node*> nodes_;
};

}  // namespace strata::memory
