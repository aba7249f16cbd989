#pragma once

// A real nginx for integration tests, as an origin nobody here wrote: started on a free loopback
// port with a configuration the test gives (the inside of its `server {}` block) and a
// directory of files it serves, stopped on destruction. Its access log tells what reached it.

#include "support/child_process.hpp"

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace strata::testing {

struct NginxRequest {
  std::string method;
  std::string uri;
  unsigned status = 0;
  std::string if_none_match;     // "-" when absent
  std::string accept_encoding;   // "-" when absent
};

class NginxServer {
public:
  // `files`: path under the document root -> content. `server_block`: directives inside
  // `server {}` after `listen` (e.g. "gzip on; gzip_vary on; location / { ... }"). With
  // `certificate_file`/`key_file`, it listens with TLS.
  NginxServer(const std::map<std::string, std::string>& files, const std::string& server_block,
              const std::string& certificate_file = {}, const std::string& key_file = {});
  ~NginxServer();
  NginxServer(const NginxServer&) = delete;
  NginxServer& operator=(const NginxServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::string url() const;
  [[nodiscard]] std::string root() const { return directory_ + "/root"; }
  // Every request nginx has logged so far, in order. nginx logs a request after its response
  // is sent: `at_least` waits (up to 5 s) until that many are logged.
  [[nodiscard]] std::vector<NginxRequest> requests(std::size_t at_least = 0) const;

private:
  [[nodiscard]] std::vector<NginxRequest> read_log() const;

  std::string directory_;
  std::uint16_t port_ = 0;
  bool tls_ = false;
  ChildProcess process_;
};

}  // namespace strata::testing
