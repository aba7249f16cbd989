#pragma once

#include <strata/redis/reply.hpp>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>

struct redisReader;

namespace strata::redis {

// Incremental RESP2 parser: feed() bytes as they arrive, then next() until it returns nullopt.
// Wraps hiredis' redisReader (owned here) with reply-building functions that construct Reply
// values directly, so every string is copied once, from the read buffer into its Reply.
class RespReader {
public:
  RespReader();
  ~RespReader();
  RespReader(const RespReader&) = delete;
  RespReader& operator=(const RespReader&) = delete;

  void feed(const char* data, std::size_t size);

  // Feeds `data` and hands every complete reply to `deliver`, stopping early when it returns
  // false. The way to parse a large read (see the .cpp for why).
  void parse(const char* data, std::size_t size, const std::function<bool(Reply&&)>& deliver);

  // The next complete reply, nullopt when more bytes are needed. On malformed input, returns
  // nullopt and error() describes the problem; the reader is then unusable.
  std::optional<Reply> next();

  [[nodiscard]] bool failed() const noexcept { return !error_.empty(); }
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

private:
  struct FreeReader {
    void operator()(redisReader* reader) const noexcept;
  };
  Reply root_;  // where hiredis builds each top-level reply; outlives reader_, which may free into it
  std::unique_ptr<redisReader, FreeReader> reader_;
  std::string error_;
};

}  // namespace strata::redis
