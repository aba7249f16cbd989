// The example API's endpoints end to end (request in, response out) on a real SQLite database,
// with the cache on L1 alone, on L1 + a real redis-server, and off.

#include "database.hpp"
#include "service.hpp"
#include "support/async_test.hpp"
#include "support/redis_server.hpp"

#include <boost/asio/thread_pool.hpp>
#include <boost/json/parse.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sqlite3.h>

#include <cstdio>
#include <filesystem>

namespace strata::example {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using ::testing::HasSubstr;

enum class Mode { off, l1, l1_and_redis };

struct Row {
  std::int64_t id = 0;
  std::int64_t user = 0;
};

// A transcription with the given status, straight from the file (the API hides whose it is).
Row transcription_with_status(const std::string& path, const std::string& status) {
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_stmt* statement = nullptr;
  sqlite3_prepare_v2(db, "SELECT id, user_id FROM transcriptions WHERE status = ? ORDER BY id LIMIT 1", -1, &statement, nullptr);
  sqlite3_bind_text(statement, 1, status.c_str(), -1, SQLITE_TRANSIENT);
  Row row;
  if (sqlite3_step(statement) == SQLITE_ROW) row = Row{sqlite3_column_int64(statement, 0), sqlite3_column_int64(statement, 1)};
  sqlite3_finalize(statement);
  sqlite3_close(db);
  return row;
}

class ExampleApiTest : public ::testing::TestWithParam<Mode> {
protected:
  static void SetUpTestSuite() { redis_ = std::make_unique<testing::RedisServer>(); }
  static void TearDownTestSuite() { redis_.reset(); }

  void SetUp() override {
    static int databases = 0;
    path_ = ::testing::TempDir() + "example-api-" + std::to_string(::getpid()) + "-" + std::to_string(++databases) + ".db";
    std::filesystem::remove(path_);
    DataSize size;
    size.users = 20;
    size.jobs = 50;
    size.transcriptions = 40;
    size.segments_per_transcription = 5;
    size.games = 60;
    size.meetings = 30;
    size.analytics_per_meeting = 10;
    database_ = std::make_unique<Database>(path_, size);
    if (GetParam() == Mode::l1_and_redis) {
      ASSERT_THAT(redis_->cli({"FLUSHALL"}), HasSubstr("OK"));
    }
  }
  void TearDown() override {
    database_.reset();
    std::filesystem::remove(path_);
    std::filesystem::remove(path_ + "-wal");
    std::filesystem::remove(path_ + "-shm");
  }

  struct Result {
    unsigned status = 0;
    std::string x_cache;
    std::string body;
  };

  // One request through the service. Views, not strings: GCC 12 mishandles temporaries with
  // destructors inside co_await expressions, and callers pass literals or live locals.
  using Call = std::function<asio::awaitable<Result>(http::verb, std::string_view, std::string_view, std::string_view)>;

  // Runs `steps` against a Service wired as the mode says.
  void with_service(const std::function<asio::awaitable<void>(Call, Cache*)>& steps) {
    asio::thread_pool pool(2);
    testing::run_async([&](asio::any_io_executor executor) -> asio::awaitable<void> {
      std::unique_ptr<Cache> cache;
      if (GetParam() != Mode::off) {
        CacheOptions options;
        if (GetParam() == Mode::l1_and_redis) options.redis_url = redis_->url();
        cache = std::make_unique<Cache>(executor, options);
        co_await cache->start();
      }
      Service service(*database_, cache.get(), pool.get_executor(), ServiceOptions{.ai_rounds = 100});
      Call call = [&service](http::verb method, std::string_view target, std::string_view body,
                             std::string_view user) -> asio::awaitable<Result> {
        Request request(method, target, 11);
        if (!user.empty()) request.set("X-User-Id", user);
        request.body() = std::string(body);
        request.prepare_payload();
        auto response = co_await service.handle(std::move(request));
        co_return Result{response.result_int(), std::string(response["X-Cache"]), response.body()};
      };
      co_await steps(call, cache.get());
    });
    pool.join();
  }

  bool cached() const { return GetParam() != Mode::off; }
  std::string expected_repeat() const { return cached() ? "HIT" : "MISS"; }

  static std::unique_ptr<testing::RedisServer> redis_;
  std::string path_;
  std::unique_ptr<Database> database_;
};

std::unique_ptr<testing::RedisServer> ExampleApiTest::redis_;

TEST_P(ExampleApiTest, JobProgressIsCachedInvalidatedAndPrewarmed) {
  with_service([&](Call call, Cache*) -> asio::awaitable<void> {
    auto first = co_await call(http::verb::get, "/api/v2/jobs/7", "", "");
    EXPECT_EQ(first.status, 200U);
    EXPECT_EQ(first.x_cache, "MISS");
    const auto queries = database_->queries();
    auto second = co_await call(http::verb::get, "/api/v2/jobs/7", "", "");
    EXPECT_EQ(second.x_cache, expected_repeat());
    EXPECT_EQ(database_->queries(), queries + (cached() ? 0 : 1));

    auto update = co_await call(http::verb::post, "/api/v2/jobs/7/progress",
                                R"({"current_stage":"encoding","scenes_completed":2,"scenes_total":4})", "");
    EXPECT_EQ(update.status, 200U);
    const auto after_update = database_->queries();
    auto polled = co_await call(http::verb::get, "/api/v2/jobs/7", "", "");
    EXPECT_EQ(polled.x_cache, expected_repeat());  // pre-warmed: the first poll after a write is a hit
    EXPECT_THAT(polled.body, HasSubstr(R"("current_stage":"encoding","scenes_completed":2,"scenes_total":4,"percent":50)"));
    EXPECT_EQ(database_->queries(), after_update + (cached() ? 0 : 1));

    auto missing = co_await call(http::verb::get, "/api/v2/jobs/999999", "", "");
    EXPECT_EQ(missing.status, 404U);
    auto bad = co_await call(http::verb::post, "/api/v2/jobs/7/progress", R"({"current_stage":"x","scenes_completed":"2"})", "");
    EXPECT_EQ(bad.status, 400U);
    EXPECT_THAT(bad.body, HasSubstr("scenes_completed"));
    EXPECT_EQ((co_await call(http::verb::get, "/api/v2/jobs/abc", "", "")).status, 400U);

    auto stats = co_await call(http::verb::get, "/api/v2/cache/stats", "", "");
    const auto parsed = boost::json::parse(stats.body).as_object();
    EXPECT_EQ(parsed.at("cache_enabled").as_bool(), cached());
    for (const char* field : {"hits", "misses", "errors", "invalidations", "hit_rate", "total_requests", "redis_enabled",
                              "redis_available", "ttl_seconds"}) {
      EXPECT_TRUE(parsed.at("statistics").as_object().contains(field)) << field;
    }
    EXPECT_EQ(parsed.at("statistics").at("redis_available").as_bool(), GetParam() == Mode::l1_and_redis);
  });
}

TEST_P(ExampleApiTest, TranscriptionsArePerUserAndOnlyCompletedOnesAreCached) {
  const auto completed = transcription_with_status(path_, "completed");
  const auto processing = transcription_with_status(path_, "processing");
  ASSERT_NE(completed.id, 0);
  ASSERT_NE(processing.id, 0);
  with_service([&](Call call, Cache*) -> asio::awaitable<void> {
    const auto owner = std::to_string(completed.user);
    const auto stranger = std::to_string(completed.user % 20 + 1);
    const auto target = "/api/transcriptions/" + std::to_string(completed.id);
    EXPECT_EQ((co_await call(http::verb::get, target, "", "")).status, 401U);
    auto mine = co_await call(http::verb::get, target, "", owner);
    EXPECT_EQ(mine.status, 200U);
    EXPECT_EQ((co_await call(http::verb::get, target, "", owner)).x_cache, expected_repeat());
    // Another user never gets it, cached or not.
    EXPECT_EQ((co_await call(http::verb::get, target, "", stranger)).status, 404U);
    EXPECT_EQ((co_await call(http::verb::get, target, "", stranger)).status, 404U);

    const auto unfinished = "/api/transcriptions/" + std::to_string(processing.id);
    const auto processing_owner = std::to_string(processing.user);
    (void)co_await call(http::verb::get, unfinished, "", processing_owner);
    EXPECT_EQ((co_await call(http::verb::get, unfinished, "", processing_owner)).x_cache, "MISS");

    auto updated = co_await call(http::verb::put, target, R"({"title":"Renamed","status":"completed"})", owner);
    EXPECT_EQ(updated.status, 200U);
    auto reread = co_await call(http::verb::get, target, "", owner);
    EXPECT_EQ(reread.x_cache, expected_repeat());  // re-cached by the update
    EXPECT_THAT(reread.body, HasSubstr(R"("title":"Renamed")"));

    auto dropped = co_await call(http::verb::post, "/api/cache/invalidate/user", "", owner);
    EXPECT_THAT(dropped.body, HasSubstr(R"("success":true)"));
    EXPECT_EQ((co_await call(http::verb::get, target, "", owner)).x_cache, "MISS");

    EXPECT_EQ((co_await call(http::verb::delete_, target, "", owner)).status, 200U);
    EXPECT_EQ((co_await call(http::verb::get, target, "", owner)).status, 404U);
    EXPECT_EQ((co_await call(http::verb::delete_, target, "", owner)).status, 404U);
  });
}

TEST_P(ExampleApiTest, LibraryPagesAreKeyedByTheirParametersAndDroppedOnChange) {
  with_service([&](Call call, Cache*) -> asio::awaitable<void> {
    auto first = co_await call(http::verb::get, "/api/library/paged?page=2&per_page=5&sort_by=size_mb&order=desc", "", "");
    EXPECT_EQ(first.status, 200U);
    auto same = co_await call(http::verb::get, "/api/library/paged?order=desc&sort_by=size_mb&per_page=5&page=2", "", "");
    EXPECT_EQ(same.x_cache, expected_repeat());
    EXPECT_EQ(same.body, first.body);
    EXPECT_EQ((co_await call(http::verb::get, "/api/library/paged?page=3&per_page=5&sort_by=size_mb&order=desc", "", "")).x_cache,
              "MISS");
    auto added = co_await call(http::verb::post, "/api/library",
                               R"({"title":"New Game","publisher":"Sega","release_year":2026,"size_mb":99999})", "");
    EXPECT_EQ(added.status, 201U);
    auto after = co_await call(http::verb::get, "/api/library/paged?page=1&per_page=5&sort_by=size_mb&order=desc", "", "");
    EXPECT_EQ(after.x_cache, "MISS");
    EXPECT_THAT(after.body, HasSubstr("New Game"));
    EXPECT_THAT(after.body, HasSubstr(R"("total":61)"));
    auto injected = co_await call(http::verb::get, "/api/library/paged?sort_by=title;DROP%20TABLE%20games", "", "");
    EXPECT_EQ(injected.status, 400U);
    EXPECT_EQ((co_await call(http::verb::get, "/api/library/paged?per_page=1000", "", "")).status, 400U);
  });
}

TEST_P(ExampleApiTest, TheDashboardIsCachedUntilAMeetingIsWritten) {
  with_service([&](Call call, Cache*) -> asio::awaitable<void> {
    auto first = co_await call(http::verb::get, "/api/analytics/dashboard", "", "");
    EXPECT_EQ(first.status, 200U);
    EXPECT_THAT(first.body, HasSubstr(R"("meetings":30)"));
    const auto queries = database_->queries();
    EXPECT_EQ((co_await call(http::verb::get, "/api/analytics/dashboard", "", "")).x_cache, expected_repeat());
    EXPECT_EQ(database_->queries(), queries + (cached() ? 0 : 4));  // four aggregation queries per build
    EXPECT_EQ((co_await call(http::verb::post, "/api/meetings", R"({"user_id":1,"title":"Retro","duration_s":1800})", "")).status,
              201U);
    auto rebuilt = co_await call(http::verb::get, "/api/analytics/dashboard", "", "");
    EXPECT_EQ(rebuilt.x_cache, "MISS");
    EXPECT_THAT(rebuilt.body, HasSubstr(R"("meetings":31)"));
    EXPECT_EQ((co_await call(http::verb::post, "/api/meetings", R"({"user_id":1})", "")).status, 400U);
  });
}

TEST_P(ExampleApiTest, AiResultsAreCachedByTheDigestOfTheirInput) {
  with_service([&](Call call, Cache*) -> asio::awaitable<void> {
    auto first = co_await call(http::verb::post, "/api/ai/analyze", "summarise this meeting", "");
    EXPECT_EQ(first.status, 200U);
    auto again = co_await call(http::verb::post, "/api/ai/analyze", "summarise this meeting", "");
    EXPECT_EQ(again.x_cache, expected_repeat());
    EXPECT_EQ(again.body, first.body);
    auto other = co_await call(http::verb::post, "/api/ai/analyze", "summarise that meeting", "");
    EXPECT_EQ(other.x_cache, "MISS");
    EXPECT_NE(other.body, first.body);
    auto counts = co_await call(http::verb::get, "/api/v2/db/stats", "", "");
    EXPECT_THAT(counts.body, HasSubstr(cached() ? R"("ai_calls":2)" : R"("ai_calls":3)"));
    EXPECT_EQ((co_await call(http::verb::post, "/api/ai/analyze", "", "")).status, 400U);
  });
}

INSTANTIATE_TEST_SUITE_P(Modes, ExampleApiTest, ::testing::Values(Mode::off, Mode::l1, Mode::l1_and_redis),
                         [](const ::testing::TestParamInfo<Mode>& mode) {
                           switch (mode.param) {
                             case Mode::off: return std::string("CacheOff");
                             case Mode::l1: return std::string("L1Only");
                             case Mode::l1_and_redis: return std::string("L1AndRedis");
                           }
                           return std::string();
                         });

}  // namespace
}  // namespace strata::example
