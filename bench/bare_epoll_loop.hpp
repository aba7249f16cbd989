#pragma once

// A single caller's GET loop written with nothing but POSIX sockets and epoll: no Strata, no
// Asio. It isolates what the system calls between two requests cost from what a client's own
// code costs. On a VM whose idle vCPU halts, the pattern of system calls changes a two-core
// round trip by more than Strata's whole client does (see docs/benchmarks.md).

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace strata::bench {

enum class EpollPattern {
  // The socket stays registered (edge-triggered, in and out); after each send one speculative
  // recv, then epoll_wait: what Asio, and so Strata's client, does.
  registration_kept,
  // The socket is removed from and added back to the epoll set around each send, as
  // redis-benchmark's event loop does.
  reregistered_per_request,
  // As registration_kept, plus a removal and re-addition of an unrelated pipe in an unrelated
  // epoll set after each send: the socket's own readiness cannot be what changes.
  kept_plus_unrelated_reregistration,
};

std::string_view describe(EpollPattern pattern) noexcept;

// redis-benchmark's GET request for its default key.
inline constexpr std::string_view kGetRequest = "*2\r\n$3\r\nGET\r\n$16\r\nkey:__rand_int__\r\n";

// True once `bytes` hold one whole reply to SET ("+OK") or GET (a bulk string or nil). Throws
// std::runtime_error on any other reply.
bool holds_whole_reply(std::string_view bytes);

struct BareLoopFigures {
  double p50_microseconds = 0;
  double cycle_microseconds = 0;  // wall time per request, the loop's own bookkeeping included
};

// Sets redis-benchmark's key to `value_size` bytes on 127.0.0.1:`port`, then GETs it `requests`
// times, one at a time, each reply awaited in full. Throws std::runtime_error naming the failed call.
BareLoopFigures run_bare_get_loop(std::uint16_t port, std::size_t value_size, EpollPattern pattern,
                                  std::size_t requests);

}  // namespace strata::bench
