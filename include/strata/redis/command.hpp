#pragma once

#include <cstddef>
#include <array>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace strata::redis {

// One or more commands encoded as RESP, ready to be written. Arguments are binary-safe.
// Several commands in one Request are written together and answered with one reply each,
// in order (a pipeline). A value type, built by one thread and then only read.
class Request {
public:
  Request() = default;
  Request(std::initializer_list<std::string_view> command) { push(command); }
  // Request("SET", key, value). Prefer this form inside coroutines: GCC 12 cannot keep a braced
  // list's temporary array alive across co_await ("array used as initializer").
  template <typename... Arguments>
  explicit Request(std::string_view name, const Arguments&... arguments) {
    const std::array<std::string_view, 1 + sizeof...(Arguments)> command{name, std::string_view(arguments)...};
    push(std::span<const std::string_view>(command));
  }

  // Appends one command, e.g. push({"SET", key, value}). Throws std::invalid_argument for a
  // command without even a name.
  Request& push(std::span<const std::string_view> command);
  Request& push(std::initializer_list<std::string_view> command) {
    return push(std::span<const std::string_view>(command.begin(), command.size()));
  }
  Request& push(const std::vector<std::string_view>& command) {
    return push(std::span<const std::string_view>(command));
  }
  Request& push(const std::vector<std::string>& command);

  // Appends every command of `other` (e.g. ASKING before a redirected request).
  Request& append(const Request& other) {
    payload_ += other.payload_;
    commands_ += other.commands_;
    return *this;
  }

  [[nodiscard]] std::size_t commands() const noexcept { return commands_; }
  [[nodiscard]] const std::string& payload() const noexcept { return payload_; }
  // Hands the encoded bytes over (the Request is empty afterwards).
  [[nodiscard]] std::string release_payload() noexcept {
    commands_ = 0;
    return std::move(payload_);
  }

private:
  void begin_command(std::size_t arguments, std::size_t argument_bytes);
  void append_argument(std::string_view argument);

  std::string payload_;
  std::size_t commands_ = 0;
};

}  // namespace strata::redis
