#pragma once

// The invalidation bus's message, "1|<instance>|<sequence>|<kind>|<epoch>|<argument>": what one
// process tells the others sharing its prefix (over Redis pub/sub, <prefix>#bus). Anyone who
// can PUBLISH on that Redis can send one, so parsing is strict: a message that is not exactly
// this shape is ignored, never half-applied.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace strata::cache {

struct BusMessage {
  std::string instance;  // the sender (random per process): its own messages are skipped
  std::uint64_t sequence = 0;  // per sender, consecutive: a gap means messages were lost
  char kind = 0;  // K key, T tag, N namespace generation, P pattern, C clear
  std::uint64_t epoch = 0;
  std::string argument;  // may contain '|'
};

std::string format_bus_message(const BusMessage& message);
// nullopt unless version 1, a non-empty instance, decimal sequence and epoch (digits only, no
// sign, no overflow) and a one-character kind.
std::optional<BusMessage> parse_bus_message(std::string_view text);

}  // namespace strata::cache
