#include <strata/redis/pool.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <cstdlib>
#include <iostream>

namespace asio = boost::asio;
using namespace strata::redis;

asio::awaitable<int> run(asio::any_io_executor executor, std::string url) {
  Pool pool(executor, parse_url(url));  // a malformed URL throws std::invalid_argument
  if (auto connected = co_await pool.connect(); !connected) {
    std::cerr << "cannot reach Redis at " << url << ": " << pool.connection(0).last_error() << '\n';
    co_return 1;  // failures are values: no exception escapes
  }
  co_await pool.exec(Request("SET", "job:123:progress", R"({"stage":"rendering"})", "EX", "30"));
  const auto value = co_await pool.exec(Request("GET", "job:123:progress"));
  if (!value || value->is_nil()) co_return 1;
  std::cout << *value->as_string() << '\n';
  co_return 0;
}

int main() {
  const char* url = std::getenv("REDIS_URL");
  asio::io_context io;
  int status = 1;
  asio::co_spawn(io, run(io.get_executor(), url ? url : "redis://127.0.0.1:6379"),
                 [&](std::exception_ptr error, int result) { status = error ? 2 : result; });
  io.run();
  return status;
}
