// Key slots as Redis Cluster computes them: the specification's CRC16 check value, hash tags,
// and slots checked against a real redis-server's CLUSTER KEYSLOT.

#include "redis/cluster_slot.hpp"
#include "support/redis_server.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace strata::redis {
namespace {

TEST(ClusterSlot, Crc16MatchesTheSpecificationsCheckValue) {
  EXPECT_EQ(crc16("123456789"), 0x31C3);  // CRC16/XMODEM check value, quoted by the cluster spec
  EXPECT_EQ(crc16(""), 0);
}

TEST(ClusterSlot, HashTagsFollowTheFirstBracePair) {
  EXPECT_EQ(hash_tag("{user1000}.following"), "user1000");
  EXPECT_EQ(hash_tag("foo{}{bar}"), "foo{}{bar}");  // empty first tag: the whole key
  EXPECT_EQ(hash_tag("foo{{bar}}zap"), "{bar");
  EXPECT_EQ(hash_tag("foo{bar}{zap}"), "bar");
  EXPECT_EQ(hash_tag("no tag"), "no tag");
  EXPECT_EQ(hash_tag("open{only"), "open{only");
  EXPECT_EQ(key_slot("{user1000}.following"), key_slot("{user1000}.followers"));
}

TEST(ClusterSlot, SlotsAgreeWithRedisItself) {
  // KEYSLOT needs cluster support on; the bus port is chosen too (the default, port + 10000,
  // overflows for high free ports).
  testing::RedisServer server({"--cluster-enabled", "yes", "--cluster-port", testing::kAnyFreePort});
  const std::vector<std::string> keys{"foo", "bar", "strata:jobs:g1:42", "{user1000}.following", "foo{}{bar}",
                                      "a{b}c", "key with spaces", std::string(300, 'k')};
  for (const auto& key : keys) {
    const auto answer = server.cli({"CLUSTER", "KEYSLOT", key});
    EXPECT_EQ(std::stoi(answer), key_slot(key)) << key;
  }
}

}  // namespace
}  // namespace strata::redis
