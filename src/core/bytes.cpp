#include <strata/bytes.hpp>

#include <cstring>

namespace strata {

Bytes Bytes::copy_of(std::string_view bytes) {
  if (bytes.empty()) return {};
  auto buffer = std::make_shared_for_overwrite<char[]>(bytes.size());
  std::memcpy(buffer.get(), bytes.data(), bytes.size());
  const char* data = buffer.get();
  return Bytes(std::shared_ptr<const void>(std::move(buffer)), data, bytes.size());
}

Bytes Bytes::adopt(std::string&& bytes) {
  if (bytes.empty()) return {};
  auto owned = std::make_shared<const std::string>(std::move(bytes));
  const char* data = owned->data();
  const std::size_t size = owned->size();
  return Bytes(std::shared_ptr<const void>(std::move(owned)), data, size);
}

}  // namespace strata
