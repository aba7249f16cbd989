#pragma once

// Gateway::Impl, shared by gateway.cpp (proxying and caching) and admin.cpp (the admin API).

#include "gateway/activity.hpp"
#include "gateway/audit.hpp"
#include "gateway/gateway.hpp"
#include "gateway/hot_set.hpp"
#include "gateway/identity.hpp"
#include "gateway/pass_marks.hpp"
#include "gateway/representations.hpp"
#include "gateway/request_plan.hpp"
#include "gateway/runtime.hpp"
#include "gateway/variants.hpp"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <optional>
#include <unordered_set>
#include <vector>

namespace strata::gateway {

// What a cache miss needs to ask the origin; shared by the request and its loader, which may
// outlive it (a background refresh).
struct LoadInputs {
  std::shared_ptr<const Runtime> runtime;
  Request request;
  RequestContext context;
  EntryPlan plan;
  std::atomic<bool> ran{false};  // this request's loader ran, so a requester-only response is its own
  // The variant this request's load stored while it stored the URL's variant index: its answer.
  std::optional<HttpEntry> own_variant;
  std::atomic<std::int64_t> upstream_us{-1};  // how long the origin took, once the loader asked it

  // `reply` as the access log needs it: why its response was not stored, if it was not, and how
  // long this request's own load waited for the origin.
  Reply&& finished(Reply&& reply, std::string_view not_stored = {}) const;
};

class Gateway::Impl : public std::enable_shared_from_this<Gateway::Impl> {
public:
  Impl(boost::asio::any_io_executor executor, GatewayConfig config, std::shared_ptr<const Clock> clock);

  // Answers one request and counts it for its rule.
  boost::asio::awaitable<Reply> handle(Request request, RequestContext context);
  // `counted` is set to the counters of the rule the request matched (none for admin calls and
  // malformed requests).
  boost::asio::awaitable<Reply> route(Request request, RequestContext context, RuleCounters** counted);
  boost::asio::awaitable<Reply> handle_admin(Request& request, const Target& target, const Identity& identity,
                                             std::shared_ptr<const Runtime> runtime);
  bool is_admin_path(std::string_view path, const Runtime& runtime) const;
  // The admin API's /stats answer (also the dashboard's).
  boost::json::object stats_body() const;
  // The admin API's /inspect: what a GET of body["path"] with body["headers"] would find.
  boost::asio::awaitable<Reply> inspect_request(const Runtime& runtime, const boost::json::object& body);
  // The cache keys an admin body names: logical keys ("jobs:/api/jobs/1:?") and request paths
  // (the shared entry a GET would use). False with `error` naming the bad one.
  bool named_entries(const Runtime& runtime, const std::vector<std::string>& keys,
                     const std::vector<std::string>& paths, std::vector<Key>& out, std::string* error) const;

  std::shared_ptr<const Runtime> runtime() const;

  // RFC 9111 4.4: what a successful unsafe request invalidates by itself.
  boost::asio::awaitable<void> invalidate_written_uris(std::shared_ptr<const Runtime> runtime, const Request& request,
                                                       const RequestContext& context, const StoredResponse& response);
  // Invalidations named by a rule and by the origin's invalidation header.
  boost::asio::awaitable<void> invalidate_after_mutation(std::shared_ptr<const Runtime> runtime,
                                                         const CompiledRule* rule, Variables variables,
                                                         std::string origin_header);

  boost::asio::any_io_executor executor_;
  GatewayConfig startup_;
  RuleStats rule_stats_;  // before runtime_: every Runtime points into it
  mutable std::shared_mutex runtime_mutex_;
  std::shared_ptr<const Runtime> runtime_;
  std::unique_ptr<Cache> cache_;
  std::shared_ptr<OriginPool> origin_;
  GatewayCounters counters_;
  GatewayCounters warming_counters_;      // what re-warming requests did
  // Where a request is counted: re-warming requests apart, they are not the clients' traffic.
  GatewayCounters& counters_for(const RequestContext& context) noexcept {
    return context.warming ? warming_counters_ : counters_;
  }
  HotSet hot_set_;
  AuditGate audit_gate_;
  std::atomic<std::uint64_t> missed_invalidations_{0};  // audited hits the origin had changed
  std::function<void(const AuditEvent&)> audit_observer_;
  RewarmProgress rewarm_;
  std::atomic<std::int64_t> hot_set_saved_second_{0};  // steady-clock second of the last periodic save
  std::atomic<std::uint64_t> hot_set_saves_{0};
  std::atomic<std::uint64_t> hot_set_save_failures_{0};
  TrafficHistory traffic_;                // for the dashboard's charts
  RecentInvalidations invalidation_log_;  // for the dashboard's list
  std::shared_ptr<const Clock> clock_;
  PassMarks uncacheable_;  // entries whose last response could not be stored
  VariantCounts variant_counts_;
  std::unique_ptr<Representations> forms_;  // stored responses in other codings
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();

  // Samples a shared request into the hot set: its canonical target and the header values that
  // select its entry (never a credential).
  void remember_hot(const Runtime& runtime, const Request& request, const EntryPlan& plan);
  boost::asio::awaitable<bool> save_hot_set();
  [[nodiscard]] std::uint64_t rewarm_pending() const noexcept {
    const auto done = rewarm_.from_redis + rewarm_.from_origin + rewarm_.already + rewarm_.skipped + rewarm_.failed;
    return rewarm_.total > done ? rewarm_.total - done : 0;
  }
  // Starts a save in the background when hot_set_interval has passed since the last one.
  void maybe_save_hot_set(std::chrono::steady_clock::time_point now);
  boost::asio::awaitable<std::optional<std::vector<HotTarget>>> load_hot_set();
  boost::asio::awaitable<RewarmReport> rewarm();
  boost::asio::awaitable<void> rewarm_target(const HotTarget& item);
  // Starts an audit of a hit when its rule's fraction samples it and the gate admits it.
  void maybe_audit(const Runtime& runtime, const std::shared_ptr<LoadInputs>& state,
                   std::shared_ptr<const StoredResponse> served, std::int64_t age_seconds);
  static boost::asio::awaitable<void> audit_hit(std::shared_ptr<Impl> self, std::shared_ptr<LoadInputs> inputs,
                                                std::shared_ptr<const StoredResponse> served, std::int64_t age_seconds);

  boost::asio::awaitable<HttpEntry> load_from_origin(std::shared_ptr<LoadInputs> inputs, LoadContext& load);
  // The inputs of a load for the variant of `inputs`' URL that `index` selects for its request.
  std::shared_ptr<LoadInputs> variant_inputs(const LoadInputs& inputs,
                                             std::shared_ptr<const VariantIndex> index) const;

private:
  boost::asio::awaitable<Reply> serve_cached(std::shared_ptr<const Runtime> runtime, Request& request,
                                             const RequestContext& context, EntryPlan plan, bool admin);
  // `detail` is appended to Cache-Status (the key, for admin callers).
  boost::asio::awaitable<Reply> pass_through(std::shared_ptr<const Runtime> runtime, const Request& request,
                                             const RequestContext& context, std::string target,
                                             std::string_view reason, const CompiledRule* mutation_rule,
                                             Variables variables, std::string detail = {});
};

// A JSON answer of the admin API (never stored by caches in between).
Reply json_reply(unsigned status, const boost::json::value& body);
void set_cache_headers(Reply& reply, std::string_view x_cache, std::string_view cache_status, std::int64_t age_seconds);
Reply reply_from(const StoredResponse& response, std::shared_ptr<const StoredResponse> shared);

}  // namespace strata::gateway
