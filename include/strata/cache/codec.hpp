#pragma once

#include <strata/bytes.hpp>

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <exception>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace strata {

namespace detail {
// Compact JSON; doubles in their shortest exact decimal form ("42.86", not "4.286E1").
std::string json_serialize(const boost::json::value& value);
// nullopt when `bytes` is not one complete JSON document.
std::optional<boost::json::value> json_parse(std::string_view bytes);
}  // namespace detail

// How values of type T become bytes and back. The default is JSON through Boost.JSON: any type
// with tag_invoke overloads for value_from / value_to (or that Boost.JSON handles already:
// numbers, strings, containers, maps, described structs) works as is. A type with another wire
// format specializes Codec<T> with the same three members. decode() returns nullopt for bytes
// it does not accept; the cache then treats the entry as a miss and deletes it.
//
// Two optional members save copies on hot paths: decode(std::string&&), which may take the
// bytes over instead of copying them, and view(const T&), for types whose value *is* its
// encoding: the cache then keeps one copy of such a value (L1 charges and serves its bytes
// straight from the value) and stores it without encoding it first.
//
// A third, footprint(const T&), returns the heap memory a decoded value holds beyond the object
// itself (strata/footprint.hpp has the arithmetic), so that L1's byte budget counts the decoded
// copy it keeps; without it, L1 takes the encoding's size as the decoded value's.
//
// The cache calls these from any thread, concurrently: a specialization keeps no mutable state.
template <typename T>
struct Codec {
  static constexpr std::string_view name = "json";
  static std::string encode(const T& value) {
    return detail::json_serialize(boost::json::value_from(value));
  }
  static std::optional<T> decode(std::string_view bytes) {
    auto document = detail::json_parse(bytes);
    if (!document) return std::nullopt;
    try {  // a user's value_to overload may throw instead of reporting through the result
      auto converted = boost::json::try_value_to<T>(*document);
      if (converted.has_error()) return std::nullopt;
      return std::move(*converted);
    } catch (const std::exception&) {
      return std::nullopt;
    }
  }
};

// Strings and Bytes are stored as they are.
template <>
struct Codec<std::string> {
  static constexpr std::string_view name = "raw";
  static std::string encode(const std::string& value) { return value; }
  static std::optional<std::string> decode(std::string_view bytes) { return std::string(bytes); }
  static std::optional<std::string> decode(std::string&& bytes) { return std::move(bytes); }
  static std::string_view view(const std::string& value) noexcept { return value; }
};

template <>
struct Codec<Bytes> {
  static constexpr std::string_view name = "raw";
  static std::string encode(const Bytes& value) { return value.to_string(); }
  static std::optional<Bytes> decode(std::string_view bytes) { return Bytes::copy_of(bytes); }
  static std::optional<Bytes> decode(std::string&& bytes) { return Bytes::adopt(std::move(bytes)); }
  static std::string_view view(const Bytes& value) noexcept { return value.view(); }
};

}  // namespace strata
