#include "bare_epoll_loop.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace strata::bench {
namespace {

using Clock = std::chrono::steady_clock;

class FileDescriptor {
public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  [[nodiscard]] int get() const noexcept { return fd_; }

private:
  int fd_;
};

[[noreturn]] void fail(std::string_view call) {
  throw std::runtime_error(fmt::format("bare epoll loop: {} failed: {}", call, std::strerror(errno)));
}

int checked(int result, std::string_view call) {
  if (result < 0) fail(call);
  return result;
}

void reregister(int epoll, int fd, std::uint32_t events) {
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  checked(::epoll_ctl(epoll, EPOLL_CTL_DEL, fd, nullptr), "epoll_ctl(DEL)");
  checked(::epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event), "epoll_ctl(ADD)");
}

}  // namespace

bool holds_whole_reply(std::string_view bytes) {
  const auto header_end = bytes.find("\r\n");
  if (header_end == std::string_view::npos) return false;
  if (bytes[0] == '+') return true;
  if (bytes[0] != '$') {
    throw std::runtime_error(fmt::format("bare loop: the server answered {}", bytes.substr(0, header_end)));
  }
  long length = 0;
  std::from_chars(bytes.data() + 1, bytes.data() + header_end, length);
  if (length < 0) return true;
  return bytes.size() >= header_end + 2 + static_cast<std::size_t>(length) + 2;
}

std::string_view describe(EpollPattern pattern) noexcept {
  switch (pattern) {
    case EpollPattern::registration_kept: return "registration kept (Strata's calls)";
    case EpollPattern::reregistered_per_request: return "re-registered per request (redis-benchmark's)";
    case EpollPattern::kept_plus_unrelated_reregistration: return "kept + an unrelated pipe re-registered";
  }
  return "?";
}

BareLoopFigures run_bare_get_loop(std::uint16_t port, std::size_t value_size, EpollPattern pattern,
                                  std::size_t requests) {
  const FileDescriptor socket(checked(::socket(AF_INET, SOCK_STREAM, 0), "socket"));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  checked(::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)), "connect");
  const int on = 1;
  checked(::setsockopt(socket.get(), IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)), "setsockopt(TCP_NODELAY)");
  checked(::fcntl(socket.get(), F_SETFL, O_NONBLOCK), "fcntl(O_NONBLOCK)");

  const FileDescriptor epoll(checked(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1"));
  const std::uint32_t events = EPOLLIN | EPOLLOUT | EPOLLET;
  epoll_event registration{};
  registration.events = events;
  registration.data.fd = socket.get();
  checked(::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, socket.get(), &registration), "epoll_ctl(ADD)");

  int pipe_ends[2];
  checked(::pipe2(pipe_ends, O_CLOEXEC | O_NONBLOCK), "pipe2");
  const FileDescriptor pipe_read(pipe_ends[0]);
  const FileDescriptor pipe_write(pipe_ends[1]);
  const FileDescriptor unrelated_epoll(checked(::epoll_create1(EPOLL_CLOEXEC), "epoll_create1"));
  epoll_event pipe_registration{};
  pipe_registration.events = EPOLLIN;
  pipe_registration.data.fd = pipe_read.get();
  checked(::epoll_ctl(unrelated_epoll.get(), EPOLL_CTL_ADD, pipe_read.get(), &pipe_registration), "epoll_ctl(ADD)");

  std::string reply;
  std::vector<char> chunk(64 * 1024);
  std::vector<double> latencies;
  latencies.reserve(requests);
  // Reads until the reply is whole (true) or nothing more is there (false). Like Strata's
  // client, it stops reading once the reply is whole, without a recv that finds nothing.
  auto read_available = [&] {
    for (;;) {
      const ssize_t n = ::recv(socket.get(), chunk.data(), chunk.size(), 0);
      if (n > 0) {
        reply.append(chunk.data(), static_cast<std::size_t>(n));
        if (holds_whole_reply(reply)) return true;
        continue;
      }
      if (n == 0) throw std::runtime_error("bare epoll loop: the server closed the connection");
      if (errno != EAGAIN && errno != EWOULDBLOCK) fail("recv");
      return false;
    }
  };

  // Requests are far smaller than a socket's send buffer, so a short write is retried at once.
  auto send_all = [&](std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(socket.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) fail("send");
      if (n > 0) bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  };
  auto await_reply = [&] {
    bool whole = read_available();
    while (!whole) {
      epoll_event ready{};
      if (checked(::epoll_wait(epoll.get(), &ready, 1, -1), "epoll_wait") == 1) whole = read_available();
    }
  };

  const std::string value(value_size, 'x');
  send_all(fmt::format("*3\r\n$3\r\nSET\r\n$16\r\nkey:__rand_int__\r\n${}\r\n{}\r\n", value.size(), value));
  await_reply();

  const auto started = Clock::now();
  for (std::size_t i = 0; i < requests; ++i) {
    reply.clear();
    const auto before = Clock::now();
    send_all(kGetRequest);
    switch (pattern) {
      case EpollPattern::registration_kept: break;
      case EpollPattern::reregistered_per_request: reregister(epoll.get(), socket.get(), events); break;
      case EpollPattern::kept_plus_unrelated_reregistration:
        reregister(unrelated_epoll.get(), pipe_read.get(), EPOLLIN);
        break;
    }
    await_reply();
    latencies.push_back(std::chrono::duration<double, std::micro>(Clock::now() - before).count());
  }
  const double total = std::chrono::duration<double, std::micro>(Clock::now() - started).count();
  std::nth_element(latencies.begin(), latencies.begin() + static_cast<std::ptrdiff_t>(latencies.size() / 2),
                   latencies.end());
  return BareLoopFigures{latencies[latencies.size() / 2], total / static_cast<double>(requests)};
}

}  // namespace strata::bench
