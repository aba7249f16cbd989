#pragma once

// What objects cost on the heap, for stores that bound their memory by it. A store that charges
// only the bytes it was handed under-counts every copy, header and rounding the allocator adds,
// and a budget of 64 MiB then holds several times that.

#include <algorithm>
#include <cstddef>
#include <string>

namespace strata {

// The block an allocation of `requested` bytes occupies: glibc's malloc keeps an 8-byte header
// and hands out 16-byte steps of at least 32 bytes.
[[nodiscard]] constexpr std::size_t allocation_bytes(std::size_t requested) noexcept {
  if (requested == 0) return 0;
  return std::max<std::size_t>(32, (requested + 8 + 15) & ~std::size_t{15});
}

// A std::make_shared<T> object: T and its reference counts in one block.
template <typename T>
[[nodiscard]] constexpr std::size_t shared_object_bytes() noexcept {
  return allocation_bytes(sizeof(T) + 16);
}

// The heap block a string owns; none while it fits inside the string object.
[[nodiscard]] inline std::size_t heap_bytes(const std::string& text) noexcept {
  static const std::size_t inline_capacity = std::string().capacity();
  return text.capacity() <= inline_capacity ? 0 : allocation_bytes(text.capacity() + 1);
}

}  // namespace strata
