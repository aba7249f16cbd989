#include "memory/shard.hpp"

#include "workload/workload.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <set>
#include <utility>
#include <vector>

namespace strata::memory {
namespace {

TimePoint at(std::int64_t seconds) { return TimePoint(std::chrono::seconds(seconds)); }

TEST(ExpiryHeap, TopIsAlwaysTheEarliestExpiryUnderRandomOperations) {
  ExpiryHeap<Node> heap;
  std::vector<std::unique_ptr<Node>> nodes;
  std::multiset<std::pair<TimePoint, Node*>> reference;
  workload::Random random(99);

  for (int step = 0; step < 20'000; ++step) {
    const auto action = random.next_below(4);
    if (action <= 1 || reference.empty()) {
      nodes.push_back(std::make_unique<Node>());
      Node* node = nodes.back().get();
      node->expires_at = at(static_cast<std::int64_t>(random.next_below(1000)));
      heap.push(node);
      reference.emplace(node->expires_at, node);
    } else {
      auto it = reference.begin();
      std::advance(it, static_cast<std::ptrdiff_t>(random.next_below(reference.size())));
      Node* node = it->second;
      reference.erase(it);
      if (action == 2) {
        heap.remove(node);
        EXPECT_EQ(node->heap_index, ExpiryHeap<Node>::kAbsent);
      } else {
        node->expires_at = at(static_cast<std::int64_t>(random.next_below(1000)));
        heap.update(node);
        reference.emplace(node->expires_at, node);
      }
    }
    ASSERT_EQ(heap.size(), reference.size());
    if (!reference.empty()) {
      ASSERT_EQ(heap.top()->expires_at, reference.begin()->first) << "at step " << step;
    }
  }
}

TEST(ExpiryHeap, ResetForgetsEveryNode) {
  ExpiryHeap<Node> heap;
  Node a, b;
  a.expires_at = at(1);
  b.expires_at = at(2);
  heap.push(&a);
  heap.push(&b);
  heap.reset();
  EXPECT_TRUE(heap.empty());
  EXPECT_EQ(a.heap_index, ExpiryHeap<Node>::kAbsent);
  EXPECT_EQ(b.heap_index, ExpiryHeap<Node>::kAbsent);
}

}  // namespace
}  // namespace strata::memory
