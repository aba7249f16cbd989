#include <strata/redis/commands.hpp>

#include <strata/redis/client.hpp>

#include <openssl/evp.h>

#include <array>
#include <stdexcept>

namespace strata::redis {
namespace {

std::string sha1_hex(std::string_view text) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned int length = 0;
  if (EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha1(), nullptr) != 1) {
    throw std::runtime_error("SHA-1 of a Lua script failed (OpenSSL)");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 15]);
  }
  return hex;
}

std::vector<std::string> script_call(std::string_view verb, std::string_view script_or_sha,
                                     const std::vector<std::string>& keys,
                                     const std::vector<std::string>& arguments) {
  std::vector<std::string> call{std::string(verb), std::string(script_or_sha), std::to_string(keys.size())};
  call.insert(call.end(), keys.begin(), keys.end());
  call.insert(call.end(), arguments.begin(), arguments.end());
  return call;
}

// EVALSHA, then EVAL (which also caches the script) when the server answers NOSCRIPT. `exec`
// sends one request and returns its reply.
template <typename Exec>
boost::asio::awaitable<Result<Reply>> evalsha_or_eval(Exec exec, const Script& script,
                                                      const std::vector<std::string>& keys,
                                                      const std::vector<std::string>& arguments) {
  Request by_sha;
  by_sha.push(script_call("EVALSHA", script.sha1(), keys, arguments));
  auto reply = co_await exec(std::move(by_sha));
  if (!reply || !reply->is_error() || !reply->text().starts_with("NOSCRIPT")) co_return reply;
  Request with_source;
  with_source.push(script_call("EVAL", script.source(), keys, arguments));
  co_return co_await exec(std::move(with_source));
}

}  // namespace

Script::Script(std::string source) : source_(std::move(source)), sha1_(sha1_hex(source_)) {}

boost::asio::awaitable<Result<Reply>> run_script(Connection& connection, const Script& script,
                                                 const std::vector<std::string>& keys,
                                                 const std::vector<std::string>& arguments,
                                                 std::optional<std::chrono::milliseconds> timeout) {
  return evalsha_or_eval([&connection, timeout](Request request) { return connection.exec(std::move(request), timeout); },
                         script, keys, arguments);
}

boost::asio::awaitable<Result<Reply>> Client::run_script(const Script& script, const std::vector<std::string>& keys,
                                                         const std::vector<std::string>& arguments,
                                                         std::optional<std::chrono::milliseconds> timeout) {
  // keys[0] routes: every key of a script shares its slot.
  return evalsha_or_eval(
      [this, routing_key = keys.empty() ? std::string() : keys.front(), timeout](Request request) {
        return exec(routing_key, std::move(request), timeout);
      },
      script, keys, arguments);
}

boost::asio::awaitable<Result<std::vector<std::string>>> Scanner::next(
    std::optional<std::chrono::milliseconds> timeout) {
  if (done_) co_return std::vector<std::string>{};
  std::vector<std::string> call{"SCAN", cursor_};
  if (!options_.match.empty()) call.insert(call.end(), {"MATCH", options_.match});
  call.insert(call.end(), {"COUNT", std::to_string(options_.count)});
  if (!options_.type.empty()) call.insert(call.end(), {"TYPE", options_.type});
  Request request;
  request.push(call);
  auto reply = co_await connection_.exec(std::move(request), timeout);
  if (!reply) co_return reply.error();
  const auto& parts = reply->elements();
  if (!reply->is_array() || parts.size() != 2 || !parts[0].is_string() || !parts[1].is_array()) {
    last_error_ = "SCAN answered " + reply->describe();
    co_return make_error_code(Error::unexpected_reply);
  }
  cursor_ = parts[0].text();
  done_ = cursor_ == "0";
  std::vector<std::string> keys;
  keys.reserve(parts[1].elements().size());
  for (const Reply& key : parts[1].elements()) keys.push_back(key.text());
  co_return keys;
}

}  // namespace strata::redis
