#include "core/strand.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace strata::core {
namespace {

namespace asio = boost::asio;
using IoStrand = asio::strand<asio::io_context::executor_type>;

TEST(StrandOf, OverAnIoContextIsAStrandOfItsOwnExecutorType) {
  asio::io_context io;
  const auto untracked = strand_of(io.get_executor());
  ASSERT_NE(untracked.target<IoStrand>(), nullptr);
  const asio::any_io_executor tracked = asio::prefer(io.get_executor(), asio::execution::outstanding_work.tracked);
  ASSERT_NE(strand_of(tracked).target<IoStrand>(), nullptr);
  // A new strand each time, as make_strand gives.
  EXPECT_NE(strand_of(io.get_executor()), untracked);
}

TEST(StrandOf, OverAnyOtherExecutorIsAStrandOfThatExecutor) {
  asio::thread_pool pool(1);
  const auto strand = strand_of(pool.get_executor());
  EXPECT_EQ(strand.target<IoStrand>(), nullptr);
  EXPECT_NE(strand.target<asio::strand<asio::any_io_executor>>(), nullptr);
  pool.join();
}

TEST(StrandOf, RunsItsHandlersOneAtATimeOnAMultiThreadedIoContext) {
  asio::io_context io;
  const auto strand = strand_of(io.get_executor());
  ASSERT_NE(strand.target<IoStrand>(), nullptr);
  constexpr int kHandlers = 20000;
  int inside = 0;  // touched only under the strand: TSan reports a race if two handlers overlap
  std::atomic<int> overlaps{0}, outside{0}, ran{0};
  for (int i = 0; i < kHandlers; ++i) {
    asio::post(strand, [&] {
      if (++inside != 1) ++overlaps;
      if (!strand.target<IoStrand>()->running_in_this_thread()) ++outside;
      --inside;
      ++ran;
    });
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) threads.emplace_back([&] { io.run(); });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(ran.load(), kHandlers);
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_EQ(outside.load(), 0);
}

}  // namespace
}  // namespace strata::core
