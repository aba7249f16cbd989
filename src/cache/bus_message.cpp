#include "cache/bus_message.hpp"

#include "core/decimal.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace strata::cache {

std::string format_bus_message(const BusMessage& message) {
  return fmt::format("1|{}|{}|{}|{}|{}", message.instance, message.sequence, static_cast<char>(message.kind),
                     message.epoch, message.argument);
}

std::optional<BusMessage> parse_bus_message(std::string_view text) {
  std::array<std::string_view, 5> fields;
  for (auto& field : fields) {
    const auto bar = text.find('|');
    if (bar == std::string_view::npos) return std::nullopt;
    field = text.substr(0, bar);
    text.remove_prefix(bar + 1);
  }
  const auto sequence = core::parse_decimal(fields[2]);
  const auto epoch = core::parse_decimal(fields[4]);
  if (fields[0] != "1" || fields[1].empty() || fields[3].size() != 1 || !sequence || !epoch) return std::nullopt;
  const auto kind = static_cast<Invalidation>(fields[3][0]);
  if (std::find(kInvalidations.begin(), kInvalidations.end(), kind) == kInvalidations.end()) return std::nullopt;
  BusMessage message;
  message.instance = std::string(fields[1]);
  message.sequence = *sequence;
  message.kind = kind;
  message.epoch = *epoch;
  message.argument = std::string(text);
  return message;
}

bool SenderSequences::gap_before(const BusMessage& message) {
  std::lock_guard lock(mutex_);
  auto [last, first] = last_.try_emplace(message.instance, message.sequence);
  if (first) return false;
  const bool gap = message.sequence != last->second + 1;
  last->second = std::max(last->second, message.sequence);
  return gap;
}

}  // namespace strata::cache
