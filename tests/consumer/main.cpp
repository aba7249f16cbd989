// A service outside Strata's tree, built against an installed Strata: with find_package (see
// CMakeLists.txt here) and with pkg-config. It caches a loader's answer in-process and checks
// the second call is served without the loader.
#include <strata/cache.hpp>
#include <strata/version.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdio>
#include <string>

namespace asio = boost::asio;

asio::awaitable<int> run(asio::any_io_executor executor) {
  strata::CacheOptions options;  // no Redis: the in-process tier alone
  options.prefix = "consumer";
  strata::Cache cache(executor, options);
  int loads = 0;
  auto loader = [&loads] {
    ++loads;
    return std::string("profile of user 7");
  };
  const strata::Key key = strata::Key::of("users", 7);
  const std::string first = co_await cache.get_or_set<std::string>(key, loader);
  const std::string second = co_await cache.get_or_set<std::string>(key, loader);
  std::printf("strata %s: \"%s\", loader ran %d time(s), l1 hits %llu\n", strata::version_string, second.c_str(),
              loads, static_cast<unsigned long long>(cache.stats().l1_hits));
  co_return first == second && loads == 1 ? 0 : 1;
}

int main() {
  asio::io_context io;
  int status = 2;
  asio::co_spawn(io, run(io.get_executor()), [&](std::exception_ptr error, int result) {
    status = error ? 3 : result;
  });
  io.run();
  return status;
}
