#include <strata/blocking_cache.hpp>

#include <boost/asio/executor_work_guard.hpp>

namespace strata {

BlockingCache::BlockingCache(CacheOptions options, std::size_t loader_threads)
    : loaders_(loader_threads == 0 ? 1 : loader_threads),
      cache_(std::make_unique<Cache>(io_.get_executor(), std::move(options))) {
  thread_ = std::thread([this] {
    auto guard = boost::asio::make_work_guard(io_);
    io_.run();
  });
  (void)run(cache_->start());
}

BlockingCache::~BlockingCache() {
  stop();
  cache_.reset();
  loaders_.join();
  io_.stop();
  thread_.join();
}

}  // namespace strata
