// The cache's behaviour, identical on the embedded default (L1 only) and on L1 + Redis: every
// test runs once per mode, the Redis modes against real servers: one redis-server, a 3-master
// Redis Cluster, and a master + replica watched by 3 sentinels.

#include <strata/blocking_cache.hpp>
#include <strata/cache.hpp>
#include <strata/testing/manual_clock.hpp>

#include "support/async_test.hpp"
#include "support/cache_options.hpp"
#include "support/redis_deployments.hpp"
#include "support/redis_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <optional>
#include <string>
#include <vector>

namespace demo {
struct Job {
  std::string status;
  int progress = 0;
  friend bool operator==(const Job&, const Job&) = default;
};
void tag_invoke(boost::json::value_from_tag, boost::json::value& out, const Job& job) {
  out = {{"status", job.status}, {"progress", job.progress}};
}
Job tag_invoke(boost::json::value_to_tag<Job>, const boost::json::value& in) {
  const auto& object = in.as_object();
  return Job{boost::json::value_to<std::string>(object.at("status")),
             boost::json::value_to<int>(object.at("progress"))};
}
// Counts its copies, to check which reads hand the caller the cache's own decoded value.
struct Tracked {
  std::string text;
  static inline int copies = 0;
  explicit Tracked(std::string t = {}) : text(std::move(t)) {}
  Tracked(const Tracked& other) : text(other.text) { ++copies; }
  Tracked(Tracked&&) noexcept = default;
  Tracked& operator=(const Tracked& other) {
    text = other.text;
    ++copies;
    return *this;
  }
  Tracked& operator=(Tracked&&) noexcept = default;
};

// A value whose decoded form holds far more than its encoding: a name, and a working set the
// decoder builds from it.
struct Bulky {
  static constexpr std::size_t kWorkingSetBytes = 256 * 1024;
  std::string name;
  std::vector<char> working_set = std::vector<char>(kWorkingSetBytes);
};
}  // namespace demo

namespace strata {
template <>
struct Codec<demo::Bulky> {
  static constexpr std::string_view name = "bulky";
  static std::string encode(const demo::Bulky& value) { return value.name; }
  static std::optional<demo::Bulky> decode(std::string_view bytes) {
    demo::Bulky decoded;
    decoded.name = bytes;
    return decoded;
  }
  static std::size_t footprint(const demo::Bulky& value) { return value.working_set.capacity(); }
};

template <>
struct Codec<demo::Tracked> {
  static constexpr std::string_view name = "tracked";
  static std::string encode(const demo::Tracked& value) { return value.text; }
  static std::optional<demo::Tracked> decode(std::string_view bytes) { return demo::Tracked(std::string(bytes)); }
};

namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using testing::ManualClock;
using testing::poll_until;
using testing::run_async;

enum class Mode { l1_only, l1_and_redis, l1_and_cluster, l1_and_sentinel };

std::string mode_name(const ::testing::TestParamInfo<Mode>& info) {
  switch (info.param) {
    case Mode::l1_only: return "L1Only";
    case Mode::l1_and_redis: return "L1AndRedis";
    case Mode::l1_and_cluster: return "L1AndCluster";
    case Mode::l1_and_sentinel: return "L1AndSentinel";
  }
  return "unknown";
}

// A gate a loader waits at until the test opens it.
class Gate {
public:
  explicit Gate(asio::any_io_executor executor) : timer_(executor, asio::steady_timer::time_point::max()) {}
  asio::awaitable<void> wait() {
    ++waiting_;
    (void)co_await timer_.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  void open() { timer_.cancel(); }
  [[nodiscard]] int waiting() const { return waiting_; }

private:
  asio::steady_timer timer_;
  int waiting_ = 0;
};

class CacheConformanceTest : public ::testing::TestWithParam<Mode> {
protected:
  // Each mode's servers start on first use: CTest runs every test in its own process, and
  // an L1-only test needs none of them.
  static void TearDownTestSuite() {
    server_.reset();
    cluster_.reset();
    sentinel_.reset();
  }
  void SetUp() override {
    switch (GetParam()) {
      case Mode::l1_only: break;
      case Mode::l1_and_redis:
        if (!server_) server_ = std::make_unique<testing::RedisServer>();
        ASSERT_THAT(server_->cli({"FLUSHALL"}), ::testing::HasSubstr("OK"));
        break;
      case Mode::l1_and_cluster:
        if (!cluster_) cluster_ = std::make_unique<testing::RedisCluster>(3);
        cluster_->flush_all();
        break;
      case Mode::l1_and_sentinel:
        if (!sentinel_) sentinel_ = std::make_unique<testing::SentinelSetup>();
        ASSERT_THAT(sentinel_->data_node(sentinel_->master_port()).cli({"FLUSHALL"}), ::testing::HasSubstr("OK"));
        break;
    }
  }

  CacheOptions options() {
    CacheOptions result = testing::cache_options_for({});
    switch (GetParam()) {
      case Mode::l1_only: break;
      case Mode::l1_and_redis: result.redis_url = server_->url(); break;
      case Mode::l1_and_cluster: result.redis_url = cluster_->url(); break;
      case Mode::l1_and_sentinel: result.redis_url = sentinel_->url(); break;
    }
    result.clock = clock_;
    result.l1.capacity_bytes = 16 << 20;
    return result;
  }
  std::unique_ptr<Cache> make_cache(asio::any_io_executor executor, CacheOptions opts) {
    return std::make_unique<Cache>(executor, std::move(opts));
  }

  std::shared_ptr<ManualClock> clock_ = std::make_shared<ManualClock>();
  static inline std::unique_ptr<testing::RedisServer> server_;
  static inline std::unique_ptr<testing::RedisCluster> cluster_;
  static inline std::unique_ptr<testing::SentinelSetup> sentinel_;
};

TEST_P(CacheConformanceTest, SetThenGetRoundTripsStringsBytesAndJsonTypes) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    CO_ASSERT_TRUE(co_await cache.start());
    EXPECT_FALSE((co_await cache.get(Key::of("jobs", 1))).has_value());
    EXPECT_TRUE(co_await cache.set(Key::of("jobs", 1), std::string("a\0b", 3)));
    EXPECT_EQ(co_await cache.get(Key::of("jobs", 1)), std::string("a\0b", 3));
    EXPECT_TRUE(co_await cache.set(Key::of("blobs", 1), Bytes::copy_of("raw")));
    EXPECT_EQ((co_await cache.get<Bytes>(Key::of("blobs", 1)))->view(), "raw");
    const demo::Job job{"rendering", 40};
    EXPECT_TRUE(co_await cache.set(Key::of("jobs", 2), job));
    EXPECT_EQ(co_await cache.get<demo::Job>(Key::of("jobs", 2)), job);
    // Read as another type than written: decoded from the stored bytes, or a miss.
    EXPECT_TRUE(co_await cache.set(Key::of("numbers", 1), 42));
    EXPECT_EQ(co_await cache.get<int>(Key::of("numbers", 1)), 42);
    EXPECT_EQ(co_await cache.get<std::string>(Key::of("numbers", 1)), "42");
    EXPECT_FALSE((co_await cache.get<demo::Job>(Key::of("numbers", 1))).has_value());
  });
}

TEST_P(CacheConformanceTest, L1ChargesWhatTheDecodedValueHoldsNotOnlyItsEncoding) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache writer(executor, options());
    CO_ASSERT_TRUE(co_await writer.start());
    demo::Bulky bulky;
    bulky.name = "eleven byte";
    CO_ASSERT_TRUE(co_await writer.set(Key::of("bulky", 1), bulky));
    EXPECT_EQ(writer.stats().l1_entries, 1U);
    EXPECT_GE(writer.stats().l1_bytes, demo::Bulky::kWorkingSetBytes);
    // A JSON value without a measure of its own: its decoded form counts as its encoding's size
    // again, beside the encoding itself.
    const std::string text(10000, 'j');
    const auto before = writer.stats().l1_bytes;
    const std::vector<std::string> listed{text};
    CO_ASSERT_TRUE(co_await writer.set(Key::of("json", 1), listed));
    EXPECT_GE(writer.stats().l1_bytes - before, 2 * text.size());
    if (GetParam() == Mode::l1_only) co_return;
    // A value decoded from Redis is charged as one set here.
    Cache reader(executor, options());
    CO_ASSERT_TRUE(co_await reader.start());
    const auto read = co_await reader.get<demo::Bulky>(Key::of("bulky", 1));
    CO_ASSERT_TRUE(read.has_value());
    EXPECT_EQ(read->name, "eleven byte");
    EXPECT_EQ(reader.stats().l1_entries, 1U);
    EXPECT_GE(reader.stats().l1_bytes, demo::Bulky::kWorkingSetBytes);
  });
}

TEST_P(CacheConformanceTest, StringsReadFromEitherTierKeepTheirBytesWhateverTypeReadsThem) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto opts = options();
    opts.compression_threshold = 1024;
    Cache cache(executor, opts);
    CO_ASSERT_TRUE(co_await cache.start());
    const std::string large(64 * 1024, 'x');  // stored compressed in Redis
    const std::string small("a\0b\xff", 4);
    EXPECT_TRUE(co_await cache.set(Key::of("docs", "large"), large));
    EXPECT_TRUE(co_await cache.set(Key::of("docs", "small"), small));
    // From L1 (the string is its own bytes: read as Bytes from the very value)...
    EXPECT_EQ((co_await cache.get<Bytes>(Key::of("docs", "large")))->view(), large);
    EXPECT_EQ((co_await cache.get<Bytes>(Key::of("docs", "small")))->view(), small);
    EXPECT_EQ(co_await cache.get<std::string>(Key::of("docs", "large")), large);
    if (GetParam() == Mode::l1_only) co_return;
    // ...and from Redis, inflated or not, as either type.
    EntryOptions l2_only;
    l2_only.use_l1 = false;
    EXPECT_EQ(co_await cache.get<std::string>(Key::of("docs", "large"), l2_only), large);
    EXPECT_EQ(co_await cache.get<std::string>(Key::of("docs", "small"), l2_only), small);
    EXPECT_EQ((co_await cache.get<Bytes>(Key::of("docs", "large"), l2_only))->view(), large);
    EXPECT_EQ((co_await cache.get<Bytes>(Key::of("docs", "small"), l2_only))->view(), small);
    // get_or_set and fetch hand raw types the payload itself (no erased value in between).
    auto not_called = []() -> std::string { throw std::logic_error("the entry is in Redis"); };
    for (const char* name : {"large", "small"}) {
      const std::string& expected = std::string_view(name) == "large" ? large : small;
      EXPECT_EQ(co_await cache.get_or_set<std::string>(Key::of("docs", name), not_called, l2_only), expected);
      auto as_bytes = co_await cache.fetch<Bytes>(
          Key::of("docs", name), [] { return Bytes::copy_of("not called"); }, l2_only);
      EXPECT_EQ(as_bytes.value.view(), expected);
      EXPECT_EQ(as_bytes.source, Source::l2);
    }
    const auto stats = cache.stats();
    EXPECT_EQ(stats.l2_hits, 8U);
    EXPECT_EQ(stats.loader_calls, 0U);
    EXPECT_EQ(stats.errors, 0U);
  });
}

TEST_P(CacheConformanceTest, AValueNobodyElseHoldsIsMovedToTheCallerAndOneL1KeepsIsCopied) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    CO_ASSERT_TRUE(co_await cache.start());
    EXPECT_TRUE(co_await cache.set(Key::of("tracked", 1), demo::Tracked("value")));
    demo::Tracked::copies = 0;
    auto from_l1 = co_await cache.get<demo::Tracked>(Key::of("tracked", 1));
    CO_ASSERT_TRUE(from_l1.has_value());
    EXPECT_EQ(from_l1->text, "value");
    EXPECT_EQ(demo::Tracked::copies, 1) << "L1 keeps its value, so the caller gets a copy";
    if (GetParam() == Mode::l1_only) co_return;
    EntryOptions l2_only;
    l2_only.use_l1 = false;
    demo::Tracked::copies = 0;
    auto loader = []() -> demo::Tracked { throw std::logic_error("the entry is in Redis"); };
    auto from_l2 = co_await cache.get_or_set<demo::Tracked>(Key::of("tracked", 1), loader, l2_only);
    EXPECT_EQ(from_l2.text, "value");
    auto fetched = co_await cache.fetch<demo::Tracked>(Key::of("tracked", 1), loader, l2_only);
    EXPECT_EQ(fetched.source, Source::l2);
    auto got = co_await cache.get<demo::Tracked>(Key::of("tracked", 1), l2_only);
    EXPECT_EQ(got->text, "value");
    EXPECT_EQ(demo::Tracked::copies, 0) << "a value decoded for this caller alone is moved, not copied";
  });
}

// A loader that counts how often it is copied or moved.
struct CountedLoader {
  int* transfers;
  explicit CountedLoader(int* counter) : transfers(counter) {}
  CountedLoader(const CountedLoader& other) : transfers(other.transfers) { ++*transfers; }
  CountedLoader(CountedLoader&& other) noexcept : transfers(other.transfers) { ++*transfers; }
  CountedLoader& operator=(const CountedLoader&) = delete;
  CountedLoader& operator=(CountedLoader&&) = delete;
  ~CountedLoader() = default;
  std::string operator()() const { return "loaded"; }
};

// A hit leaves the loader in get_or_set's frame: only a load type-erases it (into a
// std::function, an allocation for a loader of more than 16 bytes).
TEST_P(CacheConformanceTest, AHitLeavesTheLoaderWhereItIsAndOnlyALoadTakesItOver) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    int miss_transfers = 0;
    EXPECT_EQ(co_await cache.get_or_set<std::string>(Key::of("counted", 1), CountedLoader(&miss_transfers)), "loaded");
    int hit_transfers = 0;
    EXPECT_EQ(co_await cache.get_or_set<std::string>(Key::of("counted", 1), CountedLoader(&hit_transfers)), "loaded");
    EXPECT_EQ(cache.stats().loader_calls, 1U);
    // Into the frame: a move into read_through's parameter and GCC's copy of it into the frame.
    EXPECT_LE(hit_transfers, 2);
    EXPECT_GT(miss_transfers, hit_transfers) << "a load takes the loader over";
  });
}

TEST_P(CacheConformanceTest, GetOrSetLoadsOnceThenServesTheCachedValue) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    int calls = 0;
    auto loader = [&] { return demo::Job{"queued", ++calls}; };
    auto first = co_await cache.fetch<demo::Job>(Key::of("jobs", 7), loader);
    auto second = co_await cache.fetch<demo::Job>(Key::of("jobs", 7), loader);
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(first.source, Source::loader);
    EXPECT_EQ(second.source, Source::l1);
    EXPECT_EQ(second.value, (demo::Job{"queued", 1}));
    const auto stats = cache.stats();
    EXPECT_EQ(stats.loader_calls, 1U);
    EXPECT_EQ(stats.misses, 1U);
    EXPECT_EQ(stats.l1_hits, 1U);
    EXPECT_EQ(stats.sets, 1U);
    EXPECT_DOUBLE_EQ(stats.hit_rate(), 0.5);
  });
}

TEST_P(CacheConformanceTest, WarmLoadsWhatIsMissingBoundedAndReportsEachKey) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    for (int id = 1; id <= 5; ++id) co_await cache.set(Key::of("jobs", id), std::string("cached"));
    std::vector<Key> keys;
    for (int id = 1; id <= 20; ++id) keys.push_back(Key::of("jobs", id));
    int running = 0;
    int most_at_once = 0;
    std::vector<std::size_t> seen_done;
    auto loader = [&](const Key& key) -> asio::awaitable<std::string> {
      ++running;
      most_at_once = std::max(most_at_once, running);
      asio::steady_timer wait(co_await asio::this_coro::executor, 5ms);
      co_await wait.async_wait(asio::use_awaitable);
      --running;
      if (key.to_string() == "jobs:13") throw std::runtime_error("row 13 is locked");
      co_return "loaded " + key.to_string();
    };
    WarmOptions warm_options;
    warm_options.concurrency = 4;
    warm_options.entry.ttl = 60s;
    warm_options.progress = [&](const WarmReport& so_far) { seen_done.push_back(so_far.done()); };
    const auto report = co_await cache.warm<std::string>(keys, loader, warm_options);
    EXPECT_EQ(report.total, 20U);
    EXPECT_EQ(report.already_cached, 5U);
    EXPECT_EQ(report.loaded, 14U);
    EXPECT_EQ(report.failed, 1U);
    CO_ASSERT_TRUE(report.failures.size() == 1U);
    EXPECT_EQ(report.failures[0].first.to_string(), "jobs:13");
    EXPECT_EQ(report.failures[0].second, "row 13 is locked");
    EXPECT_LE(most_at_once, 4);
    EXPECT_GE(most_at_once, 2);
    CO_ASSERT_TRUE(seen_done.size() == 20U);
    for (std::size_t i = 0; i < seen_done.size(); ++i) EXPECT_EQ(seen_done[i], i + 1);
    EXPECT_EQ(co_await cache.get<std::string>(Key::of("jobs", 20)), std::optional<std::string>("loaded jobs:20"));
    EXPECT_EQ(co_await cache.get<std::string>(Key::of("jobs", 1)), std::optional<std::string>("cached"));
    EXPECT_FALSE((co_await cache.get<std::string>(Key::of("jobs", 13))).has_value());

    // A rate: the 11th key starts 10 / 50 s after the first.
    std::vector<Key> paced;
    for (int id = 100; id <= 110; ++id) paced.push_back(Key::of("jobs", id));
    WarmOptions slow;
    slow.rate = 50;
    slow.concurrency = 11;
    const auto timed = co_await cache.warm<std::string>(paced, [](const Key& key) { return key.to_string(); }, slow);
    EXPECT_EQ(timed.loaded, 11U);
    EXPECT_GE(timed.seconds, 0.19);
  });
}

TEST_P(CacheConformanceTest, AnAwaitableOwnsItsKeySoTheCallersKeyMayGoFirst) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    std::optional<asio::awaitable<std::string>> pending_read;
    std::optional<asio::awaitable<Outcome>> pending_write;
    {
      // Long enough to live on the heap: a dangling reference reads freed memory under ASan.
      const Key key = Key::of("a-namespace-name-longer-than-inline", "part-longer-than-inline", 7);
      pending_write.emplace(cache.set(key, std::string("written")));
      pending_read.emplace(cache.get_or_set<std::string>(key, [] { return std::string("loaded"); }));
    }  // the caller's key is gone before either awaitable starts
    const Outcome written = co_await std::move(*pending_write);
    EXPECT_TRUE(written.ok());
    EXPECT_EQ(co_await std::move(*pending_read), "written");
    const auto found = co_await cache.get(Key::of("a-namespace-name-longer-than-inline", "part-longer-than-inline", 7));
    EXPECT_EQ(found, "written");
  });
}

TEST_P(CacheConformanceTest, StopWaitsForTheRunningLoaderAndCallsNoLoaderAfter) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    (void)co_await cache.get_or_set<std::string>(Key::of("kept", 1), [] { return std::string("cached"); });
    Gate gate(executor);
    bool slow_answered = false;
    asio::co_spawn(executor, [&]() -> asio::awaitable<void> {
      const auto value = co_await cache.get_or_set<std::string>(Key::of("slow", 1), [&]() -> asio::awaitable<std::string> {
        co_await gate.wait();
        co_return "slow";
      });
      slow_answered = value == "slow";
    }, asio::detached);
    co_await poll_until([&] { return gate.waiting() == 1; });
    bool stopped = false;
    asio::co_spawn(executor, [&]() -> asio::awaitable<void> {
      co_await cache.stop();
      stopped = true;
    }, asio::detached);
    // While the loader runs, stop() waits; a read that needs a loader gets none.
    int late_calls = 0;
    auto late = [&] {
      ++late_calls;
      return std::string("late");
    };
    const auto [refused, value] = co_await asio::co_spawn(
        executor, cache.get_or_set<std::string>(Key::of("late", 1), late), asio::as_tuple(asio::use_awaitable));
    EXPECT_TRUE(refused != nullptr);
    if (refused) {
      EXPECT_THROW(std::rethrow_exception(refused), CacheStopped);
    }
    EXPECT_EQ(late_calls, 0);
    EXPECT_FALSE(stopped);
    gate.open();
    // The running load finishes (its caller gets its value) and then stop() returns.
    co_await poll_until([&] { return stopped && slow_answered; });
    // What L1 holds is still served; still no loader.
    EXPECT_EQ(co_await cache.get_or_set<std::string>(Key::of("kept", 1), late), "cached");
    EXPECT_EQ(late_calls, 0);
  });
}

TEST_P(CacheConformanceTest, ThousandConcurrentMissesRunTheLoaderOnce) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    Gate gate(executor);
    int calls = 0;
    int answered = 0;
    for (int i = 0; i < 1000; ++i) {
      asio::co_spawn(
          executor,
          [&]() -> asio::awaitable<void> {
            auto value = co_await cache.get_or_set<std::string>(
                Key::of("reports", "cold"), [&]() -> asio::awaitable<std::string> {
                  ++calls;
                  co_await gate.wait();
                  co_return "built once";
                });
            EXPECT_EQ(value, "built once");
            ++answered;
          },
          asio::detached);
    }
    co_await poll_until([&] { return gate.waiting() == 1 && cache.stats().coalesced_waits == 999; });
    gate.open();
    co_await poll_until([&] { return answered == 1000; });
    EXPECT_EQ(calls, 1);
    EXPECT_EQ(cache.stats().loader_calls, 1U);
  });
}

TEST_P(CacheConformanceTest, LoaderExceptionReachesTheCallerWhenNothingStaleExists) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    bool thrown = false;
    try {
      (void)co_await cache.get_or_set<std::string>(Key::of("jobs", 1),
                                                   []() -> std::string { throw std::runtime_error("db down"); });
    } catch (const std::runtime_error& error) {
      thrown = std::string(error.what()) == "db down";
    }
    EXPECT_TRUE(thrown);
    EXPECT_EQ(cache.stats().loader_errors, 1U);
    // Nothing was cached: the next call loads again.
    EXPECT_EQ(co_await cache.get_or_set<std::string>(Key::of("jobs", 1), [] { return std::string("ok"); }), "ok");
  });
}

TEST_P(CacheConformanceTest, FailSafeServesTheStaleValueWhenTheLoaderFailsInsideTheStaleWindow) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    EntryOptions entry;
    entry.ttl = 10s;
    entry.stale_ttl = 60s;
    const auto key = Key::of("dashboard", "team-1");
    (void)co_await cache.get_or_set<std::string>(key, [] { return std::string("v1"); }, entry);
    auto failing = []() -> std::string { throw std::runtime_error("db down"); };

    clock_->advance(11s);  // stale, inside the stale window
    EXPECT_FALSE((co_await cache.get(key)).has_value()) << "get() serves only fresh values";
    auto served = co_await cache.fetch<std::string>(key, failing, entry);
    EXPECT_EQ(served.value, "v1");
    EXPECT_EQ(served.source, Source::stale);
    EXPECT_EQ(cache.stats().stale_served, 1U);

    // Without fail-safe the loader's error comes through.
    EntryOptions strict = entry;
    strict.fail_safe = false;
    bool thrown = false;
    try {
      (void)co_await cache.get_or_set<std::string>(key, failing, strict);
    } catch (const std::runtime_error&) {
      thrown = true;
    }
    EXPECT_TRUE(thrown);

    clock_->advance(60s);  // past the stale window: gone
    thrown = false;
    try {
      (void)co_await cache.get_or_set<std::string>(key, failing, entry);
    } catch (const std::runtime_error&) {
      thrown = true;
    }
    EXPECT_TRUE(thrown);
  });
}

TEST_P(CacheConformanceTest, ALoaderSeesTheStaleValueItReplacesAndCanRevalidateIt) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    EntryOptions entry;
    entry.ttl = 10s;
    entry.stale_ttl = 60s;
    entry.fail_safe = false;  // the previous value is offered even when it would not be served
    const auto key = Key::of("documents", 7);
    std::vector<std::string> seen;
    auto revalidating = [&](LoadContext& context) {
      const auto previous = context.previous_as<std::string>();
      seen.push_back(previous ? *previous : "<none>");
      return previous ? *previous + "+revalidated" : std::string("v1");
    };
    EXPECT_EQ(co_await cache.get_or_set<std::string>(key, revalidating, entry), "v1");
    clock_->advance(11s);  // stale, inside the stale window
    EXPECT_EQ(co_await cache.get_or_set<std::string>(key, revalidating, entry), "v1+revalidated");
    clock_->advance(80s);  // past the stale window: nothing to revalidate
    EXPECT_EQ(co_await cache.get_or_set<std::string>(key, revalidating, entry), "v1");
    EXPECT_EQ(seen, (std::vector<std::string>{"<none>", "v1", "<none>"}));
  });
}

TEST_P(CacheConformanceTest, AValueLivesItsWholeLifetimeInTheFirstTierThatHoldsIt) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    EntryOptions entry;
    entry.ttl = std::chrono::minutes(30);  // longer than l1_ttl (5 minutes)
    entry.stale_ttl = std::chrono::minutes(30);
    const auto key = Key::of("transcriptions", 30);
    int loads = 0;
    auto loader = [&] { return "v" + std::to_string(++loads); };
    (void)co_await cache.get_or_set<std::string>(key, loader, entry);
    clock_->advance(std::chrono::minutes(20));  // fresh still: from L1 alone, or from Redis
    EXPECT_EQ(co_await cache.get_or_set<std::string>(key, loader, entry), "v1");
    clock_->advance(std::chrono::minutes(20));  // stale: still held, for fail-safe
    auto failing = []() -> std::string { throw std::runtime_error("db down"); };
    const auto served = co_await cache.fetch<std::string>(key, failing, entry);
    EXPECT_EQ(served.value, "v1");
    EXPECT_EQ(served.source, Source::stale);
    EXPECT_EQ(loads, 1);
  });
}

TEST_P(CacheConformanceTest, SoftTimeoutServesStaleWhileTheLoadFinishesInTheBackground) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    EntryOptions entry;
    entry.ttl = 10s;
    entry.stale_ttl = 60s;
    entry.soft_timeout = 20ms;
    const auto key = Key::of("dashboard", "slow");
    (void)co_await cache.get_or_set<std::string>(key, [] { return std::string("v1"); }, entry);
    clock_->advance(11s);
    Gate gate(executor);
    auto slow = [&]() -> asio::awaitable<std::string> {
      co_await gate.wait();
      co_return "v2";
    };
    auto served = co_await cache.fetch<std::string>(key, slow, entry);
    EXPECT_EQ(served.value, "v1");
    EXPECT_EQ(served.source, Source::stale);
    EXPECT_EQ(cache.stats().loader_timeouts, 1U);
    gate.open();
    std::optional<std::string> now;
    co_await poll_until([&] { return cache.stats().sets == 2; });
    now = co_await cache.get(key);
    EXPECT_EQ(now, "v2");
  });
}

TEST_P(CacheConformanceTest, StaleWhileRevalidateServesAtOnceOnlyInsideItsWindow) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    EntryOptions entry;
    entry.ttl = 10s;
    entry.stale_ttl = 60s;
    entry.stale_while_revalidate = 5s;
    const auto key = Key::of("jobs", "swr");
    (void)co_await cache.get_or_set<std::string>(key, [] { return std::string("v1"); }, entry);
    clock_->advance(12s);  // 2 s past fresh: inside the 5 s window
    Gate gate(executor);
    auto slow = [&]() -> asio::awaitable<std::string> {
      co_await gate.wait();
      co_return "v2";
    };
    auto served = co_await cache.fetch<std::string>(key, slow, entry);
    EXPECT_EQ(served.value, "v1");
    EXPECT_EQ(served.source, Source::stale);
    EXPECT_EQ(cache.stats().loader_timeouts, 0U);  // nobody waited, so nothing timed out
    co_await poll_until([&] { return gate.waiting() == 1; });  // the refresh runs in the background
    gate.open();
    co_await poll_until([&] { return cache.stats().sets == 2; });
    EXPECT_EQ(co_await cache.get(key), "v2");

    clock_->advance(18s);  // 8 s past fresh: outside the window, the reader waits for the load
    auto reloaded = co_await cache.fetch<std::string>(key, [] { return std::string("v3"); }, entry);
    EXPECT_EQ(reloaded.value, "v3");
    EXPECT_EQ(reloaded.source, Source::loader);
  });
}

TEST_P(CacheConformanceTest, HardTimeoutWithoutAStaleValueFailsWithLoadTimeout) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    EntryOptions entry;
    entry.hard_timeout = 30ms;
    Gate gate(executor);
    bool timed_out = false;
    try {
      (void)co_await cache.get_or_set<std::string>(
          Key::of("jobs", "stuck"),
          [&]() -> asio::awaitable<std::string> {
            co_await gate.wait();
            co_return "late";
          },
          entry);
    } catch (const LoadTimeout& error) {
      timed_out = std::string(error.what()).find("hard_timeout (30 ms)") != std::string::npos;
    }
    EXPECT_TRUE(timed_out);
    gate.open();
  });
}

TEST_P(CacheConformanceTest, EagerRefreshReloadsAHotEntryBeforeItExpires) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    EntryOptions entry;
    entry.ttl = 10s;
    entry.eager_refresh = 0.5;
    const auto key = Key::of("leaderboard", "global");
    int version = 0;
    auto loader = [&] { return "v" + std::to_string(++version); };
    EXPECT_EQ(co_await cache.get_or_set<std::string>(key, loader, entry), "v1");
    clock_->advance(4s);  // before the threshold: a plain hit
    EXPECT_EQ(co_await cache.get_or_set<std::string>(key, loader, entry), "v1");
    EXPECT_EQ(version, 1);
    clock_->advance(2s);  // past 50%: served at once, refreshed in the background
    EXPECT_EQ(co_await cache.get_or_set<std::string>(key, loader, entry), "v1");
    co_await poll_until([&] { return cache.stats().sets == 2; });
    EXPECT_EQ(cache.stats().eager_refreshes, 1U);
    EXPECT_EQ(co_await cache.get(key), "v2");
    clock_->advance(9s);  // the refresh restarted the entry's lifetime
    EXPECT_EQ(co_await cache.get(key), "v2");
  });
}

TEST_P(CacheConformanceTest, RemoveExpireAndExtendTtl) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    EntryOptions entry;
    entry.ttl = 10s;
    entry.stale_ttl = 30s;
    const auto key = Key::of("jobs", 1);
    co_await cache.set(key, std::string("v1"), entry);
    EXPECT_EQ((co_await cache.remove(key)).affected, 1U);
    EXPECT_FALSE((co_await cache.get(key)).has_value());

    co_await cache.set(key, std::string("v1"), entry);
    EXPECT_EQ((co_await cache.expire(key)).affected, 1U);
    EXPECT_FALSE((co_await cache.get(key)).has_value()) << "expired: no longer fresh";
    auto failing = []() -> std::string { throw std::runtime_error("db down"); };
    EXPECT_EQ(co_await cache.get_or_set<std::string>(key, failing, entry), "v1") << "kept for fail-safe";

    co_await cache.set(key, std::string("v2"), entry);
    clock_->advance(8s);
    EXPECT_EQ((co_await cache.extend_ttl(key, 20s)).affected, 1U);
    clock_->advance(15s);  // 23 s after the write: alive only thanks to the extension
    EXPECT_EQ(co_await cache.get(key), "v2");
    EXPECT_EQ((co_await cache.extend_ttl(Key::of("jobs", "absent"), 20s)).affected, 0U);
  });
}

TEST_P(CacheConformanceTest, TagAndUserInvalidationDropEveryTaggedEntryAndNothingElse) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    EntryOptions meeting;
    meeting.tags = {"meeting:9"};
    EntryOptions alice;
    alice.user = "alice";
    co_await cache.set(Key::of("meetings", 9), std::string("m9"), meeting);
    co_await cache.set(Key::of("analytics", 9), std::string("a9"), meeting);
    co_await cache.set(Key::of("meetings", 10), std::string("m10"));
    co_await cache.set(Key::of("transcriptions", 1), std::string("t1"), alice);
    EntryOptions bob;
    bob.user = "bob";
    co_await cache.set(Key::of("transcriptions", 2), std::string("t2"), bob);

    EXPECT_TRUE(co_await cache.invalidate_tag("meeting:9"));
    EXPECT_FALSE((co_await cache.get(Key::of("meetings", 9))).has_value());
    EXPECT_FALSE((co_await cache.get(Key::of("analytics", 9))).has_value());
    EXPECT_EQ(co_await cache.get(Key::of("meetings", 10)), "m10");

    EXPECT_TRUE(co_await cache.invalidate_user("alice"));
    EXPECT_FALSE((co_await cache.get(Key::of("transcriptions", 1))).has_value());
    EXPECT_EQ(co_await cache.get(Key::of("transcriptions", 2)), "t2");

    // A value written after the invalidation is served normally.
    co_await cache.set(Key::of("meetings", 9), std::string("m9 v2"), meeting);
    EXPECT_EQ(co_await cache.get(Key::of("meetings", 9)), "m9 v2");
    // Tags learned by the loader count too.
    (void)co_await cache.get_or_set<std::string>(Key::of("meetings", 11), [](LoadContext& context) {
      context.tags.push_back("meeting:11");
      return std::string("m11");
    });
    std::vector<std::string> learned{"meeting:11"};
    co_await cache.invalidate_tags(std::move(learned));
    EXPECT_FALSE((co_await cache.get(Key::of("meetings", 11))).has_value());
  });
}

// get_or_set remembers, per thread, the key head of the namespaces it used: two caches on one
// thread must each keep their own, and a namespace invalidation must retire the remembered one.
TEST_P(CacheConformanceTest, TwoCachesOnOneThreadKeepTheirOwnKeysAcrossNamespaceInvalidation) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    CacheOptions first_options = options();
    first_options.prefix = "memo-first";
    CacheOptions second_options = options();
    second_options.prefix = "memo-second";
    Cache first(executor, first_options);
    Cache second(executor, second_options);
    co_await first.start();
    co_await second.start();
    const Key shelf = Key::of("shelf", 1);
    int loads = 0;
    auto load_as = [&loads](std::string value) {
      return [&loads, value] {
        ++loads;
        return value;
      };
    };
    // Twice each: the second read of each cache goes through its remembered key head.
    for (int round = 0; round < 2; ++round) {
      EXPECT_EQ(co_await first.get_or_set<std::string>(shelf, load_as("first")), "first");
      EXPECT_EQ(co_await second.get_or_set<std::string>(shelf, load_as("second")), "second");
    }
    EXPECT_EQ(loads, 2);

    EXPECT_TRUE(co_await first.invalidate_namespace("shelf"));
    EXPECT_EQ(co_await first.get_or_set<std::string>(shelf, load_as("first, reloaded")), "first, reloaded");
    EXPECT_EQ(co_await first.get_or_set<std::string>(shelf, load_as("not called")), "first, reloaded");
    EXPECT_EQ(co_await second.get_or_set<std::string>(shelf, load_as("not called")), "second");
    EXPECT_EQ(loads, 3);
  });
}

TEST_P(CacheConformanceTest, NamespaceAndPatternInvalidationAndClear) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    for (int page = 1; page <= 3; ++page) {
      co_await cache.set(Key::of("library", "page", page), std::string("p"));
      co_await cache.set(Key::of("session", page), std::string("s"));
    }
    co_await cache.set(Key::of("analytics", "team"), std::string("a"));
    EXPECT_TRUE(co_await cache.invalidate_namespace("session"));
    EXPECT_FALSE((co_await cache.get(Key::of("session", 1))).has_value());
    EXPECT_EQ(co_await cache.get(Key::of("library", "page", 1)), "p");
    co_await cache.set(Key::of("session", 1), std::string("s2"));  // the namespace lives on
    EXPECT_EQ(co_await cache.get(Key::of("session", 1)), "s2");

    auto removed = co_await cache.invalidate_pattern("library:page:*");
    EXPECT_TRUE(removed);
    EXPECT_GE(removed.affected, 3U);
    EXPECT_FALSE((co_await cache.get(Key::of("library", "page", 2))).has_value());
    EXPECT_EQ(co_await cache.get(Key::of("analytics", "team")), "a");

    // A namespace long enough to be digested in keys still works with patterns on it.
    const std::string long_namespace(300, 'n');
    co_await cache.set(Key::of(long_namespace, 1), std::string("x"));
    EXPECT_TRUE(co_await cache.invalidate_pattern(long_namespace + ":*"));

    EXPECT_TRUE(co_await cache.clear());
    EXPECT_FALSE((co_await cache.get(Key::of("analytics", "team"))).has_value());
    EXPECT_FALSE((co_await cache.get(Key::of("session", 1))).has_value());
  });
}

// The cache-aside race: a reader misses and reads the old row; a writer updates the row and
// invalidates; the reader then stores the old row. The gate forces exactly that interleaving.
TEST_P(CacheConformanceTest, AFillThatBeganBeforeAnInvalidationNeverBecomesVisibleAfterIt) {
  enum class Invalidation { key, tag, name_space, user, everything };
  for (auto kind : {Invalidation::key, Invalidation::tag, Invalidation::name_space, Invalidation::user,
                    Invalidation::everything}) {
    SCOPED_TRACE(static_cast<int>(kind));
    SetUp();  // each round starts from an empty Redis
    run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
      Cache cache(executor, options());
      co_await cache.start();
      const auto key = Key::of("jobs", 5);
      EntryOptions entry;
      entry.tags = {"job:5"};
      entry.user = "alice";
      Gate gate(executor);
      std::optional<std::string> reader_got;
      asio::co_spawn(
          executor,
          [&]() -> asio::awaitable<void> {
            reader_got = co_await cache.get_or_set<std::string>(
                key,
                [&]() -> asio::awaitable<std::string> {
                  std::string row = "progress 10%";  // read from the database before the write
                  co_await gate.wait();
                  co_return row;
                },
                entry);
          },
          asio::detached);
      co_await poll_until([&] { return gate.waiting() == 1; });
      // The writer: the row is now "progress 20%"; invalidate.
      switch (kind) {
        case Invalidation::key: co_await cache.remove(key); break;
        case Invalidation::tag: co_await cache.invalidate_tag("job:5"); break;
        case Invalidation::name_space: co_await cache.invalidate_namespace("jobs"); break;
        case Invalidation::user: co_await cache.invalidate_user("alice"); break;
        case Invalidation::everything: co_await cache.clear(); break;
      }
      gate.open();
      co_await poll_until([&] { return reader_got.has_value(); });
      EXPECT_EQ(reader_got, "progress 10%") << "the reader itself gets what it read";
      EXPECT_FALSE((co_await cache.get(key, entry)).has_value()) << "but the old row is not cached";
      if (kind != Invalidation::name_space) {
        EXPECT_EQ(cache.stats().fills_discarded, 1U);
      }
      // The next reader loads the new row.
      EXPECT_EQ(co_await cache.get_or_set<std::string>(key, [] { return std::string("progress 20%"); }, entry),
                "progress 20%");
    });
  }
}

TEST_P(CacheConformanceTest, LoaderDecidesCacheabilityAndLifetime) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    int calls = 0;
    auto running_job = [&](LoadContext& context) {
      ++calls;
      context.cacheable = false;  // seed 000: only completed transcriptions are cached
      return std::string("processing");
    };
    (void)co_await cache.get_or_set<std::string>(Key::of("transcriptions", 1), running_job);
    (void)co_await cache.get_or_set<std::string>(Key::of("transcriptions", 1), running_job);
    EXPECT_EQ(calls, 2);
    EXPECT_FALSE((co_await cache.get(Key::of("transcriptions", 1))).has_value());

    (void)co_await cache.get_or_set<std::string>(Key::of("transcriptions", 2), [](LoadContext& context) {
      context.ttl = 2s;
      return std::string("completed");
    });
    clock_->advance(1s);
    EXPECT_TRUE((co_await cache.get(Key::of("transcriptions", 2))).has_value());
    clock_->advance(2s);
    EXPECT_FALSE((co_await cache.get(Key::of("transcriptions", 2))).has_value());
  });
}

TEST_P(CacheConformanceTest, TtlJitterSpreadsExpiriesWithinTheConfiguredRange) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    EntryOptions entry;
    entry.ttl = 10s;
    entry.ttl_jitter = 4s;
    for (int i = 0; i < 200; ++i) co_await cache.set(Key::of("items", i), std::string("x"), entry);
    clock_->advance(6s - 1ms);  // nothing expires before ttl - jitter
    int alive = 0;
    for (int i = 0; i < 200; ++i) alive += (co_await cache.get(Key::of("items", i))).has_value();
    EXPECT_EQ(alive, 200);
    clock_->advance(2s);  // 8 s: some expired, some not
    alive = 0;
    for (int i = 0; i < 200; ++i) alive += (co_await cache.get(Key::of("items", i))).has_value();
    EXPECT_GT(alive, 20);
    EXPECT_LT(alive, 180);
    clock_->advance(2s);  // 10 s: all expired
    alive = 0;
    for (int i = 0; i < 200; ++i) alive += (co_await cache.get(Key::of("items", i))).has_value();
    EXPECT_EQ(alive, 0);
  });
}

TEST_P(CacheConformanceTest, MemoizeKeysByNameAndArguments) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    int calls = 0;
    auto summarize = cache.memoize<std::string>("summaries", [&](std::string text, int words) {
      ++calls;
      return text.substr(0, static_cast<std::size_t>(words));
    });
    EXPECT_EQ(co_await summarize(std::string("hello world"), 5), "hello");
    EXPECT_EQ(co_await summarize(std::string("hello world"), 5), "hello");
    EXPECT_EQ(co_await summarize(std::string("hello world"), 7), "hello w");
    EXPECT_EQ(calls, 2);
    co_await cache.invalidate_namespace("summaries");
    EXPECT_EQ(co_await summarize(std::string("hello world"), 5), "hello");
    EXPECT_EQ(calls, 3);
  });
}

TEST_P(CacheConformanceTest, StatsRenderAsJsonWithTheSeedsFieldNamesAndAsPrometheusText) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    Cache cache(executor, options());
    co_await cache.start();
    co_await cache.set(Key::of("jobs", 1), std::string("x"));
    (void)co_await cache.get(Key::of("jobs", 1));
    (void)co_await cache.get(Key::of("jobs", 2));
    co_await cache.remove(Key::of("jobs", 1));
    clock_->advance(3s);
    const auto stats = cache.stats();
    const auto json = boost::json::parse(to_json(stats)).as_object();
    EXPECT_EQ(json.at("hits").to_number<std::uint64_t>(), 1U);
    EXPECT_EQ(json.at("misses").to_number<std::uint64_t>(), 1U);
    EXPECT_EQ(json.at("sets").to_number<std::uint64_t>(), 1U);
    EXPECT_EQ(json.at("deletes").to_number<std::uint64_t>(), 1U);
    EXPECT_EQ(json.at("errors").to_number<std::uint64_t>(), 0U);
    EXPECT_EQ(json.at("total_requests").to_number<std::uint64_t>(), 2U);
    EXPECT_DOUBLE_EQ(json.at("hit_rate").as_double(), 0.5);
    EXPECT_DOUBLE_EQ(json.at("uptime_seconds").as_double(), 3.0);
    EXPECT_EQ(json.at("redis_enabled").as_bool(), GetParam() != Mode::l1_only);
    const auto text = to_prometheus(stats);
    EXPECT_THAT(text, ::testing::HasSubstr("strata_cache_hits_total{tier=\"l1\"} 1\n"));
    EXPECT_THAT(text, ::testing::HasSubstr("strata_cache_misses_total 1\n"));
    EXPECT_THAT(text, ::testing::HasSubstr("# TYPE strata_cache_l1_latency_seconds histogram"));
    EXPECT_THAT(text, ::testing::HasSubstr("strata_cache_l1_latency_seconds_count 2\n"));
    cache.reset_stats();
    EXPECT_EQ(cache.stats().total_requests(), 0U);
    EXPECT_EQ(cache.stats().uptime_seconds, 0.0);
  });
}

TEST_P(CacheConformanceTest, InvalidOptionsFailFastNamingTheField) {
  run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
    auto bad = options();
    bad.defaults.eager_refresh = 1.5;
    EXPECT_THAT([&] { Cache cache(executor, bad); },
                ::testing::ThrowsMessage<std::invalid_argument>(::testing::HasSubstr("eager_refresh")));
    bad = options();
    bad.redis_url = "redis://127.0.0.1:notaport";
    EXPECT_THAT([&] { Cache cache(executor, bad); },
                ::testing::ThrowsMessage<std::invalid_argument>(::testing::HasSubstr("CacheOptions::redis_url")));
    Cache cache(executor, options());
    EntryOptions entry;
    entry.hard_timeout = std::chrono::hours(1);
    bool thrown = false;
    try {
      (void)co_await cache.get_or_set<std::string>(Key::of("a", 1), [] { return std::string(); }, entry);
    } catch (const std::invalid_argument& error) {
      thrown = std::string(error.what()).find("max_fill_duration") != std::string::npos;
    }
    EXPECT_TRUE(thrown);
    // A hit resolves less of the options than a load, but validates them all the same.
    (void)co_await cache.set(Key::of("a", 2), std::string("stored"));
    int loads = 0;
    thrown = false;
    try {
      (void)co_await cache.get_or_set<std::string>(
          Key::of("a", 2), [&] { return std::to_string(++loads); }, entry);
    } catch (const std::invalid_argument& error) {
      thrown = std::string(error.what()).find("max_fill_duration") != std::string::npos;
    }
    EXPECT_TRUE(thrown);
    EXPECT_EQ(loads, 0);
    EXPECT_EQ(co_await cache.get_or_set<std::string>(Key::of("a", 2), [&] { return std::to_string(++loads); }),
              "stored");
  });
}

TEST_P(CacheConformanceTest, BlockingCacheServesSynchronousCallers) {
  auto opts = options();
  opts.clock = nullptr;
  BlockingCache cache(opts);
  int calls = 0;
  auto load = [&] { return demo::Job{"done", ++calls * 100}; };
  EXPECT_EQ(cache.get_or_set<demo::Job>(Key::of("jobs", 3), load), (demo::Job{"done", 100}));
  EXPECT_EQ(cache.get_or_set<demo::Job>(Key::of("jobs", 3), load), (demo::Job{"done", 100}));
  EXPECT_EQ(calls, 1);
  EXPECT_TRUE(cache.set(Key::of("jobs", 4), "x"));
  EXPECT_EQ(cache.get(Key::of("jobs", 4)), "x");
  EXPECT_EQ(cache.remove(Key::of("jobs", 4)).affected, 1U);
  auto square = cache.memoize<int>("squares", [&](int n) {
    ++calls;
    return n * n;
  });
  EXPECT_EQ(square(12), 144);
  EXPECT_EQ(square(12), 144);
  EXPECT_EQ(calls, 2);
}

INSTANTIATE_TEST_SUITE_P(Modes, CacheConformanceTest,
                         ::testing::Values(Mode::l1_only, Mode::l1_and_redis, Mode::l1_and_cluster,
                                           Mode::l1_and_sentinel),
                         mode_name);

}  // namespace
}  // namespace strata
