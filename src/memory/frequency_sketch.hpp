#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace strata::memory {

// A count-min sketch of 4-bit counters (depth 4) estimating how often a hash was seen, at 8
// bytes per tracked entry. All four counters of one item sit in one 64-byte block, so an
// update touches one cache line. halve() ages every counter at once so that old popularity
// fades (TinyLFU's reset).
class FrequencySketch {
public:
  static constexpr unsigned kMaxCount = 15;

  // Sizes the table for about `expected_entries` distinct items; counts start at zero.
  explicit FrequencySketch(std::size_t expected_entries);

  // Estimated count of `hash`, 0..15 (never an underestimate, up to saturation and aging).
  [[nodiscard]] unsigned frequency(std::uint64_t hash) const noexcept;
  // Adds one to the item's counters that are below the maximum; false when all were saturated.
  bool increment(std::uint64_t hash) noexcept;
  // Divides every counter by two.
  void halve() noexcept;
  // Starts loading the item's cache line, ahead of a frequency() or increment().
  void prefetch(std::uint64_t hash) const noexcept;

  [[nodiscard]] std::size_t table_words() const noexcept { return table_.size(); }

private:
  struct Slots {
    std::size_t word[4];
    unsigned shift[4];
  };
  [[nodiscard]] Slots slots_of(std::uint64_t hash) const noexcept;

  std::vector<std::uint64_t> table_;
  std::size_t block_mask_ = 0;
};

// A Bloom filter in front of the sketch: the first sighting of an item (since the last reset)
// only sets bits here, so the many one-hit wonders never occupy sketch counters.
class Doorkeeper {
public:
  explicit Doorkeeper(std::size_t expected_insertions);

  [[nodiscard]] bool contains(std::uint64_t hash) const noexcept;
  // Records `hash`; true when it was (probably) present already.
  bool put(std::uint64_t hash) noexcept;
  void clear() noexcept;
  void prefetch(std::uint64_t hash) const noexcept;

private:
  struct Probes {
    std::size_t bit[3];
  };
  [[nodiscard]] Probes probes_of(std::uint64_t hash) const noexcept;

  std::vector<std::uint64_t> bits_;
  std::size_t block_mask_ = 0;
};

// TinyLFU's frequency filter: doorkeeper + sketch, aged by halving after a sample of
// 10 x capacity additions.
class TinyLfu {
public:
  explicit TinyLfu(std::size_t expected_entries);

  void record(std::uint64_t hash) noexcept;
  void prefetch(std::uint64_t hash) const noexcept {
    doorkeeper_.prefetch(hash);
    sketch_.prefetch(hash);
  }
  [[nodiscard]] unsigned frequency(std::uint64_t hash) const noexcept;
  // Grows the filter when more entries are resident than it was sized for. Growing forgets the
  // history (it cannot be rehashed), so it only ever grows, by at least a factor of two.
  void ensure_capacity(std::size_t resident_entries);

  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }
  [[nodiscard]] std::size_t sample_size() const noexcept { return sample_size_; }
  [[nodiscard]] std::size_t additions() const noexcept { return additions_; }
  [[nodiscard]] std::uint64_t resets() const noexcept { return resets_; }

private:
  void age() noexcept;

  std::size_t capacity_;
  std::size_t sample_size_;
  std::size_t additions_ = 0;
  std::uint64_t resets_ = 0;
  FrequencySketch sketch_;
  Doorkeeper doorkeeper_;
};

}  // namespace strata::memory
