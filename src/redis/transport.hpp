#pragma once

#include "redis/resp_reader.hpp"

#include <strata/redis/error.hpp>
#include <strata/redis/options.hpp>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace strata::redis {

// The byte stream to one Redis server, plain or TLS, and the steps that open it: resolve, TCP
// connect (TCP_NODELAY), TLS handshake (verification, SNI), then AUTH / SELECT /
// CLIENT SETNAME, all within connect_timeout. Shared by Connection and Subscriber.
class Transport {
public:
  // Throws std::invalid_argument when the TLS files cannot be loaded (a configuration error).
  Transport(boost::asio::any_io_executor executor, const ConnectionOptions& options);

  // Opens a fresh stream (closing any previous one). On failure, `detail` says what happened.
  boost::asio::awaitable<Result<void>> open(std::string& detail);

  boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> write(
      const std::vector<boost::asio::const_buffer>& buffers);
  boost::asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> read_some(
      boost::asio::mutable_buffer buffer);
  // Writes what the socket takes right now without waiting (plain TCP only; 0 with TLS) and
  // returns how many bytes that was. Saves a trip through the event loop for small requests.
  std::size_t write_now(const std::vector<boost::asio::const_buffer>& buffers, boost::system::error_code& error);

  void close() noexcept;
  [[nodiscard]] bool is_tls() const noexcept { return tls_ != nullptr; }
  RespReader& reader() noexcept { return *reader_; }

private:
  boost::asio::awaitable<Result<void>> greet(std::string& detail, const bool& timed_out);
  boost::asio::ip::tcp::socket& tcp() noexcept { return tls_ ? tls_->next_layer() : plain_; }

  boost::asio::any_io_executor executor_;
  const ConnectionOptions& options_;
  boost::asio::ip::tcp::resolver resolver_;
  std::optional<boost::asio::ssl::context> tls_context_;
  boost::asio::ip::tcp::socket plain_;
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket>> tls_;
  std::unique_ptr<RespReader> reader_;
};

}  // namespace strata::redis
