#pragma once

#include <strata/cache/key.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace strata::cache {

// Every Redis and L1 key the cache uses, derived from one prefix. Entry keys are
//   <prefix>:<namespace>:g<generation>[:<part>[:<part>...]]
// with each piece percent-escaped outside [A-Za-z0-9._/@+=,-]. So ':' only ever separates
// pieces (distinct part lists give distinct keys), glob characters never appear literally (a
// pattern cannot be confused by a part), and '#' and '~' are free for internal keys and digests.
// An entry key longer than kMaxKeyBytes keeps a readable head and ends in "~" + SHA-256 hex.
// Entry keys never contain '{' or '}', so a Redis Cluster places each by its whole name; the
// control keys (epoch, marks, generations, tag sets) share the hash tag {<prefix>}.
class Keyspace {
public:
  static constexpr std::size_t kMaxKeyBytes = 200;

  // Throws std::invalid_argument for an empty prefix.
  explicit Keyspace(std::string_view prefix);

  [[nodiscard]] const std::string& prefix() const noexcept { return prefix_; }

  [[nodiscard]] std::string entry(const Key& key, std::uint64_t generation) const;
  // The same in two steps, for callers that keep the head of a namespace's current generation:
  // entry(key, g) == entry_under(entry_head(key.name_space(), g), key).
  [[nodiscard]] std::string entry_head(std::string_view name_space, std::uint64_t generation) const;
  [[nodiscard]] static std::string entry_under(std::string_view head, const Key& key);
  // The namespace's generation counter; INCR makes every entry of the old generation unreachable.
  [[nodiscard]] std::string generation(std::string_view name_space) const;
  // Counter stamped on every invalidation, so a fill can tell whether one happened after it began.
  [[nodiscard]] std::string epoch() const;
  // Epoch of the tag's last invalidation, and the set of entry keys that carry the tag.
  [[nodiscard]] std::string tag_mark(std::string_view tag) const;
  [[nodiscard]] std::string tag_members(std::string_view tag) const;
  // Epoch of the last removal or explicit write of one entry, and of the last clear().
  [[nodiscard]] std::string key_mark(std::string_view entry_key) const;
  [[nodiscard]] std::string clear_mark() const;
  // Entries whose fill is between its admission and its store (Redis Cluster only), so that
  // clear() can stop them.
  [[nodiscard]] std::string filling() const;
  // Cross-process fill lease for one entry.
  [[nodiscard]] std::string lock(std::string_view entry_key) const;
  [[nodiscard]] std::string bus_channel() const;
  // SCAN patterns for clear(): every entry, every tag member set.
  [[nodiscard]] std::string all_entries_pattern() const;
  [[nodiscard]] std::string all_tag_sets_pattern() const;

  // Translates a glob over logical keys ("library:*", "jobs:4?", "*:user%3A7") into a glob over
  // entry keys. A literal first segment is a namespace and pins its current generation;
  // otherwise every generation matches. Literal text is escaped as keys are; '\' quotes the next
  // character. Throws std::invalid_argument for an empty pattern or a dangling '\' or '['.
  struct PatternPlan {
    std::string name_space;          // the first segment when literal (unescaped), else empty
    std::string first_segment_glob;  // the first segment, escaped, as a glob
    std::string rest;                // the escaped glob after the first ':'
    bool has_rest = false;
    bool first_is_literal = false;
  };
  [[nodiscard]] static PatternPlan plan_pattern(std::string_view logical_glob);
  [[nodiscard]] std::string entry_pattern(const PatternPlan& plan, std::uint64_t generation) const;

private:
  [[nodiscard]] std::string control(std::string_view what) const;

  std::string prefix_;
};

// Appends `piece` percent-escaped.
void append_escaped(std::string& out, std::string_view piece);
[[nodiscard]] std::string escaped(std::string_view piece);

// Redis-compatible glob match (*, ?, [set], [^set], [a-z], \x).
[[nodiscard]] bool glob_match(std::string_view pattern, std::string_view text) noexcept;

}  // namespace strata::cache
