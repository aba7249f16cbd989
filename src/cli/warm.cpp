#include "cli/warm.hpp"

#include "cli/admin_client.hpp"
#include "cli/http_connection.hpp"

#include "gateway/hot_set.hpp"

#include <boost/json/serialize.hpp>
#include <boost/url/parse.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <fstream>
#include <istream>
#include <map>
#include <mutex>
#include <ostream>
#include <thread>

namespace strata::cli {

namespace http = boost::beast::http;
namespace json = boost::json;
using Clock = std::chrono::steady_clock;

namespace {


bool valid_target(std::string_view target) {
  return !target.empty() && target.front() == '/' && target.find_first_of(" \t") == std::string_view::npos &&
         boost::urls::parse_origin_form(target).has_value();
}

enum class Outcome { warmed, fresh, uncacheable, failed };

struct Tally {
  std::mutex mutex;
  std::size_t done = 0;
  std::size_t warmed = 0, fresh = 0, uncacheable = 0, failed = 0;
  std::map<std::string, std::size_t> reasons;  // why targets were not cached or failed
  std::vector<std::string> failures;           // the first few, with their targets
};

// What one response says about its target: the gateway's X-Cache, and for a response it did not
// store, Cache-Status' detail.
std::pair<Outcome, std::string> judge(const HttpConnection::Result& result) {
  if (!result.response) return {Outcome::failed, result.timed_out ? "timed out" : result.failure};
  const auto& response = *result.response;
  if (response.result_int() >= 400) return {Outcome::failed, fmt::format("status {}", response.result_int())};
  const std::string cache(response["X-Cache"]);
  // A stale copy served starts its own refresh; a revalidated one is fresh again.
  if (cache == "HIT" || cache == "STALE") return {Outcome::fresh, {}};
  if (cache == "REVALIDATED") return {Outcome::warmed, {}};
  std::string detail;
  const std::string status(response["Cache-Status"]);
  if (const auto at = status.find("detail="); at != std::string::npos) {
    detail = status.substr(at + 7);
    detail = detail.substr(0, detail.find_first_of(";,"));
  }
  if (cache == "MISS" && detail.empty()) return {Outcome::warmed, {}};
  if (cache.empty()) return {Outcome::failed, "no X-Cache header: is --url a Strata gateway?"};
  return {Outcome::uncacheable, detail.empty() ? fmt::format("X-Cache {}", cache) : detail};
}

}  // namespace

std::vector<WarmTarget> read_warm_list(std::istream& in, const std::string& source) {
  std::vector<WarmTarget> targets;
  std::string line;
  for (std::size_t number = 1; std::getline(in, line); ++number) {
    auto text = trim_blanks(line);
    if (text.empty() || text.front() == '#') continue;
    WarmTarget item;
    std::size_t start = 0;
    for (std::size_t field = 0;; ++field) {
      const auto bar = text.find('|', start);
      const auto piece = trim_blanks(text.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start));
      if (field == 0) {
        if (!valid_target(piece)) {
          throw CommandError(exit_usage, fmt::format("{}:{}: \"{}\" is not a request target; write a path such as "
                                                     "/api/items/7?page=2, then optionally | Name: value",
                                                     source, number, piece));
        }
        item.target = std::string(piece);
      } else {
        auto header = parse_header_line(piece);
        if (!header) {
          throw CommandError(exit_usage,
                             fmt::format("{}:{}: \"{}\" is not a header; write Name: value", source, number, piece));
        }
        item.headers.push_back(std::move(*header));
      }
      if (bar == std::string_view::npos) break;
      start = bar + 1;
    }
    targets.push_back(std::move(item));
  }
  return targets;
}

std::vector<WarmTarget> read_sitemap(std::istream& in, const std::string& source) {
  const std::string xml((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<WarmTarget> targets;
  for (auto at = xml.find("<loc>"); at != std::string::npos; at = xml.find("<loc>", at + 5)) {
    const auto end = xml.find("</loc>", at);
    if (end == std::string::npos) throw CommandError(exit_usage, source + ": a <loc> is not closed");
    std::string location(trim_blanks(std::string_view(xml).substr(at + 5, end - at - 5)));
    for (const auto& [entity, character] : {std::pair{"&amp;", "&"}, {"&lt;", "<"}, {"&gt;", ">"}, {"&quot;", "\""},
                                            {"&apos;", "'"}}) {
      for (auto pos = location.find(entity); pos != std::string::npos; pos = location.find(entity, pos + 1)) {
        location.replace(pos, std::string_view(entity).size(), character);
      }
    }
    auto url = boost::urls::parse_uri(location);
    if (!url) throw CommandError(exit_usage, fmt::format("{}: <loc> \"{}\" is not a URL", source, location));
    std::string target(url->encoded_path().empty() ? "/" : std::string_view(url->encoded_path()));
    if (url->has_query()) target += "?" + std::string(url->encoded_query());
    targets.push_back(WarmTarget{std::move(target), {}});
  }
  if (targets.empty()) throw CommandError(exit_usage, source + ": no <loc> URLs in it: is it a sitemap?");
  return targets;
}

// The gateway's hot set, hottest first, from its admin API.
std::vector<WarmTarget> read_hot_set(const GatewayOptions& admin) {
  const auto client = connect_admin(admin);
  const auto answer = client.get("/hot-set");
  std::string error;
  auto parsed = gateway::parse_hot_set(json::serialize(answer), &error);
  if (!parsed) throw CommandError(exit_failed, fmt::format("the gateway's hot set: {}", error));
  std::vector<WarmTarget> targets;
  for (auto& entry : *parsed) targets.push_back({std::move(entry.target), std::move(entry.headers)});
  if (targets.empty()) throw CommandError(exit_failed, "the gateway's hot set is empty: it has not served cacheable requests yet");
  return targets;
}

int run_warm(const WarmOptions& options, const GatewayOptions& admin, std::ostream& out, std::ostream& err,
             bool terminal) {
  return reporting_errors(err, [&]() -> int {
    const int sources = (options.file.empty() ? 0 : 1) + (options.sitemap.empty() ? 0 : 1) + (options.hot_set ? 1 : 0);
    if (sources != 1) {
      throw CommandError(exit_usage,
                         "give the targets to warm: --file LIST, --sitemap FILE or --hot-set (one of them)");
    }
    if (options.concurrency == 0 || options.concurrency > 256) {
      throw CommandError(exit_usage, "--concurrency: from 1 to 256");
    }
    if (options.rate < 0.0) throw CommandError(exit_usage, "--rate: requests per second, 0 for no limit");
    const auto url = parse_http_url(options.url, "--url", "http://host:port, the gateway's listener");
    std::vector<std::pair<std::string, std::string>> common;
    for (const auto& text : options.headers) {
      auto header = parse_header_line(text);
      if (!header) throw CommandError(exit_usage, fmt::format("--header \"{}\": write Name: value", text));
      common.push_back(std::move(*header));
    }
    std::vector<WarmTarget> targets;
    if (options.hot_set) {
      targets = read_hot_set(admin);
    } else {
      const std::string source = options.file.empty() ? options.sitemap : options.file;
      std::ifstream file(source);
      if (!file) throw CommandError(exit_usage, fmt::format("{}: cannot be read", source));
      targets = options.file.empty() ? read_sitemap(file, source) : read_warm_list(file, source);
    }
    const auto timeout = std::chrono::milliseconds(static_cast<std::int64_t>(options.timeout_seconds * 1000));

    Tally tally;
    std::atomic<std::size_t> next{0};
    const auto started = Clock::now();
    auto worker = [&] {
      HttpConnection connection(url.host, url.port, timeout);
      for (std::size_t i = next++; i < targets.size(); i = next++) {
        if (options.rate > 0.0) {  // request i starts no earlier than i / rate seconds in
          std::this_thread::sleep_until(started + std::chrono::duration_cast<Clock::duration>(
                                                      std::chrono::duration<double>(static_cast<double>(i) / options.rate)));
        }
        HttpRequest request(http::verb::get, targets[i].target, 11);
        request.set(http::field::user_agent, "strata-warm");
        request.set(http::field::accept_encoding, "gzip");
        for (const auto& [name, value] : common) request.set(name, value);
        for (const auto& [name, value] : targets[i].headers) request.set(name, value);
        const auto [outcome, reason] = judge(connection.send(std::move(request)));
        std::lock_guard lock(tally.mutex);
        ++tally.done;
        switch (outcome) {
          case Outcome::warmed: ++tally.warmed; break;
          case Outcome::fresh: ++tally.fresh; break;
          case Outcome::uncacheable: ++tally.uncacheable; break;
          case Outcome::failed: ++tally.failed; break;
        }
        if (!reason.empty()) {
          ++tally.reasons[reason];
          if (outcome == Outcome::failed && tally.failures.size() < 10) {
            tally.failures.push_back(fmt::format("{}: {}", targets[i].target, reason));
          }
        }
      }
    };
    auto progress = [&](bool last) {
      std::lock_guard lock(tally.mutex);
      const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
      const double rate = seconds > 0 ? static_cast<double>(tally.done) / seconds : 0.0;
      const auto left = targets.size() - tally.done;
      const std::string eta = rate > 0 ? fmt::format("{:.0f}s", static_cast<double>(left) / rate) : "-";
      if (terminal) {
        constexpr int kWidth = 30;
        const auto filled = targets.empty() ? kWidth : static_cast<int>(kWidth * tally.done / targets.size());
        out << fmt::format("\r[{}{}] {}/{}  {:.1f}/s  ETA {}  errors {}\x1b[K", std::string(filled, '#'),
                           std::string(kWidth - filled, '.'), tally.done, targets.size(), rate, eta, tally.failed);
        if (last) out << '\n';
      } else {
        out << fmt::format("warm: {}/{} done, {:.1f}/s, ETA {}, errors {}\n", tally.done, targets.size(), rate, eta,
                           tally.failed);
      }
      out.flush();
    };
    std::vector<std::thread> workers;
    const auto count = std::min<std::size_t>(options.concurrency, std::max<std::size_t>(1, targets.size()));
    for (std::size_t i = 0; i < count; ++i) workers.emplace_back(worker);
    std::thread reporter([&] {
      auto shown = Clock::now();
      while (true) {
        {
          std::lock_guard lock(tally.mutex);
          if (tally.done == targets.size()) break;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        if (terminal || Clock::now() - shown >= std::chrono::seconds(1)) {
          progress(false);
          shown = Clock::now();
        }
      }
    });
    for (auto& thread : workers) thread.join();
    reporter.join();
    progress(true);
    const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
    out << fmt::format("warm: {} targets in {:.1f}s: {} warmed, {} already fresh, {} not cacheable, {} failed\n",
                       targets.size(), seconds, tally.warmed, tally.fresh, tally.uncacheable, tally.failed);
    for (const auto& [reason, times] : tally.reasons) out << fmt::format("  {} x {}\n", times, reason);
    for (const auto& failure : tally.failures) err << "strata warm: failed: " << failure << '\n';
    if (tally.failed == targets.size() && !targets.empty()) {
      err << "strata warm: every request failed: is the gateway at " << options.url << " running?\n";
      return exit_unreachable;
    }
    return tally.failed == 0 ? exit_ok : exit_failed;
  });
}

}  // namespace strata::cli
