#include "cache/keyspace.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>
#include <stdexcept>

namespace strata::cache {
namespace {

using ::testing::HasSubstr;

TEST(KeyspaceTest, EntryKeysHavePrefixNamespaceGenerationAndParts) {
  const Keyspace keys("app");
  EXPECT_EQ(keys.entry(Key::of("jobs", 42), 0), "app:jobs:g0:42");
  EXPECT_EQ(keys.entry(Key::of("library", "page", 2, "title", "asc"), 7),
            "app:library:g7:page:2:title:asc");
  EXPECT_EQ(keys.entry(Key("jobs", {}), 3), "app:jobs:g3");
}

TEST(KeyspaceTest, AKeptHeadBuildsTheSameKeysAsEntry) {
  const Keyspace keys("app");
  EXPECT_EQ(keys.entry_head("user:files", 18446744073709551615ULL), "app:user%3afiles:g18446744073709551615");
  const std::string long_part(300, 'x');
  for (const auto& key : {Key::of("jobs", 42), Key("jobs", {}), Key("user:files", {"a b", "%", ""}),
                          Key::of("jobs", long_part)}) {
    const auto head = keys.entry_head(key.name_space(), 9);
    EXPECT_EQ(Keyspace::entry_under(head, key), keys.entry(key, 9));
  }
  EXPECT_EQ(Keyspace::entry_under(keys.entry_head("jobs", 2), Key::of("jobs", 1)), "app:jobs:g2:1");
}

TEST(KeyspaceTest, AKeyEscapesItsPartsOnceWhenBuiltAndBothConstructorsAgree) {
  const Key built = Key::of("user:files", "a b", 42, true, std::string("x\0y", 3));
  EXPECT_EQ(built.escaped_parts(), ":a%20b:42:true:x%00y");
  EXPECT_EQ(built, Key("user:files", {"a b", "42", "true", std::string("x\0y", 3)}));
  EXPECT_NE(built, Key("user:files", {"a b", "42", "true"}));
  EXPECT_EQ(built.to_string(), "user%3afiles:a%20b:42:true:x%00y");
  EXPECT_EQ(Key("jobs", {}).escaped_parts(), "");
  EXPECT_THROW(Key::of("", 1), std::invalid_argument);
}

TEST(KeyspaceTest, DifferentPartListsNeverShareAKey) {
  const Keyspace keys("app");
  const std::vector<Key> tricky{
      Key("ns", {"a:b"}),  Key("ns", {"a", "b"}), Key("ns", {"a%3Ab"}), Key("ns", {"a", ""}),
      Key("ns", {"a"}),    Key("ns", {}),         Key("ns", {""}),      Key("ns", {"", ""}),
      Key("ns:a", {"b"}),  Key("ns", {"a*"}),     Key("ns", {"a~0"}),   Key("ns", {"a#lock"}),
      Key("ns", {std::string("a\0b", 3)}),        Key("ns", {"a b"}),   Key("ns", {"a+b"})};
  std::set<std::string> seen;
  for (const auto& key : tricky) {
    EXPECT_TRUE(seen.insert(keys.entry(key, 1)).second) << keys.entry(key, 1);
  }
}

TEST(KeyspaceTest, EscapedKeysContainNoGlobOrInternalMarkers) {
  const Keyspace keys("app");
  const auto key = keys.entry(Key("ns", {"*?[]\\#~ \n:%"}), 1);
  EXPECT_EQ(key.find_first_of("*?[]\\#~ \n"), std::string::npos) << key;
  EXPECT_EQ(key, "app:ns:g1:%2a%3f%5b%5d%5c%23%7e%20%0a%3a%25");
}

TEST(KeyspaceTest, LongKeysKeepAReadableHeadAndEndInADigest) {
  const Keyspace keys("app");
  const std::string long_part(500, 'x');
  const auto a = keys.entry(Key("ns", {long_part + "a"}), 1);
  const auto b = keys.entry(Key("ns", {long_part + "b"}), 1);
  EXPECT_EQ(a.size(), Keyspace::kMaxKeyBytes);
  EXPECT_NE(a, b);
  EXPECT_EQ(a.substr(0, 14), "app:ns:g1:xxxx");
  EXPECT_EQ(a[a.size() - 65], '~');
  // A head never ends inside a %XX escape.
  const auto escaped = keys.entry(Key("ns", {std::string(300, ' ')}), 1);
  const auto head = escaped.substr(0, escaped.find('~'));
  EXPECT_EQ(head.size() % 3, (std::string("app:ns:g1:").size()) % 3) << head;
  EXPECT_NE(head.back(), '%');
}

TEST(KeyspaceTest, EmptyPrefixOrNamespaceFailsFastWithTheFix) {
  EXPECT_THAT([] { Keyspace keys(""); }, ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("prefix")));
  EXPECT_THAT([] { Key key("", {"1"}); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("Key::of(\"jobs\", id)")));
}

TEST(KeyspaceTest, PatternsOverLogicalKeysBecomeGlobsOverEntryKeys) {
  const Keyspace keys("app");
  auto plan = Keyspace::plan_pattern("library:*");
  EXPECT_TRUE(plan.first_is_literal);
  EXPECT_EQ(plan.name_space, "library");
  EXPECT_EQ(keys.entry_pattern(plan, 4), "app:library:g4:*");
  EXPECT_TRUE(glob_match(keys.entry_pattern(plan, 4), keys.entry(Key::of("library", "page", 1), 4)));
  EXPECT_FALSE(glob_match(keys.entry_pattern(plan, 4), keys.entry(Key::of("library", "page", 1), 3)));
  EXPECT_FALSE(glob_match(keys.entry_pattern(plan, 4), keys.entry(Key::of("jobs", 1), 4)));

  plan = Keyspace::plan_pattern("*:user 7");  // literal text is escaped like keys are
  EXPECT_FALSE(plan.first_is_literal);
  EXPECT_EQ(keys.entry_pattern(plan, 0), "app:*:g*:user%207");
  EXPECT_TRUE(glob_match(keys.entry_pattern(plan, 0), keys.entry(Key::of("sessions", "user 7"), 9)));

  plan = Keyspace::plan_pattern("ns:a\\*");  // a quoted '*' matches only a literal '*'
  EXPECT_EQ(keys.entry_pattern(plan, 1), "app:ns:g1:a%2a");
  EXPECT_TRUE(glob_match(keys.entry_pattern(plan, 1), keys.entry(Key("ns", {"a*"}), 1)));
  EXPECT_FALSE(glob_match(keys.entry_pattern(plan, 1), keys.entry(Key("ns", {"ab"}), 1)));
}

TEST(KeyspaceTest, MalformedPatternsFailWithThePosition) {
  EXPECT_THAT([] { (void)Keyspace::plan_pattern(""); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("empty")));
  EXPECT_THAT([] { (void)Keyspace::plan_pattern("ns:a\\"); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("ends in '\\'")));
  EXPECT_THAT([] { (void)Keyspace::plan_pattern("ns:[ab"); },
              ::testing::ThrowsMessage<std::invalid_argument>(HasSubstr("offset 3")));
}

TEST(GlobMatchTest, FollowsRedisGlobRules) {
  EXPECT_TRUE(glob_match("*", ""));
  EXPECT_TRUE(glob_match("a*c", "abbbc"));
  EXPECT_TRUE(glob_match("a*c", "ac"));
  EXPECT_FALSE(glob_match("a*c", "abd"));
  EXPECT_TRUE(glob_match("h?llo", "hallo"));
  EXPECT_FALSE(glob_match("h?llo", "hllo"));
  EXPECT_TRUE(glob_match("h[ae]llo", "hello"));
  EXPECT_FALSE(glob_match("h[ae]llo", "hillo"));
  EXPECT_TRUE(glob_match("h[^e]llo", "hallo"));
  EXPECT_FALSE(glob_match("h[^e]llo", "hello"));
  EXPECT_TRUE(glob_match("h[a-c]llo", "hbllo"));
  EXPECT_TRUE(glob_match("a\\*", "a*"));
  EXPECT_FALSE(glob_match("a\\*", "ab"));
  EXPECT_TRUE(glob_match("*:g*:x", "p:ns:g1:x"));
}

}  // namespace
}  // namespace strata::cache
