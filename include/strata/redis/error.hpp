#pragma once

#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>

#include <type_traits>

namespace strata::redis {

// Failures of the Redis tier. They are values (results), never exceptions: a caller of the cache
// turns every one of them into a miss. A reply that Redis itself sends as an error ("-ERR ...")
// is not among them: it is a Reply of type error.
enum class Error {
  not_connected = 1,    // no connection, and the request may not wait for one
  connection_lost,      // the connection broke while the request was pending
  connect_timeout,      // connecting (TCP, TLS or handshake) took longer than connect_timeout
  command_timeout,      // no reply within the command's deadline
  protocol_error,       // the server sent bytes that are not RESP, or a reply nobody asked for
  authentication_failed,// AUTH was refused (wrong password, unknown or disabled user)
  handshake_failed,     // SELECT or CLIENT SETNAME was refused
  queue_full,           // too many requests are waiting already
  circuit_open,         // the endpoint failed repeatedly; requests fail fast for a cool-down
  cancelled,            // the connection was closed by its owner
  resolve_failed,       // the host name did not resolve
  tls_failed,           // the TLS handshake failed (certificate, protocol)
  unexpected_reply,     // Redis answered with an error or a reply of the wrong shape
};

const boost::system::error_category& error_category() noexcept;

inline boost::system::error_code make_error_code(Error error) noexcept {
  return {static_cast<int>(error), error_category()};
}

template <typename T>
using Result = boost::system::result<T>;

}  // namespace strata::redis

namespace boost::system {
template <>
struct is_error_code_enum<strata::redis::Error> : std::true_type {};
}  // namespace boost::system
