#pragma once

// The HTTP/1.1 server in front of Gateway: listeners, connections, limits, deadlines, drain.

#include "gateway/gateway.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

namespace strata::gateway {

// Connections are spread round-robin over `workers`, one io_context per thread: a connection
// lives on one thread from accept to close, so serving a hit never hands work to another thread.
class Server {
public:
  // Binds the listeners now (throws std::runtime_error naming the address when it cannot).
  // Listeners run on workers[0].
  Server(std::vector<boost::asio::io_context*> workers, Gateway& gateway);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  void start();
  // Stops accepting, closes idle connections, lets in-flight requests finish (their connections
  // close after the response); `done` runs once every connection is gone or the drain timeout
  // passed.
  void drain(std::function<void()> done);

  [[nodiscard]] boost::asio::ip::tcp::endpoint endpoint() const;
  [[nodiscard]] std::optional<boost::asio::ip::tcp::endpoint> admin_endpoint() const;
  [[nodiscard]] std::size_t connections() const;
  // New connections on `listen` get this certificate; open ones keep theirs. Throws ConfigError
  // (and changes nothing) when the files cannot be used. Returns what needs a restart instead
  // (turning HTTPS on or off), empty when applied.
  std::string reload_tls(const ListenerTls& tls, const std::string& source);

  class Impl;

private:
  std::shared_ptr<Impl> impl_;
};

}  // namespace strata::gateway
