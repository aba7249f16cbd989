// The pipelining state machine, driven with values: no socket, no Asio.
#include "redis/request_queue.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <string>

namespace strata::redis {
namespace {

std::shared_ptr<PendingRequest> request(std::string payload, std::size_t replies = 1) {
  return std::make_shared<PendingRequest>(std::move(payload), replies);
}

TEST(RequestQueue, WritesEverythingQueuedInOneBatchInOrder) {
  RequestQueue queue(100);
  auto a = request("A");
  auto b = request("B");
  ASSERT_TRUE(queue.push(a));
  ASSERT_TRUE(queue.push(b));
  EXPECT_TRUE(queue.has_unwritten());
  const auto batch = queue.take_unwritten();
  ASSERT_EQ(batch.size(), 2U);
  EXPECT_EQ(batch[0], a);
  EXPECT_EQ(batch[1], b);
  EXPECT_FALSE(queue.has_unwritten());
  EXPECT_EQ(a->stage, PendingRequest::Stage::written);
  auto c = request("C");
  queue.push(c);
  const auto next = queue.take_unwritten();
  ASSERT_EQ(next.size(), 1U);
  EXPECT_EQ(next[0], c);
}

TEST(RequestQueue, AByteBudgetHoldsBackRequestsUntilRepliesFreeIt) {
  RequestQueue queue(100);
  auto a = request(std::string(40, 'a'));
  auto b = request(std::string(40, 'b'));
  auto c = request(std::string(40, 'c'));
  queue.push(a);
  queue.push(b);
  queue.push(c);
  const auto first = queue.take_unwritten(100);
  ASSERT_EQ(first.size(), 2U);  // a third would make 120 bytes unanswered
  EXPECT_EQ(first[1], b);
  EXPECT_EQ(queue.unanswered_bytes(), 80U);
  EXPECT_TRUE(queue.may_write(100));  // 80 < 100: the writer may take c (it goes alone)
  EXPECT_FALSE(queue.may_write(80));
  EXPECT_EQ(c->stage, PendingRequest::Stage::queued);

  ASSERT_TRUE(queue.deliver(Reply::string("for a")));
  EXPECT_EQ(queue.unanswered_bytes(), 40U);
  const auto second = queue.take_unwritten(100);
  ASSERT_EQ(second.size(), 1U);
  EXPECT_EQ(second[0], c);
  EXPECT_EQ(queue.unanswered_bytes(), 80U);
  EXPECT_FALSE(queue.may_write(100));  // nothing left to write
}

TEST(RequestQueue, ARequestLargerThanTheBudgetIsWrittenAlone) {
  RequestQueue queue(100);
  auto big = request(std::string(500, 'x'));
  auto small = request("s");
  queue.push(big);
  queue.push(small);
  EXPECT_TRUE(queue.may_write(100));
  const auto batch = queue.take_unwritten(100);
  ASSERT_EQ(batch.size(), 1U);
  EXPECT_EQ(batch[0], big);
  EXPECT_FALSE(queue.may_write(100));  // 500 bytes owed: the small one waits
  ASSERT_TRUE(queue.deliver(Reply::string("ok")));
  EXPECT_EQ(queue.unanswered_bytes(), 0U);
  EXPECT_TRUE(queue.may_write(100));
}

TEST(RequestQueue, AbandonedAndFailedRequestsReleaseTheirBytes) {
  RequestQueue queue(100);
  auto a = request(std::string(30, 'a'));
  auto b = request(std::string(30, 'b'));
  queue.push(a);
  queue.push(b);
  queue.take_unwritten(1000);
  queue.abandon(*a);  // written: it stays in line, its bytes stay owed until its reply comes
  EXPECT_EQ(queue.unanswered_bytes(), 60U);
  ASSERT_TRUE(queue.deliver(Reply::string("discarded")));
  EXPECT_EQ(queue.unanswered_bytes(), 30U);
  queue.fail_all(make_error_code(Error::connection_lost));
  EXPECT_EQ(queue.unanswered_bytes(), 0U);
}

TEST(RequestQueue, RepliesGoToRequestsInTheOrderTheyWereWritten) {
  RequestQueue queue(100);
  auto a = request("A");
  auto b = request("B");
  queue.push(a);
  queue.push(b);
  queue.take_unwritten();
  ASSERT_TRUE(queue.deliver(Reply::string("for a")));
  EXPECT_EQ(a->stage, PendingRequest::Stage::done);
  EXPECT_EQ(a->replies, std::vector<Reply>{Reply::string("for a")});
  EXPECT_EQ(b->stage, PendingRequest::Stage::written);
  ASSERT_TRUE(queue.deliver(Reply::string("for b")));
  EXPECT_EQ(b->replies, std::vector<Reply>{Reply::string("for b")});
  EXPECT_EQ(queue.take_finished(), (std::vector<std::shared_ptr<PendingRequest>>{a, b}));
  EXPECT_TRUE(queue.take_finished().empty());
  EXPECT_EQ(queue.size(), 0U);
}

TEST(RequestQueue, APipelinedRequestCollectsAllItsReplies) {
  RequestQueue queue(100);
  auto pipeline = request("P", 3);
  queue.push(pipeline);
  queue.take_unwritten();
  queue.deliver(Reply::status("OK"));
  queue.deliver(Reply::integer(2));
  EXPECT_NE(pipeline->stage, PendingRequest::Stage::done);
  queue.deliver(Reply::nil());
  EXPECT_EQ(pipeline->stage, PendingRequest::Stage::done);
  EXPECT_EQ(pipeline->replies, (std::vector<Reply>{Reply::status("OK"), Reply::integer(2), Reply::nil()}));
}

TEST(RequestQueue, AbandonedAfterWritingStillConsumesItsReplies) {
  RequestQueue queue(100);
  auto slow = request("DEBUG SLEEP", 1);
  auto next = request("PING", 1);
  queue.push(slow);
  queue.push(next);
  queue.take_unwritten();
  queue.abandon(*slow);  // its caller timed out
  ASSERT_TRUE(queue.deliver(Reply::status("OK")));  // the late reply to the abandoned request
  EXPECT_TRUE(queue.take_finished().empty());
  EXPECT_TRUE(slow->replies.empty());
  EXPECT_NE(next->stage, PendingRequest::Stage::done);
  ASSERT_TRUE(queue.deliver(Reply::status("PONG")));
  EXPECT_EQ(next->replies, std::vector<Reply>{Reply::status("PONG")});
  EXPECT_EQ(queue.take_finished(), std::vector<std::shared_ptr<PendingRequest>>{next});
}

TEST(RequestQueue, AbandonedBeforeWritingIsNeverWritten) {
  RequestQueue queue(100);
  auto a = request("A");
  auto b = request("B");
  queue.push(a);
  queue.push(b);
  queue.abandon(*a);
  EXPECT_EQ(a->stage, PendingRequest::Stage::done);
  const auto batch = queue.take_unwritten();
  ASSERT_EQ(batch.size(), 1U);
  EXPECT_EQ(batch[0], b);
}

TEST(RequestQueue, AReplyNobodyAskedForIsAProtocolViolation) {
  RequestQueue queue(100);
  EXPECT_FALSE(queue.deliver(Reply::status("OK")));
  auto queued_only = request("A");
  queue.push(queued_only);
  EXPECT_FALSE(queue.deliver(Reply::status("OK")));  // written nothing yet
}

TEST(RequestQueue, FailAllEndsEveryRequestWithTheErrorAndSkipsAbandonedOnes) {
  RequestQueue queue(100);
  auto written = request("A");
  auto abandoned = request("B");
  auto queued = request("C");
  queue.push(written);
  queue.push(abandoned);
  queue.take_unwritten();
  queue.push(queued);
  queue.abandon(*abandoned);
  queue.fail_all(make_error_code(Error::connection_lost));
  EXPECT_EQ(queue.take_finished(), (std::vector<std::shared_ptr<PendingRequest>>{written, queued}));
  EXPECT_EQ(written->error, Error::connection_lost);
  EXPECT_EQ(queued->error, Error::connection_lost);
  EXPECT_EQ(queue.size(), 0U);
  EXPECT_FALSE(queue.has_unwritten());
  EXPECT_FALSE(queue.deliver(Reply::status("late")));  // nothing is owed any more
}

TEST(RequestQueue, RefusesRequestsBeyondItsBound) {
  RequestQueue queue(2);
  EXPECT_TRUE(queue.push(request("A")));
  EXPECT_TRUE(queue.push(request("B")));
  EXPECT_FALSE(queue.push(request("C")));
  queue.take_unwritten();
  queue.deliver(Reply::status("OK"));
  EXPECT_TRUE(queue.push(request("D")));
}

TEST(RequestQueue, TenThousandInFlightStayAligned) {
  RequestQueue queue(20'000);
  std::vector<std::shared_ptr<PendingRequest>> requests;
  for (int i = 0; i < 10'000; ++i) {
    requests.push_back(request("GET " + std::to_string(i)));
    queue.push(requests.back());
    if (i % 7 == 0) queue.take_unwritten();  // writes happen in several batches
  }
  queue.take_unwritten();
  for (int i = 0; i < 10'000; i += 3) queue.abandon(*requests[static_cast<std::size_t>(i)]);
  for (int i = 0; i < 10'000; ++i) ASSERT_TRUE(queue.deliver(Reply::integer(i)));
  EXPECT_EQ(queue.take_finished().size(), 10'000U - 3'334U);  // the abandoned wake nobody
  for (int i = 0; i < 10'000; ++i) {
    const auto& r = *requests[static_cast<std::size_t>(i)];
    if (i % 3 == 0) {
      EXPECT_TRUE(r.replies.empty());
    } else {
      ASSERT_EQ(r.replies.size(), 1U);
      ASSERT_EQ(r.replies[0].integer_value(), i);
    }
  }
}

}  // namespace
}  // namespace strata::redis
