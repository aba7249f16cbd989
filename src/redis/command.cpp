#include <strata/redis/command.hpp>

#include <charconv>
#include <stdexcept>

namespace strata::redis {
namespace {

constexpr std::size_t kMaxDigits = 20;  // of a std::size_t

std::size_t digits(std::size_t value) noexcept {
  std::size_t count = 1;
  while (value >= 10) {
    value /= 10;
    ++count;
  }
  return count;
}

void append_header(std::string& out, char type, std::size_t value) {
  char text[1 + kMaxDigits + 2];
  text[0] = type;
  char* end = std::to_chars(text + 1, text + 1 + kMaxDigits, value).ptr;
  *end++ = '\r';
  *end++ = '\n';
  out.append(text, static_cast<std::size_t>(end - text));
}

}  // namespace

// RESP is formatted here rather than by hiredis' redisFormatCommandArgv: that one builds each
// command in a buffer of its own with sprintf and costs more than the rest of a GET's client
// work together. The protocol test checks the bytes against hiredis' formatting.
void Request::begin_command(std::size_t arguments, std::size_t argument_bytes) {
  if (arguments == 0) throw std::invalid_argument("redis::Request: a command needs at least its name");
  // "*<n>\r\n", then "$<len>\r\n<bytes>\r\n" per argument; the length digits are bounded by
  // those of the total.
  payload_.reserve(payload_.size() + 3 + digits(arguments) + argument_bytes +
                   arguments * (5 + digits(argument_bytes)));
  append_header(payload_, '*', arguments);
  ++commands_;
}

void Request::append_argument(std::string_view argument) {
  append_header(payload_, '$', argument.size());
  payload_.append(argument);
  payload_.append("\r\n", 2);
}

Request& Request::push(std::span<const std::string_view> command) {
  std::size_t bytes = 0;
  for (const std::string_view argument : command) bytes += argument.size();
  begin_command(command.size(), bytes);
  for (const std::string_view argument : command) append_argument(argument);
  return *this;
}

Request& Request::push(const std::vector<std::string>& command) {
  std::size_t bytes = 0;
  for (const std::string& argument : command) bytes += argument.size();
  begin_command(command.size(), bytes);
  for (const std::string& argument : command) append_argument(argument);
  return *this;
}

}  // namespace strata::redis
