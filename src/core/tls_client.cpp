#include "core/tls_client.hpp"

#include <boost/asio/ip/address.hpp>

#include <openssl/ssl.h>

#include <stdexcept>

namespace strata::core {

namespace ssl = boost::asio::ssl;
using boost::system::error_code;

ssl::context make_client_tls_context(const TlsClientFiles& files, std::string_view subject) {
  ssl::context context(ssl::context::tls_client);
  context.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                      ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
  auto load = [&](const std::string& option, const std::string& path, auto&& loader) {
    error_code error;
    loader(error);
    if (error) {
      throw std::invalid_argument(std::string(subject) + " " + option + " = '" + path + "' cannot be used: " +
                                  error.message() + "; give a readable PEM file");
    }
  };
  if (files.ca_file.empty()) {
    error_code ignored;
    context.set_default_verify_paths(ignored);
  } else {
    load("tls_ca_file", files.ca_file, [&](error_code& e) { context.load_verify_file(files.ca_file, e); });
  }
  if (!files.cert_file.empty() || !files.key_file.empty()) {
    if (files.cert_file.empty() || files.key_file.empty()) {
      throw std::invalid_argument(std::string(subject) +
                                  "s tls_cert_file and tls_key_file go together: give both for a client "
                                  "certificate, or neither");
    }
    load("tls_cert_file", files.cert_file, [&](error_code& e) { context.use_certificate_chain_file(files.cert_file, e); });
    load("tls_key_file", files.key_file,
         [&](error_code& e) { context.use_private_key_file(files.key_file, ssl::context::pem, e); });
  }
  context.set_verify_mode(files.verify_peer ? ssl::verify_peer : ssl::verify_none);
  return context;
}

void set_server_name(SSL* native, const std::string& name) {
  // SNI carries host names only (RFC 6066 3); an address is verified, not sent.
  boost::system::error_code not_an_address;
  (void)boost::asio::ip::make_address(name, not_an_address);
  if (!not_an_address) return;
  // SSL_set_tlsext_host_name() without the C-style cast its macro expands to.
  SSL_ctrl(native, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>(name.c_str()));
}

}  // namespace strata::core
