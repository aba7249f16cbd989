#pragma once

// Tells the service manager that started the process how it is doing, with the protocol of
// systemd's Type=notify units (sd_notify(3)): one datagram of KEY=VALUE lines to the socket named
// by $NOTIFY_SOCKET. `strata serve` sends READY=1 once it listens, RELOADING=1 and READY=1 around
// a SIGHUP reload, STOPPING=1 when it drains, and a STATUS= line for `systemctl status`. Run any
// other way ($NOTIFY_SOCKET unset), every call does nothing.

#include <string>
#include <string_view>

namespace strata::cli {

class ServiceNotifier {
public:
  // Reads $NOTIFY_SOCKET: a file system path, or "@name" for an abstract socket.
  static ServiceNotifier from_environment();
  explicit ServiceNotifier(std::string socket) : socket_(std::move(socket)) {}

  [[nodiscard]] bool enabled() const noexcept { return !socket_.empty(); }

  // Sends `state` (KEY=VALUE lines). False, with a warning logged, when the manager could not be
  // told: it then times the service out, and the log says why.
  bool notify(std::string_view state) const;

  bool ready(std::string_view status) const;
  // Begins a reload; ready() ends it, whether the new configuration was taken or refused.
  bool reloading() const;
  bool stopping(std::string_view status) const;

private:
  std::string socket_;
};

}  // namespace strata::cli
