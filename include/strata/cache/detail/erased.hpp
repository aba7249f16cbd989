#pragma once

// The machinery behind Cache's templates: type-erased values, codecs and loaders, so that
// cache.cpp is compiled once for every value type. Not part of the API: names here may change
// in any release.

#include <strata/cache/codec.hpp>
#include <strata/cache/options.hpp>
#include <strata/cache/result.hpp>
#include <strata/footprint.hpp>

#include <boost/asio/awaitable.hpp>

#include <concepts>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

namespace strata {

namespace detail {

// A type-erased value. The object itself is created non-const (make_erased), so that its last
// owner may move it out (take) instead of copying it.
using ErasedValue = std::shared_ptr<const void>;

template <typename T, typename... Arguments>
ErasedValue make_erased(Arguments&&... arguments) {
  return std::make_shared<T>(std::forward<Arguments>(arguments)...);
}

// The value of `erased`: moved out when nobody else holds it (a fresh L2 read or load),
// copied when L1 or other waiters share it.
template <typename T>
T take(ErasedValue erased) {
  auto typed = std::static_pointer_cast<const T>(std::move(erased));
  if (typed.use_count() == 1) return std::move(const_cast<T&>(*typed));
  return *typed;
}

template <typename T>
concept ViewableAsBytes = requires(const T& value) {
  { Codec<T>::view(value) } -> std::convertible_to<std::string_view>;
};

// The built-in raw types: any bytes are a value, taken over without decoding.
template <typename T>
concept ValueIsBytes = std::same_as<T, std::string> || std::same_as<T, Bytes>;

template <typename T>
concept MeasuresFootprint = requires(const T& value) {
  { Codec<T>::footprint(value) } -> std::convertible_to<std::size_t>;
};

// What a decoded value costs in memory, its shared block included: the codec's own measure, or
// else its encoding's size standing in for what the decoded form holds.
template <typename T>
std::size_t value_footprint(const T& value, std::size_t encoded_size) {
  if constexpr (MeasuresFootprint<T>) {
    return shared_object_bytes<T>() + Codec<T>::footprint(value);
  } else if constexpr (std::same_as<T, std::string>) {
    return shared_object_bytes<T>() + heap_bytes(value);
  } else {
    return shared_object_bytes<T>() + allocation_bytes(encoded_size);
  }
}

struct ErasedCodec {
  std::string_view name;
  const void* type;  // one address per C++ type
  std::string (*encode)(const void* value);
  ErasedValue (*decode)(std::string_view bytes);  // null when the bytes are not accepted
  ErasedValue (*decode_owned)(std::string&& bytes);  // decode, free to take the bytes over
  // The value's encoding without encoding it, for types whose value is its bytes; else null.
  std::string_view (*view)(const void* value);
  bool value_is_bytes;  // ValueIsBytes: a read may hand over the bytes instead of an erased value
  std::size_t (*footprint)(const void* value, std::size_t encoded_size);  // value_footprint
};

template <typename T>
const ErasedCodec& erased_codec() {
  static constexpr char type_marker = 0;
  static const ErasedCodec codec{
      Codec<T>::name,
      &type_marker,
      [](const void* value) { return Codec<T>::encode(*static_cast<const T*>(value)); },
      [](std::string_view bytes) -> ErasedValue {
        auto decoded = Codec<T>::decode(bytes);
        if (!decoded) return nullptr;
        return make_erased<T>(std::move(*decoded));
      },
      [](std::string&& bytes) -> ErasedValue {
        auto decoded = Codec<T>::decode(std::move(bytes));
        if (!decoded) return nullptr;
        return make_erased<T>(std::move(*decoded));
      },
      ViewableAsBytes<T> ? +[](const void* value) -> std::string_view {
        if constexpr (ViewableAsBytes<T>) return Codec<T>::view(*static_cast<const T*>(value));
        return {};
      } : nullptr,
      ValueIsBytes<T>,
      [](const void* value, std::size_t encoded_size) {
        return value_footprint(*static_cast<const T*>(value), encoded_size);
      }};
  return codec;
}

using ErasedLoader = std::function<boost::asio::awaitable<ErasedValue>(LoadContext&)>;

struct ErasedFetch {
  ErasedValue value;  // null when the value travels as `bytes`
  Source source = Source::loader;
  Clock::duration age{};
  std::string bytes;  // an L2 hit of a ValueIsBytes type: the value, without an allocation to erase it
};

// The value a read found: for raw types read from L2 its bytes as they are, else the erased value.
template <typename T>
T take(ErasedFetch& found) {
  if constexpr (ValueIsBytes<T>) {
    if (!found.value) return *Codec<T>::decode(std::move(found.bytes));  // never fails for raw types
  }
  return take<T>(std::move(found.value));
}

// What a read through the cache hands its caller: the value alone, or Fetched<T>.
template <typename Out, typename T>
Out deliver(ErasedFetch&& found) {
  if constexpr (std::is_same_v<Out, Fetched<T>>) {
    return Fetched<T>{take<T>(found), found.source, found.age};
  } else {
    return take<T>(found);
  }
}

template <typename T>
struct is_awaitable : std::false_type {};
template <typename T, typename Executor>
struct is_awaitable<boost::asio::awaitable<T, Executor>> : std::true_type {};

template <typename T, typename Loader>
ErasedLoader erase_loader(Loader loader) {
  return [loader = std::move(loader)](LoadContext& context) mutable -> boost::asio::awaitable<ErasedValue> {
    if constexpr (std::is_invocable_v<Loader&, LoadContext&>) {
      using Returned = std::invoke_result_t<Loader&, LoadContext&>;
      if constexpr (is_awaitable<Returned>::value) {
        co_return make_erased<T>(co_await loader(context));
      } else {
        co_return make_erased<T>(loader(context));
      }
    } else {
      using Returned = std::invoke_result_t<Loader&>;
      if constexpr (is_awaitable<Returned>::value) {
        co_return make_erased<T>(co_await loader());
      } else {
        co_return make_erased<T>(loader());
      }
    }
  };
}

// The caller's loader, left where it is until a load needs it: a hit never type-erases it (a
// std::function of a loader that holds more than 16 bytes is an allocation).
struct LoaderRef {
  void* loader;
  ErasedLoader (*erase)(void* loader);  // moves the loader out: called once at most
};

template <typename T, typename Loader>
LoaderRef loader_ref(Loader& loader) {
  return {&loader, [](void* held) { return erase_loader<T>(std::move(*static_cast<Loader*>(held))); }};
}

}  // namespace detail

}  // namespace strata
