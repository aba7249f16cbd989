#pragma once

#include <cassert>
#include <cstddef>

namespace strata::memory {

// A doubly linked list threaded through the nodes' own prev/next pointers: O(1) push, unlink
// and move without allocating. Front is the least recently used end, back the most recent.
// A node belongs to at most one list at a time.
template <typename Node>
class IntrusiveList {
public:
  [[nodiscard]] bool empty() const noexcept { return head_ == nullptr; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] Node* front() const noexcept { return head_; }
  [[nodiscard]] Node* back() const noexcept { return tail_; }

  void push_back(Node* node) noexcept {
    node->prev = tail_;
    node->next = nullptr;
    if (tail_ != nullptr) {
      tail_->next = node;
    } else {
      head_ = node;
    }
    tail_ = node;
    ++size_;
  }

  void unlink(Node* node) noexcept {
    assert(size_ > 0);
    if (node->prev != nullptr) {
      node->prev->next = node->next;
    } else {
      head_ = node->next;
    }
    if (node->next != nullptr) {
      node->next->prev = node->prev;
    } else {
      tail_ = node->prev;
    }
    node->prev = node->next = nullptr;
    --size_;
  }

  void move_to_back(Node* node) noexcept {
    if (node == tail_) return;
    unlink(node);
    push_back(node);
  }

  // Forgets every node without touching them (the owner frees them).
  void reset() noexcept {
    head_ = tail_ = nullptr;
    size_ = 0;
  }

private:
  Node* head_ = nullptr;
  Node* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace strata::memory
