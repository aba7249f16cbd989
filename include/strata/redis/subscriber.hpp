#pragma once

#include <strata/redis/error.hpp>
#include <strata/redis/options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace strata::redis {

struct Message {
  std::string pattern;  // the PSUBSCRIBE pattern that matched; empty for a SUBSCRIBE channel
  std::string channel;
  std::string payload;  // binary-safe
};

enum class SubscriberEvent {
  connected,     // the first connection is up
  disconnected,  // the connection broke; reconnecting in the background
  // Connected again and subscribed to everything again. Messages published while the
  // connection was down are lost: a cache must treat its in-process tier as stale.
  resubscribed,
};

// A dedicated pub/sub connection (a subscribed connection can carry nothing else). It
// remembers its channels and patterns, re-subscribes after every reconnect, and says so with
// SubscriberEvent::resubscribed. Handlers run on the executor. Same threading rule as Connection.
class Subscriber {
public:
  using MessageHandler = std::function<void(const Message&)>;
  using EventHandler = std::function<void(SubscriberEvent)>;

  Subscriber(boost::asio::any_io_executor executor, ConnectionOptions options, MessageHandler on_message,
             EventHandler on_event = {});
  ~Subscriber();
  Subscriber(const Subscriber&) = delete;
  Subscriber& operator=(const Subscriber&) = delete;

  // Connects and subscribes to everything subscribed so far. On failure it keeps trying in the
  // background (if options.reconnect).
  boost::asio::awaitable<Result<void>> connect();

  // Each returns once Redis confirmed every channel / pattern (within options.command_timeout).
  // While disconnected they are remembered and take effect on reconnect (and return
  // Error::not_connected).
  boost::asio::awaitable<Result<void>> subscribe(std::vector<std::string> channels);
  boost::asio::awaitable<Result<void>> psubscribe(std::vector<std::string> patterns);
  boost::asio::awaitable<Result<void>> unsubscribe(std::vector<std::string> channels);
  boost::asio::awaitable<Result<void>> punsubscribe(std::vector<std::string> patterns);

  void close();
  // Breaks the connection (SubscriberEvent::disconnected, then resubscribed) so that it
  // reconnects to where options.locate points now.
  void drop(std::string reason);
  [[nodiscard]] bool is_connected() const noexcept;
  [[nodiscard]] const std::string& last_error() const noexcept;

private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace strata::redis
