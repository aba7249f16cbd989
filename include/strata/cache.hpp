#pragma once

// libstrata's cache: cache-aside over an in-process tier (L1) and, when configured, Redis (L2),
// with tags, namespaces, single-flight loads, fail-safe, eager refresh, cross-process L1
// coherence and statistics. See docs/cache.md for the design.

#include <strata/cache/codec.hpp>
#include <strata/cache/key.hpp>
#include <strata/cache/options.hpp>
#include <strata/cache/stats.hpp>
#include <strata/footprint.hpp>
#include <strata/redis/error.hpp>
#include <strata/redis/reply.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/this_coro.hpp>

#include <chrono>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace strata {

// Where a value came from.
enum class Source : std::uint8_t {
  l1,      // the in-process tier
  l2,      // Redis
  loader,  // the loader ran (in this call or in a concurrent one it waited for)
  stale,   // a stale value served because the loader failed or was too slow (fail-safe)
};
[[nodiscard]] std::string_view to_string(Source source) noexcept;

template <typename T>
struct Fetched {
  T value;
  Source source = Source::loader;
  // Time since the value was loaded from the source of truth.
  Clock::duration age{};
};

// What a write or an invalidation achieved. The local (L1) part always succeeds; `ok` is false
// when Redis could not be updated, in which case `error` says why and other processes may still
// serve the old value until its TTL ends (or until their L1 is cleared on reconnect).
struct Outcome {
  bool ok = true;
  std::uint64_t affected = 0;  // entries found and changed or removed, where known
  std::string error;
  explicit operator bool() const noexcept { return ok; }
};

// Thrown to a get_or_set() caller when the load exceeded its hard timeout and there was no stale
// value to serve instead.
class LoadTimeout : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

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

// The cache. Thread-safe: call it from any thread or executor. Its background work (loads that
// outlive their callers, refreshes, Redis, the bus) runs on the executor given at construction.
// Operations never throw for backend trouble: Redis errors, timeouts, an open circuit or corrupt
// entries become misses and count in stats().errors. Loader exceptions reach the caller unless a
// stale value can be served instead. Configuration mistakes throw std::invalid_argument.
class Cache {
public:
  Cache(boost::asio::any_io_executor executor, CacheOptions options = {});
  ~Cache();
  Cache(const Cache&) = delete;
  Cache& operator=(const Cache&) = delete;

  // Connects to Redis when configured (no-op otherwise). True when L2 is reachable or not
  // configured. Without it, L2 connects on first use; on failure it keeps retrying in the
  // background and the cache serves from L1 and loaders meanwhile.
  boost::asio::awaitable<bool> start();

  // A fresh value, or nullopt (miss, undecodable, Redis down).
  template <typename T = std::string>
  boost::asio::awaitable<std::optional<T>> get(const Key& key, EntryOptions options = {}) {
    auto found = co_await get_erased(key, detail::erased_codec<T>(), std::move(options));
    if (!found) co_return std::nullopt;
    co_return detail::take<T>(std::move(found->value));
  }

  template <typename T>
  boost::asio::awaitable<Outcome> set(const Key& key, T value, EntryOptions options = {}) {
    auto erased = detail::make_erased<T>(std::move(value));
    co_return co_await set_erased(key, detail::erased_codec<T>(), std::move(erased), std::move(options));
  }
  boost::asio::awaitable<Outcome> set(const Key& key, const char* value, EntryOptions options = {}) {
    return set<std::string>(key, std::string(value), std::move(options));
  }

  // The cached value, or the loader's (stored for next time), loaded once per process however
  // many callers miss at once. The loader is T(), awaitable<T>(), T(LoadContext&) or
  // awaitable<T>(LoadContext&).
  template <typename T, typename Loader>
  boost::asio::awaitable<T> get_or_set(const Key& key, Loader loader, EntryOptions options = {}) {
    return read_through<T, T, const Key&>(key, std::move(loader), std::move(options));
  }
  // get_or_set() that also says where the value came from and how old it is.
  template <typename T, typename Loader>
  boost::asio::awaitable<Fetched<T>> fetch(const Key& key, Loader loader, EntryOptions options = {}) {
    return read_through<Fetched<T>, T, const Key&>(key, std::move(loader), std::move(options));
  }

  boost::asio::awaitable<Outcome> remove(const Key& key);
  // Ends the entry's fresh life now but keeps it for fail-safe until its stale window ends.
  boost::asio::awaitable<Outcome> expire(const Key& key);
  // Makes the entry fresh for `ttl` from now (its stale window follows). affected = 0 if absent.
  boost::asio::awaitable<Outcome> extend_ttl(const Key& key, Clock::duration ttl);

  boost::asio::awaitable<Outcome> invalidate_tag(std::string tag);
  boost::asio::awaitable<Outcome> invalidate_tags(std::vector<std::string> tags);
  // Every entry of the namespace, in O(1) on Redis (a generation counter).
  boost::asio::awaitable<Outcome> invalidate_namespace(std::string name_space);
  // Entries whose logical key ("namespace:part:...") matches the glob: SCAN + UNLINK in batches.
  boost::asio::awaitable<Outcome> invalidate_pattern(std::string glob);
  // Every entry stored with EntryOptions::user == user_id.
  boost::asio::awaitable<Outcome> invalidate_user(std::string user_id);
  // Every entry under this cache's prefix (nothing else in Redis).
  boost::asio::awaitable<Outcome> clear();

  [[nodiscard]] CacheStats stats() const;
  void reset_stats();

  // Memoizes `function` (returning R or awaitable<R>): the key is namespace `name` with the
  // arguments as parts, the seeds' @cached decorator.
  template <typename R, typename Function>
  auto memoize(std::string name, Function function, EntryOptions options = {}) {
    // Not a coroutine lambda: the key and the loader are built here and owned by read_through.
    return [this, name = std::move(name), function = std::move(function),
            options = std::move(options)](const auto&... arguments) {
      auto loader = [function = function, captured = std::make_tuple(arguments...)]() {
        return std::apply(function, captured);
      };
      return read_through<R, R, Key>(Key::of(name, arguments...), std::move(loader), options);
    };
  }

  [[nodiscard]] const CacheOptions& options() const noexcept;
  [[nodiscard]] bool redis_enabled() const noexcept;
  // Round trip to Redis; nullopt when unavailable or not configured.
  boost::asio::awaitable<std::optional<std::chrono::nanoseconds>> ping_redis();
  // Redis' INFO <section> text (e.g. "memory" for used_memory_human); nullopt when unavailable
  // or not configured.
  boost::asio::awaitable<std::optional<std::string>> redis_info(std::string section);

  // The executor the cache's Redis work runs on (a strand of the one given at construction).
  // Coroutines running on it reach Redis without hopping executors: the cheapest way to use the
  // cache from a single-threaded program.
  [[nodiscard]] boost::asio::any_io_executor executor() const noexcept;

  class Impl;

private:
  boost::asio::awaitable<std::optional<detail::ErasedFetch>> get_erased(const Key& key,
                                                                       const detail::ErasedCodec& codec,
                                                                       EntryOptions options);
  boost::asio::awaitable<Outcome> set_erased(const Key& key, const detail::ErasedCodec& codec,
                                             detail::ErasedValue value, EntryOptions options);
  // A read through the cache (get_or_set, fetch, memoize) in steps that never suspend, around
  // the one GET an L2 hit needs: a hit then costs one coroutine frame, read_through's, which
  // holds the probe. Only a read that finds nothing fresh goes on to serve_miss(), its own frame.
  // That frame (the probe, the options, the loader) is recycled by Asio while it stays under
  // about 1 KiB: with a loader of up to ~130 bytes (its captures), a hit allocates no frame.
  class Probe {
  public:
    enum class Step : std::uint8_t {
      hit,          // a fresh value: take_found()
      hit_refresh,  // a fresh value past its eager-refresh point: refresh(), then take_found()
      read_l2,      // GET the entry (probe_get), then settle() the reply
      miss,         // nothing fresh, or the entry key is not known without suspending: serve_miss()
    };
    Probe() noexcept = default;
    ~Probe();
    Probe(const Probe&) = delete;
    Probe& operator=(const Probe&) = delete;

  private:
    friend class Cache;
    struct State;  // cache.cpp
    State& state() noexcept;
    static constexpr std::size_t kStateBytes = 288;
    alignas(16) std::byte storage_[kStateBytes];
    bool built_ = false;
  };
  Probe::Step begin_probe(Probe& probe, const Key& key, const detail::ErasedCodec& codec, const EntryOptions& options);
  boost::asio::awaitable<redis::Result<redis::Reply>> probe_get(Probe& probe, const boost::asio::any_io_executor& caller);
  Probe::Step settle(Probe& probe, const detail::ErasedCodec& codec, redis::Result<redis::Reply>&& reply);
  void refresh(Probe& probe, const detail::ErasedCodec& codec, detail::LoaderRef loader, const EntryOptions& options);
  // Loads (once per key), waits for a concurrent load or serves a stale value; the outcome is
  // then taken like a hit's, with take_found().
  boost::asio::awaitable<void> serve_miss(const Key& key, const detail::ErasedCodec& codec, detail::LoaderRef loader,
                                          const EntryOptions& options, Probe& probe);
  detail::ErasedFetch take_found(Probe& probe);

  // KeyArg: const Key& when the caller's frame owns the key, Key when this frame must.
  template <typename Out, typename T, typename KeyArg, typename Loader>
  boost::asio::awaitable<Out> read_through(KeyArg key, Loader loader, EntryOptions options) {
    const detail::ErasedCodec& codec = detail::erased_codec<T>();
    Probe probe;
    auto step = begin_probe(probe, key, codec, options);
    if (step == Probe::Step::read_l2) {
      const boost::asio::any_io_executor caller = co_await boost::asio::this_coro::executor;
      auto reply = co_await probe_get(probe, caller);
      step = settle(probe, codec, std::move(reply));
    }
    if (step == Probe::Step::hit_refresh) refresh(probe, codec, detail::loader_ref<T>(loader), options);
    if (step == Probe::Step::miss) co_await serve_miss(key, codec, detail::loader_ref<T>(loader), options, probe);
    co_return detail::deliver<Out, T>(take_found(probe));
  }

  std::shared_ptr<Impl> impl_;
};

}  // namespace strata
