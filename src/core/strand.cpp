#include "core/strand.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>

#include <memory>

namespace strata::core {

boost::asio::any_io_executor strand_of(const boost::asio::any_io_executor& executor) {
  namespace asio = boost::asio;
  using Untracked = asio::io_context::executor_type;
  using Tracked = asio::io_context::basic_executor_type<std::allocator<void>, 4>;  // outstanding_work.tracked
  if (const auto* io = executor.target<Untracked>()) return asio::make_strand(io->context().get_executor());
  if (const auto* io = executor.target<Tracked>()) return asio::make_strand(io->context().get_executor());
  return asio::make_strand(executor);
}

}  // namespace strata::core
