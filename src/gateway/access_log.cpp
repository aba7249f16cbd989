#include "gateway/access_log.hpp"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <utility>

namespace strata::gateway {

namespace {

// Printable ASCII as it is, except the quote and backslash; everything else as \u00NN. Safe inside
// a JSON string and inside the common format's quoted request line.
void append_escaped(std::string& out, std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '"' && c != '\\') {
      out.push_back(c);
    } else {
      out += "\\u00";
      out.push_back(kHex[byte >> 4]);
      out.push_back(kHex[byte & 15]);
    }
  }
}

// A JSON string, or null when empty.
void append_json_string_or_null(std::string& out, std::string_view text) {
  if (text.empty()) {
    out += "null";
    return;
  }
  out.push_back('"');
  append_escaped(out, text);
  out.push_back('"');
}

std::string_view path_of(std::string_view target) { return target.substr(0, target.find('?')); }

std::string milliseconds(std::chrono::microseconds duration) {
  return fmt::format("{:.3f}", static_cast<double>(duration.count()) / 1000.0);
}

// A line's time: UTC calendar fields and the milliseconds past the second.
std::pair<std::tm, long long> utc_of(std::chrono::system_clock::time_point time) {
  const auto since_epoch = time.time_since_epoch();
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  const std::time_t whole = seconds.count();
  std::tm utc{};
  gmtime_r(&whole, &utc);
  return {utc, std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds).count()};
}

}  // namespace

std::string format_access_line(const AccessRecord& record, AccessLogFormat format) {
  const auto [utc, millis] = utc_of(record.time);
  std::string line;
  line.reserve(256);
  if (format == AccessLogFormat::json) {
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    line += fmt::format(R"({{"time":"{}.{:03d}Z","client":")", stamp, millis);
    append_escaped(line, record.client);
    line += R"(","method":")";
    append_escaped(line, record.method);
    line += R"(","path":")";
    append_escaped(line, path_of(record.target));
    line += fmt::format(R"(","status":{},"bytes":{},"duration_ms":{},"upstream_ms":{},"cache":)", record.status,
                        record.bytes, milliseconds(record.duration),
                        record.upstream ? milliseconds(*record.upstream) : std::string("null"));
    append_json_string_or_null(line, record.cache);
    line += R"(,"reason":)";
    append_json_string_or_null(line, record.reason);
    line.push_back('}');
    return line;
  }
  // The common log format, then the cache's fields as name=value.
  char stamp[40];
  std::strftime(stamp, sizeof stamp, "%d/%b/%Y:%H:%M:%S +0000", &utc);
  append_escaped(line, record.client.empty() ? std::string_view("-") : record.client);
  line += fmt::format(" - - [{}] \"", stamp);
  append_escaped(line, record.method);
  line.push_back(' ');
  append_escaped(line, path_of(record.target));
  line += fmt::format("\" {} {} cache=", record.status, record.bytes);
  append_escaped(line, record.cache.empty() ? std::string_view("-") : record.cache);
  line += " reason=";
  append_escaped(line, record.reason.empty() ? std::string_view("-") : record.reason);
  line += fmt::format(" time_ms={} upstream_ms={}", milliseconds(record.duration),
                      record.upstream ? milliseconds(*record.upstream) : std::string("-"));
  return line;
}

std::string format_audit_line(const AuditEvent& event, AccessLogFormat format) {
  const auto [utc, millis] = utc_of(event.time);
  std::string line;
  if (format == AccessLogFormat::json) {
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &utc);
    line += fmt::format(R"({{"time":"{}.{:03d}Z","audit":"{}","rule":")", stamp, millis, audit_result_name(event.result));
    append_escaped(line, event.rule);
    line += R"(","path":")";
    append_escaped(line, path_of(event.target));
    line += fmt::format(R"(","age_s":{}}})", event.age_seconds);
    return line;
  }
  char stamp[40];
  std::strftime(stamp, sizeof stamp, "%d/%b/%Y:%H:%M:%S +0000", &utc);
  line += fmt::format("- - - [{}] \"AUDIT ", stamp);
  append_escaped(line, path_of(event.target));
  line += fmt::format("\" audit={} rule=\"", audit_result_name(event.result));
  append_escaped(line, event.rule);
  line += fmt::format("\" age_s={}", event.age_seconds);
  return line;
}

AccessLog::AccessLog(const AccessLogConfig& config) : config_(config) {
  spdlog::sink_ptr sink;
  if (config.path == "-") {
    sink = std::make_shared<spdlog::sinks::stdout_sink_mt>();
  } else {
    // Opened here first: spdlog would create missing directories rather than report them.
    std::FILE* probe = std::fopen(config.path.c_str(), "a");
    if (probe == nullptr) {
      throw ConfigError("access_log.path: cannot open \"" + config.path + "\" for appending: " +
                        std::strerror(errno) + "; give a writable file in an existing directory, or \"-\" for "
                        "standard output");
    }
    std::fclose(probe);
    sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(config.path, false);
  }
  sink->set_pattern("%v");
  auto pool = std::make_shared<spdlog::details::thread_pool>(16384, 1);
  logger_ = std::make_shared<spdlog::async_logger>("strata-access", std::move(sink), pool,
                                                   spdlog::async_overflow_policy::overrun_oldest);
  logger_->set_level(spdlog::level::info);
  logger_->flush_on(spdlog::level::info);
  pool_ = std::move(pool);
}

AccessLog::~AccessLog() {
  // The writer thread drains what is queued before the pool (and the file) goes.
  logger_.reset();
  pool_.reset();
}

bool AccessLog::sampled() {
  if (config_.sample >= 1.0) return true;
  thread_local std::minstd_rand generator(std::random_device{}());
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator) < config_.sample;
}

void AccessLog::write(const AccessRecord& record) { logger_->info(format_access_line(record, config_.format)); }
void AccessLog::write_audit(const AuditEvent& event) { logger_->info(format_audit_line(event, config_.format)); }

std::uint64_t AccessLog::dropped() const {
  return std::static_pointer_cast<spdlog::details::thread_pool>(pool_)->overrun_counter();
}

}  // namespace strata::gateway
