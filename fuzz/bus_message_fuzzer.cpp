// Messages on the invalidation bus: anyone with PUBLISH rights on the Redis can send one. What
// parses must survive formatting and parsing again unchanged.

#include "cache/bus_message.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using strata::cache::parse_bus_message;
  const auto message = parse_bus_message(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!message) return 0;
  const auto again = parse_bus_message(strata::cache::format_bus_message(*message));
  if (!again || again->instance != message->instance || again->sequence != message->sequence ||
      again->kind != message->kind || again->epoch != message->epoch || again->argument != message->argument) {
    std::abort();
  }
  return 0;
}
