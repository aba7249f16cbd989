#include "memory/shard.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <new>
#include <vector>

namespace strata::memory {
namespace {

// Caffeine's hill-climber constants: a first step of 6.25% of the capacity, restarted when the
// hit rate moves by 5 points or more, otherwise decaying by 2% per sample.
constexpr double kClimbStepFraction = 0.0625;
constexpr double kClimbRestartThreshold = 0.05;
constexpr double kClimbStepDecay = 0.98;

std::size_t fraction_of(std::size_t bytes, double fraction) {
  return static_cast<std::size_t>(std::floor(static_cast<double>(bytes) * fraction));
}

// The admission window always holds at least one byte so a lone newcomer has somewhere to be.
std::size_t window_capacity_for(const ShardConfig& config) {
  if (config.policy == EvictionPolicy::lru) return config.capacity_bytes;
  return std::max<std::size_t>(1, fraction_of(config.capacity_bytes, config.window_fraction));
}

}  // namespace

Node* Node::create(std::string_view key, std::uint64_t hash, Bytes value, TimePoint expires_at) {
  void* memory = ::operator new(sizeof(Node) + key.size());
  Node* node = new (memory) Node{std::move(value), hash, expires_at};
  node->key_size = static_cast<std::uint32_t>(key.size());
  std::memcpy(reinterpret_cast<char*>(node + 1), key.data(), key.size());
  return node;
}

void Node::destroy(Node* node) noexcept {
  node->~Node();
  ::operator delete(node);
}

Shard::Shard(const ShardConfig& config)
    : filtered_(config.policy == EvictionPolicy::w_tinylfu),
      adaptive_(filtered_ && config.adaptive_window),
      capacity_(config.capacity_bytes),
      window_capacity_(window_capacity_for(config)),
      protected_capacity_(fraction_of(capacity_ - window_capacity_, config.protected_fraction)),
      expected_entry_bytes_(std::max<std::size_t>(config.expected_entry_bytes, 1)),
      sweep_batch_(config.sweep_batch),
      filter_(filtered_ ? capacity_ / expected_entry_bytes_ : 0),
      random_state_(config.seed | 1),
      // The first move shrinks the window: most workloads favour frequency.
      step_bytes_(-kClimbStepFraction * static_cast<double>(capacity_)) {}

Shard::~Shard() { clear(); }

Node* Shard::find(std::string_view key, std::uint64_t hash) const { return index_.find(key, hash); }

std::optional<std::pair<Bytes, TimePoint>> Shard::peek(std::string_view key, std::uint64_t hash,
                                                       TimePoint now) const {
  const Node* node = find(key, hash);
  if (node == nullptr || node->expires_at <= now) return std::nullopt;
  return std::pair{node->value, node->expires_at};
}

std::optional<Bytes> Shard::get(std::string_view key, std::uint64_t hash, TimePoint now) {
  Node* node = find(key, hash);
  if (node != nullptr && node->expires_at <= now) {
    drain_reads();
    remove(node, Removal::expired);
    node = nullptr;
  }
  if (node == nullptr) {
    ++counters_.misses;
    record_lookup(false);
    return std::nullopt;
  }
  ++counters_.hits;
  pending_reads_[pending_count_++] = node;
  if (pending_count_ == kReadBufferSize) drain_reads();
  Bytes value = node->value;
  record_lookup(true);  // may re-label segments; the node itself stays
  return value;
}

bool Shard::set(std::string_view key, std::uint64_t hash, Bytes value, TimePoint expires_at,
                TimePoint now, std::size_t footprint) {
  drain_reads();
  const std::size_t charge = MemoryStore::charge_of(key.size(), value.size(), footprint);
  Node* node = find(key, hash);
  const bool too_large = charge > capacity_ || key.size() > UINT32_MAX;  // key length is 32-bit
  if (expires_at <= now || too_large) {
    // Dropping the old value is what keeps a refused write from leaving stale data behind.
    if (node != nullptr) remove(node, Removal::replaced);
    if (too_large) ++counters_.rejected_too_large;
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
    node = Node::create(key, hash, std::move(value), expires_at);
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
  drain_reads();
  Node* node = find(key, hash);
  if (node == nullptr) return false;
  remove(node, Removal::erased);
  return true;
}

std::size_t Shard::erase_if(const std::function<bool(std::string_view)>& matches) {
  drain_reads();
  std::vector<Node*> doomed;
  index_.for_each([&](Node* node) {
    if (matches(node->key())) doomed.push_back(node);
  });
  for (Node* node : doomed) remove(node, Removal::erased);
  return doomed.size();
}

std::size_t Shard::count_if(const std::function<bool(std::string_view)>& matches, TimePoint now) const {
  std::size_t count = 0;
  index_.for_each([&](const Node* node) {
    if (node->expires_at > now && matches(node->key())) ++count;
  });
  return count;
}

void Shard::clear() noexcept {
  pending_count_ = 0;  // every node goes; their pending reads do not matter
  // The heap writes into the nodes as it forgets them, so it goes before they are freed.
  expiry_.reset();
  window_.reset();
  probation_.reset();
  protected_.reset();
  window_bytes_ = probation_bytes_ = protected_bytes_ = 0;
  index_.for_each([](Node* node) { Node::destroy(node); });
  index_.clear();
}

std::size_t Shard::sweep_expired(TimePoint now, std::size_t max_entries) {
  drain_reads();
  std::size_t reclaimed = 0;
  while (reclaimed < max_entries) {
    Node* earliest = expiry_.top();
    if (earliest == nullptr || earliest->expires_at > now) break;
    remove(earliest, Removal::expired);
    ++reclaimed;
  }
  return reclaimed;
}

void Shard::drain_reads() noexcept {
  const std::size_t count = pending_count_;
  pending_count_ = 0;
  if (filtered_) {
    for (std::size_t i = 0; i < count; ++i) filter_.prefetch(pending_reads_[i]->hash);
  }
  for (std::size_t i = 0; i < count; ++i) {
    const Node* node = pending_reads_[i];
    if (node->prev != nullptr) __builtin_prefetch(node->prev);
    if (node->next != nullptr) __builtin_prefetch(node->next);
  }
  for (std::size_t i = 0; i < count; ++i) on_access(pending_reads_[i]);
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

void Shard::record_lookup(bool hit) noexcept {
  if (!adaptive_) return;
  ++(hit ? sample_hits_ : sample_misses_);
  if (sample_hits_ + sample_misses_ >= filter_.sample_size()) climb();
}

// One hill-climbing step per sample of lookups: keep moving the window boundary in the
// direction that raised the hit rate, turn back when it fell, and take a big step again when
// the hit rate jumps (the workload changed).
void Shard::climb() noexcept {
  drain_reads();
  const double hit_rate =
      static_cast<double>(sample_hits_) / static_cast<double>(sample_hits_ + sample_misses_);
  const double change = hit_rate - previous_hit_rate_;
  const double amount = change >= 0 ? step_bytes_ : -step_bytes_;
  if (std::abs(change) >= kClimbRestartThreshold) {
    step_bytes_ = kClimbStepFraction * static_cast<double>(capacity_) * (amount >= 0 ? 1.0 : -1.0);
  } else {
    step_bytes_ = kClimbStepDecay * amount;
  }
  previous_hit_rate_ = hit_rate;
  sample_hits_ = sample_misses_ = 0;
  resize_window(amount);
}

// Moves the window/main boundary by up to `change_bytes` (positive grows the window at the
// protected segment's expense). Entries are re-labelled, never evicted, so it cannot lose data.
void Shard::resize_window(double change_bytes) noexcept {
  if (change_bytes >= 1.0) {
    const auto quota = std::min(static_cast<std::size_t>(change_bytes), protected_capacity_);
    protected_capacity_ -= quota;
    window_capacity_ += quota;
    demote_protected_overflow();
    // Fill the larger window with the least recent entries of the main area.
    while (true) {
      Node* oldest = probation_.empty() ? protected_.front() : probation_.front();
      if (oldest == nullptr || window_bytes_ + oldest->charge > window_capacity_) break;
      detach(oldest);
      attach(oldest, Segment::window);
    }
  } else if (change_bytes <= -1.0) {
    const auto quota = std::min(static_cast<std::size_t>(-change_bytes), window_capacity_ - 1);
    window_capacity_ -= quota;
    protected_capacity_ += quota;
    while (window_bytes_ > window_capacity_ && !window_.empty()) {
      Node* oldest = window_.front();
      detach(oldest);
      attach(oldest, Segment::probation);
    }
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
  Node::destroy(node);
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

std::size_t Shard::segment_bytes(Segment segment) noexcept {
  drain_reads();
  switch (segment) {
    case Segment::window: return window_bytes_;
    case Segment::probation: return probation_bytes_;
    case Segment::protected_area: return protected_bytes_;
  }
  return 0;
}

std::optional<Segment> Shard::segment_of(std::string_view key, std::uint64_t hash) {
  drain_reads();
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
