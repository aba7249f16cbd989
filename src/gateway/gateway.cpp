#include "gateway/gateway_impl.hpp"

#include "core/decimal.hpp"
#include "gateway/compression.hpp"
#include "gateway/content_coding.hpp"
#include "gateway/freshness.hpp"
#include "gateway/ranges.hpp"
#include "gateway/revalidation.hpp"
#include "gateway/storage_policy.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>

namespace strata::gateway {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

namespace {

constexpr auto kAwait = asio::as_tuple(asio::use_awaitable);
// How long an entry whose response could not be stored sends its requests straight to the
// origin (Varnish's built-in policy uses 120 s; shorter here, so that an origin that starts
// sending cacheable answers is cached again soon).
constexpr auto kUncacheableFor = std::chrono::seconds(30);

// The origin answered with a server error: the cache may serve a stale copy instead
// (stale-if-error); otherwise the error goes to the client as the origin sent it.
class OriginFailed : public std::runtime_error {
public:
  explicit OriginFailed(std::shared_ptr<const StoredResponse> answered)
      : std::runtime_error("the origin answered " + std::to_string(answered->status)), response(std::move(answered)) {}
  std::shared_ptr<const StoredResponse> response;
};

// Why no response came from the origin, and what the client is told: 502, 504, or 503 with
// Retry-After when the gateway did not even ask (upstream.max_in_flight).
enum class OriginFault { unreachable, timed_out, overloaded };

OriginFault fault_of(const OriginReply& reply) {
  if (reply.overloaded) return OriginFault::overloaded;
  return reply.timed_out ? OriginFault::timed_out : OriginFault::unreachable;
}

Reply origin_fault_reply(OriginFault fault, const std::string& error) {
  switch (fault) {
    case OriginFault::timed_out: return json_error(504, "origin_timeout", error);
    case OriginFault::overloaded: {
      Reply busy = json_error(503, "origin_overloaded", error);
      busy.add("Retry-After", "1");
      return busy;
    }
    case OriginFault::unreachable: break;
  }
  return json_error(502, "origin_unavailable", error);
}

// The origin could not be reached, did not answer in time, or was not asked.
class OriginUnavailable : public std::runtime_error {
public:
  OriginUnavailable(const std::string& what, OriginFault why) : std::runtime_error(what), fault(why) {}
  OriginFault fault;
};

// Headers for the cache's use only, or set by the gateway itself.
bool gateway_owned(std::string_view name, std::string_view invalidation_header) {
  return name == "surrogate-control" || name == "surrogate-key" || name == "age" || name == "x-cache" ||
         name == "cache-status" || name == invalidation_header;
}

// The response as the requesting client gets it (Set-Cookie included).
std::shared_ptr<StoredResponse> relay_copy(const StoredResponse& response, std::string_view invalidation_header) {
  auto copy = std::make_shared<StoredResponse>();
  copy->status = response.status;
  copy->body = response.body;
  // Fields named in Connection are hop-by-hop as well (RFC 9110 7.6.1).
  const std::string connection = response.joined("connection");
  std::vector<std::string> listed;
  for (auto name : split_list(connection)) listed.push_back(ascii_lower(name));
  for (const auto& header : response.headers) {
    if (is_hop_by_hop(header.first) || gateway_owned(header.first, invalidation_header)) continue;
    if (std::find(listed.begin(), listed.end(), header.first) != listed.end()) continue;
    copy->headers.push_back(header);
  }
  copy->render_headers();
  return copy;
}

// The response as it may be replayed to anyone: without Set-Cookie.
std::shared_ptr<StoredResponse> storable_copy(const StoredResponse& response, std::string_view invalidation_header) {
  auto copy = relay_copy(response, invalidation_header);
  std::erase_if(copy->headers, [](const Header& header) { return header.first == "set-cookie"; });
  copy->render_headers();
  return copy;
}

// A representation the gateway changed is no longer byte-identical to the origin's: its ETag
// becomes weak (as nginx's gzip filter does), so If-None-Match still matches it.
void weaken_etag(StoredResponse& response) {
  for (auto& [name, value] : response.headers) {
    if (name == "etag" && value.rfind("W/", 0) != 0) value = "W/" + value;
  }
}

// Vary: Accept-Encoding, added once, on every response whose coding the gateway negotiates.
void vary_on_accept_encoding(StoredResponse& response) {
  const std::string vary = response.joined("vary");
  for (auto name : split_list(vary)) {
    if (ascii_lower(name) == "accept-encoding" || name == "*") return;
  }
  response.headers.emplace_back("vary", "Accept-Encoding");
}

// One stored representation per entry: a compressible identity response is gzipped once, here,
// so that a hit for a gzip client costs no compression, and every coded entry varies on
// Accept-Encoding downstream.
void prepare_representation(StoredResponse& response, const CompressionConfig& config) {
  const auto coding = coding_named(response.joined("content-encoding"));
  bool coded = coding != Coding::identity;
  if (!coded && config.enabled && response.body.size() >= config.min_bytes &&
      compressible_type(response.joined("content-type"), config.types) &&
      !parse_cache_control(response.joined("cache-control")).no_transform) {
    auto compressed = encode(Coding::gzip, response.body, config.gzip_level);
    if (compressed && compressed->size() < response.body.size()) {
      response.body = std::move(*compressed);
      std::erase_if(response.headers, [](const Header& field) { return field.first == "content-encoding"; });
      response.headers.emplace_back("content-encoding", "gzip");
      weaken_etag(response);
      response.gateway_encoded = true;
      coded = true;
    }
  }
  if (coded) vary_on_accept_encoding(response);
  response.render_headers();
}

// `stored` in the coding `to`; null when its body does not decode (or inflates past `max_bytes`).
std::shared_ptr<const StoredResponse> transcoded(const StoredResponse& stored, Coding from, Coding to,
                                                 std::size_t max_bytes, int gzip_level) {
  auto plain = decode(from, stored.body, max_bytes);
  if (!plain) return nullptr;
  auto copy = std::make_shared<StoredResponse>();
  copy->status = stored.status;
  copy->initial_age = stored.initial_age;
  copy->shared_with_credentials = stored.shared_with_credentials;
  copy->headers = stored.headers;
  std::erase_if(copy->headers, [](const Header& field) { return field.first == "content-encoding"; });
  if (to == Coding::identity) {
    copy->body = std::move(*plain);
  } else {
    auto encoded = encode(to, *plain, to == Coding::gzip ? gzip_level : to == Coding::br ? 4 : 3);
    if (!encoded) return nullptr;
    copy->body = std::move(*encoded);
    copy->headers.emplace_back("content-encoding", std::string(coding_name(to)));
  }
  weaken_etag(*copy);
  vary_on_accept_encoding(*copy);
  copy->render_headers();
  return copy;
}

// The gateway's own answer when the origin cannot be reached or is too slow.
// The gateway's own answer (status, fields, body) as a response a load can hand back.
std::shared_ptr<StoredResponse> unavailable_response(const std::string& error, OriginFault fault) {
  const Reply reply = origin_fault_reply(fault, error);
  auto response = std::make_shared<StoredResponse>();
  response->status = reply.status;
  std::string_view fields = reply.fields;  // "Name: value\r\n" lines
  while (!fields.empty()) {
    const auto line = fields.substr(0, fields.find("\r\n"));
    fields.remove_prefix(std::min(fields.size(), line.size() + 2));
    const auto colon = line.find(": ");
    response->headers.emplace_back(ascii_lower(line.substr(0, colon)), std::string(line.substr(colon + 2)));
  }
  response->body = reply.owned_body;
  response->render_headers();
  return response;
}

StorageDecision refused_storage(std::string reason) {
  StorageDecision decision;
  decision.reason = std::move(reason);
  return decision;
}

// One line per second at most, however hard the origin fails, and never the query string (it may
// carry tokens): the path names the resource well enough.
void log_origin_failure(std::string_view method, std::string_view target, std::string_view error) {
  static std::atomic<std::int64_t> last_second{0};
  static std::atomic<std::uint64_t> suppressed{0};
  const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                       std::chrono::steady_clock::now().time_since_epoch()).count();
  auto previous = last_second.load(std::memory_order_relaxed);
  if (previous == now || !last_second.compare_exchange_strong(previous, now)) {
    suppressed.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const auto path = target.substr(0, target.find('?'));
  const auto skipped = suppressed.exchange(0);
  spdlog::warn("strata serve: origin failed for {} {}: {}{}", method, path, error,
               skipped == 0 ? std::string() : fmt::format(" ({} more failures in the last second)", skipped));
}

}  // namespace


Reply json_error(unsigned status, std::string_view code, std::string_view detail) {
  Reply reply;
  reply.status = status;
  reply.add("Content-Type", "application/json");
  reply.add("Cache-Control", "no-store");
  boost::json::object body;
  body["error"] = code;
  body["detail"] = detail;
  reply.owned_body = detail::json_serialize(body);
  return reply;
}

Reply reply_from(const StoredResponse& response, std::shared_ptr<const StoredResponse> shared) {
  Reply reply;
  reply.status = response.status;
  reply.stored = std::move(shared);
  return reply;
}

Reply&& LoadInputs::finished(Reply&& reply, std::string_view not_stored) const {
  if (!not_stored.empty()) reply.reason = not_stored;
  const auto waited = upstream_us.load(std::memory_order_relaxed);
  if (ran && waited >= 0) reply.upstream_time = std::chrono::microseconds(waited);
  return std::move(reply);
}

void set_cache_headers(Reply& reply, std::string_view x_cache, std::string_view cache_status, std::int64_t age_seconds) {
  reply.cache_outcome = x_cache;
  reply.add("X-Cache", x_cache);
  reply.add("Cache-Status", cache_status);
  reply.add("Age", std::to_string(std::max<std::int64_t>(0, age_seconds)));
}

Gateway::Impl::Impl(asio::any_io_executor executor, GatewayConfig config, std::shared_ptr<const Clock> clock)
    : executor_(std::move(executor)),
      startup_(config),
      hot_set_(config.warming.hot_set_size, config.warming.hot_set_sample),
      audit_gate_(config.audit.rate, config.audit.concurrency),
      hot_set_saved_second_(std::chrono::duration_cast<std::chrono::seconds>(
                                std::chrono::steady_clock::now().time_since_epoch()).count()) {
  runtime_ = std::make_shared<const Runtime>(config, rule_stats_);
  CacheOptions options;
  options.prefix = config.cache.prefix;
  options.redis_url = config.cache.redis_url;
  options.l1.capacity_bytes = config.cache.l1_capacity_mib * 1024 * 1024;
  options.integrity_secret = config.cache.integrity_secret;
  options.defaults.use_l1 = config.cache.l1;
  options.redis_deadline = config.cache.redis_deadline;
  clock_ = clock != nullptr ? clock : steady_clock();
  forms_ = std::make_unique<Representations>(config.compression.forms_cache_mib * 1024 * 1024);
  options.clock = std::move(clock);
  const auto load_budget = config.upstream.connect_timeout * (config.upstream.retries + 1) +
                           config.upstream.response_timeout + 1000ms;
  options.max_fill_duration = std::max(options.max_fill_duration, std::chrono::duration_cast<Millis>(load_budget) + 1000ms);
  options.defaults.hard_timeout = std::chrono::duration_cast<Millis>(load_budget);
  try {
    cache_ = std::make_unique<Cache>(executor_, std::move(options));
  } catch (const std::invalid_argument& error) {
    throw ConfigError(config.source + ": cache: " + error.what());
  }
  try {
    origin_ = std::make_shared<OriginPool>(executor_, config.origin, config.upstream);
  } catch (const std::invalid_argument& error) {
    throw ConfigError(config.source + ": " + error.what());
  }
}

std::shared_ptr<const Runtime> Gateway::Impl::runtime() const {
  std::shared_lock lock(runtime_mutex_);
  return runtime_;
}

std::shared_ptr<LoadInputs> Gateway::Impl::variant_inputs(const LoadInputs& inputs,
                                                          std::shared_ptr<const VariantIndex> index) const {
  auto variant = std::make_shared<LoadInputs>();
  variant->runtime = inputs.runtime;
  variant->request = inputs.request;
  variant->context = inputs.context;
  variant->plan = plan_variant(inputs.plan, inputs.request, std::move(index));
  return variant;
}

asio::awaitable<Reply> Gateway::Impl::handle(Request request, RequestContext context) {
  const auto began = std::chrono::steady_clock::now();
  const bool warming = context.warming;
  if (!warming) {
    traffic_.maybe_sample(counters_, began);
    maybe_save_hot_set(began);
  }
  RuleCounters* counted = nullptr;
  Reply reply = co_await route(std::move(request), std::move(context), &counted);
  if (counted != nullptr && !warming) {
    const std::uint64_t body_bytes = reply.head ? 0 : reply.body().size();
    counted->record(reply.cache_outcome, reply.reason, std::chrono::steady_clock::now() - began, body_bytes);
  }
  co_return reply;
}

namespace {

// Owns the gateway while it runs (a coroutine with its arguments by value, not a lambda's
// captures, for GCC 12).
asio::awaitable<void> save_in_background(std::shared_ptr<Gateway::Impl> self) { (void)co_await self->save_hot_set(); }

}  // namespace

void Gateway::Impl::maybe_save_hot_set(std::chrono::steady_clock::time_point now) {
  const auto second = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count();
  auto last = hot_set_saved_second_.load(std::memory_order_relaxed);
  const auto interval = std::chrono::duration_cast<std::chrono::seconds>(startup_.warming.hot_set_interval).count();
  if (second - last < interval) return;
  if (!hot_set_saved_second_.compare_exchange_strong(last, second, std::memory_order_relaxed)) return;
  asio::co_spawn(executor_, save_in_background(shared_from_this()), asio::detached);
}

asio::awaitable<Reply> Gateway::Impl::route(Request request, RequestContext context, RuleCounters** counted) {
  auto runtime = this->runtime();
  std::string problem;
  auto target = normalize_target(request.target(), &problem);
  if (!target) {
    counters_.requests.fetch_add(1, std::memory_order_relaxed);
    counters_.rejected.fetch_add(1, std::memory_order_relaxed);
    co_return json_error(400, "bad_request", "request target: " + problem);
  }
  const auto identity = runtime->identify(request, context);
  const bool admin_path = is_admin_path(target->path, *runtime);
  // The admin API's own calls (a dashboard polling, a scraper) are not the traffic it reports.
  (admin_path ? counters_.admin_requests : counters_for(context).requests).fetch_add(1, std::memory_order_relaxed);
  if (admin_path) {
    if (!context.admin_listener && !runtime->config.admin.expose_on_main_listener) {
      co_return json_error(404, "not_found", "the admin API is served on admin.listen only");
    }
    co_return co_await handle_admin(request, *target, identity, runtime);
  }

  if (request.method() == http::verb::trace || request.method() == http::verb::connect) {
    // TRACE would echo credentials back; CONNECT opens tunnels: neither belongs in front of an API.
    counters_.rejected.fetch_add(1, std::memory_order_relaxed);
    Reply refused = json_error(501, "not_implemented", fmt::format("the gateway does not forward {}", request.method_string()));
    refused.add("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    co_return refused;
  }
  const bool readable = request.method() == http::verb::get || request.method() == http::verb::head;
  const std::string method(request.method_string());
  auto [rule, variables] = runtime->match(method, target->path);
  *counted = rule != nullptr ? rule->counters : runtime->unmatched_counters;
  std::string full_target = target->path;
  if (!target->query.empty()) full_target += "?" + target->query;

  if (!readable) {
    if (identity.user) variables["user"] = *identity.user;
    co_return co_await pass_through(runtime, request, context, std::move(full_target), "method", rule,
                                    std::move(variables));
  }
  if (rule != nullptr && !rule->rule.cache) {
    co_return co_await pass_through(runtime, request, context, std::move(full_target), "rule", nullptr, {});
  }
  if (rule != nullptr && rule->rule.per_user && !identity.user) {
    // No verified identity: never served a per-user entry, never stores one.
    co_return co_await pass_through(runtime, request, context, std::move(full_target), "no-identity", nullptr, {});
  }
  if (!request.body().empty()) {
    co_return co_await pass_through(runtime, request, context, std::move(full_target), "request-body", nullptr, {});
  }
  auto plan = plan_entry(*runtime, rule, std::move(variables), *target, request, identity.user);
  plan.credentialed = !plan.user && (rule == nullptr || rule->rule.credentials == CredentialPolicy::bypass) &&
                      runtime->carries_credentials(request, context);
  const bool admin = runtime->is_admin(request, identity);
  co_return co_await serve_cached(runtime, request, context, std::move(plan), admin);
}

asio::awaitable<Reply> Gateway::Impl::serve_cached(std::shared_ptr<const Runtime> runtime, Request& client_request,
                                                   const RequestContext& context, EntryPlan plan, bool admin) {
  GatewayCounters& tally = counters_for(context);
  // Everything a load needs, in one allocation; the upstream request is built only on a miss.
  auto inputs = std::make_shared<LoadInputs>();
  inputs->runtime = runtime;
  inputs->request = std::move(client_request);
  inputs->context = context;
  inputs->plan = std::move(plan);
  const Request& request = inputs->request;
  const EntryPlan& planned = inputs->plan;
  const bool head = request.method() == http::verb::head;
  EntryOptions options;
  const Rule* rule = planned.rule != nullptr ? &planned.rule->rule : nullptr;
  if (rule != nullptr) {
    options.stale_ttl = std::max(rule->stale_while_revalidate, rule->stale_if_error);
    options.stale_while_revalidate = rule->stale_while_revalidate;
    // A hung origin costs a request the soft timeout, not the response timeout, when a stale
    // copy may stand in (one the origin marked must-revalidate waits for the refresh below).
    if (rule->stale_if_error.count() > 0 && rule->soft_timeout.count() > 0) {
      options.soft_timeout = std::min(rule->soft_timeout, runtime->config.upstream.response_timeout);
    }
  }
  if (planned.user) options.user = planned.user;
  const std::string key_detail = admin ? fmt::format("; key=\"{}\"", planned.key.to_string()) : std::string();
  if (uncacheable_.marked(planned.key, clock_->now())) {
    // Its last response could not be stored: no queueing behind another request's fetch.
    co_return co_await pass_through(runtime, request, context, planned.upstream_target, "uncacheable", nullptr, {},
                                    key_detail);
  }
  auto self = shared_from_this();
  // Not a coroutine lambda: it hands its copies to a member coroutine (GCC 12 and lambda frames).
  auto loader = [self, inputs](LoadContext& load) { return self->load_from_origin(inputs, load); };
  // On this connection's own thread: an L1 hit never leaves it.
  auto [failure, fetched] = co_await asio::co_spawn(
      co_await asio::this_coro::executor, cache_->fetch<HttpEntry>(planned.key, std::move(loader), options), kAwait);
  std::shared_ptr<LoadInputs> state = inputs;
  if (!failure && fetched.value.variants != nullptr) {
    // The URL's responses vary: the entry is an index to the variant this request selects.
    if (inputs->ran && inputs->own_variant) {
      fetched.value = *inputs->own_variant;
    } else {
      state = variant_inputs(*inputs, fetched.value.variants);
      if (uncacheable_.marked(state->plan.key, clock_->now())) {
        co_return co_await pass_through(runtime, request, context, planned.upstream_target, "uncacheable", nullptr, {},
                                        key_detail);
      }
      auto variant_loader = [self, state](LoadContext& load) { return self->load_from_origin(state, load); };
      const Key variant_key = state->plan.key;
      auto [variant_failure, variant_fetched] = co_await asio::co_spawn(
          co_await asio::this_coro::executor, cache_->fetch<HttpEntry>(variant_key, std::move(variant_loader), options),
          kAwait);
      failure = std::move(variant_failure);
      fetched = std::move(variant_fetched);
      if (!failure && fetched.value.variants != nullptr) {
        // Only a primary key ever holds an index; a variant key holding one was not written by us.
        co_return co_await pass_through(runtime, request, context, planned.upstream_target, "vary-changed", nullptr,
                                        {}, key_detail);
      }
    }
  }

  if (failure) {
    std::shared_ptr<const StoredResponse> origin_error;
    std::string message;
    OriginFault fault = OriginFault::unreachable;
    try {
      std::rethrow_exception(failure);
    } catch (const OriginFailed& error) {
      origin_error = error.response;
    } catch (const OriginUnavailable& error) {
      message = error.what();
      fault = error.fault;
    } catch (const LoadTimeout& error) {
      message = error.what();
      fault = OriginFault::timed_out;
    } catch (const std::exception& error) {
      message = error.what();
    }
    if (origin_error && !state->ran) {
      // Another request's error page is its own (it may echo that request's cookies).
      co_return co_await pass_through(runtime, request, context, planned.upstream_target, "uncacheable", nullptr, {},
                                      key_detail);
    }
    tally.misses.fetch_add(1, std::memory_order_relaxed);
    if (origin_error) {
      Reply reply = reply_from(*origin_error, origin_error);
      reply.head = head;
      set_cache_headers(reply, "MISS", fmt::format("strata; fwd=miss; fwd-status={}{}", origin_error->status, key_detail), 0);
      co_return state->finished(std::move(reply));
    }
    tally.origin_errors.fetch_add(1, std::memory_order_relaxed);
    log_origin_failure(request.method_string(), planned.upstream_target, message);
    Reply reply = origin_fault_reply(fault, message);
    set_cache_headers(reply, "MISS", "strata; fwd=miss; detail=origin-unavailable" + key_detail, 0);
    co_return state->finished(std::move(reply), "origin-unavailable");
  }

  // A stale copy served by the cache (a soft timeout, the rule's stale-while-revalidate) that
  // the origin marked as never to be served stale.
  const auto stale_but_forbidden = [](const Fetched<HttpEntry>& found) {
    return found.source == Source::stale && found.value.response != nullptr && forbids_stale(*found.value.response);
  };
  if (!failure && state == inputs && stale_but_forbidden(fetched)) {
    // A stale copy the origin forbids serving came back while its refresh goes on (a soft
    // timeout, or the rule's stale-while-revalidate): wait for that refresh rather than ask
    // the origin a second time.
    EntryOptions waiting = options;
    waiting.soft_timeout.reset();
    waiting.stale_while_revalidate = Clock::duration::zero();
    auto refresh_loader = [self, inputs](LoadContext& load) { return self->load_from_origin(inputs, load); };
    auto [refresh_failure, refreshed] = co_await asio::co_spawn(
        co_await asio::this_coro::executor, cache_->fetch<HttpEntry>(planned.key, std::move(refresh_loader), waiting),
        kAwait);
    if (!refresh_failure && refreshed.value.variants == nullptr) {
      fetched = std::move(refreshed);
    }
  }

  const auto& entry = fetched.value;
  // Whether this request's own fetch produced the entry. A stale answer whose background
  // refresh runs this request's loader is not its own fetch.
  const bool own = fetched.source == Source::loader && state->ran;
  if (!own) {
    // What another request fetched, or the cache held, must be what this request may see:
    std::string_view refused;
    if (entry.requester_only) {
      refused = "uncacheable";  // not stored: it was only ever its requester's
    } else if (stale_but_forbidden(fetched)) {
      refused = "must-revalidate";  // served stale while revalidating by the rule: the origin forbids it
    } else if (planned.credentialed && !entry.response->shared_with_credentials) {
      refused = "credentials";  // a shared entry the origin did not open to requests with credentials
    } else if (const auto coding = entry.response->joined("content-encoding");
               !coding_named(coding) && !accepts_content_encoding(request[http::field::accept_encoding], coding)) {
      refused = "content-encoding";  // stored in a coding the gateway cannot decode, which this client refuses
    }
    if (!refused.empty()) {
      co_return co_await pass_through(runtime, request, context, planned.upstream_target, refused, nullptr, {},
                                      key_detail);
    }
  }
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(fetched.age).count();
  std::string_view x_cache;
  std::string cache_status;
  switch (fetched.source) {
    case Source::l1:
    case Source::l2:
      tally.hits.fetch_add(1, std::memory_order_relaxed);
      x_cache = "HIT";
      cache_status = fetched.source == Source::l1 ? "strata; hit; detail=l1" : "strata; hit; detail=l2";
      break;
    case Source::stale:
      tally.stale.fetch_add(1, std::memory_order_relaxed);
      x_cache = "STALE";
      cache_status = "strata; hit; fwd=stale";
      break;
    case Source::loader:
      if (entry.revalidated) {
        tally.revalidated.fetch_add(1, std::memory_order_relaxed);
        x_cache = "REVALIDATED";
        cache_status = "strata; fwd=stale; fwd-status=304";
      } else {
        tally.misses.fetch_add(1, std::memory_order_relaxed);
        x_cache = "MISS";
        cache_status = fmt::format("strata; fwd=miss; fwd-status={}", entry.response->status);
      }
      if (!state->ran) cache_status += "; collapsed";
      if (!entry.not_stored.empty()) cache_status += "; detail=" + entry.not_stored;
      break;
  }
  cache_status += key_detail;
  if (!context.warming && !planned.user && !planned.credentialed && hot_set_.sampling()) {
    remember_hot(*runtime, request, state->plan);
  }
  if (!context.warming && (fetched.source == Source::l1 || fetched.source == Source::l2)) {
    maybe_audit(*runtime, state, entry.response, age);
  }
  const std::int64_t shown_age = current_age(entry.response->initial_age, fetched.source == Source::loader ? 0 : age);

  // Conditional requests answered from what we hold (RFC 9110 13.2.2: If-None-Match first).
  if (!entry.body_stream && entry.response->status == 200) {
    const auto if_none_match = request[http::field::if_none_match];
    const auto etag = entry.response->header("etag");
    bool not_modified = false;
    if (!if_none_match.empty()) {
      not_modified = etag && none_match_satisfied(if_none_match, *etag);
    } else if (const auto since = request[http::field::if_modified_since]; !since.empty()) {
      const auto modified = entry.response->header("last-modified");
      const auto since_time = parse_http_date(since);
      const auto modified_time = modified ? parse_http_date(*modified) : std::nullopt;
      not_modified = since_time && modified_time && *modified_time <= *since_time;
    }
    if (not_modified) {
      tally.not_modified.fetch_add(1, std::memory_order_relaxed);
      Reply unchanged;
      unchanged.status = 304;
      for (const char* name : {"etag", "last-modified", "cache-control", "expires", "vary", "content-location", "date"}) {
        if (auto value = entry.response->header(name)) unchanged.add(name, *value);
      }
      set_cache_headers(unchanged, x_cache, cache_status, shown_age);
      unchanged.head = true;
      co_return state->finished(std::move(unchanged), entry.not_stored);
    }
  }
  // Every client gets a coding it accepts: the stored one when it can, else decoded or re-encoded.
  std::shared_ptr<const StoredResponse> served = entry.response;
  if (!entry.body_stream) {
    if (const auto stored = coding_named(entry.response->joined("content-encoding"))) {
      const auto choice = choose_coding(request[http::field::accept_encoding], *stored);
      if (choice.action == CodingChoice::Action::refuse) {
        Reply refused = json_error(406, "not_acceptable",
                                   "Accept-Encoding refuses identity and every coding the gateway can produce "
                                   "(gzip, br, zstd)");
        refused.add("Vary", "Accept-Encoding");
        co_return refused;
      }
      if (choice.action != CodingChoice::Action::as_stored) {
        const auto& config = runtime->config;
        served = forms_->find(entry.response, choice.coding);
        if (!served) {
          served = transcoded(*entry.response, *stored, choice.coding, config.limits.max_cacheable_bytes * 16,
                              config.compression.gzip_level);
          // Not for a response only this request may see: nobody would find it again.
          if (served && !entry.requester_only) forms_->keep(entry.response, choice.coding, served);
        }
        if (!served) {
          // The origin's body does not decode as it claims: its own answer to this client.
          co_return co_await pass_through(runtime, request, context, planned.upstream_target, "content-encoding",
                                          nullptr, {}, key_detail);
        }
      }
    }
  }
  // Byte ranges of a stored full response (RFC 9110 14: GET only), of the coding served.
  if (!entry.body_stream && served->status == 200 && request.method() == http::verb::get) {
    if (const auto range = request[http::field::range];
        !range.empty() && if_range_allows(request[http::field::if_range], *served)) {
      const auto asked = evaluate_range(range, served->body.size());
      if (asked.outcome != RangeRequest::Outcome::full) {
        tally.ranges.fetch_add(1, std::memory_order_relaxed);
        const auto answer = asked.outcome == RangeRequest::Outcome::partial
                                ? partial_response(*served, asked.ranges, random_hex(12))
                                : unsatisfiable_response(served->body.size());
        Reply partial = reply_from(*answer, answer);
        set_cache_headers(partial, x_cache, cache_status, shown_age);
        co_return state->finished(std::move(partial), entry.not_stored);
      }
    }
  }
  Reply reply = reply_from(*served, served);
  reply.head = head;
  if (entry.body_stream) {
    tally.streamed.fetch_add(1, std::memory_order_relaxed);
    reply.stream = std::static_pointer_cast<BodyStream>(entry.body_stream);
    reply.stream_prefix = entry.response->body;
    reply.content_length = reply.stream->content_length();
  }
  set_cache_headers(reply, x_cache, cache_status, shown_age);
  co_return state->finished(std::move(reply), entry.not_stored);
}

asio::awaitable<HttpEntry> Gateway::Impl::load_from_origin(std::shared_ptr<LoadInputs> inputs, LoadContext& load) {
  inputs->ran = true;
  const auto& runtime = inputs->runtime;
  const auto max_body = runtime->config.limits.max_cacheable_bytes;
  const auto& invalidation_header = runtime->config.invalidation_header;
  const auto plan = &inputs->plan;
  const Rule* rule = plan->rule != nullptr ? &plan->rule->rule : nullptr;
  StorageContext storage;
  storage.rule = rule;
  storage.unmatched = plan->unmatched_policy;
  storage.keyed_by_user = plan->user.has_value();
  storage.credentialed = plan->credentialed;
  storage.negotiates_codings = true;
  storage.variables = &plan->variables;
  storage.invalidation_header = invalidation_header;
  HttpEntry entry;

  auto upstream = upstream_request(*runtime, inputs->request, plan->upstream_target, inputs->context, true,
                                   plan->keyed_headers);
  // A stale entry with a validator is revalidated: a 304 refreshes it without sending its body.
  const auto previous = load.previous_as<HttpEntry>();
  const StoredResponse* stale = previous != nullptr ? previous->response.get() : nullptr;
  if (stale != nullptr) {
    for (const auto& [name, value] : validators_for(*stale)) upstream.set(name, value);
  }
  const auto asked = std::chrono::steady_clock::now();
  auto reply = co_await origin_->send(std::move(upstream), max_body);
  storage.response_delay = std::chrono::steady_clock::now() - asked;
  inputs->upstream_us = std::chrono::duration_cast<std::chrono::microseconds>(storage.response_delay).count();
  if (!reply.ok) {
    // The cache serves the stale copy instead, unless the origin forbade that.
    if (stale == nullptr || stale_may_stand_in(*stale, rule, true)) throw OriginUnavailable(reply.error, fault_of(reply));
    load.cacheable = false;
    entry.requester_only = true;
    entry.not_stored = "origin-unavailable";
    counters_.not_stored.add(entry.not_stored);
    entry.response = unavailable_response(reply.error, fault_of(reply));
    co_return entry;
  }

  std::shared_ptr<StoredResponse> refreshed;
  if (stale != nullptr && reply.response.status == 304) {
    refreshed = refreshed_by(*stale, *storable_copy(reply.response, invalidation_header));
    entry.revalidated = true;
  }
  const StoredResponse& answer = refreshed != nullptr ? *refreshed : reply.response;
  if (answer.status >= 500 && stale != nullptr && stale_may_stand_in(*stale, rule, false)) {
    throw OriginFailed(relay_copy(answer, invalidation_header));  // the cache serves the stale copy
  }
  // Vary on headers outside the key makes them part of a variant key (RFC 9111 4.1).
  const auto varied = varied_headers(answer, plan->keyed_headers);
  std::vector<std::string> keyed = plan->keyed_headers;
  if (varied) keyed.insert(keyed.end(), varied->begin(), varied->end());
  storage.keyed_headers = &keyed;
  auto decision = decide_storage(answer, storage);
  if (plan->variant_of != nullptr) {
    if (!varied || *varied != plan->variant_of->headers) {
      // The origin varies differently now: the index goes, and the next request writes a new one.
      const Key url_key = *plan->url_key;
      (void)co_await cache_->remove(url_key);
      if (decision.store) decision = refused_storage("vary-changed");
    } else if (decision.store && !variant_counts_.admit(plan->variant_of->generation, plan->variant_id,
                                                        runtime->config.limits.max_variants)) {
      decision = refused_storage("vary-limit");
    }
  }
  const bool too_large = reply.rest != nullptr || answer.body.size() > max_body;
  if (too_large || decision.uncacheable_for_now) {
    const auto now = clock_->now();
    uncacheable_.mark(plan->key, now, now + kUncacheableFor);
  }
  if (decision.store && !too_large) {
    auto stored = refreshed != nullptr ? std::move(refreshed) : storable_copy(answer, invalidation_header);
    stored->initial_age = static_cast<std::uint32_t>(std::min<std::int64_t>(decision.initial_age, UINT32_MAX));
    stored->shared_with_credentials = decision.shared_with_credentials;
    prepare_representation(*stored, runtime->config.compression);
    // Kept past its freshness for as long again (a minute to a day): to be revalidated (a 304
    // spares sending the body) or to stand in for an origin that cannot be reached. Served
    // stale only as stale_may_stand_in allows.
    const auto kept = std::max(decision.stale, std::clamp<std::chrono::seconds>(decision.ttl, std::chrono::seconds(60),
                                                                                 std::chrono::hours(24)));
    load.ttl = decision.ttl;
    load.stale_ttl = kept;
    load.tags = std::move(decision.tags);
    entry.response = std::move(stored);
    if (plan->variant_of == nullptr && varied && !varied->empty()) {
      // The first variant of a URL whose responses vary: it goes under its variant key, and the
      // URL's entry becomes the index, with a lifetime that outlasts its variants'.
      auto index = std::make_shared<VariantIndex>();
      index->headers = *varied;
      index->generation = new_variant_generation();
      auto variant = variant_inputs(*inputs, index);
      variant_counts_.admit(index->generation, variant->plan.variant_id, runtime->config.limits.max_variants);
      EntryOptions variant_options;
      variant_options.ttl = decision.ttl;
      variant_options.stale_ttl = kept;
      variant_options.tags = load.tags;
      variant_options.user = plan->user;
      const Key variant_key = variant->plan.key;
      auto writing = cache_->set(variant_key, entry, std::move(variant_options));
      (void)co_await std::move(writing);
      inputs->own_variant = entry;
      HttpEntry indexed;
      indexed.variants = std::move(index);
      load.ttl = std::max<Clock::duration>(std::chrono::hours(1), decision.ttl + kept);
      load.stale_ttl = std::chrono::seconds(0);
      co_return indexed;
    }
    co_return entry;
  }
  load.cacheable = false;
  entry.requester_only = true;
  entry.not_stored = too_large ? "too-large" : decision.reason;
  counters_.not_stored.add(entry.not_stored);
  auto relayed = refreshed != nullptr ? std::move(refreshed) : relay_copy(answer, invalidation_header);
  relayed->initial_age = static_cast<std::uint32_t>(std::min<std::int64_t>(decision.initial_age, UINT32_MAX));
  entry.response = std::move(relayed);
  entry.body_stream = std::move(reply.rest);
  co_return entry;
}

asio::awaitable<Reply> Gateway::Impl::pass_through(std::shared_ptr<const Runtime> runtime, const Request& request,
                                                   const RequestContext& context, std::string target,
                                                   std::string_view reason, const CompiledRule* mutation_rule,
                                                   Variables variables, std::string detail) {
  GatewayCounters& tally = counters_for(context);
  tally.bypass.fetch_add(1, std::memory_order_relaxed);
  tally.bypassed.add(reason);
  const bool head = request.method() == http::verb::head;
  auto upstream = upstream_request(*runtime, request, std::move(target), context, false, {});
  const auto asked = std::chrono::steady_clock::now();
  auto reply = co_await origin_->send(std::move(upstream), runtime->config.limits.max_cacheable_bytes);
  const auto waited = std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - asked);
  const std::string cache_status =
      fmt::format("strata; fwd={}; detail={}{}", reason == "method" ? "method" : "bypass", reason, detail);
  if (!reply.ok) {
    tally.origin_errors.fetch_add(1, std::memory_order_relaxed);
    log_origin_failure(request.method_string(), request.target(), reply.error);
    Reply failed = origin_fault_reply(fault_of(reply), reply.error);
    set_cache_headers(failed, "BYPASS", cache_status, 0);
    failed.reason = reason;
    failed.upstream_time = waited;
    co_return failed;
  }
  const bool mutation = request.method() != http::verb::get && request.method() != http::verb::head &&
                        request.method() != http::verb::options;
  if (mutation && reply.response.status >= 200 && reply.response.status < 400) {
    // Before the client hears of the write, so that its next read cannot see the old value.
    co_await invalidate_written_uris(runtime, request, context, reply.response);
  }
  if (mutation && reply.response.status >= 200 && reply.response.status < 300) {
    std::string named;
    for (const auto& [name, value] : reply.response.headers) {
      if (name == runtime->config.invalidation_header) named += (named.empty() ? "" : ", ") + value;
    }
    if (mutation_rule != nullptr || !named.empty()) {
      co_await invalidate_after_mutation(runtime, mutation_rule, std::move(variables), std::move(named));
    }
  }
  auto response = relay_copy(reply.response, runtime->config.invalidation_header);
  Reply out = reply_from(*response, response);
  out.head = head;
  std::optional<std::uint64_t> declared;
  if (auto length = reply.response.header("content-length")) declared = core::parse_decimal(*length);
  if (head) out.content_length = declared;
  if (reply.rest) {
    tally.streamed.fetch_add(1, std::memory_order_relaxed);
    out.stream = std::move(reply.rest);
    out.stream_prefix = response->body;
    out.content_length = declared;
  }
  set_cache_headers(out, "BYPASS", cache_status, 0);
  out.reason = reason;
  out.upstream_time = waited;
  co_return out;
}

asio::awaitable<void> Gateway::Impl::invalidate_written_uris(std::shared_ptr<const Runtime> runtime,
                                                             const Request& request, const RequestContext& context,
                                                             const StoredResponse& response) {
  // RFC 9111 4.4: a successful unsafe request invalidates its target URI, and the URIs in
  // Location and Content-Location when they are on the same host.
  std::vector<std::string> targets{std::string(request.target())};
  const std::string host(request[http::field::host]);
  for (const char* name : {"location", "content-location"}) {
    auto value = response.header(name);
    if (!value || value->empty()) continue;
    std::string_view uri = *value;
    for (std::string_view scheme : {"http://", "https://"}) {
      if (uri.substr(0, scheme.size()) == scheme) {
        const auto rest = uri.substr(scheme.size());
        const auto slash = rest.find('/');
        if (host.empty() || rest.substr(0, slash) != host) uri = {};
        else uri = slash == std::string_view::npos ? std::string_view("/") : rest.substr(slash);
      }
    }
    if (!uri.empty() && uri.front() == '/') targets.emplace_back(uri);
  }
  const auto identity = runtime->identify(request, context);
  for (const auto& text : targets) {
    std::string problem;
    auto target = normalize_target(text, &problem);
    if (!target) continue;
    auto [rule, variables] = runtime->match("GET", target->path);
    if (rule != nullptr && !rule->rule.cache) continue;
    auto plan = plan_entry(*runtime, rule, std::move(variables), *target, request, identity.user);
    const Outcome outcome = co_await cache_->remove(plan.key);
    invalidation_log_.add("write to the URL", "path " + target->path, outcome);
  }
}

asio::awaitable<void> Gateway::Impl::invalidate_after_mutation(std::shared_ptr<const Runtime> runtime,
                                                               const CompiledRule* rule, Variables variables,
                                                               std::string origin_header) {
  (void)runtime;
  std::vector<std::string> namespaces;
  std::vector<std::string> tags;
  std::vector<std::string> users;
  std::vector<std::string> patterns;
  if (rule != nullptr) {
    namespaces = rule->rule.invalidate_namespaces;
    for (const auto& pattern : rule->rule.invalidate_tags) {
      if (auto tag = expand(pattern, variables)) tags.push_back(std::move(*tag));
    }
  }
  for (auto item : split_list(origin_header)) {
    const auto equals = item.find('=');
    const auto kind = equals == std::string_view::npos ? std::string_view("tag") : item.substr(0, equals);
    const std::string value(equals == std::string_view::npos ? item : item.substr(equals + 1));
    if (value.empty()) continue;
    if (kind == "tag") tags.push_back(value);
    else if (kind == "namespace") namespaces.push_back(value);
    else if (kind == "user") users.push_back(value);
    else if (kind == "pattern") patterns.push_back(value);
    else spdlog::warn("strata serve: origin asked to invalidate unknown kind \"{}\" (tag, namespace, user, pattern)", kind);
  }
  const std::string source = rule == nullptr    ? std::string("origin header")
                             : origin_header.empty() ? "rule " + rule->rule.name
                                                     : "rule " + rule->rule.name + " and origin header";
  for (auto& name : namespaces) {
    counters_.invalidations.fetch_add(1, std::memory_order_relaxed);
    std::string what = "namespace " + name;
    const Outcome outcome = co_await cache_->invalidate_namespace(std::move(name));
    invalidation_log_.add(source, std::move(what), outcome);
  }
  if (!tags.empty()) {
    counters_.invalidations.fetch_add(tags.size(), std::memory_order_relaxed);
    std::string what = fmt::format("tag{} {}", tags.size() == 1 ? "" : "s", fmt::join(tags, ", "));
    const Outcome outcome = co_await cache_->invalidate_tags(std::move(tags));
    invalidation_log_.add(source, std::move(what), outcome);
  }
  for (auto& user : users) {
    counters_.invalidations.fetch_add(1, std::memory_order_relaxed);
    const Outcome outcome = co_await cache_->invalidate_user(std::move(user));
    invalidation_log_.add(source, "a user's entries", outcome);  // never the user id: it may be personal
  }
  for (auto& pattern : patterns) {
    counters_.invalidations.fetch_add(1, std::memory_order_relaxed);
    std::string what = "pattern " + pattern;
    const Outcome outcome = co_await cache_->invalidate_pattern(std::move(pattern));
    invalidation_log_.add(source, std::move(what), outcome);
  }
}

Gateway::Gateway(asio::any_io_executor executor, GatewayConfig config, std::shared_ptr<const Clock> clock)
    : impl_(std::make_shared<Impl>(std::move(executor), std::move(config), std::move(clock))) {}

Gateway::~Gateway() = default;

asio::awaitable<bool> Gateway::start() { co_return co_await impl_->cache_->start(); }

void Gateway::on_audit(std::function<void(const AuditEvent&)> observer) { impl_->audit_observer_ = std::move(observer); }

asio::awaitable<Reply> Gateway::handle(Request request, RequestContext context) {
  return impl_->handle(std::move(request), std::move(context));
}

std::string Gateway::reload(GatewayConfig config) {
  std::string not_applied;
  const auto& startup = impl_->startup_;
  if (!(config.listen == startup.listen)) not_applied += "listen; ";
  if (!(config.origin == startup.origin)) not_applied += "origin; ";
  if (config.threads != startup.threads) not_applied += "threads; ";
  if (config.cache.prefix != startup.cache.prefix || config.cache.redis_url != startup.cache.redis_url ||
      config.cache.l1_capacity_mib != startup.cache.l1_capacity_mib || config.cache.l1 != startup.cache.l1 ||
      config.cache.integrity_secret != startup.cache.integrity_secret) {
    not_applied += "cache; ";
  }
  if (config.admin.listen != startup.admin.listen) not_applied += "admin.listen; ";
  const auto& log = config.access_log;
  const auto& started_log = startup.access_log;
  if (log.enabled != started_log.enabled || log.format != started_log.format || log.path != started_log.path ||
      log.sample != started_log.sample) {
    not_applied += "access_log; ";
  }
  if (config.audit.rate != startup.audit.rate || config.audit.concurrency != startup.audit.concurrency) {
    not_applied += "audit.rate and audit.concurrency; ";
  }
  if (!(config.warming.hot_set_file == startup.warming.hot_set_file) ||
      config.warming.hot_set_size != startup.warming.hot_set_size) {
    not_applied += "warming; ";
  }
  auto runtime = std::make_shared<const Runtime>(std::move(config), impl_->rule_stats_);
  std::unique_lock lock(impl_->runtime_mutex_);
  impl_->runtime_ = std::move(runtime);
  return not_applied;
}

const GatewayConfig& Gateway::startup_config() const noexcept { return impl_->startup_; }
const GatewayCounters& Gateway::counters() const noexcept { return impl_->counters_; }
Cache& Gateway::cache() noexcept { return *impl_->cache_; }
void Gateway::close_idle_upstream() { impl_->origin_->close_idle(); }

}  // namespace strata::gateway
