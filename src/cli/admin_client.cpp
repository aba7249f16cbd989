#include "cli/admin_client.hpp"

#include "cli/http_connection.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <optional>
#include <ostream>

namespace strata::cli {

namespace http = boost::beast::http;
namespace json = boost::json;

HttpUrl parse_http_url(std::string_view url, std::string_view option, std::string_view expected) {
  auto parsed = boost::urls::parse_absolute_uri(url);
  auto bad = [&](std::string_view why) {
    return CommandError(exit_usage, fmt::format("{} \"{}\": {} (expected {})", option, url, why, expected));
  };
  if (!parsed) throw bad("not a URL");
  if (parsed->scheme() == "https") {
    throw bad("the operator commands speak plain HTTP; use a listener without TLS (for the admin API: "
              "admin.listen on a loopback address)");
  }
  if (parsed->scheme() != "http") throw bad("the scheme must be http");
  if (!parsed->has_authority() || parsed->host().empty()) throw bad("no host");
  if (parsed->has_userinfo()) throw bad("credentials do not belong in the URL; use --token-file");
  if (parsed->has_query() || parsed->has_fragment()) throw bad("a query or fragment has no meaning here");
  HttpUrl out;
  out.url = std::string(url);
  out.host = std::string(parsed->encoded_host_address());  // an IPv6 address without its brackets
  out.port = parsed->has_port() ? std::string(parsed->port()) : "80";
  out.path = std::string(parsed->encoded_path());
  while (!out.path.empty() && out.path.back() == '/') out.path.pop_back();
  return out;
}

int reporting_errors(std::ostream& err, const std::function<int()>& command) {
  try {
    return command();
  } catch (const CommandError& error) {
    err << "strata: " << error.what() << '\n';
    return error.code();
  }
}

AdminTarget parse_gateway_url(std::string_view url) {
  auto parsed = parse_http_url(url, "--gateway", "http://host:port, e.g. http://127.0.0.1:8081, the gateway's admin listener");
  AdminTarget target;
  target.url = std::move(parsed.url);
  target.host = std::move(parsed.host);
  target.port = std::move(parsed.port);
  if (!parsed.path.empty()) target.base = std::move(parsed.path);
  return target;
}

std::string resolve_token(const std::string& token, const std::string& token_file) {
  if (!token.empty()) return token;
  if (!token_file.empty()) {
    std::ifstream file(token_file);
    if (!file) throw CommandError(exit_usage, fmt::format("--token-file {}: cannot be read", token_file));
    std::string line;
    std::getline(file, line);
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
    if (line.empty()) throw CommandError(exit_usage, fmt::format("--token-file {}: the first line is empty", token_file));
    return line;
  }
  if (const char* from_environment = std::getenv("STRATA_ADMIN_TOKEN")) return from_environment;
  return {};
}

AdminClient::AdminClient(AdminTarget target, std::string token, std::chrono::milliseconds timeout)
    : target_(std::move(target)), token_(std::move(token)), timeout_(timeout) {}

json::value AdminClient::get(std::string_view relative) const { return call(false, relative, {}); }

json::value AdminClient::post(std::string_view relative, const json::value& body) const {
  return call(true, relative, json::serialize(body));
}

namespace {

std::string server_explanation(const json::value& body) {
  if (const auto* object = body.if_object()) {
    for (const char* field : {"detail", "message", "error"}) {
      if (const auto* value = object->if_contains(field); value != nullptr && value->is_string()) {
        return std::string(value->as_string());
      }
    }
  }
  return {};
}

}  // namespace

json::value AdminClient::call(bool post, std::string_view relative, std::string body) const {
  HttpRequest request(post ? http::verb::post : http::verb::get, target_.base + std::string(relative), 11);
  request.set(http::field::user_agent, "strata-cli");
  request.set(http::field::accept, "application/json");
  if (!token_.empty()) request.set(http::field::authorization, "Bearer " + token_);
  if (post) {
    request.set(http::field::content_type, "application/json");
    request.body() = std::move(body);
  }
  HttpConnection connection(target_.host, target_.port, timeout_);
  auto result = connection.send(std::move(request));

  const std::string where = target_.url;
  if (!result.response) {
    if (result.timed_out) {
      throw CommandError(exit_unreachable, fmt::format("the gateway at {} did not answer within {} ms", where,
                                                       timeout_.count()));
    }
    throw CommandError(exit_unreachable,
                       fmt::format("cannot reach the gateway at {}: {} (is `strata serve` running, and is this its "
                                   "admin listener? set --gateway or STRATA_GATEWAY)",
                                   where, result.failure));
  }
  const auto& response = *result.response;
  boost::system::error_code parse_error;
  json::value parsed = json::parse(response.body(), parse_error);
  const std::string explanation = parse_error ? std::string() : server_explanation(parsed);
  const auto status = response.result_int();
  const std::string said = explanation.empty() ? std::string() : ": " + explanation;
  if (status == 401) {
    throw CommandError(exit_unauthorized,
                       fmt::format("the gateway at {} wants an admin token{} (give --token-file FILE or set "
                                   "STRATA_ADMIN_TOKEN)",
                                   where, said));
  }
  if (status == 403) throw CommandError(exit_forbidden, fmt::format("the gateway at {} refused{}", where, said));
  if (status == 404 && (parse_error || explanation.empty() || explanation.find("admin endpoint") == std::string::npos)) {
    throw CommandError(exit_unreachable,
                       fmt::format("{} answered 404 for {}{}: not a Strata admin API there (check --gateway and the "
                                   "admin base path, admin.base in the gateway's configuration)",
                                   where, target_.base, relative));
  }
  if (status >= 300) {
    throw CommandError(exit_failed, fmt::format("the gateway at {} answered {}{}", where, status, said));
  }
  if (parse_error) {
    throw CommandError(exit_unreachable,
                       fmt::format("{} answered {}{} with something other than JSON: not a Strata admin API",
                                   where, target_.base, relative));
  }
  return parsed;
}

}  // namespace strata::cli
