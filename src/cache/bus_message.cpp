#include "cache/bus_message.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>

namespace strata::cache {

namespace {

std::optional<std::uint64_t> decimal(std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

}  // namespace

std::string format_bus_message(const BusMessage& message) {
  return fmt::format("1|{}|{}|{}|{}|{}", message.instance, message.sequence, message.kind, message.epoch,
                     message.argument);
}

std::optional<BusMessage> parse_bus_message(std::string_view text) {
  std::array<std::string_view, 5> fields;
  for (auto& field : fields) {
    const auto bar = text.find('|');
    if (bar == std::string_view::npos) return std::nullopt;
    field = text.substr(0, bar);
    text.remove_prefix(bar + 1);
  }
  const auto sequence = decimal(fields[2]);
  const auto epoch = decimal(fields[4]);
  if (fields[0] != "1" || fields[1].empty() || fields[3].size() != 1 || !sequence || !epoch) return std::nullopt;
  BusMessage message;
  message.instance = std::string(fields[1]);
  message.sequence = *sequence;
  message.kind = fields[3][0];
  message.epoch = *epoch;
  message.argument = std::string(text);
  return message;
}

}  // namespace strata::cache
