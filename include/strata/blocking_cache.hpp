#pragma once

#include <strata/cache.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include <memory>
#include <thread>

namespace strata {

// strata::Cache for synchronous programs: every call blocks until done. It runs the cache on its
// own I/O thread, and loaders on a small pool of worker threads (so a slow loader never stalls
// the I/O thread, and a loader may itself use the cache). Thread-safe.
class BlockingCache {
public:
  explicit BlockingCache(CacheOptions options = {}, std::size_t loader_threads = 4);
  ~BlockingCache();
  BlockingCache(const BlockingCache&) = delete;
  BlockingCache& operator=(const BlockingCache&) = delete;

  template <typename T = std::string>
  std::optional<T> get(const Key& key, EntryOptions options = {}) {
    return run(cache_->get<T>(key, std::move(options)));
  }
  template <typename T>
  Outcome set(const Key& key, T value, EntryOptions options = {}) {
    return run(cache_->set<T>(key, std::move(value), std::move(options)));
  }
  Outcome set(const Key& key, const char* value, EntryOptions options = {}) {
    return set<std::string>(key, std::string(value), std::move(options));
  }
  // The loader is a plain function: T() or T(LoadContext&). It runs on a worker thread.
  template <typename T, typename Loader>
  T get_or_set(const Key& key, Loader loader, EntryOptions options = {}) {
    return fetch<T>(key, std::move(loader), std::move(options)).value;
  }
  template <typename T, typename Loader>
  Fetched<T> fetch(const Key& key, Loader loader, EntryOptions options = {}) {
    auto on_worker = [this, loader = std::move(loader)](LoadContext& context) mutable
        -> boost::asio::awaitable<T> {
      co_return co_await boost::asio::co_spawn(
          loaders_,
          [&loader, &context]() -> boost::asio::awaitable<T> {
            if constexpr (std::is_invocable_v<Loader&, LoadContext&>) {
              co_return loader(context);
            } else {
              co_return loader();
            }
          },
          boost::asio::use_awaitable);
    };
    return run(cache_->fetch<T>(key, std::move(on_worker), std::move(options)));
  }
  // Memoizes a plain function: calls with equal arguments share one cached result.
  template <typename R, typename Function>
  auto memoize(std::string name, Function function, EntryOptions options = {}) {
    return [this, name = std::move(name), function = std::move(function),
            options = std::move(options)](auto... arguments) -> R {
      return get_or_set<R>(Key::of(name, arguments...),
                           [function, arguments...]() { return function(arguments...); }, options);
    };
  }

  Outcome remove(const Key& key) { return run(cache_->remove(key)); }
  Outcome expire(const Key& key) { return run(cache_->expire(key)); }
  Outcome extend_ttl(const Key& key, Clock::duration ttl) { return run(cache_->extend_ttl(key, ttl)); }
  Outcome invalidate_tag(std::string tag) { return run(cache_->invalidate_tag(std::move(tag))); }
  Outcome invalidate_tags(std::vector<std::string> tags) {
    return run(cache_->invalidate_tags(std::move(tags)));
  }
  Outcome invalidate_namespace(std::string name_space) {
    return run(cache_->invalidate_namespace(std::move(name_space)));
  }
  Outcome invalidate_pattern(std::string glob) { return run(cache_->invalidate_pattern(std::move(glob))); }
  Outcome invalidate_user(std::string user_id) { return run(cache_->invalidate_user(std::move(user_id))); }
  Outcome clear() { return run(cache_->clear()); }
  // Cache::stop(): waits for running loaders; no loader is called afterwards. The destructor
  // does it too.
  void stop() { run(cache_->stop()); }
  [[nodiscard]] CacheStats stats() const { return cache_->stats(); }
  void reset_stats() { cache_->reset_stats(); }

  // The asynchronous cache underneath, e.g. to share it with coroutine code.
  [[nodiscard]] Cache& async() noexcept { return *cache_; }

private:
  template <typename T>
  T run(boost::asio::awaitable<T> work) {
    return boost::asio::co_spawn(io_, std::move(work), boost::asio::use_future).get();
  }

  boost::asio::io_context io_;
  boost::asio::thread_pool loaders_;
  std::unique_ptr<Cache> cache_;
  std::thread thread_;
};

}  // namespace strata
