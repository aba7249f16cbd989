#pragma once

// TLS client contexts, the same for every server Strata connects to (Redis, HTTP origins):
// TLS 1.2 or later, the system's trust store (OpenSSL's default paths, so SSL_CERT_FILE works) or
// a given CA file, an optional client certificate, peer verification on by default.

#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <string>
#include <string_view>

namespace strata::core {

struct TlsClientFiles {
  std::string ca_file;    // PEM CA bundle; empty: the system's default paths
  std::string cert_file;  // client certificate chain (PEM), for mutual TLS
  std::string key_file;   // its private key (PEM)
  bool verify_peer = true;
};

// Throws std::invalid_argument naming the option ("<subject> tls_ca_file = '...' cannot be used:
// ..."), e.g. subject "Redis TLS option" or "upstream option".
boost::asio::ssl::context make_client_tls_context(const TlsClientFiles& files, std::string_view subject);

// Sends `name` as SNI and, when verifying, checks the certificate against it.
template <class Stream>
void expect_server_name(boost::asio::ssl::stream<Stream>& stream, const std::string& name, bool verify_peer);
void set_server_name(SSL* native, const std::string& name);

template <class Stream>
void expect_server_name(boost::asio::ssl::stream<Stream>& stream, const std::string& name, bool verify_peer) {
  set_server_name(stream.native_handle(), name);
  if (verify_peer) stream.set_verify_callback(boost::asio::ssl::host_name_verification(name));
}

}  // namespace strata::core
