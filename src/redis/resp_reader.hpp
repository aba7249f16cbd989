#pragma once

#include <strata/redis/reply.hpp>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::redis {

// Incremental RESP2 parser: feed() bytes as they arrive, then next() until it returns nullopt;
// or parse() a read and take every complete reply as it completes.
//
// It resumes exactly where the last read ended, mid-line, mid-string or deep inside an array,
// so the work is linear in the bytes whatever the reads' sizes. A string's bytes are copied
// once, from the caller's buffer into the string's Reply; nothing else is buffered but a
// header line cut by a read. hiredis' reader is the test oracle (tests/redis/protocol_test.cpp).
class RespReader {
public:
  // Limits that keep a broken or hostile server from making the reader allocate without bound.
  static constexpr std::size_t kMaxLineBytes = 1 << 20;                // a status, error or header line
  static constexpr std::int64_t kMaxStringBytes = 512LL * 1024 * 1024;  // Redis' proto-max-bulk-len
  static constexpr std::int64_t kMaxArrayElements = 1LL << 32;
  static constexpr std::size_t kMaxNesting = 512;

  RespReader() = default;
  RespReader(const RespReader&) = delete;
  RespReader& operator=(const RespReader&) = delete;

  void feed(const char* data, std::size_t size);

  // Parses `data` and hands every complete reply to `deliver`, stopping early when it returns
  // false (the rest of `data` is then dropped: the caller is giving up on the stream).
  void parse(const char* data, std::size_t size, const std::function<bool(Reply&&)>& deliver);

  // The next complete reply, nullopt when more bytes are needed. Replies completed before
  // malformed bytes still come out first; then nullopt, error() describes the problem, and the
  // reader ignores anything fed later.
  std::optional<Reply> next();

  [[nodiscard]] bool failed() const noexcept { return !error_.empty(); }
  [[nodiscard]] const std::string& error() const noexcept { return error_; }

private:
  struct OpenArray {
    Reply array;
    std::int64_t missing;  // elements still to come
  };

  // Consumes bytes from `data`; false when `deliver` asked to stop or the input is malformed.
  bool consume(std::string_view data, const std::function<bool(Reply&&)>& deliver);
  // Acts on one whole header line (without its CRLF), taking a bulk string that follows whole
  // from `rest`; false when `deliver` asked to stop or the input is malformed.
  bool on_line(std::string_view line, std::string_view& rest, const std::function<bool(Reply&&)>& deliver);
  // Hangs a completed value on its open array, or delivers it when it is a top-level reply.
  bool complete(Reply&& value, const std::function<bool(Reply&&)>& deliver);
  bool fail(std::string message);

  std::vector<OpenArray> open_arrays_;
  std::string partial_line_;        // a header line cut by the end of a read
  bool in_string_ = false;          // inside a bulk string's bytes or its CRLF
  std::string string_;              // the bulk string being read
  std::int64_t string_missing_ = 0;  // its bytes still to come, then 2 for the CRLF
  std::deque<Reply> ready_;         // complete replies fed but not yet taken by next()
  std::string error_;
};

}  // namespace strata::redis
