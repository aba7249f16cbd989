#pragma once

#include "support/child_process.hpp"

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <sys/types.h>

namespace strata::testing {

// An extra argument equal to this is replaced by a free loopback port (e.g. after
// "--cluster-port"), chosen again with the server's own port if start-up finds one taken.
inline constexpr const char* kAnyFreePort = "{free-port}";

// A real redis-server for integration tests: started on a free loopback port with no
// persistence, in its own temporary directory, and stopped (then the directory removed) on
// destruction. Waits for readiness by polling PING, bounded by a deadline, never by sleeping.
class RedisServer {
public:
  // With `tls_only`, the server listens with TLS only (the caller passes the --tls-* arguments)
  // and readiness means accepting TCP connections. A port probed free can be taken by another
  // process before the server binds it (tests run in parallel): start-up then retries on new
  // ports, a few times.
  explicit RedisServer(std::vector<std::string> extra_arguments = {}, bool tls_only = false);
  // A redis-sentinel with these configuration lines (e.g. "sentinel monitor ..."); Sentinel
  // keeps rewriting its file, which survives a restart.
  // With `tls_ca_file`, it listens with TLS only (the configuration names its certificate) and
  // cli() talks TLS to it, trusting that CA.
  static std::unique_ptr<RedisServer> sentinel(const std::string& configuration, const std::string& tls_ca_file = {});
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
  [[nodiscard]] std::string url() const;
  [[nodiscard]] bool running() const noexcept { return process_.running(); }
  [[nodiscard]] pid_t pid() const noexcept { return process_.pid(); }  // -1 when stopped

  void start();  // on the same port as before
  void stop();   // SIGTERM, then SIGKILL if it lingers
  void kill();   // SIGKILL: a crash, as far as clients can tell

  // Runs redis-cli against this server (optionally authenticating) and returns its output.
  std::string cli(const std::vector<std::string>& arguments, const std::string& password = {}) const;

  [[nodiscard]] const std::string& directory() const noexcept { return directory_; }

private:
  struct SentinelTag {};
  RedisServer(SentinelTag, const std::string& configuration, const std::string& tls_ca_file);
  void start_on_free_ports();
  [[nodiscard]] std::string log_path() const;
  void spawn(std::vector<std::string> arguments);
  void wait_until_ready();
  void reap(int signal);

  std::vector<std::string> extra_arguments_;  // kAnyFreePort resolved
  std::string sentinel_config_;  // non-empty: a sentinel
  bool tls_only_ = false;
  std::string cli_tls_ca_file_;  // non-empty: cli() connects with TLS
  std::string directory_;
  std::uint16_t port_ = 0;
  ChildProcess process_;
};

// A throw-away PKI made with the openssl command line: a CA and a server certificate for
// localhost / 127.0.0.1 signed by it, plus a second, unrelated CA. Removed on destruction.
class TestCertificates {
public:
  TestCertificates();
  ~TestCertificates();
  TestCertificates(const TestCertificates&) = delete;
  TestCertificates& operator=(const TestCertificates&) = delete;

  [[nodiscard]] std::string ca_file() const { return directory_ + "/ca.crt"; }
  [[nodiscard]] std::string other_ca_file() const { return directory_ + "/other-ca.crt"; }
  [[nodiscard]] std::string server_cert_file() const { return directory_ + "/server.crt"; }
  [[nodiscard]] std::string server_key_file() const { return directory_ + "/server.key"; }
  // Issues a new certificate and key for "localhost" with O=`organisation` in its subject,
  // written over server.crt and server.key (as a certificate renewal does).
  void renew_server_certificate(const std::string& organisation);

private:
  std::string directory_;
};

}  // namespace strata::testing
