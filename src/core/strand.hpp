#pragma once

#include <boost/asio/any_io_executor.hpp>

namespace strata::core {

// A strand over `executor`, as asio::make_strand, but cheap to use through any_io_executor.
// make_strand(any_io_executor) gives a strand<any_io_executor>, too large for any_io_executor's
// inline storage: every copy, dispatch and prefer() of it allocates. Over an io_context's own
// executor (tracked or not) the strand is 24 bytes and stays inline. Other executors get the
// plain strand.
[[nodiscard]] boost::asio::any_io_executor strand_of(const boost::asio::any_io_executor& executor);

}  // namespace strata::core
