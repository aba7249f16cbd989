#include <strata/memory_store.hpp>
#include <strata/testing/manual_clock.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>

namespace strata {
namespace {

using namespace std::chrono_literals;
using testing::ManualClock;

class MemoryStoreTest : public ::testing::Test {
protected:
  MemoryStoreOptions options(std::size_t capacity = 1 << 20, std::size_t shards = 1) {
    MemoryStoreOptions result;
    result.capacity_bytes = capacity;
    result.shard_count = shards;
    result.clock = clock_;
    return result;
  }
  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
};

TEST_F(MemoryStoreTest, SetThenGetReturnsTheValue) {
  MemoryStore store(options());
  EXPECT_FALSE(store.get("job:1").has_value());
  ASSERT_TRUE(store.set("job:1", Bytes::copy_of("rendering")));
  const auto value = store.get("job:1");
  ASSERT_TRUE(value.has_value());
  EXPECT_EQ(value->view(), "rendering");
  EXPECT_EQ(store.size(), 1U);
}

TEST_F(MemoryStoreTest, PeekShowsTheValueAndExpiryWithoutCountingALookup) {
  MemoryStore store(options());
  store.set_for("job:1", Bytes::copy_of("rendering"), 30s);
  const auto peeked = store.peek("job:1");
  ASSERT_TRUE(peeked.has_value());
  EXPECT_EQ(peeked->value.view(), "rendering");
  EXPECT_EQ(peeked->expires_at, clock_->now() + 30s);
  EXPECT_FALSE(store.peek("job:2").has_value());
  EXPECT_EQ(store.stats().hits, 0U);
  EXPECT_EQ(store.stats().misses, 0U);
  clock_->advance(30s);
  EXPECT_FALSE(store.peek("job:1").has_value());  // expired: never shown as live
}

TEST_F(MemoryStoreTest, HitSharesTheStoredBufferInsteadOfCopyingIt) {
  MemoryStore store(options());
  const Bytes original = Bytes::copy_of(std::string(4096, 'p'));
  store.set("page", original);
  const auto first = store.get("page");
  const auto second = store.get("page");
  ASSERT_TRUE(first && second);
  EXPECT_TRUE(first->shares_buffer_with(original));
  EXPECT_TRUE(second->shares_buffer_with(original));
}

TEST_F(MemoryStoreTest, ValueHeldByAReaderSurvivesReplacementAndEviction) {
  MemoryStore store(options());
  store.set("k", Bytes::copy_of("first"));
  const auto held = store.get("k");
  store.set("k", Bytes::copy_of("second"));
  store.clear();
  ASSERT_TRUE(held.has_value());
  EXPECT_EQ(held->view(), "first");
}

TEST_F(MemoryStoreTest, KeysAndValuesAreBinarySafe) {
  MemoryStore store(options());
  const std::string key("a\0b", 3);
  const std::string other_key("a\0c", 3);
  const std::string value("\0\x01\xff\0", 4);
  store.set(key, Bytes::copy_of(value));
  EXPECT_FALSE(store.get(other_key).has_value());
  const auto found = store.get(key);
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->view(), value);
}

TEST_F(MemoryStoreTest, EmptyValueIsAHitNotAMiss) {
  MemoryStore store(options());
  store.set("empty", Bytes());
  const auto value = store.get("empty");
  ASSERT_TRUE(value.has_value());
  EXPECT_TRUE(value->empty());
}

TEST_F(MemoryStoreTest, SetReplacesAndReaccountsTheCharge) {
  MemoryStore store(options());
  store.set("k", Bytes::copy_of(std::string(1000, 'a')));
  EXPECT_EQ(store.bytes_used(), MemoryStore::charge_of(1, 1000));
  store.set("k", Bytes::copy_of("tiny"));
  EXPECT_EQ(store.bytes_used(), MemoryStore::charge_of(1, 4));
  EXPECT_EQ(store.get("k")->view(), "tiny");
  EXPECT_EQ(store.stats().updates, 1U);
  EXPECT_EQ(store.stats().inserts, 1U);
}

TEST_F(MemoryStoreTest, AFootprintLargerThanTheValueIsWhatTheEntryIsCharged) {
  MemoryStore store(options());
  // A view of 10 bytes that keeps a 5000-byte owner alive is charged for the owner.
  store.set("k", Bytes::copy_of("ten bytes!"), std::nullopt, 5000);
  EXPECT_EQ(store.bytes_used(), MemoryStore::charge_of(1, 5000));
  // A footprint below the value's size never charges less than the value.
  store.set("k", Bytes::copy_of(std::string(1000, 'a')), std::nullopt, 10);
  EXPECT_EQ(store.bytes_used(), MemoryStore::charge_of(1, 1000));
  // An entry whose footprint exceeds what one shard holds is refused, as a large value is.
  EXPECT_FALSE(store.set_for("huge", Bytes::copy_of("x"), std::chrono::seconds(60), store.max_entry_bytes() + 1));
  EXPECT_FALSE(store.get("huge").has_value());
}

TEST_F(MemoryStoreTest, EraseAndClear) {
  MemoryStore store(options(1 << 20, 4));
  for (int i = 0; i < 100; ++i) store.set("k" + std::to_string(i), Bytes::copy_of("v"));
  EXPECT_TRUE(store.erase("k7"));
  EXPECT_FALSE(store.erase("k7"));
  EXPECT_FALSE(store.get("k7").has_value());
  EXPECT_EQ(store.size(), 99U);
  store.clear();
  EXPECT_EQ(store.size(), 0U);
  EXPECT_EQ(store.bytes_used(), 0U);
  EXPECT_FALSE(store.get("k8").has_value());
  EXPECT_EQ(store.stats().erases, 1U);
}

TEST_F(MemoryStoreTest, EraseIfRemovesExactlyTheMatchingKeysInEveryShard) {
  MemoryStore store(options(1 << 22, 4));
  for (int i = 0; i < 200; ++i) {
    ASSERT_TRUE(store.set("library:" + std::to_string(i), Bytes::copy_of("x")));
    ASSERT_TRUE(store.set("jobs:" + std::to_string(i), Bytes::copy_of("y")));
  }
  const auto erased = store.erase_if(
      [](std::string_view key) { return key.substr(0, 8) == "library:"; });
  EXPECT_EQ(erased, 200U);
  EXPECT_EQ(store.size(), 200U);
  EXPECT_FALSE(store.get("library:7").has_value());
  EXPECT_TRUE(store.get("jobs:7").has_value());
  std::size_t remaining_bytes = 0;
  for (int i = 0; i < 200; ++i) {
    remaining_bytes += MemoryStore::charge_of(("jobs:" + std::to_string(i)).size(), 1);
  }
  EXPECT_EQ(store.bytes_used(), remaining_bytes);
}

TEST_F(MemoryStoreTest, ClearForgetsExpiringEntriesToo) {
  MemoryStore store(options());
  for (int i = 0; i < 50; ++i) store.set_for("ttl" + std::to_string(i), Bytes::copy_of("v"), 1s);
  store.set("forever", Bytes::copy_of("v"));
  store.clear();
  EXPECT_EQ(store.size(), 0U);
  clock_->advance(2s);
  EXPECT_EQ(store.sweep_expired(100), 0U);  // nothing left behind in the expiry index
  store.set_for("again", Bytes::copy_of("v"), 1s);
  EXPECT_TRUE(store.get("again").has_value());
}

TEST_F(MemoryStoreTest, EntryIsLiveStrictlyBeforeItsExpiry) {
  MemoryStore store(options());
  store.set_for("session", Bytes::copy_of("alive"), 30s);
  clock_->advance(30s - 1ns);
  EXPECT_TRUE(store.get("session").has_value());
  clock_->advance(1ns);
  EXPECT_FALSE(store.get("session").has_value());
  const MemoryStoreStats stats = store.stats();
  EXPECT_EQ(stats.evictions_by_expiry, 1U);  // reclaimed by the read that found it expired
  EXPECT_EQ(stats.entries, 0U);
  EXPECT_EQ(stats.hits, 1U);
  EXPECT_EQ(stats.misses, 1U);
}

TEST_F(MemoryStoreTest, AbsoluteExpiryAndNoExpiry) {
  MemoryStore store(options());
  store.set("until", Bytes::copy_of("v"), clock_->now() + 5s);
  store.set("forever", Bytes::copy_of("v"));
  clock_->advance(std::chrono::hours(24 * 365));
  EXPECT_FALSE(store.get("until").has_value());
  EXPECT_TRUE(store.get("forever").has_value());
}

TEST_F(MemoryStoreTest, RewritingChangesTheExpiry) {
  MemoryStore store(options());
  store.set_for("k", Bytes::copy_of("short"), 1s);
  store.set_for("k", Bytes::copy_of("long"), 1h);
  clock_->advance(10s);
  EXPECT_EQ(store.get("k")->view(), "long");
  store.set("k", Bytes::copy_of("now forever"));
  clock_->advance(2h);
  EXPECT_EQ(store.get("k")->view(), "now forever");
  store.set_for("k", Bytes::copy_of("short again"), 1s);
  clock_->advance(1s);
  EXPECT_FALSE(store.get("k").has_value());
}

TEST_F(MemoryStoreTest, WritingAnAlreadyExpiredEntryRemovesTheOldValue) {
  MemoryStore store(options());
  store.set("k", Bytes::copy_of("old"));
  EXPECT_FALSE(store.set("k", Bytes::copy_of("new"), clock_->now()));
  EXPECT_FALSE(store.get("k").has_value());
  EXPECT_FALSE(store.set_for("k", Bytes::copy_of("new"), 0s));
  EXPECT_FALSE(store.get("k").has_value());
}

TEST_F(MemoryStoreTest, HugeTtlSaturatesInsteadOfOverflowing) {
  MemoryStore store(options());
  ASSERT_TRUE(store.set_for("k", Bytes::copy_of("v"), Clock::duration::max()));
  clock_->advance(std::chrono::hours(24 * 365 * 100));
  EXPECT_TRUE(store.get("k").has_value());
}

TEST_F(MemoryStoreTest, SweepReclaimsAtMostTheRequestedNumberOfExpiredEntries) {
  MemoryStoreOptions opts = options(1 << 22, 4);
  opts.sweep_batch = 0;  // isolate sweep_expired from the sweep that writes do
  MemoryStore store(opts);
  for (int i = 0; i < 100; ++i) store.set_for("short" + std::to_string(i), Bytes::copy_of("v"), 1s);
  for (int i = 0; i < 50; ++i) store.set_for("long" + std::to_string(i), Bytes::copy_of("v"), 1h);
  clock_->advance(2s);
  EXPECT_EQ(store.size(), 150U);  // nothing reclaimed until something asks
  EXPECT_EQ(store.sweep_expired(30), 30U);
  EXPECT_EQ(store.size(), 120U);
  std::size_t reclaimed = 30;
  while (const std::size_t batch = store.sweep_expired(30)) reclaimed += batch;
  EXPECT_EQ(reclaimed, 100U);
  EXPECT_EQ(store.size(), 50U);
  EXPECT_EQ(store.stats().evictions_by_expiry, 100U);
}

TEST_F(MemoryStoreTest, EveryWriteReclaimsAFewExpiredEntries) {
  MemoryStoreOptions opts = options();
  opts.sweep_batch = 4;
  MemoryStore store(opts);
  for (int i = 0; i < 20; ++i) store.set_for("old" + std::to_string(i), Bytes::copy_of("v"), 1s);
  clock_->advance(1s);
  store.set("fresh", Bytes::copy_of("v"));
  EXPECT_EQ(store.size(), 20U - 4U + 1U);
  store.set("fresh2", Bytes::copy_of("v"));
  EXPECT_EQ(store.size(), 20U - 8U + 2U);
}

TEST_F(MemoryStoreTest, NeverHoldsMoreBytesThanItsCapacity) {
  const std::size_t capacity = 64 * 1024;
  MemoryStore store(options(capacity, 4));
  for (int i = 0; i < 5000; ++i) {
    const std::string key = "key:" + std::to_string(i);
    store.set(key, Bytes::copy_of(std::string(static_cast<std::size_t>(i % 700), 'x')));
    ASSERT_LE(store.bytes_used(), capacity) << "after write " << i;
  }
  const MemoryStoreStats stats = store.stats();
  EXPECT_GT(stats.evictions_by_size + stats.admission_rejections, 0U);
  EXPECT_GT(stats.bytes_used, capacity / 2);  // and it is actually used
}

TEST_F(MemoryStoreTest, EntryLargerThanOneShardIsRefused) {
  MemoryStore store(options(64 * 1024, 4));
  EXPECT_EQ(store.max_entry_bytes(), 16U * 1024U);
  const std::string fits(store.max_entry_bytes() - MemoryStore::kEntryOverhead - 3, 'f');
  EXPECT_TRUE(store.set("fit", Bytes::copy_of(fits)));
  const std::string too_big(store.max_entry_bytes(), 'b');
  store.set("big", Bytes::copy_of("small first"));
  EXPECT_FALSE(store.set("big", Bytes::copy_of(too_big)));
  EXPECT_FALSE(store.get("big").has_value());
  EXPECT_EQ(store.stats().rejected_too_large, 1U);
}

TEST_F(MemoryStoreTest, StatisticsCountEveryOutcomeAndReset) {
  MemoryStore store(options());
  store.set("a", Bytes::copy_of("1"));
  store.set("a", Bytes::copy_of("2"));
  (void)store.get("a");
  (void)store.get("a");
  (void)store.get("missing");
  MemoryStoreStats stats = store.stats();
  EXPECT_EQ(stats.hits, 2U);
  EXPECT_EQ(stats.misses, 1U);
  EXPECT_EQ(stats.inserts, 1U);
  EXPECT_EQ(stats.updates, 1U);
  EXPECT_EQ(stats.entries, 1U);
  EXPECT_EQ(stats.bytes_used, MemoryStore::charge_of(1, 1));
  EXPECT_EQ(stats.capacity_bytes, 1U << 20);
  EXPECT_DOUBLE_EQ(stats.hit_ratio(), 2.0 / 3.0);
  store.reset_stats();
  stats = store.stats();
  EXPECT_EQ(stats.hits + stats.misses + stats.inserts + stats.updates, 0U);
  EXPECT_EQ(stats.entries, 1U);  // gauges are not counters: they survive a reset
}

TEST_F(MemoryStoreTest, AutomaticShardCountKeepsShardsUsefullyLarge) {
  MemoryStoreOptions small;
  small.capacity_bytes = 512 * 1024;
  EXPECT_EQ(MemoryStore(small).shard_count(), 1U);
  MemoryStoreOptions large;
  large.capacity_bytes = 1ULL << 30;
  MemoryStore store(large);
  EXPECT_GE(store.shard_count(), 4U);
  EXPECT_LE(store.shard_count(), 128U);
  EXPECT_GE(store.max_entry_bytes(), 1024U * 1024U);
}

TEST_F(MemoryStoreTest, LruPolicyIsSelectable) {
  MemoryStoreOptions opts = options(MemoryStore::charge_of(2, 0) * 2);
  opts.policy = EvictionPolicy::lru;
  MemoryStore store(opts);
  store.set("k1", Bytes());
  store.set("k2", Bytes());
  (void)store.get("k1");
  store.set("k3", Bytes());
  EXPECT_TRUE(store.get("k1").has_value());
  EXPECT_FALSE(store.get("k2").has_value());
  EXPECT_TRUE(store.get("k3").has_value());
}

void expect_invalid(const MemoryStoreOptions& options, const std::string& fragment) {
  try {
    MemoryStore store(options);
    ADD_FAILURE() << "expected std::invalid_argument mentioning '" << fragment << "'";
  } catch (const std::invalid_argument& error) {
    EXPECT_THAT(error.what(), ::testing::HasSubstr(fragment));
  }
}

TEST(MemoryStoreOptionsTest, InvalidOptionsFailFastNamingTheFieldAndTheFix) {
  MemoryStoreOptions options;
  options.capacity_bytes = 10;
  expect_invalid(options, "MemoryStoreOptions.capacity_bytes = 10 is invalid");

  options = {};
  options.shard_count = 3;
  expect_invalid(options, "shard_count = 3 is invalid: use a power of two");

  options = {};
  options.capacity_bytes = 1024;
  options.shard_count = 16;
  expect_invalid(options, "each shard would be too small");

  options = {};
  options.window_fraction = 1.5;
  expect_invalid(options, "window_fraction = 1.500000 is invalid");

  options = {};
  options.protected_fraction = -0.1;
  expect_invalid(options, "protected_fraction");

  options = {};
  options.expected_entry_bytes = 0;
  expect_invalid(options, "expected_entry_bytes");
}

}  // namespace
}  // namespace strata
