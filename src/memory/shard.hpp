#pragma once

#include "memory/expiry_heap.hpp"
#include "memory/frequency_sketch.hpp"
#include "memory/intrusive_list.hpp"
#include "memory/node_index.hpp"

#include <strata/bytes.hpp>
#include <strata/clock.hpp>
#include <strata/memory_store.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace strata::memory {

using TimePoint = Clock::time_point;
inline constexpr TimePoint kNever = TimePoint::max();

enum class Segment : std::uint8_t { window, probation, protected_area };

// One entry. The key's bytes follow the struct in the same allocation (see create()), so that
// a lookup that finds the node finds the key on the same or the next cache line.
struct Node {
  Bytes value;
  std::uint64_t hash = 0;
  TimePoint expires_at = kNever;
  Node* prev = nullptr;
  Node* next = nullptr;
  std::size_t charge = 0;
  std::uint32_t heap_index = ExpiryHeap<Node>::kAbsent;
  std::uint32_t key_size = 0;
  Segment segment = Segment::window;

  [[nodiscard]] std::string_view key() const noexcept {
    return {reinterpret_cast<const char*>(this + 1), key_size};
  }
  static Node* create(std::string_view key, std::uint64_t hash, Bytes value, TimePoint expires_at);
  static void destroy(Node* node) noexcept;
};

struct ShardConfig {
  std::size_t capacity_bytes = 0;
  EvictionPolicy policy = EvictionPolicy::w_tinylfu;
  double window_fraction = 0.01;
  double protected_fraction = 0.80;
  bool adaptive_window = true;
  std::size_t expected_entry_bytes = 1024;
  std::size_t sweep_batch = 8;
  std::uint64_t seed = 1;
};

// One shard of the MemoryStore: hash map, eviction policy and expiry index. Not thread-safe:
// MemoryStore serialises access with the shard's lock. Under W-TinyLFU new entries enter an LRU
// window; entries leaving the window become candidates that replace the probation segment's LRU
// victim only if TinyLFU estimates them more frequent; a probation hit promotes to the protected
// segment. With an adaptive window the split between window and main area follows the hit rate
// (hill climbing, as in Caffeine): recency-friendly workloads get a larger window, frequency-
// friendly ones a smaller one. Under LRU the window spans the whole shard and nothing is filtered.
class Shard {
public:
  explicit Shard(const ShardConfig& config);
  ~Shard();
  Shard(const Shard&) = delete;
  Shard& operator=(const Shard&) = delete;

  std::optional<Bytes> get(std::string_view key, std::uint64_t hash, TimePoint now);
  // The live value under `key` and its expiry, leaving recency, frequency and counters alone.
  [[nodiscard]] std::optional<std::pair<Bytes, TimePoint>> peek(std::string_view key, std::uint64_t hash,
                                                                TimePoint now) const;
  // May be called without the shard's lock, before taking it.
  void prefetch(std::uint64_t hash) const noexcept { index_.prefetch(hash); }
  bool set(std::string_view key, std::uint64_t hash, Bytes value, TimePoint expires_at,
           TimePoint now, std::size_t footprint = 0);
  bool erase(std::string_view key, std::uint64_t hash);
  // Removes every entry whose key satisfies `matches`; returns how many.
  std::size_t erase_if(const std::function<bool(std::string_view)>& matches);
  // How many live entries' keys satisfy `matches`; nothing is touched.
  [[nodiscard]] std::size_t count_if(const std::function<bool(std::string_view)>& matches, TimePoint now) const;
  void clear() noexcept;
  std::size_t sweep_expired(TimePoint now, std::size_t max_entries);

  [[nodiscard]] std::size_t bytes_used() const noexcept {
    return window_bytes_ + probation_bytes_ + protected_bytes_;
  }
  [[nodiscard]] std::size_t size() const noexcept { return index_.size(); }
  [[nodiscard]] std::size_t capacity_bytes() const noexcept { return capacity_; }
  [[nodiscard]] const MemoryStoreStats& counters() const noexcept { return counters_; }
  void reset_counters() noexcept { counters_ = {}; }

  // Introspection for tests of the policy (they apply pending reads first).
  [[nodiscard]] std::optional<Segment> segment_of(std::string_view key, std::uint64_t hash);
  [[nodiscard]] std::size_t segment_bytes(Segment segment) noexcept;
  [[nodiscard]] const TinyLfu& frequency_filter() const noexcept { return filter_; }
  [[nodiscard]] std::size_t window_capacity() const noexcept { return window_capacity_; }
  [[nodiscard]] std::size_t protected_capacity() const noexcept { return protected_capacity_; }

private:
  enum class Removal { erased, evicted_by_size, rejected_at_admission, expired, replaced };

  Node* find(std::string_view key, std::uint64_t hash) const;
  void on_access(Node* node) noexcept;
  void drain_reads() noexcept;
  void make_room();
  Node* move_window_overflow_to_probation() noexcept;
  void evict_from_main(Node* candidate);
  void demote_protected_overflow() noexcept;
  void record_lookup(bool hit) noexcept;
  void climb() noexcept;
  void resize_window(double change_bytes) noexcept;
  bool admit(const Node* candidate, const Node* victim) noexcept;
  void remove(Node* node, Removal why) noexcept;
  IntrusiveList<Node>& list_of(Segment segment) noexcept;
  std::size_t& bytes_of(Segment segment) noexcept;
  void attach(Node* node, Segment segment) noexcept;
  void detach(Node* node) noexcept;
  std::uint64_t next_random() noexcept;

  const bool filtered_;  // W-TinyLFU (true) or LRU (false)
  const bool adaptive_;
  const std::size_t capacity_;
  std::size_t window_capacity_;
  std::size_t protected_capacity_;
  const std::size_t expected_entry_bytes_;
  const std::size_t sweep_batch_;

  NodeIndex<Node> index_;
  IntrusiveList<Node> window_;
  IntrusiveList<Node> probation_;
  IntrusiveList<Node> protected_;
  std::size_t window_bytes_ = 0;
  std::size_t probation_bytes_ = 0;
  std::size_t protected_bytes_ = 0;
  ExpiryHeap<Node> expiry_;
  TinyLfu filter_;
  std::uint64_t random_state_;
  // Hits whose policy update (sketch, segment move) is deferred and applied in a batch, so the
  // batch's cache misses overlap instead of each hit paying for them in turn. Drained before
  // anything that may free a node, so every pointer here is live.
  static constexpr std::size_t kReadBufferSize = 32;
  std::array<Node*, kReadBufferSize> pending_reads_{};
  std::size_t pending_count_ = 0;
  // Hill climbing: lookups in the current sample, the previous sample's hit rate, next step.
  std::uint64_t sample_hits_ = 0;
  std::uint64_t sample_misses_ = 0;
  double previous_hit_rate_ = 0.0;
  double step_bytes_;
  MemoryStoreStats counters_;
};

}  // namespace strata::memory
