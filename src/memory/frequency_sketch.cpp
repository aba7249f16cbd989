#include "memory/frequency_sketch.hpp"

#include <algorithm>
#include <bit>

namespace strata::memory {
namespace {

constexpr std::size_t kWordsPerBlock = 8;  // 64 bytes: one cache line
constexpr std::uint64_t kOddCounterBits = 0x1111111111111111ULL;
constexpr std::uint64_t kHalvedCounterMask = 0x7777777777777777ULL;

// The store's hashes are XXH3 already; remix so the sketch does not reuse the bits that picked
// the shard and the hash-table bucket.
constexpr std::uint64_t remix(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

std::size_t power_of_two_at_least(std::size_t n) noexcept {
  return std::bit_ceil(std::max<std::size_t>(n, 1));
}

}  // namespace

FrequencySketch::FrequencySketch(std::size_t expected_entries) {
  // One word (16 counters) per expected entry, as in Caffeine; at least one block.
  const std::size_t words = std::max(kWordsPerBlock, power_of_two_at_least(expected_entries));
  table_.assign(words, 0);
  block_mask_ = words / kWordsPerBlock - 1;
}

FrequencySketch::Slots FrequencySketch::slots_of(std::uint64_t hash) const noexcept {
  const std::uint64_t mixed = remix(hash);
  const std::size_t block = static_cast<std::size_t>(mixed & block_mask_) * kWordsPerBlock;
  const auto selector = static_cast<std::uint32_t>(mixed >> 32);
  Slots slots{};
  for (unsigned depth = 0; depth < 4; ++depth) {
    const unsigned byte = (selector >> (depth * 8)) & 0xffU;
    // Depth d uses words 2d and 2d+1 of the block, so the four counters never share a word.
    slots.word[depth] = block + depth * 2 + (byte & 1U);
    slots.shift[depth] = ((byte >> 1) & 15U) * 4;
  }
  return slots;
}

unsigned FrequencySketch::frequency(std::uint64_t hash) const noexcept {
  const Slots slots = slots_of(hash);
  unsigned minimum = kMaxCount;
  for (unsigned depth = 0; depth < 4; ++depth) {
    const auto count = static_cast<unsigned>((table_[slots.word[depth]] >> slots.shift[depth]) & 15U);
    minimum = std::min(minimum, count);
  }
  return minimum;
}

bool FrequencySketch::increment(std::uint64_t hash) noexcept {
  const Slots slots = slots_of(hash);
  bool added = false;
  for (unsigned depth = 0; depth < 4; ++depth) {
    std::uint64_t& word = table_[slots.word[depth]];
    if (((word >> slots.shift[depth]) & 15U) != kMaxCount) {
      word += std::uint64_t{1} << slots.shift[depth];
      added = true;
    }
  }
  return added;
}

void FrequencySketch::prefetch(std::uint64_t hash) const noexcept {
  __builtin_prefetch(&table_[slots_of(hash).word[0] & ~(kWordsPerBlock - 1)]);
}

void FrequencySketch::halve() noexcept {
  for (std::uint64_t& word : table_) word = (word >> 1) & kHalvedCounterMask;
}

Doorkeeper::Doorkeeper(std::size_t expected_insertions) {
  // About 8 bits per insertion with 3 probes: a few percent false positives at capacity.
  const std::size_t bits = std::max<std::size_t>(512, power_of_two_at_least(expected_insertions * 8));
  bits_.assign(bits / 64, 0);
  block_mask_ = bits / 512 - 1;
}

// A blocked Bloom filter: the block (one cache line, 512 bits) comes from the low bits of the
// mixed hash, the three probes within it from bits 31 to 57, so a lookup is one cache miss.
Doorkeeper::Probes Doorkeeper::probes_of(std::uint64_t hash) const noexcept {
  const std::uint64_t mixed = remix(hash ^ 0x9e3779b97f4a7c15ULL);
  const std::size_t block = static_cast<std::size_t>(mixed & block_mask_) * kWordsPerBlock * 64;
  Probes probes{};
  for (unsigned probe = 0; probe < 3; ++probe) {
    probes.bit[probe] = block + static_cast<std::size_t>((mixed >> (31 + probe * 9)) & 511U);
  }
  return probes;
}

bool Doorkeeper::contains(std::uint64_t hash) const noexcept {
  const Probes probes = probes_of(hash);
  for (const std::size_t bit : probes.bit) {
    if ((bits_[bit / 64] & (std::uint64_t{1} << (bit % 64))) == 0) return false;
  }
  return true;
}

bool Doorkeeper::put(std::uint64_t hash) noexcept {
  const Probes probes = probes_of(hash);
  bool present = true;
  for (const std::size_t bit : probes.bit) {
    std::uint64_t& word = bits_[bit / 64];
    const std::uint64_t mask = std::uint64_t{1} << (bit % 64);
    if ((word & mask) == 0) {
      present = false;
      word |= mask;
    }
  }
  return present;
}

void Doorkeeper::prefetch(std::uint64_t hash) const noexcept {
  __builtin_prefetch(&bits_[probes_of(hash).bit[0] / 64]);
}

void Doorkeeper::clear() noexcept { std::fill(bits_.begin(), bits_.end(), 0); }

TinyLfu::TinyLfu(std::size_t expected_entries)
    : capacity_(std::max<std::size_t>(expected_entries, 16)),
      sample_size_(10 * capacity_),
      sketch_(capacity_),
      doorkeeper_(sample_size_ / 2) {}

void TinyLfu::record(std::uint64_t hash) noexcept {
  // The first sighting only marks the doorkeeper; later ones count in the sketch.
  if (doorkeeper_.put(hash)) sketch_.increment(hash);
  if (++additions_ >= sample_size_) age();
}

unsigned TinyLfu::frequency(std::uint64_t hash) const noexcept {
  return sketch_.frequency(hash) + (doorkeeper_.contains(hash) ? 1U : 0U);
}

void TinyLfu::age() noexcept {
  sketch_.halve();
  doorkeeper_.clear();
  additions_ /= 2;
  ++resets_;
}

void TinyLfu::ensure_capacity(std::size_t resident_entries) {
  if (resident_entries <= capacity_) return;
  capacity_ = std::max(resident_entries, 2 * capacity_);
  sample_size_ = 10 * capacity_;
  additions_ = 0;
  sketch_ = FrequencySketch(capacity_);
  doorkeeper_ = Doorkeeper(sample_size_ / 2);
}

}  // namespace strata::memory
