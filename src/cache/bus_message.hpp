#pragma once

// The invalidation bus's message, "1|<instance>|<sequence>|<kind>|<epoch>|<argument>": what one
// process tells the others sharing its prefix (over Redis pub/sub, <prefix>#bus). Anyone who
// can PUBLISH on that Redis can send one, so parsing is strict: a message that is not exactly
// this shape is ignored, never half-applied.

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace strata::cache {

// What an invalidation removes. Its letter is its name on the bus.
enum class Invalidation : char {
  key = 'K',         // one entry (its full key)
  tag = 'T',         // every entry carrying a tag
  name_space = 'N',  // a namespace, by its new generation
  pattern = 'P',     // entries whose key matches a glob
  clear = 'C',       // everything under the prefix
};
inline constexpr std::array<Invalidation, 5> kInvalidations{
    Invalidation::key, Invalidation::tag, Invalidation::name_space, Invalidation::pattern, Invalidation::clear};

struct BusMessage {
  std::string instance;  // the sender (random per process): its own messages are skipped
  std::uint64_t sequence = 0;  // per sender, consecutive: a gap means messages were lost
  Invalidation kind = Invalidation::key;
  std::uint64_t epoch = 0;
  std::string argument;  // may contain '|'
};

std::string format_bus_message(const BusMessage& message);
// nullopt unless version 1, a non-empty instance, decimal sequence and epoch (digits only, no
// sign, no overflow) and the letter of a known kind.
std::optional<BusMessage> parse_bus_message(std::string_view text);

// The last sequence heard from each sender, to notice lost messages: a sender counts up by one
// per message, so any other step means this process may have missed invalidations. The first
// message from a sender sets where it starts. Thread-safe.
class SenderSequences {
public:
  // Records `message`; true when messages from its sender were lost before it.
  bool gap_before(const BusMessage& message);

private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::uint64_t> last_;
};

}  // namespace strata::cache
