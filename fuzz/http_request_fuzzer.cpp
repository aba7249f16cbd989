// Requests from clients: the parser, the framing checks that stop smuggling, target
// normalisation and the key and upstream request built from them. A normalised target must be
// a fixed point (normalising it again changes nothing): the key and the origin see one resource.

#include "gateway/request_framing.hpp"
#include "gateway/request_plan.hpp"

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

namespace {

const strata::gateway::Runtime& runtime() {
  static const auto instance = [] {
    strata::gateway::GatewayConfig config;
    config.origin.host = "127.0.0.1";
    config.origin.port = 9;
    config.identity.header = "x-user";
    strata::gateway::Rule jobs;
    jobs.name = "jobs";
    jobs.path = "/api/jobs/{id}";
    jobs.name_space = "jobs";
    jobs.query = {"verbose", "page"};
    jobs.headers = {"x-tenant"};
    config.rules.push_back(jobs);
    strata::gateway::Rule me;
    me.name = "me";
    me.path = "/api/me/{section}";
    me.name_space = "me";
    me.per_user = true;
    config.rules.push_back(me);
    static strata::gateway::RuleStats rule_stats;  // the counters the runtime's rules point into
    return std::make_unique<strata::gateway::Runtime>(config, rule_stats);
  }();
  return *instance;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  namespace http = boost::beast::http;
  using namespace strata::gateway;
  http::request_parser<http::string_body> parser;
  parser.header_limit(16 * 1024);
  parser.body_limit(64 * 1024);
  boost::system::error_code error;
  parser.put(boost::asio::buffer(data, size), error);
  if (error || !parser.is_header_done()) return 0;
  if (check_request_framing(parser.get())) return 0;
  const Request& request = parser.get();
  std::string problem;
  const auto target = normalize_target(request.target(), &problem);
  if (!target) {
    if (problem.empty()) std::abort();  // every refusal says why
    return 0;
  }
  const std::string normal = target->path + (target->query.empty() ? "" : "?" + target->query);
  const auto again = normalize_target(normal, &problem);
  if (!again || again->path != target->path) std::abort();
  auto [rule, variables] = runtime().match("GET", target->path);
  const auto plan = plan_entry(runtime(), rule, std::move(variables), *target, request, std::string("fuzz-user"));
  RequestContext context;
  context.peer = "127.0.0.1";
  (void)upstream_request(runtime(), request, plan.upstream_target, context, true, plan.keyed_headers);
  (void)upstream_request(runtime(), request, plan.upstream_target, context, false, {});
  return 0;
}
