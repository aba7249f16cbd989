#pragma once

// CPU placement for benchmarks that compare two clients of one server. On a small VM the
// placement alone moves a single caller's round trip tenfold (same core: a context switch;
// separate cores: an inter-processor wake-up of an idle vCPU), and the scheduler picks it anew
// for every process. Unpinned, a comparison measures the scheduler; pinned, both clients get the
// same placement and the comparison measures the clients.

#include <fcntl.h>
#include <sched.h>
#include <sys/types.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace strata::bench {

// Where the server and the client under test run.
struct Placement {
  int server_cpu = -1;  // -1: not pinned
  int client_cpu = -1;

  [[nodiscard]] bool pinned() const noexcept { return server_cpu >= 0 && client_cpu >= 0; }
  // "unpinned", "one core" or "two cores", for a table's row label.
  [[nodiscard]] std::string_view kind() const noexcept {
    if (!pinned()) return "unpinned";
    return server_cpu == client_cpu ? "one core" : "two cores";
  }
  [[nodiscard]] std::string describe() const {
    if (!pinned()) return std::string(kind());
    return server_cpu == client_cpu ? fmt::format("one core (cpu {})", client_cpu)
                                    : fmt::format("server cpu {}, client cpu {}", server_cpu, client_cpu);
  }
};

// The CPUs this process may run on, in order (the first two are what the benchmarks use).
inline std::vector<int> usable_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (::sched_getaffinity(0, sizeof(set), &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  }
  return cpus;
}

// Pins a process (0: this thread) to one CPU, or leaves it anywhere it may run (cpu -1).
inline bool pin(pid_t pid, int cpu, const std::vector<int>& anywhere) {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (cpu >= 0) {
    CPU_SET(cpu, &set);
  } else {
    for (const int any : anywhere) CPU_SET(any, &set);
  }
  return ::sched_setaffinity(pid, sizeof(set), &set) == 0;
}

// Pins every thread of a process (its background threads too, as `taskset -a` does).
inline bool pin_all_threads(pid_t pid, int cpu, const std::vector<int>& anywhere) {
  bool all = true;
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid), error)) {
    all = pin(static_cast<pid_t>(std::stol(task.path().filename().string())), cpu, anywhere) && all;
  }
  return all && !error;
}

// Applies a placement to the server process and the calling thread for one scope, then lets
// both run anywhere again.
class ScopedPlacement {
public:
  ScopedPlacement(pid_t server, const Placement& placement) : server_(server), cpus_(usable_cpus()) {
    if (!placement.pinned()) return;
    pinned_ = pin_all_threads(server_, placement.server_cpu, cpus_) && pin(0, placement.client_cpu, cpus_);
    client_cpu_ = placement.client_cpu;
  }
  ~ScopedPlacement() {
    if (!pinned_) return;
    pin_all_threads(server_, -1, cpus_);
    pin(0, -1, cpus_);
  }
  ScopedPlacement(const ScopedPlacement&) = delete;
  ScopedPlacement& operator=(const ScopedPlacement&) = delete;

  [[nodiscard]] bool pinned() const noexcept { return pinned_; }
  // The prefix that runs an external client (redis-benchmark) where this scope runs its own:
  // empty when pinning failed, so both clients stay placed alike.
  [[nodiscard]] std::string command_prefix() const {
    return pinned_ ? fmt::format("taskset -c {} ", client_cpu_) : std::string{};
  }

private:
  pid_t server_;
  std::vector<int> cpus_;
  int client_cpu_ = -1;
  bool pinned_ = false;
};

// For one scope, asks the kernel to keep every CPU's idle exit latency at 0 (the PM QoS request
// /dev/cpu_dma_latency, the one tuned's latency profiles make): idle CPUs then poll instead of
// halting. On a VM, waking a halted vCPU costs tens of microseconds, more than a whole round trip
// to Redis on one core. Needs root; inactive() when the request could not be made.
class ScopedIdlePolling {
public:
  ScopedIdlePolling() : fd_(::open("/dev/cpu_dma_latency", O_WRONLY | O_CLOEXEC)) {
    const std::int32_t no_exit_latency = 0;
    if (fd_ >= 0 && ::write(fd_, &no_exit_latency, sizeof(no_exit_latency)) != sizeof(no_exit_latency)) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~ScopedIdlePolling() {
    if (fd_ >= 0) ::close(fd_);  // closing withdraws the request
  }
  ScopedIdlePolling(const ScopedIdlePolling&) = delete;
  ScopedIdlePolling& operator=(const ScopedIdlePolling&) = delete;

  [[nodiscard]] bool active() const noexcept { return fd_ >= 0; }

private:
  int fd_;
};

}  // namespace strata::bench
