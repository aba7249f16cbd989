#pragma once

// The hot set: the most requested cacheable targets, with the header values that select their
// entries, kept so that a restarted gateway can fetch them again before clients ask (re-warming).
// Only shared entries are recorded: a per-user entry or a request with credentials never enters
// it, and no credential header is ever stored.
//
// Counting samples one request in `sample_every` per thread (a hit pays a thread-local increment
// for the others) into a table of at most four times the capacity: when it is full the least
// counted quarter goes, and every 16 x capacity samples all counts are halved, so that old
// favourites fade.

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace strata::gateway {

using HeaderValues = std::vector<std::pair<std::string, std::string>>;  // lowercase name, value

struct HotTarget {
  std::string target;    // origin-form: path and query
  HeaderValues headers;  // what selects the entry besides the target
  std::uint64_t count = 0;
};

class HotSet {
public:
  // Keeps the `capacity` hottest; tracks up to four times as many candidates.
  HotSet(std::size_t capacity, unsigned sample_every);

  // Whether this request is one of the sampled ones (cheap: a thread-local counter).
  [[nodiscard]] bool sampling() const noexcept;
  void record(std::string_view target, HeaderValues headers);
  // The hottest targets, hottest first, at most `capacity`.
  [[nodiscard]] std::vector<HotTarget> hottest() const;
  [[nodiscard]] std::size_t tracked() const;
  [[nodiscard]] std::size_t capacity() const noexcept { return capacity_; }

private:
  struct Counted {
    HeaderValues headers;
    std::uint64_t count = 0;
  };
  void fade_locked();
  void drop_coldest_locked();

  std::size_t capacity_;
  unsigned sample_every_;
  mutable std::mutex mutex_;
  std::uint64_t recorded_ = 0;
  std::unordered_map<std::string, Counted> counts_;  // key: target + '\0' + header values
};

// The stored form: {"version": 1, "written_unix_ms": ..., "entries": [{"target", "headers", "count"}]}.
std::string hot_set_json(const std::vector<HotTarget>& entries, std::int64_t written_unix_ms);
// nullopt with `error` saying what is wrong; targets that are not origin-form are refused.
std::optional<std::vector<HotTarget>> parse_hot_set(std::string_view text, std::string* error);

}  // namespace strata::gateway
