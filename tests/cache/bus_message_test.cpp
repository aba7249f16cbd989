// The invalidation bus's message format: what a process sends is what the others read, and
// anything else on the channel (anyone with PUBLISH rights can write there) is ignored whole.

#include "cache/bus_message.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strata::cache {
namespace {

TEST(BusMessage, WhatIsSentIsWhatIsRead) {
  const BusMessage sent{"a1b2", 7, Invalidation::tag, 42, "tag|with|bars"};
  const auto text = format_bus_message(sent);
  EXPECT_EQ(text, "1|a1b2|7|T|42|tag|with|bars");
  const auto read = parse_bus_message(text);
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->instance, "a1b2");
  EXPECT_EQ(read->sequence, 7U);
  EXPECT_EQ(read->kind, Invalidation::tag);
  EXPECT_EQ(read->epoch, 42U);
  EXPECT_EQ(read->argument, "tag|with|bars");
  EXPECT_EQ(parse_bus_message("1|x|0|C|0|")->argument, "");
  for (const auto kind : {Invalidation::key, Invalidation::tag, Invalidation::name_space, Invalidation::pattern,
                          Invalidation::clear}) {
    const auto again = parse_bus_message(format_bus_message({"p", 1, kind, 2, "a"}));
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(again->kind, kind);
  }
}

TEST(BusMessage, AnythingElseOnTheChannelIsIgnoredWhole) {
  const std::vector<std::string> malformed = {
      "",
      "1|x|1|K|1",                      // no argument field
      "2|x|1|K|1|k",                    // another version
      "1||1|K|1|k",                     // no sender
      "1|x|1|KK|1|k",                   // a kind is one character
      "1|x|1|X|1|k",                    // of the known ones
      "1|x||K|1|k",                     // no sequence
      "1|x|1|K|-1|k",                   // a negative epoch would wrap to the largest one
      "1|x|1|K|+5|k",
      "1|x|1|K| 5|k",
      "1|x|-1|K|5|k",
      "1|x|1|K|99999999999999999999|k",  // past 64 bits
      "1|x|1|K|5x|k",
  };
  for (const auto& text : malformed) EXPECT_FALSE(parse_bus_message(text).has_value()) << text;
}

TEST(SenderSequences, ConsecutiveMessagesAreNoGapAndAnyOtherStepIs) {
  SenderSequences heard;
  auto from = [](std::string sender, std::uint64_t sequence) {
    return BusMessage{std::move(sender), sequence, Invalidation::key, 0, "k"};
  };
  EXPECT_FALSE(heard.gap_before(from("a", 41)));  // where a sender starts is not a gap
  EXPECT_FALSE(heard.gap_before(from("a", 42)));
  EXPECT_FALSE(heard.gap_before(from("b", 7)));   // senders are counted apart
  EXPECT_TRUE(heard.gap_before(from("a", 44)));   // 43 was lost
  EXPECT_FALSE(heard.gap_before(from("a", 45)));
  EXPECT_TRUE(heard.gap_before(from("a", 43)));   // late: a step back is a gap too...
  EXPECT_FALSE(heard.gap_before(from("a", 46)));  // ...and does not move the sender back
  EXPECT_FALSE(heard.gap_before(from("b", 8)));
}

}  // namespace
}  // namespace strata::cache
