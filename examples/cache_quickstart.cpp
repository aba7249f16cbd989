#include <strata/cache.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>
#include <iostream>

namespace asio = boost::asio;
using namespace std::chrono_literals;

struct Job {
  std::string status;
  int progress = 0;
};
// Any type Boost.JSON can convert is cached as JSON (in Redis); L1 keeps the decoded object.
void tag_invoke(boost::json::value_from_tag, boost::json::value& out, const Job& job) {
  out = {{"status", job.status}, {"progress", job.progress}};
}
Job tag_invoke(boost::json::value_to_tag<Job>, const boost::json::value& in) {
  return {boost::json::value_to<std::string>(in.at("status")), boost::json::value_to<int>(in.at("progress"))};
}

asio::awaitable<void> serve(strata::Cache& cache) {
  co_await cache.start();  // connects to Redis when one is configured; L1 only otherwise
  int database_reads = 0;
  auto read_job = [&] {  // the slow query the cache spares
    ++database_reads;
    return Job{"rendering", 40};
  };

  strata::EntryOptions job_entry;
  job_entry.ttl = 30s;            // fresh for 30 s
  job_entry.stale_ttl = 5min;     // then kept 5 min for fail-safe if the database fails
  job_entry.tags = {"job:42"};
  for (int poll = 0; poll < 3; ++poll) {
    auto job = co_await cache.fetch<Job>(strata::Key::of("jobs", 42), read_job, job_entry);
    std::cout << "poll " << poll << ": " << job.value.status << " " << job.value.progress << "% from "
              << strata::to_string(job.source) << "\n";
  }
  co_await cache.invalidate_tag("job:42");  // the job progressed: drop every entry about it
  (void)co_await cache.get_or_set<Job>(strata::Key::of("jobs", 42), read_job, job_entry);
  std::cout << "database reads: " << database_reads << "\n"
            << strata::to_json(cache.stats()) << "\n";
}

int main() {
  asio::io_context io;
  strata::Cache cache(io.get_executor(), strata::CacheOptions::from_env());  // REDIS_URL adds the Redis tier
  asio::co_spawn(io, serve(cache), [&](std::exception_ptr error) {
    if (error) std::rethrow_exception(error);
    io.stop();  // the Redis connections would keep run() busy
  });
  io.run();
}
