// RESP encoding (Request) and decoding (RespReader), driven with bytes only.
#include "redis/resp_reader.hpp"

#include <strata/redis/command.hpp>

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <cstdlib>
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

TEST(Reply, DescribesItselfReadably) {
  const Reply reply = Reply::array({Reply::status("OK"), Reply::integer(3), Reply::nil(),
                                    Reply::string(std::string("a\0\"", 3)), Reply::error("ERR x")});
  EXPECT_EQ(reply.describe(), R"([OK, (integer) 3, (nil), "a\x00\"", (error) ERR x])");
}

}  // namespace
}  // namespace strata::redis
