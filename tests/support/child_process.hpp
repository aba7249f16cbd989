#pragma once

// A server program the tests start and stop (redis-server, nginx, ...): spawned from PATH,
// reaped on stop, never left behind.

#include <string>
#include <vector>

#include <sys/types.h>

namespace strata::testing {

class ChildProcess {
public:
  ChildProcess() = default;
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // Throws std::runtime_error naming the program when it cannot be started.
  void spawn(std::vector<std::string> arguments);
  // True (and no longer running) when the process has ended on its own.
  bool exited();
  // Sends `signal`, waits up to 5 s for the process to end, then SIGKILL.
  void stop(int signal);

  [[nodiscard]] bool running() const noexcept { return pid_ > 0; }
  [[nodiscard]] pid_t pid() const noexcept { return pid_; }  // -1 when not running

private:
  pid_t pid_ = -1;
};

// A loopback port nothing listens on right now.
std::uint16_t free_loopback_port();
// Whether something accepts TCP connections on 127.0.0.1:port.
bool accepts_connections(std::uint16_t port);

}  // namespace strata::testing
