// The hot set's life in the gateway: sampling shared requests into it, writing it (to a file or
// to Redis) and fetching it again after a start.

#include "gateway/gateway_impl.hpp"

#include "core/paced_jobs.hpp"

#include <boost/asio/use_awaitable.hpp>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace strata::gateway {

namespace asio = boost::asio;
namespace http = boost::beast::http;

namespace {

// Where the hot set lives in Redis: beside the entries, under the gateway's prefix.
const Key kHotSetKey{"_gateway", {"hot-set"}};

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

// Fetches one hot-set target through the gateway, as a client would (counted apart), and says
// where its entry came from.
asio::awaitable<void> Gateway::Impl::rewarm_target(const HotTarget& item) {
  Request request;
  request.method(http::verb::get);
  request.target(item.target);
  request.version(11);
  for (const auto& [name, value] : item.headers) request.set(name, value);
  RequestContext context;
  context.peer = "127.0.0.1";
  context.warming = true;
  const Reply reply = co_await handle(std::move(request), std::move(context));
  const std::string_view outcome = reply.cache_outcome;
  if (outcome == "HIT" || outcome == "STALE") {
    const bool from_redis = reply.fields.find("detail=l2") != std::string::npos;
    (from_redis ? rewarm_.from_redis : rewarm_.already).fetch_add(1);
  } else if ((outcome == "MISS" || outcome == "REVALIDATED") && reply.status < 500) {
    rewarm_.from_origin.fetch_add(1);
  } else if (outcome == "BYPASS" && reply.status < 500) {
    rewarm_.skipped.fetch_add(1);
  } else {
    rewarm_.failed.fetch_add(1);
  }
}

void Gateway::Impl::remember_hot(const Runtime& runtime, const Request& request, const EntryPlan& plan) {
  HeaderValues headers;
  auto keep = [&](const std::string& name) {
    if (runtime.is_credential_header(name)) return;
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
  if (report.source.empty()) co_return report;  // kept nowhere: nothing to say either
  auto loaded = co_await load_hot_set();
  if (!loaded || loaded->empty()) {
    report.source += " (no hot set saved yet)";
    co_return report;
  }
  rewarm_.total = loaded->size();
  rewarm_.running = true;
  spdlog::info("strata serve: re-warming {} targets from {} at up to {}/s", loaded->size(), report.source,
               warming.rewarm_rate);

  auto targets = std::make_shared<std::vector<HotTarget>>(std::move(*loaded));
  auto self = shared_from_this();
  core::PacedJobs jobs;
  jobs.count = targets->size();
  jobs.concurrency = warming.rewarm_concurrency;
  jobs.rate = warming.rewarm_rate;
  jobs.job = [self, targets](std::size_t index) { return self->rewarm_target((*targets)[index]); };
  jobs.tick = [self, targets] {
    spdlog::info("strata serve: re-warming: {}/{} done", targets->size() - self->rewarm_pending(), targets->size());
  };
  const auto began = std::chrono::steady_clock::now();
  const auto executor = co_await asio::this_coro::executor;
  co_await core::run_paced(executor, jobs);
  rewarm_.running = false;
  report.total = rewarm_.total;
  report.from_redis = rewarm_.from_redis;
  report.from_origin = rewarm_.from_origin;
  report.already = rewarm_.already;
  report.skipped = rewarm_.skipped;
  report.failed = rewarm_.failed;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - began).count();
  spdlog::info("strata serve: re-warmed {} targets in {:.1f} s: {} from Redis, {} from the origin, {} already "
               "cached, {} not cacheable now, {} failed",
               report.total, report.seconds, report.from_redis, report.from_origin, report.already, report.skipped,
               report.failed);
  co_return report;
}

asio::awaitable<bool> Gateway::save_hot_set() { co_return co_await impl_->save_hot_set(); }
asio::awaitable<RewarmReport> Gateway::rewarm() { co_return co_await impl_->rewarm(); }

}  // namespace strata::gateway
