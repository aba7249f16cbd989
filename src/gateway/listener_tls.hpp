#pragma once

// The TLS server context for `listen`: TLS 1.2 or later, the configured chain and its key (OpenSSL
// refuses a key that is not the certificate's), loaded again on SIGHUP.

#include "gateway/config.hpp"

#include <boost/asio/ssl/context.hpp>

#include <memory>

namespace strata::gateway {

// Throws ConfigError naming the option and the file when either cannot be used.
std::shared_ptr<boost::asio::ssl::context> make_listener_tls_context(const ListenerTls& tls, const std::string& source);

}  // namespace strata::gateway
