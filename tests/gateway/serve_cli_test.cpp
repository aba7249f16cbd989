// `strata serve` as a process: configuration errors, serving, SIGHUP reload, SIGTERM drain.

#include "gateway/harness.hpp"
#include "gateway/process.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <regex>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace strata::testing {
namespace {

using ::testing::HasSubstr;

TEST(ServeCommand, AConfigurationMistakeIsOnePreciseLineAndExitCode2) {
  const auto path = write_file("bad.toml", "origin = \"http://127.0.0.1:1\"\n[[rules]]\npath = \"/a\"\nttl = \"soon\"\n");
  StrataProcess serve({"serve", "--config", path});
  const auto output = serve.rest();
  EXPECT_EQ(serve.wait(), 2);
  EXPECT_THAT(output, HasSubstr("bad.toml:4:"));
  EXPECT_THAT(output, HasSubstr("rules[0].ttl: \"soon\" is not a duration"));

  StrataProcess no_origin({"serve", "--listen", "127.0.0.1:0"});
  EXPECT_THAT(no_origin.rest(), HasSubstr("origin: set the API to cache"));
  EXPECT_EQ(no_origin.wait(), 2);
}

TEST(ServeCommand, ServesReloadsOnSighupAndDrainsOnSigterm) {
  TestOrigin origin([](const OriginRequestSeen& request) {
    OriginAnswer answer;
    answer.body = "hello from " + request.target;
    return answer;
  });
  const std::string base = "listen = \"127.0.0.1:0\"\norigin = \"" + origin.url() + "\"\n";
  const auto path = write_file("serve.toml", base + "[[rules]]\npath = \"/items/{id}\"\nttl = \"60s\"\n");
  StrataProcess serve({"serve", "--config", path, "--threads", "2"});
  const auto banner = serve.line();
  std::smatch match;
  ASSERT_TRUE(std::regex_search(banner, match, std::regex("listening on http://127.0.0.1:(\\d+)"))) << banner;
  const auto port = static_cast<std::uint16_t>(std::stoi(match[1]));
  EXPECT_THAT(banner, HasSubstr("L1 only"));

  EXPECT_EQ(http_get(port, "/items/1").header("x-cache"), "MISS");
  EXPECT_EQ(http_get(port, "/items/1").header("x-cache"), "HIT");
  EXPECT_EQ(http_get(port, "/health").status, 200U);

  // Reload: the rule now passes requests through; the running listener is untouched.
  write_file("serve.toml", base + "[[rules]]\npath = \"/items/{id}\"\ncache = false\n");
  serve.signal(SIGHUP);
  EXPECT_THAT(serve.await_line("configuration reloaded|reload refused"), HasSubstr("configuration reloaded"));
  EXPECT_EQ(http_get(port, "/items/1").header("x-cache"), "BYPASS");

  // A broken file on SIGHUP is refused and the running configuration stays.
  write_file("serve.toml", base + "[[rules]]\npath = \"/items/{id\"\n");
  serve.signal(SIGHUP);
  EXPECT_THAT(serve.await_line("configuration reloaded|reload refused"), HasSubstr("reload refused"));
  EXPECT_EQ(http_get(port, "/items/2").status, 200U);

  serve.signal(SIGTERM);
  const auto rest = serve.rest();
  EXPECT_EQ(serve.wait(), 0);
  EXPECT_THAT(rest, HasSubstr("stopped"));
  EXPECT_EQ(http_get(port, "/items/1", {}).status, 0U);  // nothing listens any more
}

// What systemd does for a Type=notify unit: a datagram socket whose name the service finds in
// $NOTIFY_SOCKET, read one message at a time.
class NotifySocket {
public:
  // `abstract`: a name in Linux's abstract namespace ("@name"), as systemd itself uses.
  explicit NotifySocket(bool abstract) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket failed");
    const std::string unique = "strata-notify-" + std::to_string(getpid()) + (abstract ? "-a" : "-p");
    name_ = abstract ? "@" + unique : ::testing::TempDir() + unique;
    if (!abstract) std::remove(name_.c_str());
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name_.data(), name_.size());
    if (abstract) address.sun_path[0] = '\0';
    const auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    if (bind(fd_, reinterpret_cast<const sockaddr*>(&address), length) != 0) throw std::runtime_error("bind failed");
  }
  ~NotifySocket() {
    close(fd_);
    if (name_[0] == '/') std::remove(name_.c_str());
  }
  [[nodiscard]] std::string environment() const { return "NOTIFY_SOCKET=" + name_; }

  // The next message, or "" when none came within `timeout_ms`.
  std::string next(int timeout_ms = 10'000) {
    pollfd ready{fd_, POLLIN, 0};
    if (poll(&ready, 1, timeout_ms) != 1) return {};
    char buffer[4096];
    const auto size = recv(fd_, buffer, sizeof buffer, 0);
    return size > 0 ? std::string(buffer, static_cast<std::size_t>(size)) : std::string();
  }

private:
  int fd_ = -1;
  std::string name_;
};

std::uint16_t port_in(const std::string& text) {
  std::smatch match;
  if (!std::regex_search(text, match, std::regex("listening on http://127.0.0.1:(\\d+)"))) return 0;
  return static_cast<std::uint16_t>(std::stoi(match[1]));
}

TEST(ServeCommand, TellsItsServiceManagerItIsReadyOnlyOnceItListensAndAroundReloadsAndStops) {
  for (const bool abstract : {false, true}) {
    SCOPED_TRACE(abstract ? "abstract socket" : "socket file");
    TestOrigin origin([](const OriginRequestSeen&) { return OriginAnswer{}; });
    const std::string base = "listen = \"127.0.0.1:0\"\norigin = \"" + origin.url() + "\"\n";
    const auto path = write_file("notify.toml", base);
    NotifySocket manager(abstract);
    StrataProcess serve({"serve", "--config", path}, {manager.environment()});

    const auto ready = manager.next();
    EXPECT_THAT(ready, HasSubstr("READY=1\n"));
    const auto port = port_in(ready);
    ASSERT_NE(port, 0) << ready;
    // Told ready means reachable: the very first request after the message is served.
    EXPECT_EQ(http_get(port, "/health").status, 200U);

    serve.signal(SIGHUP);
    EXPECT_THAT(manager.next(), HasSubstr("RELOADING=1\n"));
    const auto reloaded = manager.next();
    EXPECT_THAT(reloaded, HasSubstr("READY=1"));
    EXPECT_THAT(reloaded, HasSubstr("STATUS=configuration reloaded"));

    // A refused reload ends the reload too: the service keeps running its old configuration.
    write_file("notify.toml", base + "[[rules]]\npath = \"/items/{id\"\n");
    serve.signal(SIGHUP);
    EXPECT_THAT(manager.next(), HasSubstr("RELOADING=1"));
    const auto refused = manager.next();
    EXPECT_THAT(refused, HasSubstr("READY=1"));
    EXPECT_THAT(refused, HasSubstr("STATUS=reload refused"));
    EXPECT_EQ(refused.find('\n', refused.find("STATUS=")), std::string::npos) << "a status is one line";
    EXPECT_EQ(http_get(port, "/health").status, 200U);

    serve.signal(SIGTERM);
    EXPECT_THAT(manager.next(), HasSubstr("STOPPING=1"));
    EXPECT_EQ(serve.wait(), 0);
  }
}

TEST(ServeCommand, AServiceThatCannotListenIsNeverReportedReadyAndExitsWith1) {
  TestOrigin origin([](const OriginRequestSeen&) { return OriginAnswer{}; });
  NotifySocket manager(false);
  StrataProcess first({"serve", "--listen", "127.0.0.1:0", "--origin", origin.url()});
  const auto port = port_in(first.line());
  ASSERT_NE(port, 0);
  StrataProcess second({"serve", "--listen", "127.0.0.1:" + std::to_string(port), "--origin", origin.url()},
                      {manager.environment()});
  const auto output = second.rest();
  EXPECT_EQ(second.wait(), 1);
  EXPECT_THAT(output, HasSubstr("Address already in use"));
  EXPECT_EQ(manager.next(0), "") << "it has exited: anything it sent is queued already";
}

}  // namespace
}  // namespace strata::testing
