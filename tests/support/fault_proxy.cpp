#include "support/fault_proxy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <future>
#include <mutex>
#include <thread>
#include <unordered_set>

namespace strata::testing {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
constexpr auto kStallPoll = 2ms;  // how soon a held chunk moves once a stall ends

// Both sockets of one proxied connection.
struct Link {
  Link(tcp::socket from_client, asio::any_io_executor executor)
      : client(std::move(from_client)), server(std::move(executor)) {}
  tcp::socket client;
  tcp::socket server;
  std::size_t server_bytes = 0;  // forwarded from the server to the client
  bool closed = false;

  // With linger 0, close sends RST: both peers see a reset, not an orderly end.
  void reset() {
    if (closed) return;
    closed = true;
    boost::system::error_code ignored;
    for (auto* socket : {&client, &server}) {
      if (!socket->is_open()) continue;
      socket->set_option(asio::socket_base::linger(true, 0), ignored);
      socket->close(ignored);
    }
  }
  void close() {
    if (closed) return;
    closed = true;
    boost::system::error_code ignored;
    client.close(ignored);
    server.close(ignored);
  }
};

}  // namespace

struct FaultProxy::State : std::enable_shared_from_this<FaultProxy::State> {
  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::uint16_t target_port = 0;
  mutable std::mutex mutex;
  Faults faults;
  std::unordered_set<std::shared_ptr<Link>> links;  // touched on the io thread only
  std::atomic<std::size_t> open{0};
  std::atomic<std::size_t> accepted{0};
  std::thread thread;

  Faults current() const {
    std::lock_guard lock(mutex);
    return faults;
  }

  asio::awaitable<void> accept_loop() {
    auto self = shared_from_this();
    for (;;) {
      auto [error, socket] = co_await acceptor.async_accept(kAwait);
      if (error == asio::error::operation_aborted || !acceptor.is_open()) co_return;
      if (error) continue;
      accepted.fetch_add(1);
      auto link = std::make_shared<Link>(std::move(socket), io.get_executor());
      if (current().refuse) {
        link->reset();
        continue;
      }
      asio::co_spawn(io, serve(link), asio::detached);
    }
  }

  asio::awaitable<void> serve(std::shared_ptr<Link> link) {
    auto self = shared_from_this();
    auto [error] = co_await link->server.async_connect(tcp::endpoint(asio::ip::address_v4::loopback(), target_port),
                                                        kAwait);
    if (error) {
      link->reset();
      co_return;
    }
    boost::system::error_code ignored;
    link->client.set_option(tcp::no_delay(true), ignored);
    link->server.set_option(tcp::no_delay(true), ignored);
    links.insert(link);
    open.fetch_add(1);
    auto done = std::make_shared<std::atomic<int>>(2);
    auto finish = [this, self, link, done] {
      if (done->fetch_sub(1) != 1) return;
      link->close();
      links.erase(link);
      open.fetch_sub(1);
    };
    asio::co_spawn(io, pump(link, true), [finish](std::exception_ptr) { finish(); });
    asio::co_spawn(io, pump(link, false), [finish](std::exception_ptr) { finish(); });
  }

  // One direction: read a chunk, apply the faults, forward it. Ends (closing both sides) when
  // either side closes or a fault resets the connection.
  asio::awaitable<void> pump(std::shared_ptr<Link> link, bool to_server) {
    auto self = shared_from_this();
    tcp::socket& from = to_server ? link->client : link->server;
    tcp::socket& to = to_server ? link->server : link->client;
    asio::steady_timer timer(io);
    std::array<char, 16384> buffer{};
    for (;;) {
      auto [read_error, length] = co_await from.async_read_some(asio::buffer(buffer), kAwait);
      if (read_error || link->closed) break;
      Faults faults = current();
      while (faults.stall && !link->closed) {
        timer.expires_after(kStallPoll);
        (void)co_await timer.async_wait(kAwait);
        faults = current();
      }
      if (link->closed) break;
      if (faults.latency > 0ms) {
        timer.expires_after(faults.latency);
        (void)co_await timer.async_wait(kAwait);
      }
      std::size_t sent = 0;
      bool failed = false;
      while (sent < length && !failed && !link->closed) {
        std::size_t piece = faults.one_byte_writes ? 1 : length - sent;
        if (!to_server && faults.reset_after_server_bytes) {
          const auto budget = *faults.reset_after_server_bytes;
          if (link->server_bytes >= budget) {
            link->reset();
            break;
          }
          piece = std::min(piece, budget - link->server_bytes);
        }
        if (faults.bytes_per_second > 0) {
          piece = std::min(piece, std::max<std::size_t>(1, faults.bytes_per_second / 100));  // 10 ms slices
          timer.expires_after(std::chrono::microseconds(piece * 1'000'000 / faults.bytes_per_second));
          (void)co_await timer.async_wait(kAwait);
        }
        auto [write_error, written] = co_await asio::async_write(to, asio::buffer(buffer.data() + sent, piece), kAwait);
        if (write_error) failed = true;
        sent += written;
        if (!to_server) link->server_bytes += written;
      }
      if (failed || link->closed) break;
      if (!to_server && faults.reset_after_server_bytes && link->server_bytes >= *faults.reset_after_server_bytes) {
        link->reset();
        break;
      }
    }
    link->close();
  }
};

FaultProxy::FaultProxy(std::uint16_t target_port) : state_(std::make_shared<State>()) {
  state_->target_port = target_port;
  const tcp::endpoint listen(asio::ip::address_v4::loopback(), 0);
  state_->acceptor.open(listen.protocol());
  state_->acceptor.set_option(tcp::acceptor::reuse_address(true));
  state_->acceptor.bind(listen);
  state_->acceptor.listen();
  asio::co_spawn(state_->io, state_->accept_loop(), asio::detached);
  state_->thread = std::thread([state = state_] { state->io.run(); });
}

FaultProxy::~FaultProxy() {
  asio::post(state_->io, [state = state_] {
    boost::system::error_code ignored;
    state->acceptor.close(ignored);
    for (const auto& link : state->links) link->close();
  });
  // Every pump ends once its link is closed (a stalled one within kStallPoll): the loop then
  // runs out of work and the thread returns, leaving no coroutine frame behind.
  state_->thread.join();
}

std::uint16_t FaultProxy::port() const { return state_->acceptor.local_endpoint().port(); }

void FaultProxy::set(const Faults& faults) {
  std::lock_guard lock(state_->mutex);
  state_->faults = faults;
}

Faults FaultProxy::faults() const { return state_->current(); }

void FaultProxy::reset_connections() {
  std::promise<void> done;
  asio::post(state_->io, [state = state_, &done] {
    for (const auto& link : state->links) link->reset();
    done.set_value();
  });
  done.get_future().wait();
}

std::size_t FaultProxy::open_connections() const { return state_->open.load(); }

std::size_t FaultProxy::accepted_connections() const { return state_->accepted.load(); }

}  // namespace strata::testing
