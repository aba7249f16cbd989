#include "redis/resp_reader.hpp"

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace strata::redis {
namespace {

// A string announced as huge is reserved up to this much at once; the rest grows as it arrives,
// so a length alone cannot make the reader allocate half a gigabyte.
constexpr std::size_t kEagerStringReserve = 64 * 1024 * 1024;
// Likewise for an array's element count.
constexpr std::size_t kEagerArrayReserve = 1024;

bool parse_integer(std::string_view text, std::int64_t& value) {
  if (text.empty()) return false;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  return error == std::errc() && stop == end;
}

// A line quoted for an error message: at most 64 bytes, control bytes escaped.
std::string quoted(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 64)) {
    if (c >= 0x20 && c < 0x7f) {
      out += c;
    } else {
      constexpr char kHex[] = "0123456789abcdef";
      const auto byte = static_cast<unsigned char>(c);
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    }
  }
  if (text.size() > 64) out += "...";
  return "'" + out + "'";
}

}  // namespace

void RespReader::feed(const char* data, std::size_t size) {
  if (failed()) return;
  consume({data, size}, [this](Reply&& reply) {
    ready_.push_back(std::move(reply));
    return true;
  });
}

void RespReader::parse(const char* data, std::size_t size, const std::function<bool(Reply&&)>& deliver) {
  if (failed()) return;
  consume({data, size}, deliver);
}

std::optional<Reply> RespReader::next() {
  if (ready_.empty()) return std::nullopt;
  Reply reply = std::move(ready_.front());
  ready_.pop_front();
  return reply;
}

bool RespReader::consume(std::string_view data, const std::function<bool(Reply&&)>& deliver) {
  while (!data.empty()) {
    if (in_string_) {
      if (string_missing_ > 2) {
        const auto take = std::min(data.size(), static_cast<std::size_t>(string_missing_ - 2));
        string_.append(data.data(), take);
        data.remove_prefix(take);
        string_missing_ -= static_cast<std::int64_t>(take);
        continue;
      }
      const char expected = string_missing_ == 2 ? '\r' : '\n';
      if (data.front() != expected) {
        return fail("Protocol error: a bulk string of " + std::to_string(string_.size()) + " bytes is not followed by CRLF");
      }
      data.remove_prefix(1);
      if (--string_missing_ > 0) continue;
      in_string_ = false;
      Reply value = Reply::string(std::move(string_));
      string_ = std::string();
      if (!complete(std::move(value), deliver)) return false;
      continue;
    }

    const auto newline = data.find('\n');
    if (newline == std::string_view::npos) {
      if (partial_line_.size() + data.size() > kMaxLineBytes) {
        return fail("Protocol error: a line longer than " + std::to_string(kMaxLineBytes) + " bytes");
      }
      partial_line_.append(data);
      return true;
    }
    std::string_view line = data.substr(0, newline);
    data.remove_prefix(newline + 1);
    if (!partial_line_.empty()) {
      partial_line_.append(line);
      line = partial_line_;
    }
    if (line.size() > kMaxLineBytes) {
      return fail("Protocol error: a line longer than " + std::to_string(kMaxLineBytes) + " bytes");
    }
    if (line.empty() || line.back() != '\r') {
      return fail("Protocol error: a line ends without CR before LF: " + quoted(line));
    }
    line.remove_suffix(1);
    const bool go_on = on_line(line, data, deliver);
    partial_line_.clear();  // `line` may point into it: only now is it done with
    if (!go_on) return false;
  }
  return true;
}

bool RespReader::on_line(std::string_view line, std::string_view& rest, const std::function<bool(Reply&&)>& deliver) {
  if (line.empty()) return fail("Protocol error: an empty line where a reply was expected");
  const std::string_view body = line.substr(1);
  std::int64_t number = 0;
  switch (line.front()) {
    case '+': return complete(Reply::status(std::string(body)), deliver);
    case '-': return complete(Reply::error(std::string(body)), deliver);
    case ':':
      if (!parse_integer(body, number)) return fail("Protocol error: bad integer " + quoted(body));
      return complete(Reply::integer(number), deliver);
    case '$': {
      if (!parse_integer(body, number) || number < -1 || number > kMaxStringBytes) {
        return fail("Protocol error: bad bulk string length " + quoted(body));
      }
      if (number == -1) return complete(Reply::nil(), deliver);
      const auto length = static_cast<std::size_t>(number);
      if (rest.size() >= length + 2) {  // the whole string is in this read: no state to keep
        if (rest[length] != '\r' || rest[length + 1] != '\n') {
          return fail("Protocol error: a bulk string of " + std::to_string(length) + " bytes is not followed by CRLF");
        }
        Reply value = Reply::string(std::string(rest.substr(0, length)));
        rest.remove_prefix(length + 2);
        return complete(std::move(value), deliver);
      }
      in_string_ = true;
      string_.clear();
      string_.reserve(std::min(length, kEagerStringReserve));
      string_missing_ = number + 2;
      return true;
    }
    case '*': {
      if (!parse_integer(body, number) || number < -1 || number > kMaxArrayElements) {
        return fail("Protocol error: bad array length " + quoted(body));
      }
      if (number == -1) return complete(Reply::nil(), deliver);
      if (number == 0) return complete(Reply::array({}), deliver);
      if (open_arrays_.size() >= kMaxNesting) {
        return fail("Protocol error: arrays nested more than " + std::to_string(kMaxNesting) + " deep");
      }
      std::vector<Reply> elements;
      elements.reserve(std::min(static_cast<std::size_t>(number), kEagerArrayReserve));
      open_arrays_.push_back({Reply::array(std::move(elements)), number});
      return true;
    }
    default:
      return fail("Protocol error: " + quoted(line.substr(0, 1)) + " is not a reply type, in line " + quoted(line));
  }
}

bool RespReader::complete(Reply&& value, const std::function<bool(Reply&&)>& deliver) {
  while (!open_arrays_.empty()) {
    OpenArray& innermost = open_arrays_.back();
    innermost.array.mutable_elements().push_back(std::move(value));
    if (--innermost.missing > 0) return true;
    value = std::move(innermost.array);
    open_arrays_.pop_back();
  }
  return deliver(std::move(value));
}

bool RespReader::fail(std::string message) {
  error_ = std::move(message);
  open_arrays_.clear();
  partial_line_.clear();
  string_.clear();
  in_string_ = false;
  return false;
}

}  // namespace strata::redis
