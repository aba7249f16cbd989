#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::redis {

// One RESP2 reply. Strings are binary-safe (they may hold NUL bytes). A value type: copies are
// independent, and a reply no one writes may be read from several threads.
class Reply {
public:
  enum class Type : std::uint8_t { status, error, integer, string, nil, array };

  Reply() = default;
  static Reply status(std::string text) { return Reply(Type::status, std::move(text)); }
  static Reply error(std::string text) { return Reply(Type::error, std::move(text)); }
  static Reply string(std::string bytes) { return Reply(Type::string, std::move(bytes)); }
  static Reply integer(std::int64_t value) {
    Reply reply(Type::integer, {});
    reply.integer_ = value;
    return reply;
  }
  static Reply nil() { return Reply(Type::nil, {}); }
  static Reply array(std::vector<Reply> elements) {
    Reply reply(Type::array, {});
    reply.elements_ = std::move(elements);
    return reply;
  }

  [[nodiscard]] Type type() const noexcept { return type_; }
  [[nodiscard]] bool is_nil() const noexcept { return type_ == Type::nil; }
  [[nodiscard]] bool is_error() const noexcept { return type_ == Type::error; }
  [[nodiscard]] bool is_string() const noexcept { return type_ == Type::string; }
  [[nodiscard]] bool is_integer() const noexcept { return type_ == Type::integer; }
  [[nodiscard]] bool is_array() const noexcept { return type_ == Type::array; }
  [[nodiscard]] bool is_status(std::string_view expected) const noexcept {
    return type_ == Type::status && text_ == expected;
  }

  // The bytes of a status, error or string reply.
  [[nodiscard]] const std::string& text() const noexcept { return text_; }
  [[nodiscard]] std::string& mutable_text() noexcept { return text_; }
  [[nodiscard]] std::int64_t integer_value() const noexcept { return integer_; }
  [[nodiscard]] const std::vector<Reply>& elements() const noexcept { return elements_; }
  [[nodiscard]] std::vector<Reply>& mutable_elements() noexcept { return elements_; }

  // A string reply's bytes, nullopt for nil; anything else is nullopt too.
  [[nodiscard]] std::optional<std::string_view> as_string() const noexcept {
    if (type_ == Type::string || type_ == Type::status) return std::string_view(text_);
    return std::nullopt;
  }

  friend bool operator==(const Reply&, const Reply&) = default;

  // RESP-like rendering for messages and test failures, e.g. `["OK", (integer) 3, (nil)]`.
  [[nodiscard]] std::string describe() const;

private:
  Reply(Type type, std::string text) : type_(type), text_(std::move(text)) {}

  Type type_ = Type::nil;
  std::string text_;
  std::int64_t integer_ = 0;
  std::vector<Reply> elements_;
};

}  // namespace strata::redis
