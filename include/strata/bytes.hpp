#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace strata {

// An immutable, reference-counted byte buffer. Copies share the bytes and nothing mutates them,
// so a reader can keep a value while the store replaces or evicts the entry it came from.
// Bytes may hold NUL bytes; an empty Bytes is a valid (empty) value. Copies may be used and
// dropped on any threads at once (the bytes are shared by an atomic count, never written).
class Bytes {
public:
  Bytes() noexcept = default;

  // One allocation holding a copy of `bytes`.
  static Bytes copy_of(std::string_view bytes);
  // Takes ownership of `bytes` without copying its contents.
  static Bytes adopt(std::string&& bytes);
  // Views [data, data + size) inside a buffer kept alive by `owner`, e.g. a slice of a larger reply.
  Bytes(std::shared_ptr<const void> owner, const char* data, std::size_t size) noexcept
      : owner_(std::move(owner)), data_(data), size_(size) {}

  [[nodiscard]] const char* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] std::string_view view() const noexcept { return {data_, size_}; }
  [[nodiscard]] std::string to_string() const { return std::string(view()); }

  // The object that keeps the bytes alive (what the three-argument constructor was given).
  [[nodiscard]] const std::shared_ptr<const void>& owner() const noexcept { return owner_; }

  // True when both refer to the very same bytes in memory (not merely equal contents).
  [[nodiscard]] bool shares_buffer_with(const Bytes& other) const noexcept {
    return data_ == other.data_ && size_ == other.size_;
  }

  friend bool operator==(const Bytes& a, const Bytes& b) noexcept { return a.view() == b.view(); }
  friend bool operator==(const Bytes& a, std::string_view b) noexcept { return a.view() == b; }

private:
  std::shared_ptr<const void> owner_;
  const char* data_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace strata
