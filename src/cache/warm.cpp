// Cache::warm: a range of keys loaded through get_or_set, paced.

#include <strata/cache.hpp>

#include "core/paced_jobs.hpp"

#include <boost/asio/this_coro.hpp>

#include <chrono>
#include <exception>
#include <memory>

namespace strata {

namespace asio = boost::asio;

namespace {

// One warming's keys and tally, shared by its jobs (all on one strand).
struct Warming {
  std::vector<Key> keys;
  std::function<asio::awaitable<Source>(const Key&)> one;
  std::function<void(const WarmReport&)> progress;
  WarmReport report;
};

asio::awaitable<void> warm_key(std::shared_ptr<Warming> warming, std::size_t index) {
  const Key& key = warming->keys[index];
  std::string failure;
  try {
    const Source source = co_await warming->one(key);
    (source == Source::loader ? warming->report.loaded : warming->report.already_cached) += 1;
  } catch (const std::exception& error) {
    failure = error.what();
  } catch (...) {
    failure = "a non-standard exception";
  }
  if (!failure.empty()) {
    ++warming->report.failed;
    if (warming->report.failures.size() < 16) warming->report.failures.emplace_back(key, std::move(failure));
  }
  if (warming->progress) warming->progress(warming->report);
}

}  // namespace

asio::awaitable<WarmReport> Cache::warm_erased(std::vector<Key> keys,
                                               std::function<asio::awaitable<Source>(const Key&)> one,
                                               WarmOptions options) {
  auto warming = std::make_shared<Warming>();
  warming->keys = std::move(keys);
  warming->one = std::move(one);
  warming->progress = std::move(options.progress);
  warming->report.total = warming->keys.size();
  core::PacedJobs jobs;
  jobs.count = warming->keys.size();
  jobs.concurrency = options.concurrency;
  jobs.rate = options.rate;
  jobs.job = [warming](std::size_t index) { return warm_key(warming, index); };
  const auto began = std::chrono::steady_clock::now();
  const auto executor = co_await asio::this_coro::executor;
  co_await core::run_paced(executor, jobs);
  warming->report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  co_return warming->report;
}

}  // namespace strata
