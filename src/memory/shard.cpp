#include "memory/shard.hpp"

#include <algorithm>
#include <cmath>

namespace strata::memory {
namespace {

std::size_t fraction_of(std::size_t bytes, double fraction) {
  return static_cast<std::size_t>(std::floor(static_cast<double>(bytes) * fraction));
}

// The admission window always holds at least one byte so a lone newcomer has somewhere to be.
std::size_t window_capacity_for(const ShardConfig& config) {
  if (config.policy == EvictionPolicy::lru) return config.capacity_bytes;
  return std::max<std::size_t>(1, fraction_of(config.capacity_bytes, config.window_fraction));
}

}  // namespace

Shard::Shard(const ShardConfig& config)
    : filtered_(config.policy == EvictionPolicy::w_tinylfu),
      capacity_(config.capacity_bytes),
      window_capacity_(window_capacity_for(config)),
      protected_capacity_(fraction_of(capacity_ - window_capacity_, config.protected_fraction)),
      expected_entry_bytes_(std::max<std::size_t>(config.expected_entry_bytes, 1)),
      sweep_batch_(config.sweep_batch),
      filter_(filtered_ ? capacity_ / expected_entry_bytes_ : 0),
      random_state_(config.seed | 1) {}

Shard::~Shard() { clear(); }

Node* Shard::find(std::string_view key, std::uint64_t hash) const {
  const auto it = index_.find(KeyRef{key, hash});
  return it == index_.end() ? nullptr : *it;
}

std::optional<Bytes> Shard::get(std::string_view key, std::uint64_t hash, TimePoint now) {
  Node* node = find(key, hash);
  if (node == nullptr) {
    ++counters_.misses;
    return std::nullopt;
  }
  if (node->expires_at <= now) {
    remove(node, Removal::expired);
    ++counters_.misses;
    return std::nullopt;
  }
  ++counters_.hits;
  on_access(node);
  return node->value;
}

bool Shard::set(std::string_view key, std::uint64_t hash, Bytes value, TimePoint expires_at,
                TimePoint now) {
  const std::size_t charge = MemoryStore::charge_of(key.size(), value.size());
  Node* node = find(key, hash);
  if (expires_at <= now || charge > capacity_) {
    // Dropping the old value is what keeps a refused write from leaving stale data behind.
    if (node != nullptr) remove(node, Removal::replaced);
    if (charge > capacity_) ++counters_.rejected_too_large;
    return false;
  }
  sweep_expired(now, sweep_batch_);
  node = find(key, hash);  // the sweep may have reclaimed it

  if (node != nullptr) {
    bytes_of(node->segment) += charge;
    bytes_of(node->segment) -= node->charge;
    node->charge = charge;
    node->value = std::move(value);
    const bool was_in_heap = node->heap_index != ExpiryHeap<Node>::kAbsent;
    node->expires_at = expires_at;
    if (expires_at == kNever) {
      if (was_in_heap) expiry_.remove(node);
    } else if (was_in_heap) {
      expiry_.update(node);
    } else {
      expiry_.push(node);
    }
    ++counters_.updates;
    on_access(node);
  } else {
    node = new Node{std::string(key), std::move(value), hash, expires_at};
    node->charge = charge;
    index_.insert(node);
    attach(node, Segment::window);
    if (expires_at != kNever) expiry_.push(node);
    ++counters_.inserts;
    if (filtered_) filter_.record(hash);
  }
  make_room();
  // Judged after eviction: the newcomer's transient extra entry must not make the sketch grow,
  // because growing forgets every frequency counted so far.
  if (filtered_) filter_.ensure_capacity(index_.size());
  return true;
}

bool Shard::erase(std::string_view key, std::uint64_t hash) {
  Node* node = find(key, hash);
  if (node == nullptr) return false;
  remove(node, Removal::erased);
  return true;
}

void Shard::clear() noexcept {
  // The heap writes into the nodes as it forgets them, so it goes before they are freed.
  expiry_.reset();
  window_.reset();
  probation_.reset();
  protected_.reset();
  window_bytes_ = probation_bytes_ = protected_bytes_ = 0;
  for (Node* node : index_) delete node;
  index_.clear();
}

std::size_t Shard::sweep_expired(TimePoint now, std::size_t max_entries) {
  std::size_t reclaimed = 0;
  while (reclaimed < max_entries) {
    Node* earliest = expiry_.top();
    if (earliest == nullptr || earliest->expires_at > now) break;
    remove(earliest, Removal::expired);
    ++reclaimed;
  }
  return reclaimed;
}

void Shard::on_access(Node* node) noexcept {
  if (filtered_) filter_.record(node->hash);
  switch (node->segment) {
    case Segment::window:
      window_.move_to_back(node);
      break;
    case Segment::probation:
      detach(node);
      attach(node, Segment::protected_area);
      demote_protected_overflow();
      break;
    case Segment::protected_area:
      protected_.move_to_back(node);
      break;
  }
}

void Shard::demote_protected_overflow() noexcept {
  // Keep the most recent protected entry even if it alone exceeds the segment.
  while (protected_bytes_ > protected_capacity_ && protected_.size() > 1) {
    Node* demoted = protected_.front();
    detach(demoted);
    attach(demoted, Segment::probation);
  }
}

void Shard::make_room() {
  Node* first_candidate = move_window_overflow_to_probation();
  evict_from_main(first_candidate);
}

Node* Shard::move_window_overflow_to_probation() noexcept {
  Node* first_moved = nullptr;
  while (window_bytes_ > window_capacity_ && !window_.empty()) {
    Node* oldest = window_.front();
    detach(oldest);
    attach(oldest, Segment::probation);
    if (first_moved == nullptr) first_moved = oldest;
  }
  return first_moved;
}

// Candidates are the entries just moved out of the window: a run at the most-recent end of
// probation, oldest first. Each competes against the least recent resident entry (probation
// first, then protected) and the less frequent of the two leaves, until the shard fits.
void Shard::evict_from_main(Node* candidate) {
  while (bytes_used() > capacity_) {
    Node* victim = probation_.front();
    if (victim == candidate) victim = nullptr;  // probation holds only candidates
    if (victim == nullptr) victim = protected_.front();

    if (candidate == nullptr) {
      if (victim == nullptr) victim = probation_.empty() ? window_.front() : probation_.front();
      remove(victim, Removal::evicted_by_size);
      continue;
    }
    if (victim == nullptr) {
      // Only newcomers are left: they leave in LRU order, with no one to compete against.
      Node* next = candidate->next;
      remove(candidate, Removal::evicted_by_size);
      candidate = next;
      continue;
    }
    if (admit(candidate, victim)) {
      remove(victim, Removal::evicted_by_size);
    } else {
      Node* next = candidate->next;
      remove(candidate, Removal::rejected_at_admission);
      candidate = next;
    }
  }
}

bool Shard::admit(const Node* candidate, const Node* victim) noexcept {
  const unsigned candidate_frequency = filter_.frequency(candidate->hash);
  const unsigned victim_frequency = filter_.frequency(victim->hash);
  if (candidate_frequency > victim_frequency) return true;
  // A warm candidate that loses still gets in now and then, so an attacker who inflates a
  // victim's count with colliding keys cannot keep a popular newcomer out forever.
  if (candidate_frequency <= 5) return false;
  return (next_random() & 127U) == 0;
}

void Shard::remove(Node* node, Removal why) noexcept {
  switch (why) {
    case Removal::erased: ++counters_.erases; break;
    case Removal::evicted_by_size: ++counters_.evictions_by_size; break;
    case Removal::rejected_at_admission: ++counters_.admission_rejections; break;
    case Removal::expired: ++counters_.evictions_by_expiry; break;
    case Removal::replaced: break;
  }
  detach(node);
  if (node->heap_index != ExpiryHeap<Node>::kAbsent) expiry_.remove(node);
  index_.erase(node);
  delete node;
}

IntrusiveList<Node>& Shard::list_of(Segment segment) noexcept {
  switch (segment) {
    case Segment::window: return window_;
    case Segment::probation: return probation_;
    case Segment::protected_area: return protected_;
  }
  return window_;
}

std::size_t& Shard::bytes_of(Segment segment) noexcept {
  switch (segment) {
    case Segment::window: return window_bytes_;
    case Segment::probation: return probation_bytes_;
    case Segment::protected_area: return protected_bytes_;
  }
  return window_bytes_;
}

void Shard::attach(Node* node, Segment segment) noexcept {
  node->segment = segment;
  list_of(segment).push_back(node);
  bytes_of(segment) += node->charge;
}

void Shard::detach(Node* node) noexcept {
  list_of(node->segment).unlink(node);
  bytes_of(node->segment) -= node->charge;
}

std::size_t Shard::segment_bytes(Segment segment) const noexcept {
  switch (segment) {
    case Segment::window: return window_bytes_;
    case Segment::probation: return probation_bytes_;
    case Segment::protected_area: return protected_bytes_;
  }
  return 0;
}

std::optional<Segment> Shard::segment_of(std::string_view key, std::uint64_t hash) const {
  const Node* node = find(key, hash);
  if (node == nullptr) return std::nullopt;
  return node->segment;
}

std::uint64_t Shard::next_random() noexcept {
  // xorshift64: cheap, and a per-shard stream keeps runs reproducible.
  random_state_ ^= random_state_ << 13;
  random_state_ ^= random_state_ >> 7;
  random_state_ ^= random_state_ << 17;
  return random_state_;
}

}  // namespace strata::memory
