#include <strata/redis/subscriber.hpp>

#include <strata/redis/command.hpp>

#include "redis/reconnector.hpp"
#include "redis/transport.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <deque>
#include <set>

namespace strata::redis {

namespace asio = boost::asio;
using boost::system::error_code;

namespace {

constexpr auto kUseTuple = asio::as_tuple(asio::use_awaitable);

// One SUBSCRIBE-family command waiting for Redis to confirm each of its names.
struct Confirmation {
  Confirmation(std::size_t names, asio::steady_timer* waiting) : remaining(names), waiter(waiting) {}
  std::size_t remaining;
  asio::steady_timer* waiter;  // null for the re-subscription after a reconnect
  bool done = false;
  error_code error;
};

}  // namespace

class Subscriber::Impl : public std::enable_shared_from_this<Impl> {
public:
  Impl(asio::any_io_executor executor, ConnectionOptions options, MessageHandler on_message,
       EventHandler on_event)
      : executor_(std::move(executor)),
        options_(std::move(options)),
        transport_(executor_, options_),
        on_message_(std::move(on_message)),
        on_event_(std::move(on_event)),
        write_signal_(executor_),
        reconnector_(executor_, options_,
                     Reconnector::Hooks{
                         [this] { return state_ == State::disconnected; },
                         {},
                         {},
                         [this]() -> asio::awaitable<bool> { co_return (co_await open()).has_value(); },
                     }) {
    write_signal_.expires_at(asio::steady_timer::time_point::max());
  }

  asio::awaitable<Result<void>> connect() {
    if (state_ == State::closed) co_return make_error_code(Error::cancelled);
    Result<void> result = co_await open();
    if (!result) start_reconnecting();
    co_return result;
  }

  asio::awaitable<Result<void>> change(std::string verb, std::vector<std::string> names) {
    if (names.empty()) co_return Result<void>{};
    auto self = shared_from_this();
    auto& remembered = verb.starts_with('P') ? patterns_ : channels_;  // PSUBSCRIBE, PUNSUBSCRIBE
    const bool adding = verb == "SUBSCRIBE" || verb == "PSUBSCRIBE";
    for (const auto& name : names) {
      if (adding) {
        remembered.insert(name);
      } else {
        remembered.erase(name);
      }
    }
    if (state_ != State::connected) co_return make_error_code(Error::not_connected);

    asio::steady_timer deadline(executor_, options_.command_timeout);
    auto confirmation = std::make_shared<Confirmation>(names.size(), &deadline);
    confirmations_.push_back(confirmation);
    send(verb, names);
    // However this ends, the entry must no longer point at this frame's timer.
    struct Detach {
      std::shared_ptr<Confirmation>& entry;
      ~Detach() { entry->waiter = nullptr; }
    } detach{confirmation};
    if (!confirmation->done) co_await deadline.async_wait(kUseTuple);
    if (!confirmation->done) co_return make_error_code(Error::command_timeout);
    if (confirmation->error) co_return confirmation->error;
    co_return Result<void>{};
  }

  void close() {
    if (state_ == State::closed) return;
    state_ = State::closed;
    ++generation_;
    transport_.close();
    write_signal_.cancel();
    reconnector_.cancel();
    fail_confirmations(make_error_code(Error::cancelled));
  }

  void drop(std::string reason) { fail(generation_, std::move(reason)); }
  [[nodiscard]] bool is_connected() const noexcept { return state_ == State::connected; }
  [[nodiscard]] const std::string& last_error() const noexcept { return last_error_; }

private:
  enum class State { disconnected, connecting, connected, closed };

  bool live(std::uint64_t generation) const noexcept {
    return state_ == State::connected && generation_ == generation;
  }

  void emit(SubscriberEvent event) {
    if (on_event_) on_event_(event);
  }

  void send(std::string_view verb, const std::vector<std::string>& names) {
    std::vector<std::string_view> command{verb};
    command.insert(command.end(), names.begin(), names.end());
    Request request;
    request.push(command);
    outbox_.push_back(request.release_payload());
    write_signal_.cancel();
  }

  asio::awaitable<Result<void>> open() {
    if (state_ == State::connected || state_ == State::connecting) co_return Result<void>{};
    auto self = shared_from_this();
    state_ = State::connecting;
    const std::uint64_t generation = ++generation_;
    std::string detail;
    Result<void> opened = co_await transport_.open(detail);
    if (generation_ != generation) co_return make_error_code(Error::cancelled);
    if (!opened) {
      state_ = State::disconnected;
      last_error_ = std::move(detail);
      co_return opened;
    }
    state_ = State::connected;
    last_error_.clear();
    outbox_.clear();
    const bool again = ever_connected_;
    ever_connected_ = true;
    // Everything remembered is subscribed again; its confirmations have no waiter.
    for (const auto& [verb, names] : {std::pair{"SUBSCRIBE", &channels_}, std::pair{"PSUBSCRIBE", &patterns_}}) {
      if (names->empty()) continue;
      confirmations_.push_back(std::make_shared<Confirmation>(names->size(), nullptr));
      send(verb, std::vector<std::string>(names->begin(), names->end()));
    }
    asio::co_spawn(executor_, read_loop(self, generation), asio::detached);
    asio::co_spawn(executor_, write_loop(self, generation), asio::detached);
    emit(again ? SubscriberEvent::resubscribed : SubscriberEvent::connected);
    co_return Result<void>{};
  }

  void start_reconnecting() { reconnector_.start(shared_from_this()); }

  void fail(std::uint64_t generation, std::string detail) {
    if (!live(generation)) return;
    state_ = State::disconnected;
    last_error_ = std::move(detail);
    transport_.close();
    write_signal_.cancel();
    fail_confirmations(make_error_code(Error::connection_lost));
    emit(SubscriberEvent::disconnected);
    start_reconnecting();
  }

  void fail_confirmations(error_code error) {
    for (const auto& confirmation : confirmations_) finish(*confirmation, error);
    confirmations_.clear();
  }

  static void finish(Confirmation& confirmation, error_code error) {
    confirmation.done = true;
    confirmation.error = error;
    if (confirmation.waiter != nullptr) confirmation.waiter->cancel();
  }

  // One reply on a subscribed connection: a message, or the confirmation of a (un)subscription.
  bool dispatch(const Reply& reply) {
    if (reply.is_error()) {
      last_error_ = "Redis refused a subscription command: " + reply.text();
      if (confirmations_.empty()) return true;
      finish(*confirmations_.front(), make_error_code(Error::unexpected_reply));
      confirmations_.pop_front();
      return true;
    }
    if (!reply.is_array() || reply.elements().empty() || !reply.elements()[0].is_string()) return false;
    const auto& parts = reply.elements();
    const std::string& kind = parts[0].text();
    if (kind == "message" && parts.size() == 3) {
      on_message_(Message{{}, parts[1].text(), parts[2].text()});
    } else if (kind == "pmessage" && parts.size() == 4) {
      on_message_(Message{parts[1].text(), parts[2].text(), parts[3].text()});
    } else if (kind == "subscribe" || kind == "psubscribe" || kind == "unsubscribe" || kind == "punsubscribe") {
      if (confirmations_.empty()) return true;  // e.g. unsubscribing from nothing
      Confirmation& front = *confirmations_.front();
      if (front.remaining > 0 && --front.remaining == 0) {
        finish(front, {});
        confirmations_.pop_front();
      }
    } else if (kind != "pong") {
      return false;
    }
    return true;
  }

  asio::awaitable<void> read_loop([[maybe_unused]] std::shared_ptr<Impl> keep_alive, std::uint64_t generation) {
    std::vector<char> buffer(16 * 1024);
    while (live(generation)) {
      auto [error, n] = co_await transport_.read_some(asio::buffer(buffer));
      if (!live(generation)) co_return;
      if (error) {
        fail(generation, error == asio::error::eof ? "the server closed the connection"
                                                   : "read failed: " + error.message());
        co_return;
      }
      RespReader& reader = transport_.reader();
      std::string unexpected;
      reader.parse(buffer.data(), n, [&](Reply&& reply) {
        if (!dispatch(reply)) unexpected = reply.describe();
        return unexpected.empty() && live(generation);  // a handler may have closed us
      });
      if (!unexpected.empty()) {
        fail(generation, "unexpected reply on a subscribed connection: " + unexpected);
        co_return;
      }
      if (!live(generation)) co_return;
      if (reader.failed()) {
        fail(generation, "the server sent bytes that are not RESP: " + reader.error());
        co_return;
      }
    }
  }

  asio::awaitable<void> write_loop([[maybe_unused]] std::shared_ptr<Impl> keep_alive, std::uint64_t generation) {
    while (live(generation)) {
      if (outbox_.empty()) {
        co_await write_signal_.async_wait(kUseTuple);
        continue;
      }
      std::deque<std::string> batch;
      batch.swap(outbox_);
      std::vector<asio::const_buffer> buffers;
      for (const auto& payload : batch) buffers.push_back(asio::buffer(payload));
      auto [error, written] = co_await transport_.write(buffers);
      if (!live(generation)) co_return;
      if (error) {
        fail(generation, "write failed: " + error.message());
        co_return;
      }
    }
  }

  asio::any_io_executor executor_;
  ConnectionOptions options_;
  Transport transport_;
  MessageHandler on_message_;
  EventHandler on_event_;
  asio::steady_timer write_signal_;
  Reconnector reconnector_;
  std::set<std::string> channels_;
  std::set<std::string> patterns_;
  std::deque<std::shared_ptr<Confirmation>> confirmations_;
  std::deque<std::string> outbox_;
  State state_ = State::disconnected;
  std::uint64_t generation_ = 0;
  bool ever_connected_ = false;
  std::string last_error_;
};

Subscriber::Subscriber(asio::any_io_executor executor, ConnectionOptions options, MessageHandler on_message,
                       EventHandler on_event)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(options), std::move(on_message),
                                   std::move(on_event))) {}

Subscriber::~Subscriber() { impl_->close(); }

asio::awaitable<Result<void>> Subscriber::connect() { return impl_->connect(); }
asio::awaitable<Result<void>> Subscriber::subscribe(std::vector<std::string> channels) {
  return impl_->change("SUBSCRIBE", std::move(channels));
}
asio::awaitable<Result<void>> Subscriber::psubscribe(std::vector<std::string> patterns) {
  return impl_->change("PSUBSCRIBE", std::move(patterns));
}
asio::awaitable<Result<void>> Subscriber::unsubscribe(std::vector<std::string> channels) {
  return impl_->change("UNSUBSCRIBE", std::move(channels));
}
asio::awaitable<Result<void>> Subscriber::punsubscribe(std::vector<std::string> patterns) {
  return impl_->change("PUNSUBSCRIBE", std::move(patterns));
}
void Subscriber::close() { impl_->close(); }
void Subscriber::drop(std::string reason) { impl_->drop(std::move(reason)); }
bool Subscriber::is_connected() const noexcept { return impl_->is_connected(); }
const std::string& Subscriber::last_error() const noexcept { return impl_->last_error(); }

}  // namespace strata::redis
