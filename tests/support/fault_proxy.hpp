#pragma once

// A TCP proxy on 127.0.0.1 that injects faults between the code under test and a real server
// (redis-server, an origin): added latency, a bandwidth limit, a stall (bytes are taken in and
// held, nothing comes back, as from a SIGSTOPped process or a black-holed route), resets in the
// middle of a reply, refused connections and one-byte writes. It runs on its own thread; faults
// can change at any time and apply to open connections and new ones alike.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>

namespace strata::testing {

struct Faults {
  // Added before each chunk is forwarded, in both directions.
  std::chrono::milliseconds latency{0};
  // Per connection and direction; 0: unlimited.
  std::size_t bytes_per_second = 0;
  // Hold every byte read (in both directions) until the stall ends; then forward them in order.
  bool stall = false;
  // New connections are reset as soon as they are accepted.
  bool refuse = false;
  // A connection is reset (RST to both sides) once this many bytes went from the server to the
  // client on it: a reply cut in the middle.
  std::optional<std::size_t> reset_after_server_bytes;
  // Forward one byte per write: every reply arrives in fragments.
  bool one_byte_writes = false;
};

class FaultProxy {
public:
  // Forwards to 127.0.0.1:target_port; listens on a free loopback port.
  explicit FaultProxy(std::uint16_t target_port);
  ~FaultProxy();
  FaultProxy(const FaultProxy&) = delete;
  FaultProxy& operator=(const FaultProxy&) = delete;

  [[nodiscard]] std::uint16_t port() const;
  void set(const Faults& faults);
  [[nodiscard]] Faults faults() const;
  // Resets every open connection now (both sides see a connection reset).
  void reset_connections();
  // Client connections currently open through the proxy.
  [[nodiscard]] std::size_t open_connections() const;
  // Client connections accepted since the proxy started.
  [[nodiscard]] std::size_t accepted_connections() const;

private:
  struct State;
  std::shared_ptr<State> state_;
};

}  // namespace strata::testing
