#include "redis/request_queue.hpp"

#include <algorithm>

namespace strata::redis {

bool RequestQueue::push(std::shared_ptr<PendingRequest> request) {
  if (requests_.size() >= max_pending_) return false;
  request->stage = PendingRequest::Stage::queued;
  requests_.push_back(std::move(request));
  return true;
}

std::vector<std::shared_ptr<PendingRequest>> RequestQueue::take_unwritten(std::size_t byte_budget) {
  std::vector<std::shared_ptr<PendingRequest>> batch;
  while (written_ < requests_.size()) {
    const std::shared_ptr<PendingRequest>& request = requests_[written_];
    if (!batch.empty() && unanswered_bytes_ + request->payload.size() > byte_budget) break;
    request->stage = PendingRequest::Stage::written;
    unanswered_bytes_ += request->payload.size();
    batch.push_back(request);
    ++written_;
  }
  return batch;
}

bool RequestQueue::deliver(Reply reply) {
  if (written_ == 0) return false;
  const std::shared_ptr<PendingRequest>& oldest = requests_.front();
  if (!oldest->abandoned) oldest->replies.push_back(std::move(reply));
  ++delivered_to_oldest_;
  if (delivered_to_oldest_ < oldest->expected_replies) return true;

  std::shared_ptr<PendingRequest> finished = std::move(requests_.front());
  requests_.pop_front();
  --written_;
  unanswered_bytes_ -= finished->payload.size();
  delivered_to_oldest_ = 0;
  if (!finished->abandoned) {
    finished->finish({});
    finished_.push_back(std::move(finished));
  }
  return true;
}

void RequestQueue::abandon(PendingRequest& request) {
  if (request.stage == PendingRequest::Stage::done) return;
  request.abandoned = true;
  request.replies.clear();
  if (request.stage == PendingRequest::Stage::queued) {
    const auto first_queued = requests_.begin() + static_cast<std::ptrdiff_t>(written_);
    const auto it = std::find_if(first_queued, requests_.end(),
                                 [&](const std::shared_ptr<PendingRequest>& queued) { return queued.get() == &request; });
    if (it != requests_.end()) requests_.erase(it);
    request.stage = PendingRequest::Stage::done;
  }
}

void RequestQueue::fail_all(boost::system::error_code error) {
  auto requests = std::move(requests_);
  requests_.clear();
  written_ = 0;
  unanswered_bytes_ = 0;
  delivered_to_oldest_ = 0;
  for (auto& request : requests) {
    if (request->abandoned) continue;
    request->finish(error);
    finished_.push_back(std::move(request));
  }
}

std::vector<std::shared_ptr<PendingRequest>> RequestQueue::overdue(
    std::chrono::steady_clock::time_point now, std::chrono::steady_clock::time_point& next) const {
  std::vector<std::shared_ptr<PendingRequest>> late;
  next = std::chrono::steady_clock::time_point::max();
  for (const auto& request : requests_) {
    if (request->abandoned) continue;
    if (request->deadline <= now) {
      late.push_back(request);
    } else {
      next = std::min(next, request->deadline);
    }
  }
  return late;
}

}  // namespace strata::redis
