#include <strata/bytes.hpp>

#include <gtest/gtest.h>

#include <string>

namespace strata {
namespace {

TEST(Bytes, DefaultIsEmpty) {
  const Bytes empty;
  EXPECT_TRUE(empty.empty());
  EXPECT_EQ(empty.size(), 0U);
  EXPECT_EQ(empty.view(), "");
}

TEST(Bytes, CopyOfKeepsEveryByteIncludingNul) {
  const std::string raw("a\0b\0c", 5);
  const Bytes bytes = Bytes::copy_of(raw);
  ASSERT_EQ(bytes.size(), 5U);
  EXPECT_EQ(bytes.view(), raw);
  EXPECT_NE(static_cast<const void*>(bytes.data()), static_cast<const void*>(raw.data()));
}

TEST(Bytes, AdoptTakesTheStringWithoutCopyingItsBuffer) {
  std::string large(4096, 'x');
  const char* original = large.data();
  const Bytes bytes = Bytes::adopt(std::move(large));
  EXPECT_EQ(bytes.data(), original);
  EXPECT_EQ(bytes.size(), 4096U);
}

TEST(Bytes, CopiesShareTheBufferAndOutliveTheOriginal) {
  Bytes copy;
  {
    const Bytes original = Bytes::copy_of("shared value");
    copy = original;
    EXPECT_TRUE(copy.shares_buffer_with(original));
  }
  EXPECT_EQ(copy.view(), "shared value");
}

TEST(Bytes, EqualityComparesContentsNotIdentity) {
  EXPECT_EQ(Bytes::copy_of("abc"), Bytes::copy_of("abc"));
  EXPECT_FALSE(Bytes::copy_of("abc") == Bytes::copy_of("abd"));
  EXPECT_FALSE(Bytes::copy_of("abc").shares_buffer_with(Bytes::copy_of("abc")));
}

}  // namespace
}  // namespace strata
