// Configuration files: any text parses to a configuration that passes its own checks, or is
// refused with a ConfigError that names the problem; never a crash.

#include "gateway/config.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace strata::gateway;
  try {
    (void)parse_config(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.toml");
  } catch (const ConfigError& error) {
    if (std::string_view(error.what()).empty()) std::abort();
  }
  return 0;
}
