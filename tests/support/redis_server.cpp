#include "support/redis_server.hpp"

#include "support/child_process.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>


namespace strata::testing {
namespace {

using Clock = std::chrono::steady_clock;

// A TCP connection to 127.0.0.1:port with a 200 ms receive timeout, or -1.
int connect_loopback(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{0, 200'000};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// Sends PING over a raw socket: true once the server answers +PONG (or -NOAUTH: it is up).
bool answers_ping(std::uint16_t port) {
  const int fd = connect_loopback(port);
  if (fd < 0) return false;
  bool up = false;
  if (::send(fd, "PING\r\n", 6, MSG_NOSIGNAL) == 6) {
    std::array<char, 64> reply{};
    const ssize_t n = ::recv(fd, reply.data(), reply.size() - 1, 0);
    up = n > 0 && (std::strncmp(reply.data(), "+PONG", 5) == 0 || std::strncmp(reply.data(), "-NOAUTH", 7) == 0);
  }
  ::close(fd);
  return up;
}

void run_or_throw(const std::string& command) {
  if (std::system((command + " >/dev/null 2>&1").c_str()) != 0) {
    throw std::runtime_error("test set-up command failed: " + command);
  }
}

}  // namespace

TestCertificates::TestCertificates() {
  char pattern[] = "/tmp/strata-pki-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  directory_ = pattern;
  const std::string d = directory_;
  run_or_throw("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=Strata Test CA' -keyout " +
               d + "/ca.key -out " + d + "/ca.crt");
  run_or_throw("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj '/CN=Unrelated CA' -keyout " +
               d + "/other-ca.key -out " + d + "/other-ca.crt");
  renew_server_certificate("Strata Test");
}

void TestCertificates::renew_server_certificate(const std::string& organisation) {
  const std::string d = directory_;
  run_or_throw("openssl req -newkey rsa:2048 -nodes -subj '/CN=localhost/O=" + organisation + "' -keyout " + d +
               "/server.key.new -out " + d + "/server.csr");
  std::ofstream(d + "/san.ext") << "subjectAltName=DNS:localhost,IP:127.0.0.1\n";
  run_or_throw("openssl x509 -req -days 2 -in " + d + "/server.csr -CA " + d + "/ca.crt -CAkey " + d +
               "/ca.key -CAcreateserial -extfile " + d + "/san.ext -out " + d + "/server.crt");
  std::filesystem::rename(d + "/server.key.new", d + "/server.key");
}

TestCertificates::~TestCertificates() {
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

RedisServer::RedisServer(std::vector<std::string> extra_arguments, bool tls_only)
    : extra_arguments_(std::move(extra_arguments)), tls_only_(tls_only) {
  char pattern[] = "/tmp/strata-redis-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  directory_ = pattern;
  start_on_free_ports();
}

RedisServer::~RedisServer() {
  stop();
  std::error_code ignored;
  std::filesystem::remove_all(directory_, ignored);
}

std::string RedisServer::url() const { return "redis://127.0.0.1:" + std::to_string(port_); }

RedisServer::RedisServer(SentinelTag, const std::string& configuration, const std::string& tls_ca_file)
    : sentinel_config_(configuration), tls_only_(!tls_ca_file.empty()), cli_tls_ca_file_(tls_ca_file) {
  char pattern[] = "/tmp/strata-sentinel-XXXXXX";
  if (::mkdtemp(pattern) == nullptr) throw std::runtime_error("mkdtemp failed");
  directory_ = pattern;
  std::ofstream(directory_ + "/sentinel.conf") << configuration << "\n";
  start_on_free_ports();
}

void RedisServer::start_on_free_ports() {
  constexpr int kAttempts = 5;
  const std::vector<std::string> requested = extra_arguments_;
  for (int attempt = 1;; ++attempt) {
    port_ = free_loopback_port();
    extra_arguments_ = requested;
    for (auto& argument : extra_arguments_) {
      if (argument == kAnyFreePort) argument = std::to_string(free_loopback_port());
    }
    try {
      start();
      return;
    } catch (const std::runtime_error&) {
      std::ifstream log(log_path());
      const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
      if (running() || attempt == kAttempts || text.find("Address already in use") == std::string::npos) throw;
      // The next attempt starts clean: no log, and no nodes.conf naming the old ports.
      std::error_code ignored;
      if (sentinel_config_.empty()) {
        std::filesystem::remove_all(directory_, ignored);
        std::filesystem::create_directory(directory_);
      } else {
        std::filesystem::remove(log_path(), ignored);
      }
    }
  }
}

std::string RedisServer::log_path() const {
  return directory_ + (sentinel_config_.empty() ? "/redis.log" : "/sentinel.log");
}

std::unique_ptr<RedisServer> RedisServer::sentinel(const std::string& configuration, const std::string& tls_ca_file) {
  return std::unique_ptr<RedisServer>(new RedisServer(SentinelTag{}, configuration, tls_ca_file));
}

void RedisServer::spawn(std::vector<std::string> arguments) {
  process_.spawn(std::move(arguments));
  wait_until_ready();
}

void RedisServer::start() {
  if (running()) return;
  if (!sentinel_config_.empty()) {
    std::vector<std::string> arguments{"redis-sentinel", directory_ + "/sentinel.conf", "--bind", "127.0.0.1",
                                       "--daemonize", "no", "--dir", directory_, "--logfile",
                                       directory_ + "/sentinel.log"};
    if (tls_only_) {
      arguments.insert(arguments.end(), {"--port", "0", "--tls-port", std::to_string(port_)});
    } else {
      arguments.insert(arguments.end(), {"--port", std::to_string(port_)});
    }
    spawn(std::move(arguments));
    return;
  }
  std::vector<std::string> arguments = {
      "redis-server", "--bind", "127.0.0.1", "--save", "",
      "--appendonly", "no", "--daemonize", "no", "--dir", directory_,
      "--logfile", directory_ + "/redis.log", "--enable-debug-command", "yes"};
  if (tls_only_) {
    arguments.insert(arguments.end(), {"--port", "0", "--tls-port", std::to_string(port_)});
  } else {
    arguments.insert(arguments.end(), {"--port", std::to_string(port_)});
  }
  arguments.insert(arguments.end(), extra_arguments_.begin(), extra_arguments_.end());
  spawn(std::move(arguments));
}

void RedisServer::wait_until_ready() {
  const auto deadline = Clock::now() + std::chrono::seconds(10);
  while (Clock::now() < deadline) {
    if (process_.exited()) {  // not running, and start() may try again
      throw std::runtime_error("redis-server exited during start-up; see the log in " + directory_);
    }
    if (tls_only_ ? accepts_connections(port_) : answers_ping(port_)) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling a condition, bounded
  }
  throw std::runtime_error("redis-server did not answer PING within 10 s on port " + std::to_string(port_));
}

void RedisServer::reap(int signal) { process_.stop(signal); }

void RedisServer::stop() { reap(SIGTERM); }
void RedisServer::kill() { reap(SIGKILL); }

std::string RedisServer::cli(const std::vector<std::string>& arguments, const std::string& password) const {
  std::string command = "redis-cli -p " + std::to_string(port_) + " --no-auth-warning";
  if (!cli_tls_ca_file_.empty()) command += " --tls --cacert '" + cli_tls_ca_file_ + "'";
  if (!password.empty()) command += " -a '" + password + "'";
  for (const auto& argument : arguments) command += " '" + argument + "'";
  command += " 2>&1";
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("cannot run redis-cli");
  std::array<char, 4096> chunk;
  while (const std::size_t n = std::fread(chunk.data(), 1, chunk.size(), pipe)) output.append(chunk.data(), n);
  ::pclose(pipe);
  return output;
}

}  // namespace strata::testing
