// The gateway under pressure: clients that trickle their header in, more connections than the
// limit, a slow origin with more requests than it should be sent at once.

#include "gateway/harness.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>

namespace strata::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;

OriginAnswer numbered(const OriginRequestSeen& request) {
  OriginAnswer answer;
  answer.body = "answer for " + request.target;
  if (request.target.rfind("/slow/", 0) == 0) answer.delay = 500ms;
  return answer;
}

// A client socket that sent `bytes` and keeps the connection open until destroyed.
class HeldConnection {
public:
  HeldConnection(std::uint16_t port, const std::string& bytes) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                 ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  ~HeldConnection() { ::close(fd_); }
  HeldConnection(const HeldConnection&) = delete;
  HeldConnection& operator=(const HeldConnection&) = delete;
  [[nodiscard]] bool connected() const { return connected_; }

private:
  int fd_;
  bool connected_ = false;
};

TEST(GatewayOverload, ATrickledHeaderIsCutByTheHeaderTimeoutAndAnIdleConnectionIsNot) {
  TestOrigin origin(numbered);
  GatewayUnderTest gateway(R"(
origin = "{origin}"
[limits]
header_timeout = "1s"
idle_timeout = "60s"
)",
                           origin.url());
  // Half a header, then nothing: closed once header_timeout has passed, long before idle_timeout.
  const auto began = std::chrono::steady_clock::now();
  const auto trickled = raw_conversation(gateway.port(), "GET /a HTTP/1.1\r\nHost: x\r\n", 10s);
  EXPECT_TRUE(trickled.closed_by_server);
  EXPECT_LT(std::chrono::steady_clock::now() - began, 8s);
  // A connection that has sent nothing yet is a keep-alive client between requests: it keeps
  // idle_timeout, so it is still open when this client gives up after 2.5 s.
  const auto idle = raw_conversation(gateway.port(), "", 2500ms);
  EXPECT_FALSE(idle.closed_by_server);
  EXPECT_EQ(origin.total(), 0U);
}

TEST(GatewayOverload, AtTheConnectionLimitWaitingConnectionsMakeRoomForNewOnes) {
  TestOrigin origin(numbered);
  GatewayUnderTest gateway(R"(
origin = "{origin}"
[limits]
max_connections = 4
)",
                           origin.url());
  std::vector<std::unique_ptr<HeldConnection>> slow;
  for (int i = 0; i < 4; ++i) {
    slow.push_back(std::make_unique<HeldConnection>(gateway.port(), "GET /held HTTP/1.1\r\nHo"));
    ASSERT_TRUE(slow.back()->connected());
  }
  // Every slot is held by a client that is not sending: a real request still gets through.
  for (int i = 0; i < 3; ++i) {
    const auto answer = http_get(gateway.port(), "/fresh/" + std::to_string(i));
    EXPECT_EQ(answer.status, 200U) << answer.error;
    EXPECT_EQ(answer.body, "answer for /fresh/" + std::to_string(i));
  }
}

TEST(GatewayOverload, PastTheOriginBoundRequestsGet503WithRetryAfterAtOnce) {
  TestOrigin origin(numbered);
  GatewayUnderTest gateway(R"(
origin = "{origin}"
[upstream]
max_in_flight = 2
)",
                           origin.url());
  const auto began = std::chrono::steady_clock::now();
  const auto results = concurrent_requests(gateway.port(), 8, [](std::size_t i) {
    return std::pair<std::string, Fields>{"/slow/" + std::to_string(i), {}};  // distinct: nothing coalesces
  });
  std::size_t answered = 0, refused = 0;
  for (const auto& result : results) {
    if (result.status == 200U) {
      ++answered;
    } else {
      ASSERT_EQ(result.status, 503U) << result.body;
      EXPECT_EQ(result.header("retry-after"), "1");
      EXPECT_THAT(result.body, HasSubstr("upstream.max_in_flight"));
      ++refused;
    }
  }
  EXPECT_GE(answered, 2U);
  EXPECT_GE(refused, 1U);
  EXPECT_LE(origin.total(), answered);  // a refused request never reached the origin
  // Four rounds of the origin's 500 ms had the eight been queued two at a time.
  EXPECT_LT(std::chrono::steady_clock::now() - began, 1900ms);
}

}  // namespace
}  // namespace strata::testing
