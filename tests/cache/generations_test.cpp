// Namespace generations: entry keys under the generation a namespace is known at, never a key
// remembered from before a change, and never another cache's.

#include "cache/generations.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <vector>

namespace strata::cache {
namespace {

TEST(Generations, AnUnseenNamespaceHasNoGenerationAndNoEntryKey) {
  const Keyspace keyspace("app");
  const Generations generations(keyspace);
  EXPECT_EQ(generations.known("jobs"), std::nullopt);
  EXPECT_EQ(generations.entry_key(Key::of("jobs", 7)), "");
}

TEST(Generations, ALearnedGenerationGivesTheKeyspacesEntryKeyAndNeverMovesBack) {
  const Keyspace keyspace("app");
  Generations generations(keyspace);
  const Key key = Key::of("jobs", 7);
  generations.learn("jobs", 4);
  EXPECT_EQ(generations.known("jobs"), 4u);
  EXPECT_EQ(generations.entry_key(key), keyspace.entry(key, 4));
  generations.learn("jobs", 2);  // a late message from before the bump
  EXPECT_EQ(generations.known("jobs"), 4u);
  EXPECT_EQ(generations.entry_key(key), keyspace.entry(key, 4));
}

TEST(Generations, AThreadsRememberedKeyHeadIsNotUsedAfterTheNamespaceMoves) {
  const Keyspace keyspace("app");
  Generations generations(keyspace);
  const Key key = Key::of("jobs", 7);
  generations.learn("jobs", 0);
  ASSERT_EQ(generations.entry_key(key), keyspace.entry(key, 0));  // remembered by this thread
  EXPECT_EQ(generations.advance("jobs"), 1u);
  EXPECT_EQ(generations.entry_key(key), keyspace.entry(key, 1));
  generations.learn("jobs", 9);
  EXPECT_EQ(generations.entry_key(key), keyspace.entry(key, 9));
}

TEST(Generations, AdvancingAnUnseenNamespaceStartsItAtOne) {
  const Keyspace keyspace("app");
  Generations generations(keyspace);
  EXPECT_EQ(generations.advance("fresh"), 1u);
  EXPECT_EQ(generations.entry_key(Key::of("fresh", "a")), keyspace.entry(Key::of("fresh", "a"), 1));
}

TEST(Generations, ForgettingMakesEveryNamespaceUnknownAgain) {
  const Keyspace keyspace("app");
  Generations generations(keyspace);
  const Key key = Key::of("jobs", 7);
  generations.learn("jobs", 3);
  ASSERT_FALSE(generations.entry_key(key).empty());
  generations.forget_all();
  EXPECT_EQ(generations.known("jobs"), std::nullopt);
  EXPECT_EQ(generations.entry_key(key), "");
}

TEST(Generations, TwoCachesInOneThreadNeverReadEachOthersKeyHeads) {
  const Keyspace first_space("first");
  const Keyspace second_space("second");
  Generations first(first_space);
  Generations second(second_space);
  const Key key = Key::of("jobs", 7);
  first.learn("jobs", 1);
  second.learn("jobs", 1);
  for (int round = 0; round < 3; ++round) {
    EXPECT_EQ(first.entry_key(key), first_space.entry(key, 1));
    EXPECT_EQ(second.entry_key(key), second_space.entry(key, 1));
  }
  {
    // A table destroyed and another built in its place (perhaps at the same address) starts
    // with no memo of the old one.
    Generations replaced(first_space);
    EXPECT_EQ(replaced.entry_key(key), "");
  }
}

TEST(Generations, ReadersOnOtherThreadsSeeOnlyGenerationsThatMoveForward) {
  const Keyspace keyspace("app");
  Generations generations(keyspace);
  const Key key = Key::of("jobs", 7);
  constexpr std::uint64_t kLast = 2000;
  std::vector<std::string> keys;
  for (std::uint64_t g = 0; g <= kLast; ++g) keys.push_back(keyspace.entry(key, g));
  generations.learn("jobs", 0);
  std::atomic<bool> done{false};
  std::atomic<int> backwards{0};
  std::vector<std::thread> readers;
  for (int i = 0; i < 3; ++i) {
    readers.emplace_back([&] {
      std::uint64_t seen = 0;
      auto index_of = [&](const std::string& entry) -> std::uint64_t {
        for (std::uint64_t g = seen; g <= kLast; ++g) {
          if (keys[g] == entry) return g;
        }
        return kLast + 1;  // behind what this thread saw before, or not an entry key at all
      };
      while (!done.load()) {
        const std::uint64_t g = index_of(generations.entry_key(key));
        if (g > kLast) ++backwards;
        else seen = g;
      }
      if (index_of(generations.entry_key(key)) != kLast) ++backwards;
    });
  }
  for (std::uint64_t g = 1; g <= kLast; ++g) generations.advance("jobs");
  done.store(true);
  for (auto& reader : readers) reader.join();
  EXPECT_EQ(backwards.load(), 0);
}

}  // namespace
}  // namespace strata::cache
