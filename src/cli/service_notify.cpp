#include "cli/service_notify.hpp"

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace strata::cli {

namespace {

// A STATUS= value is one line: a newline would start another assignment.
std::string one_line(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return out;
}

}  // namespace

ServiceNotifier ServiceNotifier::from_environment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  return ServiceNotifier(socket != nullptr ? socket : "");
}

bool ServiceNotifier::notify(std::string_view state) const {
  if (socket_.empty()) return true;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof address.sun_path || (socket_[0] != '/' && socket_[0] != '@')) {
    spdlog::warn("strata serve: NOTIFY_SOCKET \"{}\" is not an absolute path or an @abstract name; "
                 "the service manager is not told the service's state",
                 socket_);
    return false;
  }
  std::memcpy(address.sun_path, socket_.data(), socket_.size());
  if (socket_[0] == '@') address.sun_path[0] = '\0';  // an abstract name: no trailing NUL either
  const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    spdlog::warn("strata serve: cannot notify the service manager: socket(): {}", std::strerror(errno));
    return false;
  }
  const auto sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&address),
                             length);
  const int error = errno;
  ::close(fd);
  if (sent != static_cast<ssize_t>(state.size())) {
    spdlog::warn("strata serve: cannot notify the service manager at {}: {}", socket_, std::strerror(error));
    return false;
  }
  return true;
}

bool ServiceNotifier::ready(std::string_view status) const {
  return notify("READY=1\nSTATUS=" + one_line(status));
}

bool ServiceNotifier::reloading() const {
  // MONOTONIC_USEC lets a manager that supports Type=notify-reload match this to its SIGHUP.
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
  return notify("RELOADING=1\nSTATUS=reloading the configuration\nMONOTONIC_USEC=" + std::to_string(usec));
}

bool ServiceNotifier::stopping(std::string_view status) const {
  return notify("STOPPING=1\nSTATUS=" + one_line(status));
}

}  // namespace strata::cli
