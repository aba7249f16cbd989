#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <sys/types.h>

namespace strata::testing {

// A real redis-server for integration tests: started on a free loopback port with no
// persistence, in its own temporary directory, and stopped (then the directory removed) on
// destruction. Waits for readiness by polling PING, bounded by a deadline, never by sleeping.
class RedisServer {
public:
  explicit RedisServer(std::vector<std::string> extra_arguments = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::string url() const;
  [[nodiscard]] bool running() const noexcept { return pid_ > 0; }

  void start();  // on the same port as before
  void stop();   // SIGTERM, then SIGKILL if it lingers
  void kill();   // SIGKILL: a crash, as far as clients can tell

  // Runs redis-cli against this server (optionally authenticating) and returns its output.
  std::string cli(const std::vector<std::string>& arguments, const std::string& password = {}) const;

private:
  void wait_until_ready() const;
  void reap(int signal);

  std::vector<std::string> extra_arguments_;
  std::string directory_;
  std::uint16_t port_ = 0;
  pid_t pid_ = -1;
};

// A loopback port nothing listens on right now.
std::uint16_t free_loopback_port();

}  // namespace strata::testing
