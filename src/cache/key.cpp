#include <strata/cache/key.hpp>

#include "cache/keyspace.hpp"

#include <stdexcept>

namespace strata {

Key::Key(std::string name_space) : name_space_(std::move(name_space)) {
  if (name_space_.empty()) {
    throw std::invalid_argument(
        "cache key has an empty namespace: name the group the entry belongs to, e.g. "
        "Key::of(\"jobs\", id)");
  }
}

Key::Key(std::string name_space, const std::vector<std::string>& parts) : Key(std::move(name_space)) {
  for (const auto& part : parts) append_part(part);
}

void Key::append_part(std::string_view part) {
  escaped_parts_.push_back(':');
  cache::append_escaped(escaped_parts_, part);
}

std::string Key::to_string() const { return cache::escaped(name_space_) + escaped_parts_; }

}  // namespace strata
