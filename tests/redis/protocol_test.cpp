// RESP encoding (Request) and decoding (RespReader), driven with bytes only.
#include "redis/resp_reader.hpp"

#include "support/hiredis_oracle.hpp"

#include <strata/redis/command.hpp>

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <string>

namespace strata::redis {
namespace {

std::vector<Reply> parse_all(std::string_view bytes, std::size_t chunk = 1 << 20) {
  RespReader reader;
  std::vector<Reply> replies;
  for (std::size_t offset = 0; offset < bytes.size(); offset += chunk) {
    const auto piece = bytes.substr(offset, chunk);
    reader.feed(piece.data(), piece.size());
    while (auto reply = reader.next()) replies.push_back(std::move(*reply));
    EXPECT_FALSE(reader.failed()) << reader.error();
  }
  return replies;
}

TEST(Request, EncodesEveryArgumentAsABinarySafeBulkString) {
  const std::string value("a\0b\r\n", 5);
  const Request request{"SET", "key", value};
  EXPECT_EQ(request.commands(), 1U);
  EXPECT_EQ(request.payload(), std::string("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\na\0b\r\n\r\n", 33));
}

TEST(Request, PipelinesSeveralCommandsInOnePayload) {
  Request request;
  request.push({"PING"}).push({"GET", "k"});
  EXPECT_EQ(request.commands(), 2U);
  EXPECT_EQ(request.payload(), "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
}

TEST(Request, EmptyArgumentsAreAllowedButEmptyCommandsAreNot) {
  const Request request{"SET", "", ""};
  EXPECT_EQ(request.payload(), "*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n");
  Request empty;
  EXPECT_THROW(empty.push(std::vector<std::string_view>{}), std::invalid_argument);
}

std::string formatted_by_hiredis(const std::vector<std::string>& command) {
  std::vector<const char*> arguments;
  std::vector<std::size_t> lengths;
  for (const std::string& argument : command) {
    arguments.push_back(argument.data());
    lengths.push_back(argument.size());
  }
  char* formatted = nullptr;
  const int length = redisFormatCommandArgv(&formatted, static_cast<int>(command.size()), arguments.data(),
                                            lengths.data());
  std::string bytes(formatted, static_cast<std::size_t>(length));
  redisFreeCommand(formatted);
  return bytes;
}

TEST(Request, FormatsEveryCommandByteForByteAsHiredisDoes) {
  std::mt19937 random(20261122);
  // Lengths around each change in the number of length digits, and argument counts past 9.
  const std::vector<std::size_t> sizes{0, 1, 9, 10, 99, 100, 999, 1000, 4096, 99999, 100000};
  std::string expected;
  Request pipeline;
  for (int round = 0; round < 200; ++round) {
    std::vector<std::string> command(1 + random() % 14);
    for (std::string& argument : command) {
      argument.resize(sizes[random() % sizes.size()]);
      for (char& byte : argument) byte = static_cast<char>(random());
    }
    const std::string reference = formatted_by_hiredis(command);
    Request single;
    single.push(command);
    ASSERT_EQ(single.payload(), reference) << "round " << round << ", " << command.size() << " arguments";
    pipeline.push(std::vector<std::string_view>(command.begin(), command.end()));
    expected += reference;
  }
  EXPECT_EQ(pipeline.commands(), 200U);
  EXPECT_EQ(pipeline.payload(), expected);
}

TEST(RespReader, ParsesEveryReplyType) {
  const auto replies = parse_all(
      "+OK\r\n-ERR wrong type\r\n:42\r\n:-7\r\n$5\r\nhello\r\n$-1\r\n*-1\r\n*0\r\n"
      "*3\r\n:1\r\n*2\r\n$1\r\na\r\n$-1\r\n+QUEUED\r\n");
  ASSERT_EQ(replies.size(), 9U);
  EXPECT_TRUE(replies[0].is_status("OK"));
  EXPECT_TRUE(replies[1].is_error());
  EXPECT_EQ(replies[1].text(), "ERR wrong type");
  EXPECT_EQ(replies[2].integer_value(), 42);
  EXPECT_EQ(replies[3].integer_value(), -7);
  EXPECT_EQ(replies[4], Reply::string("hello"));
  EXPECT_TRUE(replies[5].is_nil());
  EXPECT_TRUE(replies[6].is_nil());
  EXPECT_EQ(replies[7], Reply::array({}));
  EXPECT_EQ(replies[8],
            Reply::array({Reply::integer(1), Reply::array({Reply::string("a"), Reply::nil()}),
                          Reply::status("QUEUED")}));
}

TEST(RespReader, KeepsNulBytesInStrings) {
  const auto replies = parse_all(std::string("$4\r\n\0\r\n\0\r\n", 10));
  ASSERT_EQ(replies.size(), 1U);
  EXPECT_EQ(replies[0].text(), std::string("\0\r\n\0", 4));
}

TEST(RespReader, AssemblesRepliesSplitAcrossReadsAtAnyByte) {
  const std::string stream = "*2\r\n$3\r\nfoo\r\n:12345\r\n+PONG\r\n$11\r\nhello world\r\n";
  for (std::size_t chunk = 1; chunk <= stream.size(); ++chunk) {
    const auto replies = parse_all(stream, chunk);
    ASSERT_EQ(replies.size(), 3U) << "chunk size " << chunk;
    EXPECT_EQ(replies[0], Reply::array({Reply::string("foo"), Reply::integer(12345)}));
    EXPECT_TRUE(replies[1].is_status("PONG"));
    EXPECT_EQ(replies[2].text(), "hello world");
  }
}

TEST(RespReader, ParsesALargeBulkStringFedInPieces) {
  const std::string value(16 * 1024 * 1024, 'v');
  const std::string stream = "$" + std::to_string(value.size()) + "\r\n" + value + "\r\n";
  const auto replies = parse_all(stream, 64 * 1024);
  ASSERT_EQ(replies.size(), 1U);
  EXPECT_EQ(replies[0].text().size(), value.size());
  EXPECT_EQ(replies[0].text(), value);
}

TEST(RespReader, RejectsBytesThatAreNotResp) {
  RespReader reader;
  const std::string garbage = "HTTP/1.1 400 Bad Request\r\n";
  reader.feed(garbage.data(), garbage.size());
  EXPECT_FALSE(reader.next().has_value());
  EXPECT_TRUE(reader.failed());
  EXPECT_NE(reader.error().find("Protocol error"), std::string::npos) << reader.error();
  // Once failed it stays failed, whatever comes next.
  reader.feed("+OK\r\n", 5);
  EXPECT_FALSE(reader.next().has_value());
}

// Each top-level reply is built in the reader's own slot: one cut short (by bad bytes, or by the
// reader ending) is released there, and a reply handed out stays intact while the next is built.
TEST(RespReader, AReplyCutShortIsReleasedAndOneHandedOutOutlivesTheNext) {
  {
    RespReader reader;
    const std::string half = "*3\r\n$3\r\nfoo\r\n*1\r\n";  // an array waiting for its rest
    reader.feed(half.data(), half.size());
    EXPECT_FALSE(reader.next().has_value());
    EXPECT_FALSE(reader.failed());
  }  // the reader ends with the array half built (ASan checks the release)
  RespReader reader;
  const std::string stream = "$5\r\nfirst\r\n*2\r\n$6\r\nsecond\r\n:2\r\n*2\r\n:1\r\n!bad\r\n";
  reader.feed(stream.data(), stream.size());
  auto first = reader.next();
  auto second = reader.next();
  ASSERT_TRUE(first.has_value());
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(first->text(), "first");
  EXPECT_EQ(*second, Reply::array({Reply::string("second"), Reply::integer(2)}));
  EXPECT_FALSE(reader.next().has_value());  // the third breaks off inside its array
  EXPECT_TRUE(reader.failed());
  EXPECT_EQ(first->text(), "first");
}

// Random reply trees and their RESP encoding, for the differential tests against hiredis.
class RandomReplies {
public:
  explicit RandomReplies(std::uint64_t seed) : rng_(seed) {}

  // hiredis 0.14 refuses arrays nested deeper than 7, so the trees stay within 5.
  Reply tree(int depth = 0) {
    switch (pick(depth < 5 ? 7 : 6)) {
      case 0: return Reply::status(text());
      case 1: return Reply::error(text());
      case 2: return Reply::integer(integer());
      case 3: return Reply::nil();
      case 4:
      case 5: return Reply::string(bytes());
      default: {
        std::vector<Reply> elements(pick(6));
        for (auto& element : elements) element = tree(depth + 1);
        return Reply::array(std::move(elements));
      }
    }
  }

  std::string encode(const Reply& reply) {
    switch (reply.type()) {
      case Reply::Type::status: return "+" + reply.text() + "\r\n";
      case Reply::Type::error: return "-" + reply.text() + "\r\n";
      case Reply::Type::integer: return ":" + std::to_string(reply.integer_value()) + "\r\n";
      case Reply::Type::nil: return pick(2) == 0 ? "$-1\r\n" : "*-1\r\n";
      case Reply::Type::string: return "$" + std::to_string(reply.text().size()) + "\r\n" + reply.text() + "\r\n";
      case Reply::Type::array: {
        std::string out = "*" + std::to_string(reply.elements().size()) + "\r\n";
        for (const Reply& element : reply.elements()) out += encode(element);
        return out;
      }
    }
    return {};
  }

  std::size_t pick(std::size_t bound) { return std::uniform_int_distribution<std::size_t>(0, bound - 1)(rng_); }
  // Read sizes from 1 byte up to the whole stream, small ones as likely as large.
  std::size_t chunk(std::size_t stream_size) {
    return pick(2) == 0 ? 1 + pick(16) : 1 + pick(std::max<std::size_t>(stream_size, 1));
  }

private:
  std::string text() {  // status and error lines: no CR or LF
    std::string out(pick(24), ' ');
    for (char& c : out) c = static_cast<char>(' ' + pick(95));
    return out;
  }
  std::string bytes() {  // any byte, NUL, CR and LF included; sometimes longer than a read
    const std::size_t size = pick(20) == 0 ? 1000 + pick(70'000) : pick(40);
    std::string out(size, '\0');
    for (char& c : out) c = static_cast<char>(pick(256));
    return out;
  }
  std::int64_t integer() {
    constexpr std::int64_t kEdges[] = {0, -1, 1, std::numeric_limits<std::int64_t>::min(),
                                       std::numeric_limits<std::int64_t>::max()};
    if (pick(3) == 0) return kEdges[pick(5)];
    return static_cast<std::int64_t>(rng_());
  }

  std::mt19937_64 rng_;
};

std::vector<Reply> parse_with_parse_calls(std::string_view stream, std::size_t chunk) {
  RespReader reader;
  std::vector<Reply> replies;
  for (std::size_t offset = 0; offset < stream.size() && !reader.failed(); offset += chunk) {
    const auto piece = stream.substr(offset, chunk);
    reader.parse(piece.data(), piece.size(), [&](Reply&& reply) {
      replies.push_back(std::move(reply));
      return true;
    });
  }
  EXPECT_FALSE(reader.failed()) << reader.error();
  return replies;
}

TEST(RespReader, RebuildsRandomReplyStreamsSplitAnywhereAsHiredisDoes) {
  for (std::uint64_t seed = 1; seed <= 300; ++seed) {
    RandomReplies random(seed);
    std::vector<Reply> sent(1 + random.pick(12));
    std::string stream;
    for (Reply& reply : sent) {
      reply = random.tree();
      stream += random.encode(reply);
    }
    EXPECT_EQ(parse_all(stream, random.chunk(stream.size())), sent) << "seed " << seed;
    EXPECT_EQ(parse_with_parse_calls(stream, random.chunk(stream.size())), sent) << "seed " << seed;
    const auto oracle = testing::parse_with_hiredis(stream, random.chunk(stream.size()));
    EXPECT_EQ(oracle.error, "") << "seed " << seed;
    EXPECT_EQ(oracle.replies, sent) << "seed " << seed;
  }
}

// Corrupted streams: never a crash (the sanitizer builds run this too); when both readers
// accept the bytes, they agree on every reply.
TEST(RespReader, AgreesWithHiredisOnRandomlyCorruptedStreamsOrRefusesThem) {
  int refused = 0;
  int compared = 0;
  for (std::uint64_t seed = 1; seed <= 500; ++seed) {
    RandomReplies random(seed);
    std::string stream;
    for (std::size_t n = 1 + random.pick(6); n > 0; --n) stream += random.encode(random.tree());
    for (std::size_t edits = 1 + random.pick(3); edits > 0; --edits) {
      const std::size_t at = random.pick(stream.size());
      switch (random.pick(3)) {
        case 0: stream[at] = static_cast<char>(random.pick(256)); break;
        case 1: stream.erase(at, 1); break;
        default: stream.insert(at, 1, "\r\n$*:+-0123456789"[random.pick(17)]); break;
      }
    }
    RespReader reader;
    std::vector<Reply> ours;
    const std::size_t chunk = random.chunk(stream.size());
    for (std::size_t offset = 0; offset < stream.size(); offset += chunk) {
      reader.feed(stream.data() + offset, std::min(chunk, stream.size() - offset));
    }
    while (auto reply = reader.next()) ours.push_back(std::move(*reply));
    const auto oracle = testing::parse_with_hiredis(stream, stream.size());
    if (reader.failed()) {
      ++refused;
      EXPECT_NE(reader.error().find("Protocol error"), std::string::npos) << reader.error();
      continue;
    }
    if (oracle.error.empty()) {
      ++compared;
      EXPECT_EQ(ours, oracle.replies) << "seed " << seed;
    }
  }
  EXPECT_GT(refused, 100) << "the corruptions should break most streams";
  EXPECT_GT(compared, 50) << "some corrupted streams should still be RESP to both";
}

TEST(RespReader, NamesWhatIsWrongWithAMalformedReply) {
  const std::string deep = [] {
    std::string out;
    for (int i = 0; i <= 512; ++i) out += "*1\r\n";
    return out;
  }();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"!oops\r\n", "'!' is not a reply type, in line '!oops'"},
      {":12x\r\n", "bad integer '12x'"},
      {":99999999999999999999\r\n", "bad integer '99999999999999999999'"},
      {"$-2\r\n", "bad bulk string length '-2'"},
      {"$536870913\r\n", "bad bulk string length '536870913'"},
      {"$3\r\nabcX\r\n", "a bulk string of 3 bytes is not followed by CRLF"},
      {"+OK\n", "a line ends without CR before LF: '+OK'"},
      {"*-5\r\n", "bad array length '-5'"},
      {"*1\r\n\r\n", "an empty line where a reply was expected"},
      {"-ERR \x01\r\n:x\r\n", "bad integer 'x'"},
      {deep, "arrays nested more than 512 deep"},
      {"+" + std::string(RespReader::kMaxLineBytes, 'a'), "a line longer than 1048576 bytes"},
  };
  for (const auto& [bytes, message] : cases) {
    for (const std::size_t chunk : {std::size_t{1}, std::size_t{7}, bytes.size()}) {
      if (chunk == 1 && bytes.size() > 10'000) continue;
      RespReader reader;
      for (std::size_t offset = 0; offset < bytes.size(); offset += chunk) {
        reader.feed(bytes.data() + offset, std::min(chunk, bytes.size() - offset));
      }
      ASSERT_TRUE(reader.failed()) << message << ", chunk " << chunk;
      EXPECT_EQ(reader.error(), "Protocol error: " + message) << "chunk " << chunk;
    }
  }
}

TEST(RespReader, StopsParsingWhenTheCallerAsksTo) {
  RespReader reader;
  const std::string stream = "+one\r\n+two\r\n+three\r\n";
  std::vector<Reply> taken;
  reader.parse(stream.data(), stream.size(), [&](Reply&& reply) {
    taken.push_back(std::move(reply));
    return taken.size() < 2;  // the caller gives up after two
  });
  EXPECT_EQ(taken, (std::vector<Reply>{Reply::status("one"), Reply::status("two")}));
  EXPECT_FALSE(reader.failed());
}

TEST(Reply, DescribesItselfReadably) {
  const Reply reply = Reply::array({Reply::status("OK"), Reply::integer(3), Reply::nil(),
                                    Reply::string(std::string("a\0\"", 3)), Reply::error("ERR x")});
  EXPECT_EQ(reply.describe(), R"([OK, (integer) 3, (nil), "a\x00\"", (error) ERR x])");
}

}  // namespace
}  // namespace strata::redis
