// Redis URLs from configuration: every one parses or is refused with std::invalid_argument.

#include <strata/redis/options.hpp>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view url(reinterpret_cast<const char*>(data), size);
  try {
    (void)strata::redis::parse_deployment_url(url);
  } catch (const std::invalid_argument&) {
  }
  return 0;
}
