#pragma once

// libstrata's cache: cache-aside over an in-process tier (L1) and, when configured, Redis (L2),
// with tags, namespaces, single-flight loads, fail-safe, eager refresh, cross-process L1
// coherence and statistics. See docs/cache.md for the design.

#include <strata/cache/codec.hpp>
#include <strata/cache/detail/erased.hpp>
#include <strata/cache/inspection.hpp>
#include <strata/cache/key.hpp>
#include <strata/cache/options.hpp>
#include <strata/cache/result.hpp>
#include <strata/cache/stats.hpp>
#include <strata/cache/warming.hpp>

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

// The cache. Thread-safe: call it from any thread or executor. Its background work (loads that
// outlive their callers, refreshes, Redis, the bus) runs on the executor given at construction.
// Operations never throw for backend trouble: Redis errors, timeouts, an open circuit or corrupt
// entries become misses and count in stats().errors. Loader exceptions reach the caller unless a
// stale value can be served instead. Configuration mistakes throw std::invalid_argument.
//
// Lifetimes: every awaitable owns its arguments (keys, loaders, options), so it may be started
// after the call that made it returned (co_spawn). The Cache itself must outlive the operations
// started on it: co_await stop(), then destroy it. Loaders run on the executor given at
// construction, and may use the cache themselves.
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

  // Ends the cache's work, for a clean shutdown: from the moment it begins no loader is called
  // (a read that needs one gets a stale value when one may be served, else CacheStopped), the
  // loaders already running are awaited, then the Redis connections and the bus are closed.
  // Values already in L1 are still served. Destroying a Cache without stop() is safe as well,
  // and starts no loader after, but does not wait for the loaders still running.
  boost::asio::awaitable<void> stop();

  // A fresh value, or nullopt (miss, undecodable, Redis down).
  template <typename T = std::string>
  boost::asio::awaitable<std::optional<T>> get(Key key, EntryOptions options = {}) {
    auto found = co_await get_erased(key, detail::erased_codec<T>(), std::move(options));
    if (!found) co_return std::nullopt;
    co_return detail::take<T>(std::move(found->value));
  }

  template <typename T>
  boost::asio::awaitable<Outcome> set(Key key, T value, EntryOptions options = {}) {
    auto erased = detail::make_erased<T>(std::move(value));
    co_return co_await set_erased(key, detail::erased_codec<T>(), std::move(erased), std::move(options));
  }
  boost::asio::awaitable<Outcome> set(Key key, const char* value, EntryOptions options = {}) {
    return set<std::string>(std::move(key), std::string(value), std::move(options));
  }

  // The cached value, or the loader's (stored for next time), loaded once per process however
  // many callers miss at once. The loader is T(), awaitable<T>(), T(LoadContext&) or
  // awaitable<T>(LoadContext&).
  template <typename T, typename Loader>
  boost::asio::awaitable<T> get_or_set(Key key, Loader loader, EntryOptions options = {}) {
    return read_through<T, T>(std::move(key), std::move(loader), std::move(options));
  }
  // get_or_set() that also says where the value came from and how old it is.
  template <typename T, typename Loader>
  boost::asio::awaitable<Fetched<T>> fetch(Key key, Loader loader, EntryOptions options = {}) {
    return read_through<Fetched<T>, T>(std::move(key), std::move(loader), std::move(options));
  }

  boost::asio::awaitable<Outcome> remove(Key key);
  // Ends the entry's fresh life now but keeps it for fail-safe until its stale window ends.
  boost::asio::awaitable<Outcome> expire(Key key);
  // Makes the entry fresh for `ttl` from now (its stale window follows). affected = 0 if absent.
  boost::asio::awaitable<Outcome> extend_ttl(Key key, Clock::duration ttl);

  boost::asio::awaitable<Outcome> invalidate_tag(std::string tag);
  boost::asio::awaitable<Outcome> invalidate_tags(std::vector<std::string> tags);
  // Every entry of the namespace, in O(1) on Redis (a generation counter).
  boost::asio::awaitable<Outcome> invalidate_namespace(std::string name_space);
  // Entries whose logical key ("namespace:part:...") matches the glob: SCAN + UNLINK in batches.
  boost::asio::awaitable<Outcome> invalidate_pattern(std::string glob);
  // How many entries invalidate_pattern(glob) would remove now (Redis' count when configured,
  // else L1's), in `affected`; nothing is removed.
  boost::asio::awaitable<Outcome> count_pattern(std::string glob);
  // Every entry stored with EntryOptions::user == user_id.
  boost::asio::awaitable<Outcome> invalidate_user(std::string user_id);
  // Every entry under this cache's prefix (nothing else in Redis).
  boost::asio::awaitable<Outcome> clear();

  // Loads every key of `keys` that is not cached yet, through get_or_set (so a key another caller
  // is loading is joined, not loaded twice), at most options.concurrency at once and options.rate
  // a second, so that the source is not flattened. The loader is T(const Key&) or
  // awaitable<T>(const Key&); one that throws counts as failed and the warming goes on.
  template <typename T, typename Loader>
  boost::asio::awaitable<WarmReport> warm(std::vector<Key> keys, Loader loader, WarmOptions options = {}) {
    auto shared = std::make_shared<Loader>(std::move(loader));
    std::function<boost::asio::awaitable<Source>(const Key&)> one = [this, shared, entry = options.entry](const Key& key) {
      return warm_one<T, Loader>(key, shared, entry);
    };
    return warm_erased(std::move(keys), std::move(one), std::move(options));
  }

  [[nodiscard]] CacheStats stats() const;
  void reset_stats();
  // What L1 and Redis hold for `key`, read without counting a lookup or touching the entry.
  boost::asio::awaitable<EntryInspection> inspect(Key key, EntryOptions options = {});

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
      return read_through<R, R>(Key::of(name, arguments...), std::move(loader), options);
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
  template <typename T, typename Loader>
  boost::asio::awaitable<Source> warm_one(Key key, std::shared_ptr<Loader> loader, EntryOptions entry) {
    auto bound = [loader, key] { return (*loader)(key); };
    auto fetching = fetch<T>(key, std::move(bound), std::move(entry));  // a local: GCC 12 and co_await
    const auto fetched = co_await std::move(fetching);
    co_return fetched.source;
  }
  boost::asio::awaitable<WarmReport> warm_erased(std::vector<Key> keys,
                                                 std::function<boost::asio::awaitable<Source>(const Key&)> one,
                                                 WarmOptions options);
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
      read_l2,      // GET the entry and judge it: probe_l2()
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
  boost::asio::awaitable<Probe::Step> probe_l2(Probe& probe, const detail::ErasedCodec& codec,
                                               const boost::asio::any_io_executor& caller);
  void refresh(Probe& probe, const detail::ErasedCodec& codec, detail::LoaderRef loader, const EntryOptions& options);
  // Loads (once per key), waits for a concurrent load or serves a stale value; the outcome is
  // then taken like a hit's, with take_found().
  boost::asio::awaitable<void> serve_miss(const Key& key, const detail::ErasedCodec& codec, detail::LoaderRef loader,
                                          const EntryOptions& options, Probe& probe);
  detail::ErasedFetch take_found(Probe& probe);

  // Owns its key, loader and options: the awaitable may be started long after the call that
  // made it (co_spawn), when the caller's arguments are gone.
  template <typename Out, typename T, typename Loader>
  boost::asio::awaitable<Out> read_through(Key key, Loader loader, EntryOptions options) {
    const detail::ErasedCodec& codec = detail::erased_codec<T>();
    Probe probe;
    auto step = begin_probe(probe, key, codec, options);
    if (step == Probe::Step::read_l2) {
      const boost::asio::any_io_executor caller = co_await boost::asio::this_coro::executor;
      step = co_await probe_l2(probe, codec, caller);
    }
    if (step == Probe::Step::hit_refresh) refresh(probe, codec, detail::loader_ref<T>(loader), options);
    if (step == Probe::Step::miss) co_await serve_miss(key, codec, detail::loader_ref<T>(loader), options, probe);
    co_return detail::deliver<Out, T>(take_found(probe));
  }

  std::shared_ptr<Impl> impl_;
};

}  // namespace strata
