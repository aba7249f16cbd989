// strata-example-api: the seeds' applications as one small HTTP service over SQLite, cached
// in-process with libstrata (L1, plus Redis when REDIS_URL is set). See examples/api/README.md.

#include "database.hpp"
#include "service.hpp"

#include <strata/cache.hpp>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>

#include <CLI/CLI.hpp>

#include <iostream>
#include <thread>

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

asio::awaitable<void> serve(beast::tcp_stream stream, strata::example::Service& service) {
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.body_limit(1024 * 1024);
    stream.expires_after(std::chrono::seconds(60));
    auto [read_error, read] = co_await http::async_read(stream, buffer, parser, kAwait);
    (void)read;
    if (read_error) break;
    auto request = parser.release();
    auto response = co_await service.handle(std::move(request));
    const bool keep_alive = response.keep_alive();
    stream.expires_after(std::chrono::seconds(30));
    auto [write_error, written] = co_await http::async_write(stream, response, kAwait);
    (void)written;
    if (write_error || !keep_alive) break;
  }
  boost::system::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
}

asio::awaitable<void> accept(tcp::acceptor& acceptor, strata::example::Service& service) {
  for (;;) {
    auto [failure, socket] = co_await acceptor.async_accept(asio::make_strand(acceptor.get_executor()), kAwait);
    if (failure) co_return;
    socket.set_option(tcp::no_delay(true));
    auto executor = socket.get_executor();
    asio::co_spawn(executor, serve(beast::tcp_stream(std::move(socket)), service), asio::detached);
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"strata-example-api: the seeds' applications over SQLite, cached with libstrata"};
  std::string listen_host = "127.0.0.1";
  std::uint16_t port = 5000;
  std::string database_path = "strata-example.db";
  bool cache = true;
  unsigned threads = 2;
  unsigned database_threads = 4;
  strata::example::DataSize size;
  app.add_option("--host", listen_host, "Address to listen on")->capture_default_str();
  app.add_option("--port", port, "Port (0: any; the chosen one is printed)")->capture_default_str();
  app.add_option("--database", database_path, "SQLite file; created and filled on first start")->capture_default_str();
  app.add_option("--cache", cache, "Cache reads with libstrata (false: every read hits the database)")->capture_default_str();
  app.add_option("--threads", threads, "I/O threads")->check(CLI::Range(1U, 64U))->capture_default_str();
  app.add_option("--database-threads", database_threads, "Threads running SQLite queries")->check(CLI::Range(1U, 64U))->capture_default_str();
  app.add_option("--meetings", size.meetings, "Meetings generated on first start (x60 analytics rows)")->check(CLI::Range(1, 1000000));
  CLI11_PARSE(app, argc, argv);

  try {
    strata::example::Database database(database_path, size);
    asio::io_context io(static_cast<int>(threads));
    asio::thread_pool database_pool(database_threads);
    std::unique_ptr<strata::Cache> cache_instance;
    if (cache) cache_instance = std::make_unique<strata::Cache>(io.get_executor(), strata::CacheOptions::from_env());
    strata::example::Service service(database, cache_instance.get(), database_pool.get_executor());
    if (cache_instance) {
      asio::co_spawn(io, cache_instance->start(), [](std::exception_ptr, bool) {});
    }
    tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address(listen_host), port));
    std::cout << "strata-example-api: listening on http://" << listen_host << ":" << acceptor.local_endpoint().port()
              << " (database " << database_path << ", cache "
              << (!cache ? "off" : cache_instance->redis_enabled() ? "L1 + Redis" : "L1 only") << ")" << std::endl;
    asio::co_spawn(io, accept(acceptor, service), asio::detached);
    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](auto, int) {
      boost::system::error_code ignored;
      acceptor.close(ignored);
      io.stop();
    });
    std::vector<std::thread> runners;
    for (unsigned i = 1; i < threads; ++i) runners.emplace_back([&io] { io.run(); });
    io.run();
    for (auto& runner : runners) runner.join();
    database_pool.join();
    std::cout << "strata-example-api: stopped after " << database.queries() << " database queries" << std::endl;
  } catch (const std::exception& error) {
    std::cerr << "strata-example-api: " << error.what() << '\n';
    return 1;
  }
  return 0;
}
