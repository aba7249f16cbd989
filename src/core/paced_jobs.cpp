#include "core/paced_jobs.hpp"

#include "core/strand.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <memory>

namespace strata::core {

namespace asio = boost::asio;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// Shared by the workers of one run, all on one strand.
struct Run {
  explicit Run(PacedJobs settings) : jobs(std::move(settings)) {}
  PacedJobs jobs;
  std::size_t next = 0;
  std::size_t workers_left = 0;
  std::chrono::steady_clock::time_point began;
  std::unique_ptr<asio::steady_timer> all_done;  // cancelled by the last worker
};

// Takes the next job until none is left. Its arguments by value: a coroutine's own copies.
asio::awaitable<void> worker(std::shared_ptr<Run> run) {
  asio::steady_timer pacing(co_await asio::this_coro::executor);
  const auto& jobs = run->jobs;
  for (std::size_t i = run->next++; i < jobs.count; i = run->next++) {
    if (jobs.rate > 0.0) {
      pacing.expires_at(run->began + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                         std::chrono::duration<double>(static_cast<double>(i) / jobs.rate)));
      (void)co_await pacing.async_wait(kAwait);
    }
    co_await jobs.job(i);
  }
  if (--run->workers_left == 0) run->all_done->cancel();
}

asio::awaitable<void> supervise(std::shared_ptr<Run> run) {
  const auto strand = co_await asio::this_coro::executor;
  run->began = std::chrono::steady_clock::now();
  run->all_done = std::make_unique<asio::steady_timer>(strand);
  const std::size_t workers = std::min(std::max<std::size_t>(1, run->jobs.concurrency), run->jobs.count);
  run->workers_left = workers;
  for (std::size_t w = 0; w < workers; ++w) asio::co_spawn(strand, worker(run), asio::detached);
  while (run->workers_left > 0) {
    run->all_done->expires_after(run->jobs.tick_every);
    (void)co_await run->all_done->async_wait(kAwait);
    if (run->workers_left > 0 && run->jobs.tick) run->jobs.tick();
  }
}

}  // namespace

asio::awaitable<void> run_paced(const asio::any_io_executor& executor, const PacedJobs& jobs) {
  if (jobs.count == 0) co_return;
  auto run = std::make_shared<Run>(jobs);
  const auto strand = strand_of(executor);
  co_await asio::co_spawn(strand, supervise(run), asio::use_awaitable);
}

}  // namespace strata::core
