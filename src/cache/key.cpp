#include <strata/cache/key.hpp>

#include "cache/keyspace.hpp"

#include <stdexcept>

namespace strata {

Key::Key(std::string name_space, std::vector<std::string> parts)
    : name_space_(std::move(name_space)), parts_(std::move(parts)) {
  if (name_space_.empty()) {
    throw std::invalid_argument(
        "cache key has an empty namespace: name the group the entry belongs to, e.g. "
        "Key::of(\"jobs\", id)");
  }
}

std::string Key::to_string() const {
  std::string out = cache::escaped(name_space_);
  for (const auto& part : parts_) {
    out.push_back(':');
    cache::append_escaped(out, part);
  }
  return out;
}

}  // namespace strata
