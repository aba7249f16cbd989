#include "gateway/listener_tls.hpp"

#include <openssl/ssl.h>

namespace strata::gateway {

namespace ssl = boost::asio::ssl;

std::shared_ptr<ssl::context> make_listener_tls_context(const ListenerTls& tls, const std::string& source) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                       ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(context->native_handle(), TLS1_2_VERSION);
  boost::system::error_code error;
  context->use_certificate_chain_file(tls.cert_file, error);
  if (error) {
    throw ConfigError(source + ": tls.cert_file = '" + tls.cert_file + "' cannot be used: " + error.message() +
                      "; give a readable PEM certificate chain, the server's certificate first");
  }
  context->use_private_key_file(tls.key_file, ssl::context::pem, error);
  if (error) {
    throw ConfigError(source + ": tls.key_file = '" + tls.key_file + "' cannot be used: " + error.message() +
                      "; give the unencrypted PEM private key of tls.cert_file = '" + tls.cert_file + "'");
  }
  return context;
}

}  // namespace strata::gateway
