#include <strata/redis/command.hpp>

#include <hiredis/hiredis.h>

#include <memory>
#include <new>
#include <stdexcept>

namespace strata::redis {
namespace {

struct FreeCommand {
  void operator()(char* command) const noexcept { redisFreeCommand(command); }
};
using FormattedCommand = std::unique_ptr<char, FreeCommand>;

}  // namespace

void Request::append(const char* const* arguments, const std::size_t* lengths, std::size_t count) {
  if (count == 0) throw std::invalid_argument("redis::Request: a command needs at least its name");
  char* formatted = nullptr;
  const int length = redisFormatCommandArgv(&formatted, static_cast<int>(count),
                                            const_cast<const char**>(arguments), lengths);
  const FormattedCommand owner(formatted);
  if (length < 0 || formatted == nullptr) throw std::bad_alloc();
  payload_.append(formatted, static_cast<std::size_t>(length));
  ++commands_;
}

Request& Request::push(std::initializer_list<std::string_view> command) {
  return push(std::vector<std::string_view>(command));
}

Request& Request::push(const std::vector<std::string_view>& command) {
  std::vector<const char*> arguments;
  std::vector<std::size_t> lengths;
  arguments.reserve(command.size());
  lengths.reserve(command.size());
  for (const std::string_view argument : command) {
    arguments.push_back(argument.data() != nullptr ? argument.data() : "");
    lengths.push_back(argument.size());
  }
  append(arguments.data(), lengths.data(), arguments.size());
  return *this;
}

Request& Request::push(const std::vector<std::string>& command) {
  std::vector<std::string_view> views(command.begin(), command.end());
  return push(views);
}

}  // namespace strata::redis
