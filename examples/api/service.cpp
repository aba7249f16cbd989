#include "service.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <openssl/sha.h>

#include <charconv>
#include <cmath>
#include <functional>
#include <map>

namespace strata::example {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

struct Service::Answer {
  unsigned status = 200;
  std::string body;
  std::string x_cache = "MISS";
};

namespace {

using Answer = Service::Answer;

Answer error(unsigned status, std::string_view code, std::string_view detail) {
  json::object body;
  body["error"] = code;
  body["detail"] = detail;
  return Answer{status, strata::detail::json_serialize(body), "BYPASS"};
}

std::vector<std::string_view> segments_of(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    if (end > start) out.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

std::optional<std::int64_t> positive(std::string_view text) {
  std::int64_t value = 0;
  const auto [end, failure] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (failure != std::errc() || end != text.data() + text.size() || value <= 0) return std::nullopt;
  return value;
}

std::map<std::string, std::string, std::less<>> query_of(std::string_view target) {
  std::map<std::string, std::string, std::less<>> out;
  const auto question = target.find('?');
  if (question == std::string_view::npos) return out;
  auto query = target.substr(question + 1);
  while (!query.empty()) {
    const auto amp = query.find('&');
    const auto item = query.substr(0, amp);
    const auto equals = item.find('=');
    out.emplace(std::string(item.substr(0, equals)), equals == std::string_view::npos ? "" : std::string(item.substr(equals + 1)));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

// A JSON object body, or the reason it is not one.
std::optional<json::object> object_body(const Request& request, std::string* problem) {
  boost::system::error_code failure;
  auto parsed = json::parse(request.body(), failure);
  if (failure || !parsed.is_object()) {
    *problem = "the body must be a JSON object";
    return std::nullopt;
  }
  return std::move(parsed.as_object());
}

std::optional<std::int64_t> integer_field(const json::object& body, std::string_view name, std::int64_t low,
                                          std::int64_t high, std::string* problem) {
  const auto* value = body.if_contains(name);
  if (value == nullptr || !value->is_int64() || value->get_int64() < low || value->get_int64() > high) {
    *problem = "\"" + std::string(name) + "\" must be an integer from " + std::to_string(low) + " to " + std::to_string(high);
    return std::nullopt;
  }
  return value->get_int64();
}

std::optional<std::string> text_field(const json::object& body, std::string_view name, std::string* problem) {
  const auto* value = body.if_contains(name);
  if (value == nullptr || !value->is_string() || value->get_string().empty() || value->get_string().size() > 200) {
    *problem = "\"" + std::string(name) + "\" must be a non-empty string of at most 200 characters";
    return std::nullopt;
  }
  return std::string(value->get_string());
}

std::string render(const Job& job) {
  json::object out;
  out["id"] = job.id;
  out["client_id"] = job.client_id;
  out["status"] = job.status;
  json::object progress;
  progress["current_stage"] = job.current_stage;
  progress["scenes_completed"] = job.scenes_completed;
  progress["scenes_total"] = job.scenes_total;
  progress["percent"] = job.scenes_total == 0 ? 0 : job.scenes_completed * 100 / job.scenes_total;
  out["progress"] = std::move(progress);
  out["updated_at"] = job.updated_at;
  return strata::detail::json_serialize(out);
}

std::string render(const Transcription& transcription) {
  json::object out;
  out["id"] = transcription.id;
  out["user_id"] = transcription.user_id;
  out["title"] = transcription.title;
  out["status"] = transcription.status;
  out["language"] = transcription.language;
  json::array segments;
  for (const auto& segment : transcription.segments) {
    json::object item;
    item["index"] = segment.index;
    item["start_ms"] = segment.start_ms;
    item["end_ms"] = segment.end_ms;
    item["text"] = segment.text;
    segments.push_back(std::move(item));
  }
  out["segments"] = std::move(segments);
  return strata::detail::json_serialize(out);
}

std::string render(const LibraryPage& page, int number, int per_page) {
  json::object out;
  json::array games;
  for (const auto& game : page.games) {
    json::object item;
    item["id"] = game.id;
    item["title"] = game.title;
    item["publisher"] = game.publisher;
    item["release_year"] = game.release_year;
    item["size_mb"] = game.size_mb;
    games.push_back(std::move(item));
  }
  out["games"] = std::move(games);
  out["page"] = number;
  out["per_page"] = per_page;
  out["total"] = page.total;
  out["pages"] = (page.total + per_page - 1) / per_page;
  return strata::detail::json_serialize(out);
}

std::string render(const Dashboard& dashboard) {
  json::object out;
  out["meetings"] = dashboard.meetings;
  out["total_minutes"] = dashboard.total_minutes;
  out["average_sentiment"] = std::round(dashboard.average_sentiment * 1000.0) / 1000.0;
  out["questions_per_meeting"] = std::round(dashboard.questions_per_meeting * 100.0) / 100.0;
  json::array speakers;
  for (const auto& speaker : dashboard.top_speakers) {
    json::object item;
    item["speaker"] = speaker.speaker;
    item["words"] = speaker.words;
    item["talk_minutes"] = speaker.talk_ms / 60000;
    item["sentiment"] = std::round(speaker.sentiment * 1000.0) / 1000.0;
    speakers.push_back(std::move(item));
  }
  out["top_speakers"] = std::move(speakers);
  json::array months;
  for (const auto& [month, count] : dashboard.meetings_per_month) {
    json::object item;
    item["month"] = month;
    item["meetings"] = count;
    months.push_back(std::move(item));
  }
  out["meetings_per_month"] = std::move(months);
  return strata::detail::json_serialize(out);
}

std::string hex_sha256(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned char byte : digest) {
    out.push_back(kHex[byte >> 4]);
    out.push_back(kHex[byte & 15]);
  }
  return out;
}

// Database work returns the JSON to serve, or nullopt for "not found" (never cached).
using DatabaseWork = std::function<std::optional<std::string>(LoadContext&)>;

}  // namespace

Service::Service(Database& database, Cache* cache, asio::any_io_executor database_executor, ServiceOptions options)
    : database_(database), cache_(cache), database_executor_(std::move(database_executor)), options_(options) {}

namespace {

// Runs blocking database work on the database pool and resumes the caller where it was.
asio::awaitable<std::optional<std::string>> on_database(asio::any_io_executor pool, DatabaseWork work, LoadContext& context) {
  // A nullary function object: co_spawn keeps it (and its captures) alive until it finishes. Built
  // as a local: GCC 12 mishandles temporaries inside a co_await expression.
  auto task = [work = std::move(work), &context]() -> asio::awaitable<std::optional<std::string>> { co_return work(context); };
  co_return co_await asio::co_spawn(pool, std::move(task), asio::use_awaitable);
}

asio::awaitable<std::string> load_through(asio::any_io_executor pool, DatabaseWork work, LoadContext& context) {
  auto found = co_await on_database(std::move(pool), std::move(work), context);
  if (!found) {
    context.cacheable = false;
    co_return std::string();
  }
  co_return std::move(*found);
}

// Cache-aside read: the cached JSON, or the database's (stored for next time).
asio::awaitable<Answer> read(Cache* cache, asio::any_io_executor pool, Key key, EntryOptions options, DatabaseWork work) {
  Answer answer;
  if (cache == nullptr) {
    LoadContext unused;
    answer.body = co_await load_through(pool, std::move(work), unused);
  } else {
    auto loader = [pool, work](LoadContext& context) { return load_through(pool, work, context); };
    auto fetched = co_await cache->fetch<std::string>(key, std::move(loader), std::move(options));
    answer.body = std::move(fetched.value);
    answer.x_cache = fetched.source == Source::loader ? "MISS" : fetched.source == Source::stale ? "STALE" : "HIT";
  }
  if (answer.body.empty()) answer = error(404, "not_found", "no such resource");
  co_return answer;
}

}  // namespace

asio::awaitable<Response> Service::handle(Request request) {
  auto executor = co_await asio::this_coro::executor;
  auto routed = route(request);
  auto [failure, answer] = co_await asio::co_spawn(executor, std::move(routed), asio::as_tuple(asio::use_awaitable));
  if (failure) {
    std::string what = "internal error";
    try {
      std::rethrow_exception(failure);
    } catch (const std::exception& problem) {
      what = problem.what();
    }
    answer = error(500, "internal_error", what);
  }
  Response response(static_cast<http::status>(answer.status), request.version());
  response.set(http::field::content_type, "application/json");
  response.set("X-Cache", answer.x_cache);
  response.keep_alive(request.keep_alive());
  response.body() = std::move(answer.body);
  response.prepare_payload();
  co_return response;
}

asio::awaitable<Answer> Service::route(const Request& request) {
  const std::string_view target = request.target();
  const auto path = target.substr(0, target.find('?'));
  const auto parts = segments_of(path);
  const auto method = request.method();
  std::string problem;
  auto is = [&](std::initializer_list<std::string_view> expected) {
    if (parts.size() != expected.size()) return false;
    std::size_t i = 0;
    for (auto piece : expected) {
      if (piece != "*" && parts[i] != piece) return false;
      ++i;
    }
    return true;
  };

  if (is({"health"})) co_return Answer{200, R"({"status":"ok"})", "BYPASS"};

  // Seed 004: job progress, polled every few seconds by many clients.
  if (is({"api", "v2", "jobs", "*"}) && method == http::verb::get) {
    const auto id = positive(parts[3]);
    if (!id) co_return error(400, "bad_request", "the job id must be a positive integer");
    EntryOptions options;
    options.ttl = options_.job_ttl;
    Key key = Key::of("job", *id);
    DatabaseWork work = [this, id = *id](LoadContext& context) -> std::optional<std::string> {
      auto job = database_.job(id);
      if (!job) return std::nullopt;
      context.tags.push_back("client:" + std::to_string(job->client_id));
      return render(*job);
    };
    co_return co_await read(cache_, database_executor_, std::move(key), options, std::move(work));
  }
  if (is({"api", "v2", "jobs", "*", "progress"}) && method == http::verb::post) {
    const auto id = positive(parts[3]);
    if (!id) co_return error(400, "bad_request", "the job id must be a positive integer");
    auto body = object_body(request, &problem);
    std::optional<std::string> stage;
    std::optional<std::int64_t> completed;
    std::optional<std::int64_t> total;
    if (body) stage = text_field(*body, "current_stage", &problem);
    if (stage) completed = integer_field(*body, "scenes_completed", 0, 10000, &problem);
    if (completed) total = integer_field(*body, "scenes_total", 1, 10000, &problem);
    if (!total) co_return error(400, "bad_request", problem);
    LoadContext unused;
    DatabaseWork updated_work = [this, id = *id, stage = *stage, completed = *completed, total = *total](LoadContext&) -> std::optional<std::string> {
          if (!database_.update_job_progress(id, stage, static_cast<int>(completed), static_cast<int>(total))) return std::nullopt;
          auto job = database_.job(id);  // read back for the pre-warm
          if (!job) return std::nullopt;
          return render(*job);
        };
    auto updated = co_await on_database(database_executor_, std::move(updated_work), unused);
    if (!updated) co_return error(404, "not_found", "no such job");
    if (cache_ != nullptr) {
      // Invalidate, then pre-warm: the next poll is a hit with the new progress.
      const Key key = Key::of("job", *id);
      (void)co_await cache_->remove(key);
      EntryOptions options;
      options.ttl = options_.job_ttl;
      std::string value = *updated;
      (void)co_await cache_->set(key, std::move(value), options);
    }
    co_return Answer{200, R"({"success":true,"job":)" + *updated + "}", "BYPASS"};
  }
  if (is({"api", "v2", "cache", "stats"}) && method == http::verb::get) {
    json::object body;
    body["cache_enabled"] = cache_ != nullptr;
    json::object statistics;
    const auto stats = cache_ != nullptr ? cache_->stats() : CacheStats{};
    statistics["hits"] = stats.hits();
    statistics["misses"] = stats.misses;
    statistics["errors"] = stats.errors;
    statistics["invalidations"] = stats.invalidations + stats.deletes;
    statistics["hit_rate"] = std::round(stats.hit_rate() * 10000.0) / 100.0;
    statistics["total_requests"] = stats.total_requests();
    statistics["redis_enabled"] = stats.redis_enabled;
    statistics["redis_available"] = stats.redis_available;
    statistics["ttl_seconds"] = options_.job_ttl.count();
    body["statistics"] = std::move(statistics);
    body["message"] = cache_ == nullptr ? "Cache is disabled" : !stats.redis_enabled ? "Cache is working normally (in-process)"
                      : stats.redis_available ? "Cache is working normally" : "Redis unavailable: serving from memory and the database";
    co_return Answer{200, strata::detail::json_serialize(body), "BYPASS"};
  }
  if (is({"api", "v2", "db", "stats"}) && method == http::verb::get) {
    json::object body;
    body["queries"] = database_.queries();
    body["ai_calls"] = ai_calls_.load();
    co_return Answer{200, strata::detail::json_serialize(body), "BYPASS"};
  }

  // Seed 000: transcriptions, per user; only completed ones are cached.
  if (parts.size() >= 2 && parts[0] == "api" && (parts[1] == "transcriptions" || (parts.size() == 4 && parts[1] == "cache"))) {
    const auto user = positive(request["X-User-Id"]);
    if (!user) co_return error(401, "unauthorized", "send X-User-Id: <your user id> (set by your auth layer)");
    const auto key_of = [&](std::int64_t id) { return Key::of("transcription", *user, id); };
    if (is({"api", "cache", "invalidate", "user"}) && method == http::verb::post) {
      std::uint64_t deleted = 0;
      if (cache_ != nullptr) {
        std::string name = std::to_string(*user);
        deleted = (co_await cache_->invalidate_user(std::move(name))).affected;
      }
      co_return Answer{200, R"({"success":true,"deleted_count":)" + std::to_string(deleted) + "}", "BYPASS"};
    }
    if (!is({"api", "transcriptions", "*"})) co_return error(404, "not_found", "no such endpoint");
    const auto id = positive(parts[2]);
    if (!id) co_return error(400, "bad_request", "the transcription id must be a positive integer");
    EntryOptions options;
    options.ttl = options_.transcription_ttl;
    options.user = std::to_string(*user);
    auto load = [this, id = *id, user = *user](LoadContext& context) -> std::optional<std::string> {
      auto transcription = database_.transcription(id, user);
      if (!transcription) return std::nullopt;
      context.cacheable = transcription->status == "completed";
      return render(*transcription);
    };
    if (method == http::verb::get) {
      Key key = key_of(*id);
      DatabaseWork work = load;
      co_return co_await read(cache_, database_executor_, std::move(key), options, std::move(work));
    }
    if (method == http::verb::put) {
      auto body = object_body(request, &problem);
      std::optional<std::string> title;
      std::optional<std::string> status;
      if (body) title = text_field(*body, "title", &problem);
      if (title) status = text_field(*body, "status", &problem);
      if (status && *status != "completed" && *status != "processing") {
        problem = "\"status\" must be \"completed\" or \"processing\"";
        status.reset();
      }
      if (!status) co_return error(400, "bad_request", problem);
      LoadContext context;
      DatabaseWork updated_work = [this, load, id = *id, user = *user, title = *title, status = *status](LoadContext& inner) -> std::optional<std::string> {
            if (!database_.update_transcription(id, user, title, status)) return std::nullopt;
            return load(inner);
          };
      auto updated = co_await on_database(database_executor_, std::move(updated_work), context);
      if (!updated) co_return error(404, "not_found", "no such transcription");
      if (cache_ != nullptr) {
        // Re-cache what was written (a completed one), or drop the entry.
        const Key key = key_of(*id);
        std::string value = *updated;
        if (context.cacheable) (void)co_await cache_->set(key, std::move(value), options);
        else (void)co_await cache_->remove(key);
      }
      co_return Answer{200, *updated, "BYPASS"};
    }
    if (method == http::verb::delete_) {
      LoadContext unused;
      DatabaseWork deleted_work = [this, id = *id, user = *user](LoadContext&) -> std::optional<std::string> {
            if (!database_.delete_transcription(id, user)) return std::nullopt;
            return std::string(R"({"success":true})");
          };
      auto deleted = co_await on_database(database_executor_, std::move(deleted_work), unused);
      if (!deleted) co_return error(404, "not_found", "no such transcription");
      if (cache_ != nullptr) {
        const Key key = key_of(*id);
        (void)co_await cache_->remove(key);
      }
      co_return Answer{200, *deleted, "BYPASS"};
    }
    co_return error(405, "method_not_allowed", "GET, PUT or DELETE");
  }

  // Seed 002: the paged game library.
  if (is({"api", "library", "paged"}) && method == http::verb::get) {
    const auto query = query_of(target);
    auto value = [&](std::string_view name, std::string_view fallback) {
      auto found = query.find(name);
      return found == query.end() ? std::string(fallback) : found->second;
    };
    const auto page = positive(value("page", "1"));
    const auto per_page = positive(value("per_page", "20"));
    const auto sort_by = value("sort_by", "title");
    const auto order = value("order", "asc");
    if (!page || *page > 100000) co_return error(400, "bad_request", "page must be a positive integer");
    if (!per_page || *per_page > 100) co_return error(400, "bad_request", "per_page must be from 1 to 100");
    if (sort_by != "title" && sort_by != "release_year" && sort_by != "size_mb" && sort_by != "added_at") {
      co_return error(400, "bad_request", "sort_by must be title, release_year, size_mb or added_at");
    }
    if (order != "asc" && order != "desc") co_return error(400, "bad_request", "order must be asc or desc");
    EntryOptions options;
    options.ttl = options_.library_ttl;
    Key key = Key::of("library", "paged", *page, *per_page, sort_by, order);
    DatabaseWork work = [this, page = *page, per_page = *per_page, sort_by, order](LoadContext&) -> std::optional<std::string> {
      return render(database_.library_page(static_cast<int>(page), static_cast<int>(per_page), sort_by, order == "desc"),
                    static_cast<int>(page), static_cast<int>(per_page));
    };
    co_return co_await read(cache_, database_executor_, std::move(key), options, std::move(work));
  }
  if (is({"api", "library"}) && method == http::verb::post) {
    auto body = object_body(request, &problem);
    std::optional<std::string> title;
    std::optional<std::string> publisher;
    std::optional<std::int64_t> year;
    std::optional<std::int64_t> size;
    if (body) title = text_field(*body, "title", &problem);
    if (title) publisher = text_field(*body, "publisher", &problem);
    if (publisher) year = integer_field(*body, "release_year", 1970, 2100, &problem);
    if (year) size = integer_field(*body, "size_mb", 1, 1000000, &problem);
    if (!size) co_return error(400, "bad_request", problem);
    LoadContext unused;
    DatabaseWork added_work = [this, title = *title, publisher = *publisher, year = *year, size = *size](LoadContext&) -> std::optional<std::string> {
          return R"({"success":true,"id":)" +
                 std::to_string(database_.add_game(title, publisher, static_cast<int>(year), static_cast<int>(size))) + "}";
        };
    auto added = co_await on_database(database_executor_, std::move(added_work), unused);
    if (cache_ != nullptr) {
      std::string name = "library";
      (void)co_await cache_->invalidate_namespace(std::move(name));
    }
    co_return Answer{201, *added, "BYPASS"};
  }

  // Seed 003: the analytics dashboard, built from aggregations over every analytics row.
  if (is({"api", "analytics", "dashboard"}) && method == http::verb::get) {
    EntryOptions options;
    options.ttl = options_.dashboard_ttl;
    Key key = Key::of("analytics", "dashboard");
    DatabaseWork work = [this](LoadContext&) -> std::optional<std::string> { return render(database_.dashboard()); };
    co_return co_await read(cache_, database_executor_, std::move(key), options, std::move(work));
  }
  if (is({"api", "meetings"}) && method == http::verb::post) {
    auto body = object_body(request, &problem);
    std::optional<std::int64_t> user;
    std::optional<std::string> title;
    std::optional<std::int64_t> duration;
    if (body) user = integer_field(*body, "user_id", 1, INT64_MAX, &problem);
    if (user) title = text_field(*body, "title", &problem);
    if (title) duration = integer_field(*body, "duration_s", 1, 86400, &problem);
    if (!duration) co_return error(400, "bad_request", problem);
    LoadContext unused;
    DatabaseWork added_work = [this, user = *user, title = *title, duration = *duration](LoadContext&) -> std::optional<std::string> {
          return R"({"success":true,"id":)" + std::to_string(database_.add_meeting(user, title, static_cast<int>(duration))) + "}";
        };
    auto added = co_await on_database(database_executor_, std::move(added_work), unused);
    if (cache_ != nullptr) {
      std::string name = "analytics";
      (void)co_await cache_->invalidate_namespace(std::move(name));
    }
    co_return Answer{201, *added, "BYPASS"};
  }

  // Seed 001: an expensive, deterministic "AI" result, cached forever by the digest of its input.
  if (is({"api", "ai", "analyze"}) && method == http::verb::post) {
    if (request.body().empty()) co_return error(400, "bad_request", "send the text to analyze as the body");
    const std::string input = request.body();
    EntryOptions options;
    options.ttl = std::chrono::hours(24 * 365);
    Key key = Key::of("ai", hex_sha256(input));
    DatabaseWork work = [this, input](LoadContext&) -> std::optional<std::string> {
      ai_calls_.fetch_add(1, std::memory_order_relaxed);
      std::string state = input;
      for (int round = 0; round < options_.ai_rounds; ++round) state = hex_sha256(state);
      json::object out;
      out["model"] = "strata-example-1";
      out["digest"] = state;
      out["words"] = std::count(input.begin(), input.end(), ' ') + 1;
      return strata::detail::json_serialize(out);
    };
    co_return co_await read(cache_, database_executor_, std::move(key), options, std::move(work));
  }
  co_return error(404, "not_found", "no such endpoint; see examples/api/README.md");
}

}  // namespace strata::example
