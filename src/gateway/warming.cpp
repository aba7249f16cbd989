// The hot set's life in the gateway: sampling shared requests into it, writing it (to a file or
// to Redis) and fetching it again after a start.

#include "gateway/gateway_impl.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace strata::gateway {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);

// Where the hot set lives in Redis: beside the entries, under the gateway's prefix.
const Key kHotSetKey{"_gateway", {"hot-set"}};

std::int64_t unix_ms_now() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

bool names_a_credential(const Runtime& runtime, std::string_view lower_name) {
  const auto& identity = runtime.config.identity;
  if (lower_name == "authorization" || lower_name == "cookie" || lower_name == "proxy-authorization") return true;
  if (!identity.header.empty() && ascii_lower(identity.header) == lower_name) return true;
  return std::find(identity.credential_headers.begin(), identity.credential_headers.end(), lower_name) !=
         identity.credential_headers.end();
}

// Writes `text` to `path` whole or not at all: a reader (the next start) never sees half a file.
bool write_atomically(const std::string& path, const std::string& text, std::string* error) {
  const std::string temporary = fmt::format("{}.{}.tmp", path, getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    out << text;
    out.flush();
    if (!out) {
      *error = fmt::format("cannot write {}", temporary);
      std::remove(temporary.c_str());
      return false;
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    *error = fmt::format("cannot rename {} to {}", temporary, path);
    std::remove(temporary.c_str());
    return false;
  }
  return true;
}

}  // namespace

// One re-warming run, shared by its workers (all on one strand). Target i starts no earlier than
// i / rate after the start, so the rate holds however fast the answers come.
struct RewarmRun {
  std::vector<HotTarget> targets;  // hottest first
  std::size_t next = 0;
  std::size_t workers = 0;
  std::size_t workers_left = 0;
  std::chrono::steady_clock::time_point began;
  std::chrono::duration<double> spacing{0};
  std::unique_ptr<asio::steady_timer> all_done;  // cancelled by the last worker
};

// A worker takes the next target until none is left; its arguments by value (GCC 12 and lambdas).
asio::awaitable<void> Gateway::Impl::rewarm_worker(std::shared_ptr<Impl> self, std::shared_ptr<RewarmRun> run) {
  asio::steady_timer pacing(co_await asio::this_coro::executor);
  for (std::size_t i = run->next++; i < run->targets.size(); i = run->next++) {
    pacing.expires_at(run->began +
                      std::chrono::duration_cast<std::chrono::steady_clock::duration>(run->spacing * static_cast<double>(i)));
    (void)co_await pacing.async_wait(kAwait);
    const HotTarget& item = run->targets[i];
    Request request;
    request.method(http::verb::get);
    request.target(item.target);
    request.version(11);
    for (const auto& [name, value] : item.headers) request.set(name, value);
    RequestContext context;
    context.peer = "127.0.0.1";
    context.warming = true;
    const Reply reply = co_await self->handle(std::move(request), std::move(context));
    auto& progress = self->rewarm_;
    const std::string_view outcome = reply.cache_outcome;
    if (outcome == "HIT" || outcome == "STALE") {
      const bool from_redis = reply.fields.find("detail=l2") != std::string::npos;
      (from_redis ? progress.from_redis : progress.already).fetch_add(1);
    } else if ((outcome == "MISS" || outcome == "REVALIDATED") && reply.status < 500) {
      progress.from_origin.fetch_add(1);
    } else if (outcome == "BYPASS" && reply.status < 500) {
      progress.skipped.fetch_add(1);
    } else {
      progress.failed.fetch_add(1);
    }
  }
  if (--run->workers_left == 0) run->all_done->cancel();
}

// Starts the workers and logs progress every few seconds until they are done.
asio::awaitable<void> Gateway::Impl::run_rewarm(std::shared_ptr<Impl> self, std::shared_ptr<RewarmRun> run) {
  const auto strand = co_await asio::this_coro::executor;
  run->began = std::chrono::steady_clock::now();
  run->all_done = std::make_unique<asio::steady_timer>(strand);
  run->workers_left = run->workers;
  for (std::size_t w = 0; w < run->workers; ++w) asio::co_spawn(strand, rewarm_worker(self, run), asio::detached);
  while (run->workers_left > 0) {
    run->all_done->expires_after(std::chrono::seconds(5));
    (void)co_await run->all_done->async_wait(kAwait);
    if (run->workers_left == 0) break;
    const auto& progress = self->rewarm_;
    const auto done = progress.from_redis + progress.from_origin + progress.already + progress.skipped + progress.failed;
    spdlog::info("strata serve: re-warming: {}/{} done", done, run->targets.size());
  }
}

void Gateway::Impl::remember_hot(const Runtime& runtime, const Request& request, const EntryPlan& plan) {
  HeaderValues headers;
  auto keep = [&](const std::string& name) {
    if (names_a_credential(runtime, name)) return;
    const auto found = request.find(name);
    if (found != request.end()) headers.emplace_back(name, std::string(found->value()));
  };
  for (const auto& name : plan.keyed_headers) keep(name);
  if (plan.variant_of) {
    for (const auto& name : plan.variant_of->headers) keep(name);
  }
  // The coding the cache asks the origin for: gzip when the client takes it (see upstream_request).
  const auto accepted = request[http::field::accept_encoding];
  if (accepted.find("gzip") != std::string_view::npos) headers.emplace_back("accept-encoding", "gzip");
  hot_set_.record(plan.upstream_target, std::move(headers));
}

asio::awaitable<bool> Gateway::Impl::save_hot_set() {
  const auto& warming = startup_.warming;
  if (hot_set_.capacity() == 0 || (warming.hot_set_file.empty() && !cache_->redis_enabled())) co_return false;
  const auto hottest = hot_set_.hottest();
  if (hottest.empty()) co_return true;  // nothing seen yet: the saved one stays
  const std::string text = hot_set_json(hottest, unix_ms_now());
  std::string error;
  bool saved = false;
  if (!warming.hot_set_file.empty()) {
    saved = write_atomically(warming.hot_set_file, text, &error);
  } else {
    EntryOptions options;
    options.ttl = std::chrono::hours(24 * 7);
    options.use_l1 = false;
    const Outcome outcome = co_await cache_->set(kHotSetKey, text, options);
    saved = outcome.ok();
    if (!saved) error = outcome.message;
  }
  if (saved) {
    hot_set_saves_.fetch_add(1, std::memory_order_relaxed);
    spdlog::debug("strata serve: hot set written ({} targets)", hottest.size());
  } else {
    hot_set_save_failures_.fetch_add(1, std::memory_order_relaxed);
    spdlog::warn("strata serve: the hot set was not written: {}", error);
  }
  co_return saved;
}

asio::awaitable<std::optional<std::vector<HotTarget>>> Gateway::Impl::load_hot_set() {
  const auto& warming = startup_.warming;
  std::string text;
  std::string source;
  if (!warming.hot_set_file.empty()) {
    std::ifstream in(warming.hot_set_file, std::ios::binary);
    if (!in) co_return std::nullopt;  // never written yet
    std::ostringstream read;
    read << in.rdbuf();
    text = read.str();
    source = warming.hot_set_file;
  } else if (cache_->redis_enabled()) {
    EntryOptions options;
    options.use_l1 = false;
    auto stored = co_await cache_->get<std::string>(kHotSetKey, options);
    if (!stored) co_return std::nullopt;
    text = std::move(*stored);
    source = "Redis";
  } else {
    co_return std::nullopt;
  }
  std::string error;
  auto parsed = parse_hot_set(text, &error);
  if (!parsed) {
    spdlog::warn("strata serve: the hot set in {} is not usable ({}); starting without re-warming", source, error);
    co_return std::nullopt;
  }
  if (parsed->size() > hot_set_.capacity()) parsed->resize(hot_set_.capacity());
  co_return parsed;
}

asio::awaitable<RewarmReport> Gateway::Impl::rewarm() {
  RewarmReport report;
  const auto& warming = startup_.warming;
  report.source = !warming.hot_set_file.empty() ? "file " + warming.hot_set_file
                  : cache_->redis_enabled()     ? std::string("Redis")
                                                : std::string();
  if (report.source.empty()) {
    report.source = "nowhere: set warming.hot_set_file or configure Redis";
    co_return report;
  }
  auto loaded = co_await load_hot_set();
  if (!loaded || loaded->empty()) {
    report.source += " (no hot set saved yet)";
    co_return report;
  }
  rewarm_.total = loaded->size();
  rewarm_.running = true;
  spdlog::info("strata serve: re-warming {} targets from {} at up to {}/s", loaded->size(), report.source,
               warming.rewarm_rate);

  auto run = std::make_shared<RewarmRun>();
  run->targets = std::move(*loaded);
  run->spacing = std::chrono::duration<double>(1.0 / warming.rewarm_rate);
  run->workers = std::min(warming.rewarm_concurrency, run->targets.size());
  // The run and its workers on one strand: their bookkeeping and the timer need no lock.
  const auto strand = asio::make_strand(co_await asio::this_coro::executor);
  co_await asio::co_spawn(strand, run_rewarm(shared_from_this(), run), asio::use_awaitable);
  rewarm_.running = false;
  report.total = rewarm_.total;
  report.from_redis = rewarm_.from_redis;
  report.from_origin = rewarm_.from_origin;
  report.already = rewarm_.already;
  report.skipped = rewarm_.skipped;
  report.failed = rewarm_.failed;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run->began).count();
  spdlog::info("strata serve: re-warmed {} targets in {:.1f} s: {} from Redis, {} from the origin, {} already "
               "cached, {} not cacheable now, {} failed",
               report.total, report.seconds, report.from_redis, report.from_origin, report.already, report.skipped,
               report.failed);
  co_return report;
}

asio::awaitable<bool> Gateway::save_hot_set() { co_return co_await impl_->save_hot_set(); }
asio::awaitable<RewarmReport> Gateway::rewarm() { co_return co_await impl_->rewarm(); }

}  // namespace strata::gateway
