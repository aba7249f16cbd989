#pragma once

// The access log: one line per request (or a sampled fraction), as JSON or in the common log
// format extended with the cache's outcome, to standard output or a file. Lines are written by
// a background thread; when it falls behind, the oldest pending lines are dropped (and counted)
// rather than slowing requests down. A line names the path without its query (queries carry
// tokens) and never a header value: no credential and no user id reaches the log.

#include "gateway/audit.hpp"
#include "gateway/config.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace spdlog {
class logger;
}

namespace strata::gateway {

struct AccessRecord {
  std::chrono::system_clock::time_point time;  // when the request's header was read
  std::string_view client;
  std::string_view method;
  std::string_view target;  // the request target; only its path is logged
  unsigned status = 0;
  std::uint64_t bytes = 0;  // body bytes sent
  std::chrono::microseconds duration{0};
  std::optional<std::chrono::microseconds> upstream;  // waiting for the origin, when it was asked
  std::string_view cache;   // HIT, MISS, STALE, REVALIDATED, BYPASS; empty: not a cacheable request
  std::string_view reason;  // why not stored / not served from the cache (Cache-Status detail)
};

// One line, without its newline. Every field that came from the request is escaped, so that a
// crafted path cannot forge a second line or break the JSON.
std::string format_access_line(const AccessRecord& record, AccessLogFormat format);
// An audit line: the rule, the path, the served entry's age and the result ("stale" when the
// origin now answers differently); never the content.
std::string format_audit_line(const AuditEvent& event, AccessLogFormat format);

class AccessLog {
public:
  // Opens the destination; a file that cannot be opened is a ConfigError naming it.
  explicit AccessLog(const AccessLogConfig& config);
  ~AccessLog();
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // Whether the next request is logged (every one, or `sample` of them).
  [[nodiscard]] bool sampled();
  void write(const AccessRecord& record);
  void write_audit(const AuditEvent& event);  // every one: audits are already sampled
  // Lines dropped because the writer fell behind.
  [[nodiscard]] std::uint64_t dropped() const;

private:
  AccessLogConfig config_;
  std::shared_ptr<void> pool_;  // the writer thread
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace strata::gateway
