#pragma once

// The stale-set race, forced deterministically: a get_or_set whose loader reads "old" data and
// then parks; while it is parked, `invalidate` runs (another instance's invalidation, say);
// then the loader returns and the fill tries to store. Shared by the tests that prove a fill
// that began before an invalidation never becomes visible after it.

#include <strata/cache.hpp>

#include "support/async_test.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <functional>
#include <optional>
#include <string>

namespace strata::testing {

// Returns what the racing get_or_set returned (the loader's "old").
inline boost::asio::awaitable<std::string> fill_racing(boost::asio::any_io_executor executor, Cache& reader,
                                                       Key key, EntryOptions options,
                                                       std::function<boost::asio::awaitable<void>()> invalidate) {
  namespace asio = boost::asio;
  asio::steady_timer gate(executor, asio::steady_timer::time_point::max());
  bool waiting = false;
  std::optional<std::string> got;
  asio::co_spawn(
      executor,
      [&]() -> asio::awaitable<void> {
        got = co_await reader.get_or_set<std::string>(
            key,
            [&]() -> asio::awaitable<std::string> {
              waiting = true;
              (void)co_await gate.async_wait(asio::as_tuple(asio::use_awaitable));
              co_return "old";
            },
            options);
      },
      asio::detached);
  co_await poll_until([&] { return waiting; });
  co_await invalidate();
  gate.cancel();
  co_await poll_until([&] { return got.has_value(); });
  co_return *got;
}

}  // namespace strata::testing
