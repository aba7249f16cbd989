#pragma once

#include <atomic>

namespace strata::memory {

// The lock around one shard. Critical sections are a few hundred nanoseconds, while putting a
// thread to sleep and waking it costs microseconds, so a contended lock spins briefly before it
// parks on a futex (std::atomic::wait). States: 0 free, 1 held, 2 held with sleepers.
// Satisfies BasicLockable.
class ShardLock {
public:
  void lock() noexcept {
    int expected = 0;
    if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
      return;
    }
    lock_contended();
  }

  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) state_.notify_one();
  }

private:
  static constexpr int kSpinLimit = 128;

  static void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    asm volatile("yield" ::: "memory");
#endif
  }

  void lock_contended() noexcept {
    for (int spin = 0; spin < kSpinLimit; ++spin) {
      cpu_relax();
      int expected = 0;
      if (state_.load(std::memory_order_relaxed) == 0 &&
          state_.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                       std::memory_order_relaxed)) {
        return;
      }
    }
    // Announce a sleeper (2) so that unlock() knows to wake someone.
    while (state_.exchange(2, std::memory_order_acquire) != 0) {
      state_.wait(2, std::memory_order_relaxed);
    }
  }

  std::atomic<int> state_{0};
};

}  // namespace strata::memory
