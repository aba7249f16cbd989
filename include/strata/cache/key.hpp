#pragma once

#include <concepts>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace strata {

// A cache key: a namespace ("jobs", "library", "session") and the parts that name one entry in
// it ({"42"} or {"page", "2", "title", "asc"}). Parts are arbitrary bytes: the stored key escapes
// them, so that two different part lists never produce the same key. Namespaces are what
// Cache::invalidate_namespace() drops at once. A value type: immutable once made, so one Key may
// be read from any number of threads.
class Key {
public:
  Key(std::string name_space, const std::vector<std::string>& parts);

  // Key::of("jobs", job_id) or Key::of("library", "page", page, sort_by): strings as they are,
  // numbers in decimal, booleans as true/false.
  template <typename... Parts>
  static Key of(std::string name_space, const Parts&... parts) {
    Key key(std::move(name_space));
    (key.append_part(to_part(parts)), ...);
    return key;
  }

  [[nodiscard]] const std::string& name_space() const noexcept { return name_space_; }
  // ":part:part": every part escaped and preceded by ':', as it follows the namespace in every
  // stored key. Escaped once, when the key is built, not on every lookup.
  [[nodiscard]] const std::string& escaped_parts() const noexcept { return escaped_parts_; }

  // "namespace:part:part", each piece escaped (what invalidate_pattern() globs are matched
  // against, and how keys appear in logs).
  [[nodiscard]] std::string to_string() const;

  // Escaping is one-to-one, so equal escaped parts mean equal parts.
  friend bool operator==(const Key&, const Key&) = default;

  static std::string_view to_part(std::string_view text) { return text; }
  static std::string_view to_part(const char* text) { return text; }
  static std::string_view to_part(const std::string& text) { return text; }
  static std::string_view to_part(bool value) { return value ? "true" : "false"; }
  template <std::integral Integer>
    requires(!std::same_as<Integer, bool> && !std::same_as<Integer, char>)
  static std::string to_part(Integer value) {
    return std::to_string(value);
  }

private:
  explicit Key(std::string name_space);
  void append_part(std::string_view part);

  std::string name_space_;
  std::string escaped_parts_;
};

}  // namespace strata
