#include <strata/redis/connection.hpp>

#include "redis/reconnector.hpp"
#include "redis/request_queue.hpp"
#include "redis/resilience.hpp"
#include "redis/transport.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/associated_cancellation_slot.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <array>
#include <mutex>
#include <string>

namespace strata::redis {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 64 * 1024;
// Request bytes one connection may have written and not yet had answered. Redis reads at most
// 16 KiB per client per event-loop turn, so a deeper pipeline only fills the server's socket
// buffer: zero windows, and on loopback even dropped segments and retransmissions, while the
// pool's other connections could carry the requests. A larger single request still goes alone.
constexpr std::size_t kMaxUnansweredBytes = 128 * 1024;

std::chrono::steady_clock::time_point now() noexcept { return std::chrono::steady_clock::now(); }

// Failures of a request that count against the endpoint. A lost connection is counted once,
// where it is detected, not once for every request it took down.
bool counts_against_endpoint(const error_code& error) noexcept {
  return error == Error::command_timeout;
}

// The Waiter of a coroutine suspended in exec_all, holding its completion handler. (Not asio's
// any_completion_handler: in Boost 1.81 it recurses without end when it wraps a use_awaitable
// handler, as it did here.) The handler clears its cancellation slot itself when it runs.
template <typename Handler>
class WaiterFor final : public Waiter {
public:
  explicit WaiterFor(Handler handler) : handler_(std::move(handler)) {}
  void resume_here() override { asio::dispatch(std::move(handler_)); }
  void resume_later() override { asio::post(std::move(handler_)); }

private:
  Handler handler_;
};

}  // namespace

// A caller waiting for its reply is a completion handler kept in the request, not an operation
// asio knows of. Like asio's own operations, such handlers must be destroyed, never run, when
// their execution context shuts down: a Connection that outlives its io_context would otherwise
// later post them to a scheduler that is gone. This service, one per execution context, does
// that for every connection on it.
class SuspendedCallers : public asio::execution_context::service {
public:
  using key_type = SuspendedCallers;
  static inline asio::execution_context::id id;

  explicit SuspendedCallers(asio::execution_context& context) : service(context) {}

  void enroll(std::weak_ptr<Connection::Impl> connection);
  void shutdown() override;

private:
  std::mutex mutex_;  // connections on one context may be created from several threads
  std::vector<std::weak_ptr<Connection::Impl>> connections_;
};

class Connection::Impl : public std::enable_shared_from_this<Impl> {
public:
  Impl(asio::any_io_executor executor, ConnectionOptions options, std::shared_ptr<CircuitBreaker> breaker)
      : executor_(std::move(executor)),
        options_(std::move(options)),
        transport_(executor_, options_),
        write_signal_(executor_),
        deadline_timer_(executor_),
        queue_(options_.max_pending),
        breaker_(breaker != nullptr ? std::move(breaker)
                                    : std::make_shared<CircuitBreaker>(options_.breaker_failures,
                                                                       options_.breaker_cooldown)),
        reconnector_(executor_, options_,
                     Reconnector::Hooks{
                         [this] { return state_ == State::disconnected; },
                         [this] { return breaker_->remaining_cooldown(now()); },
                         [this] { return breaker_->allow(now()); },
                         [this]() -> asio::awaitable<bool> { co_return (co_await connect_once()).has_value(); },
                     }) {
    write_signal_.expires_at(asio::steady_timer::time_point::max());
  }

  // The first connection; on failure it keeps trying in the background if reconnect is on.
  asio::awaitable<Result<void>> connect();
  asio::awaitable<bool> wait_connected(std::chrono::milliseconds timeout);
  asio::awaitable<Result<std::vector<Reply>>> exec_all(Request request,
                                                       std::optional<std::chrono::milliseconds> timeout);
  void close();
  void drop(std::string reason) { fail(generation_, Error::connection_lost, std::move(reason)); }
  // The execution context is shutting down: forget every suspended caller (see SuspendedCallers).
  void destroy_waiters();

  [[nodiscard]] bool is_connected() const noexcept { return state_ == State::connected; }
  [[nodiscard]] std::size_t pending() const noexcept { return queue_.size(); }
  [[nodiscard]] const std::string& last_error() const noexcept { return last_error_; }
  [[nodiscard]] const ConnectionOptions& options() const noexcept { return options_; }

private:
  enum class State { disconnected, connecting, connected, closed };

  asio::awaitable<Result<void>> connect_once();
  void start_reconnecting() { reconnector_.start(shared_from_this()); }
  void wake_connect_waiters();
  // Each loop holds `keep_alive` so the connection outlives its own coroutines.
  asio::awaitable<void> read_loop(std::shared_ptr<Impl> keep_alive, std::uint64_t generation);
  asio::awaitable<void> write_loop(std::shared_ptr<Impl> keep_alive, std::uint64_t generation);
  void fail(std::uint64_t generation, Error error, std::string detail);
  // Resumes the callers of the requests the queue finished. `in_place` lets a caller on this
  // connection's executor run right here (the read loop, once a read is parsed); otherwise each
  // is posted, for paths where running callers inside the current step is not safe.
  void resume_finished(bool in_place);
  void resume(PendingRequest& request, bool in_place);
  void cancel_wait(PendingRequest& request);
  void flush();
  void arm_deadline(std::chrono::steady_clock::time_point when);
  void expire_overdue();
  bool live(std::uint64_t generation) const noexcept {
    return state_ == State::connected && generation_ == generation;
  }

  asio::any_io_executor executor_;
  ConnectionOptions options_;
  Transport transport_;
  asio::steady_timer write_signal_;  // never expires; cancel() wakes the writer
  // One timer for every request's deadline, armed for the earliest one only when that moves
  // earlier: re-arming a timer per request costs a system call per request.
  asio::steady_timer deadline_timer_;
  std::chrono::steady_clock::time_point deadline_armed_ = std::chrono::steady_clock::time_point::max();
  bool writing_ = false;  // the writer coroutine owns the socket's write side
  std::string overflow_;  // what a direct write could not send; the writer sends it first
  RequestQueue queue_;
  std::shared_ptr<CircuitBreaker> breaker_;
  Reconnector reconnector_;
  std::vector<asio::steady_timer*> connect_waiters_;
  State state_ = State::disconnected;
  std::uint64_t generation_ = 0;  // one per connection attempt; stale loops see it change
  std::string last_error_;
};

asio::awaitable<Result<void>> Connection::Impl::connect() {
  if (state_ == State::closed) co_return make_error_code(Error::cancelled);
  Result<void> result = co_await connect_once();
  if (!result) start_reconnecting();
  co_return result;
}

asio::awaitable<bool> Connection::Impl::wait_connected(std::chrono::milliseconds timeout) {
  if (state_ == State::connected) co_return true;
  auto self = shared_from_this();
  asio::steady_timer waiter(executor_, timeout);
  // The frame can be destroyed without resuming (its executor shutting down), so the
  // registration is undone by a destructor rather than by the line after the wait.
  struct Registration {
    std::vector<asio::steady_timer*>& waiters;
    asio::steady_timer* timer;
    ~Registration() { std::erase(waiters, timer); }
  };
  connect_waiters_.push_back(&waiter);
  const Registration registration{connect_waiters_, &waiter};
  co_await waiter.async_wait(kUseTuple);
  co_return state_ == State::connected;
}

void Connection::Impl::wake_connect_waiters() {
  for (asio::steady_timer* waiter : connect_waiters_) waiter->cancel();
}

asio::awaitable<Result<void>> Connection::Impl::connect_once() {
  if (state_ == State::connected) co_return Result<void>{};
  if (state_ == State::connecting) {
    last_error_ = "connect() called while a connect is under way";
    co_return make_error_code(Error::not_connected);
  }
  auto self = shared_from_this();
  state_ = State::connecting;
  const std::uint64_t generation = ++generation_;
  std::string detail;
  Result<void> opened = co_await transport_.open(detail);
  if (generation_ != generation) co_return make_error_code(Error::cancelled);  // closed meanwhile
  if (!opened) {
    state_ = State::disconnected;
    last_error_ = std::move(detail);
    breaker_->record_failure(now());
    co_return opened;
  }
  state_ = State::connected;
  last_error_.clear();
  breaker_->record_success();
  overflow_.clear();
  writing_ = true;  // until the new writer has looked at what queued up while disconnected
  asio::co_spawn(executor_, read_loop(self, generation), asio::detached);
  asio::co_spawn(executor_, write_loop(self, generation), asio::detached);
  wake_connect_waiters();
  co_return Result<void>{};
}

asio::awaitable<void> Connection::Impl::read_loop([[maybe_unused]] std::shared_ptr<Impl> keep_alive,
                                                  std::uint64_t generation) {
  std::vector<char> buffer(kReadChunk);
  while (live(generation)) {
    auto [error, n] = co_await transport_.read_some(asio::buffer(buffer));
    if (!live(generation)) co_return;
    if (error) {
      fail(generation, Error::connection_lost,
           error == asio::error::eof ? "the server closed the connection" : "read failed: " + error.message());
      co_return;
    }
    RespReader& reader = transport_.reader();
    bool unexpected = false;
    reader.parse(buffer.data(), n, [&](Reply&& reply) {
      unexpected = !queue_.deliver(std::move(reply));
      return !unexpected;
    });
    resume_finished(true);
    if (!live(generation)) co_return;  // a resumed caller closed the connection
    if (!writing_ && queue_.may_write(kMaxUnansweredBytes)) write_signal_.cancel();  // held back by the budget
    if (unexpected) {
      fail(generation, Error::protocol_error, "the server sent a reply nobody asked for");
      co_return;
    }
    if (reader.failed()) {
      fail(generation, Error::protocol_error, "the server sent bytes that are not RESP: " + reader.error());
      co_return;
    }
  }
}

asio::awaitable<void> Connection::Impl::write_loop([[maybe_unused]] std::shared_ptr<Impl> keep_alive,
                                                   std::uint64_t generation) {
  std::vector<asio::const_buffer> buffers;
  while (live(generation)) {
    if (overflow_.empty() && !queue_.may_write(kMaxUnansweredBytes)) {
      writing_ = false;  // callers may write directly again (once nothing is owed)
      co_await write_signal_.async_wait(kUseTuple);  // cancelled when there is work, or to stop
      continue;
    }
    writing_ = true;
    // The batch keeps its requests (and so their bytes) alive until the write is done.
    std::vector<std::shared_ptr<PendingRequest>> batch;
    std::string remainder;
    buffers.clear();
    if (!overflow_.empty()) {
      remainder.swap(overflow_);
      buffers.push_back(asio::buffer(remainder));
    } else {
      batch = queue_.take_unwritten(kMaxUnansweredBytes);
      for (const auto& request : batch) buffers.push_back(asio::buffer(request->payload));
    }
    auto [error, written] = co_await transport_.write(buffers);
    if (!live(generation)) co_return;
    if (error) {
      fail(generation, Error::connection_lost, "write failed: " + error.message());
      co_return;
    }
  }
}

// Sends what is queued. A lone request on an idle connection is written directly by its caller
// (no trip through the event loop: the lowest latency). When replies are still owed, the
// writer coroutine is woken instead: by the time it runs, every caller that is ready has queued
// its request, and they all go out in one write (the highest throughput).
void Connection::Impl::flush() {
  if (state_ != State::connected || !queue_.has_unwritten()) return;
  if (writing_ || transport_.is_tls() || queue_.written() > 0) {
    write_signal_.cancel();
    return;
  }
  const auto batch = queue_.take_unwritten(kMaxUnansweredBytes);
  std::vector<asio::const_buffer> buffers;
  buffers.reserve(batch.size());
  std::size_t total = 0;
  for (const auto& request : batch) {
    buffers.push_back(asio::buffer(request->payload));
    total += request->payload.size();
  }
  error_code error;
  std::size_t written = transport_.write_now(buffers, error);
  if (error) {
    fail(generation_, Error::connection_lost, "write failed: " + error.message());
    return;
  }
  if (written == total) return;
  // The socket took part of it: the writer sends the rest, before anything queued later.
  for (const auto& buffer : buffers) {
    const auto* bytes = static_cast<const char*>(buffer.data());
    if (written >= buffer.size()) {
      written -= buffer.size();
      continue;
    }
    overflow_.append(bytes + written, buffer.size() - written);
    written = 0;
  }
  writing_ = true;
  write_signal_.cancel();
}

void Connection::Impl::arm_deadline(std::chrono::steady_clock::time_point when) {
  if (when >= deadline_armed_) return;
  deadline_armed_ = when;
  deadline_timer_.expires_at(when);  // cancels the previous wait, whose handler then does nothing
  deadline_timer_.async_wait([weak = weak_from_this()](error_code error) {
    if (error) return;
    if (auto self = weak.lock()) {
      self->deadline_armed_ = std::chrono::steady_clock::time_point::max();
      self->expire_overdue();
    }
  });
}

void Connection::Impl::resume_finished(bool in_place) {
  for (const auto& request : queue_.take_finished()) resume(*request, in_place);
}

void Connection::Impl::resume(PendingRequest& request, bool in_place) {
  if (!request.waiter) return;
  // Moved out first: the caller, once resumed, may destroy the request that held it.
  const auto waiter = std::move(request.waiter);
  if (in_place) {
    waiter->resume_here();
  } else {
    waiter->resume_later();
  }
}

void Connection::Impl::cancel_wait(PendingRequest& request) {
  if (!request.waiter) return;
  request.cancelled = true;
  queue_.abandon(request);
  resume(request, false);
}

void Connection::Impl::destroy_waiters() {
  auto self = shared_from_this();  // the callers' frames hold it; they are about to go
  std::vector<std::unique_ptr<Waiter>> waiters;
  for (const auto& request : queue_.requests()) {
    if (request->waiter) waiters.push_back(std::move(request->waiter));
  }
  for (const auto& request : queue_.take_finished()) {
    if (request->waiter) waiters.push_back(std::move(request->waiter));
  }
  waiters.clear();  // destroys the suspended callers, as asio destroys its pending operations
}

void SuspendedCallers::enroll(std::weak_ptr<Connection::Impl> connection) {
  const std::lock_guard lock(mutex_);
  std::erase_if(connections_, [](const auto& known) { return known.expired(); });
  connections_.push_back(std::move(connection));
}

void SuspendedCallers::shutdown() {
  std::vector<std::weak_ptr<Connection::Impl>> connections;
  {
    const std::lock_guard lock(mutex_);
    connections.swap(connections_);
  }
  for (const auto& weak : connections) {
    if (auto connection = weak.lock()) connection->destroy_waiters();
  }
}

void Connection::Impl::expire_overdue() {
  std::chrono::steady_clock::time_point next;
  for (const auto& request : queue_.overdue(now(), next)) {
    request->timed_out = true;
    queue_.abandon(*request);
    resume(*request, false);
  }
  if (next != std::chrono::steady_clock::time_point::max()) arm_deadline(next);
}

void Connection::Impl::fail(std::uint64_t generation, Error error, std::string detail) {
  if (!live(generation)) return;
  state_ = State::disconnected;
  last_error_ = std::move(detail);
  transport_.close();
  overflow_.clear();
  writing_ = false;
  write_signal_.cancel();
  queue_.fail_all(make_error_code(error));
  resume_finished(false);
  breaker_->record_failure(now());
  start_reconnecting();
}

void Connection::Impl::close() {
  if (state_ == State::closed) return;
  state_ = State::closed;
  ++generation_;
  transport_.close();
  write_signal_.cancel();
  deadline_timer_.cancel();
  reconnector_.cancel();
  wake_connect_waiters();
  queue_.fail_all(make_error_code(Error::cancelled));
  resume_finished(false);
}

asio::awaitable<Result<std::vector<Reply>>> Connection::Impl::exec_all(
    Request request, std::optional<std::chrono::milliseconds> timeout) {
  if (state_ == State::closed) co_return make_error_code(Error::cancelled);
  if (breaker_->state(now()) == CircuitBreaker::State::open) {
    last_error_ = "circuit open after repeated failures; retrying in " +
                  std::to_string(breaker_->remaining_cooldown(now()).count()) + " ms";
    co_return make_error_code(Error::circuit_open);
  }
  if (state_ != State::connected) {
    if (!options_.queue_while_disconnected) co_return make_error_code(Error::not_connected);
  } else if (!breaker_->allow(now())) {
    co_return make_error_code(Error::circuit_open);  // half-open: another request is the probe
  }
  auto self = shared_from_this();  // the frame may outlive its caller's interest, not this
  const std::size_t replies_owed = request.commands();
  if (replies_owed == 0) co_return std::vector<Reply>{};
  auto pending = std::make_shared<PendingRequest>(request.release_payload(), replies_owed);
  pending->deadline = now() + timeout.value_or(options_.command_timeout);
  if (!queue_.push(pending)) {
    last_error_ = std::to_string(options_.max_pending) + " requests pending already (max_pending)";
    co_return make_error_code(Error::queue_full);
  }

  // However this frame ends (normally, or destroyed with its io_context), leave the request
  // abandoned so that its late reply is dropped.
  struct Abandon {
    RequestQueue& queue;
    PendingRequest& request;
    ~Abandon() { queue.abandon(request); }
  } abandon{queue_, *pending};

  arm_deadline(pending->deadline);
  flush();
  if (pending->stage != PendingRequest::Stage::done && !pending->timed_out) {
    // The caller sleeps as a bare completion handler in the request, resumed by the read loop
    // when the reply is parsed. A timer per request, as before, cost a third of the client's
    // work per GET (timer queue, locks, executor work tracking).
    co_await asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
        [this, request = pending.get()](auto handler) {
          auto slot = asio::get_associated_cancellation_slot(handler);
          if (slot.is_connected()) {
            slot.assign([this, request](asio::cancellation_type type) {
              if (type != asio::cancellation_type::none) cancel_wait(*request);
            });
          }
          request->waiter = std::make_unique<WaiterFor<decltype(handler)>>(std::move(handler));
        },
        asio::use_awaitable);
  }
  error_code outcome;
  if (pending->timed_out) {
    outcome = make_error_code(Error::command_timeout);
  } else if (pending->cancelled) {
    outcome = make_error_code(Error::cancelled);
  } else if (pending->stage != PendingRequest::Stage::done) {
    outcome = make_error_code(Error::cancelled);  // woken by nothing we know of: never hang
  } else {
    outcome = pending->error;
  }
  if (!outcome) {
    breaker_->record_success();
    co_return std::move(pending->replies);
  }
  if (counts_against_endpoint(outcome)) breaker_->record_failure(now());
  co_return outcome;
}

Connection::Connection(asio::any_io_executor executor, ConnectionOptions options)
    : Connection(executor, std::move(options), nullptr) {}

Connection::Connection(asio::any_io_executor executor, ConnectionOptions options,
                       std::shared_ptr<CircuitBreaker> breaker)
    : impl_(std::make_shared<Impl>(executor, std::move(options), std::move(breaker))) {
  asio::use_service<SuspendedCallers>(asio::query(executor, asio::execution::context)).enroll(impl_);
}

Connection::~Connection() { impl_->close(); }

asio::awaitable<Result<void>> Connection::connect() { return impl_->connect(); }

asio::awaitable<bool> Connection::wait_connected(std::chrono::milliseconds timeout) {
  return impl_->wait_connected(timeout);
}

asio::awaitable<Result<std::vector<Reply>>> Connection::exec_all(
    Request request, std::optional<std::chrono::milliseconds> timeout) {
  return impl_->exec_all(std::move(request), timeout);
}

asio::awaitable<Result<Reply>> Connection::exec(Request request,
                                                std::optional<std::chrono::milliseconds> timeout) {
  auto replies = co_await impl_->exec_all(std::move(request), timeout);
  if (!replies) co_return replies.error();
  if (replies->empty()) co_return Reply::nil();
  co_return std::move(replies->front());
}

void Connection::close() { impl_->close(); }
void Connection::drop(std::string reason) { impl_->drop(std::move(reason)); }
bool Connection::is_connected() const noexcept { return impl_->is_connected(); }
std::size_t Connection::pending() const noexcept { return impl_->pending(); }
const std::string& Connection::last_error() const noexcept { return impl_->last_error(); }
const ConnectionOptions& Connection::options() const noexcept { return impl_->options(); }

}  // namespace strata::redis
