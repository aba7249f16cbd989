// The gateway's stored entry (response, variant index) as read back from Redis: any bytes
// decode to an entry or to nothing. What decodes must encode and decode again to the same.

#include "gateway/http_cache.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using Codec = strata::Codec<strata::gateway::HttpEntry>;
  const auto entry = Codec::decode(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!entry) return 0;
  const auto bytes = Codec::encode(*entry);
  const auto again = Codec::decode(bytes);
  if (!again || Codec::encode(*again) != bytes) std::abort();
  return 0;
}
