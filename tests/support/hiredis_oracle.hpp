#pragma once

// hiredis' RESP reader (0.14), building strata::redis::Reply values: the oracle the tests check
// our own RespReader against. Test-only; the library parses with RespReader.

#include <strata/redis/reply.hpp>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::redis::testing {

struct HiredisParse {
  std::vector<Reply> replies;
  std::string error;  // empty when every byte parsed
};

// Feeds `stream` to a hiredis reader in pieces of `chunk` bytes, handing every reply to `take`
// as soon as it is whole. Returns hiredis' error, empty when every byte parsed.
std::string parse_with_hiredis(std::string_view stream, std::size_t chunk, const std::function<void(Reply&&)>& take);

// The same, collecting the replies.
HiredisParse parse_with_hiredis(std::string_view stream, std::size_t chunk);

}  // namespace strata::redis::testing
