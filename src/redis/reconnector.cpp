#include "redis/reconnector.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <random>

namespace strata::redis {

namespace asio = boost::asio;

Reconnector::Reconnector(asio::any_io_executor executor, const ConnectionOptions& options, Hooks hooks)
    : timer_(std::move(executor)),
      backoff_(options.reconnect_backoff_initial, options.reconnect_backoff_max, std::random_device{}()),
      enabled_(options.reconnect),
      hooks_(std::move(hooks)) {}

void Reconnector::start(std::shared_ptr<void> keep_alive) {
  if (!enabled_ || running_ || !hooks_.wanted()) return;
  running_ = true;
  asio::co_spawn(timer_.get_executor(), run(std::move(keep_alive)), asio::detached);
}

void Reconnector::cancel() { timer_.cancel(); }

asio::awaitable<void> Reconnector::run([[maybe_unused]] std::shared_ptr<void> keep_alive) {
  for (std::size_t attempt = 0; hooks_.wanted(); ++attempt) {
    const auto hold_off = hooks_.hold_off ? hooks_.hold_off() : std::chrono::milliseconds(0);
    timer_.expires_after(std::max(backoff_.delay(attempt), hold_off));
    co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
    if (!hooks_.wanted()) break;
    if (hooks_.may_attempt && !hooks_.may_attempt()) continue;  // the next delay covers it
    if (co_await hooks_.attempt()) break;
  }
  running_ = false;
}

}  // namespace strata::redis
