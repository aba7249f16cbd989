#include <strata/redis/error.hpp>

#include <string>

namespace strata::redis {
namespace {

// boost::system::error_category's destructor is non-virtual by design (categories are never
// deleted through a base pointer); silence the warning for this one derivation.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class RedisErrorCategory final : public boost::system::error_category {
public:
  const char* name() const noexcept override { return "strata.redis"; }

  std::string message(int value) const override {
    switch (static_cast<Error>(value)) {
      case Error::not_connected: return "not connected to Redis";
      case Error::connection_lost: return "the connection to Redis was lost with the request pending";
      case Error::connect_timeout: return "connecting to Redis timed out (TCP, TLS or handshake)";
      case Error::command_timeout: return "Redis did not answer within the command timeout";
      case Error::protocol_error: return "Redis sent something that is not a valid RESP reply";
      case Error::authentication_failed:
        return "Redis refused AUTH: wrong password, or the user is unknown or disabled";
      case Error::handshake_failed: return "Redis refused SELECT or CLIENT SETNAME during the handshake";
      case Error::queue_full: return "too many requests pending on this Redis connection";
      case Error::circuit_open: return "Redis failed repeatedly; requests fail fast until the cool-down ends";
      case Error::cancelled: return "the Redis connection was closed by its owner";
      case Error::resolve_failed: return "the Redis host name did not resolve";
      case Error::tls_failed: return "the TLS handshake with Redis failed";
      case Error::unexpected_reply: return "Redis answered with an error or an unexpected reply";
    }
    return "unknown Redis error " + std::to_string(value);
  }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& error_category() noexcept {
  static const RedisErrorCategory category;
  return category;
}

}  // namespace strata::redis
