#pragma once

#include <strata/redis/error.hpp>
#include <strata/redis/reply.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace strata::redis {

// A caller suspended until its request ends. The queue only keeps it; the connection resumes
// it. Destroying one that was never resumed destroys the suspended caller, as asio destroys
// the handlers of operations that never complete.
class Waiter {
public:
  virtual ~Waiter() = default;
  // Runs the caller right here when this thread may run its executor's work, else queues it.
  virtual void resume_here() = 0;
  // Queues the caller on its executor.
  virtual void resume_later() = 0;
};

// One request on its way through a connection: its RESP bytes, how many replies it is owed,
// and, once done, its replies or the error that ended it.
struct PendingRequest {
  enum class Stage { queued, written, done };

  PendingRequest(std::string payload_bytes, std::size_t replies_owed)
      : payload(std::move(payload_bytes)), expected_replies(replies_owed) {}

  void finish(boost::system::error_code failure) {
    stage = Stage::done;
    error = failure;
  }

  std::string payload;
  std::size_t expected_replies;
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  Stage stage = Stage::queued;
  bool abandoned = false;  // its caller stopped waiting; replies still owed are discarded
  bool timed_out = false;  // it was abandoned because its deadline passed
  bool cancelled = false;  // it was abandoned because its caller's operation was cancelled
  std::vector<Reply> replies;
  boost::system::error_code error;
  // The suspended caller, resumed by whoever ends its wait (the queue itself never runs it).
  std::unique_ptr<Waiter> waiter;
};

// The pipelining state machine of one connection, free of I/O so it can be driven with values
// in tests. Requests are written in the order they were pushed, as many queued requests in one
// write as the byte budget allows; the server answers in that order, so each reply belongs to
// the oldest written request still owed one. A request abandoned after it was written stays in
// line, so replies stay aligned; one abandoned before it was written is simply dropped.
class RequestQueue {
public:
  explicit RequestQueue(std::size_t max_pending) : max_pending_(max_pending) {}

  // False when max_pending requests are queued or in flight already.
  bool push(std::shared_ptr<PendingRequest> request);

  [[nodiscard]] bool has_unwritten() const noexcept { return written_ < requests_.size(); }
  // True when requests wait and the bytes written but not yet answered are under `byte_budget`.
  [[nodiscard]] bool may_write(std::size_t byte_budget) const noexcept {
    return has_unwritten() && unanswered_bytes_ < byte_budget;
  }
  // The request bytes written whose replies are not all in yet.
  [[nodiscard]] std::size_t unanswered_bytes() const noexcept { return unanswered_bytes_; }

  // Marks queued requests written and returns them in order, for one write: as many as keep the
  // unanswered bytes within `byte_budget`, and always at least one (a request larger than the
  // budget goes alone; may_write() says when to call). The caller keeps the returned pointers
  // until the write completes (they own the bytes being written).
  std::vector<std::shared_ptr<PendingRequest>> take_unwritten(
      std::size_t byte_budget = std::numeric_limits<std::size_t>::max());

  // Hands one reply to the request it belongs to. False when no written request is owed a
  // reply: the server said something nobody asked for, and the connection must be dropped.
  bool deliver(Reply reply);

  // The caller gave up waiting (timeout, cancellation).
  void abandon(PendingRequest& request);

  // Ends every request with `error` (the connection is gone) and empties the queue.
  void fail_all(boost::system::error_code error);

  // The requests that deliver() or fail_all() finished since the last call, in the order they
  // finished; abandoned ones are not among them. Their callers are woken from this list, after
  // the replies at hand are parsed, so no caller runs in the middle of the parse.
  std::vector<std::shared_ptr<PendingRequest>> take_finished() {
    auto finished = std::exchange(finished_, {});
    finished_.reserve(finished.size());  // the next read is likely as large: one allocation, not log2(n)
    return finished;
  }

  // Every request still in line, for the owner to reach the callers waiting on them.
  [[nodiscard]] const std::deque<std::shared_ptr<PendingRequest>>& requests() const noexcept { return requests_; }

  // Requests still awaited whose deadline is at or before `now`, oldest first; `next` receives
  // the earliest deadline among the others (time_point::max() if none).
  std::vector<std::shared_ptr<PendingRequest>> overdue(std::chrono::steady_clock::time_point now,
                                                       std::chrono::steady_clock::time_point& next) const;

  [[nodiscard]] std::size_t size() const noexcept { return requests_.size(); }
  [[nodiscard]] std::size_t written() const noexcept { return written_; }

private:
  std::size_t max_pending_;
  std::deque<std::shared_ptr<PendingRequest>> requests_;  // written ones first, then queued
  std::size_t written_ = 0;
  std::size_t unanswered_bytes_ = 0;  // payload bytes of the written requests still in requests_
  std::size_t delivered_to_oldest_ = 0;  // replies the oldest request has received so far
  std::vector<std::shared_ptr<PendingRequest>> finished_;
};

}  // namespace strata::redis
