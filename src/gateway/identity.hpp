#pragma once

// Who is calling: a verified JWT claim, a header set by a trusted auth proxy, or a keyed digest of
// the bearer token. Never the raw credential: what comes out of here may enter keys and logs.

#include "gateway/config.hpp"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace strata::gateway {

struct Identity {
  std::optional<std::string> user;  // established identity, safe to key on
  bool admin = false;               // a verified JWT carried the admin claim
  std::string problem;              // why a presented credential was refused (for logs)
};

// Bearer token of an "Authorization: Bearer <token>" value; empty when absent.
std::string_view bearer_token(std::string_view authorization);

// Lowercase hexadecimal, two digits a byte.
std::string to_hex(const unsigned char* data, std::size_t size);
std::string sha256_hex(std::string_view data);
// `bytes` bytes from OpenSSL's generator, in hexadecimal (for tokens that must not be guessed).
std::string random_hex(std::size_t bytes);
std::string hmac_sha256_hex(std::string_view key, std::string_view data);
// Compares equal-length strings in constant time.
bool constant_time_equal(std::string_view a, std::string_view b);

class IdentityResolver {
public:
  // Throws ConfigError when the configured key cannot be loaded.
  explicit IdentityResolver(const IdentityConfig& config);
  ~IdentityResolver();
  IdentityResolver(const IdentityResolver&) = delete;
  IdentityResolver& operator=(const IdentityResolver&) = delete;

  // `authorization` and `trusted_header` are the request's field values (empty when absent).
  [[nodiscard]] Identity resolve(std::string_view authorization, std::string_view trusted_header,
                                 std::int64_t now_seconds) const;
  // Verifies a JWT and returns its identity (used for admin claims whatever the source).
  [[nodiscard]] Identity verify_jwt(std::string_view token, std::int64_t now_seconds) const;
  [[nodiscard]] bool verifies_jwt() const noexcept { return key_ != nullptr || !config_.jwt_secret.empty(); }

private:
  IdentityConfig config_;
  struct Key;
  std::unique_ptr<Key> key_;
};

}  // namespace strata::gateway
