#include "gateway/identity.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <array>
#include <stdexcept>
#include <vector>

namespace strata::gateway {
namespace {

std::optional<std::string> base64url_decode(std::string_view text) {
  std::string out;
  out.reserve(text.size() * 3 / 4);
  unsigned buffer = 0;
  int bits = 0;
  for (char c : text) {
    int value = -1;
    if (c >= 'A' && c <= 'Z') value = c - 'A';
    else if (c >= 'a' && c <= 'z') value = c - 'a' + 26;
    else if (c >= '0' && c <= '9') value = c - '0' + 52;
    else if (c == '-') value = 62;
    else if (c == '_') value = 63;
    else return std::nullopt;
    buffer = (buffer << 6) | static_cast<unsigned>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> bits) & 0xff));
    }
  }
  if (bits >= 6) return std::nullopt;  // a lone trailing character is not valid base64
  return out;
}

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

bool claim_matches(const boost::json::value& claim, std::string_view wanted) {
  if (claim.is_string()) return claim.get_string() == wanted;
  if (claim.is_array()) {
    for (const auto& element : claim.get_array()) {
      if (element.is_string() && element.get_string() == wanted) return true;
    }
  }
  return false;
}

}  // namespace

struct IdentityResolver::Key {
  std::unique_ptr<EVP_PKEY, PkeyDeleter> public_key;
};

std::string_view bearer_token(std::string_view authorization) {
  constexpr std::string_view scheme = "bearer ";
  if (authorization.size() <= scheme.size()) return {};
  for (std::size_t i = 0; i < scheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != scheme[i]) return {};
  }
  auto token = authorization.substr(scheme.size());
  while (!token.empty() && token.front() == ' ') token.remove_prefix(1);
  while (!token.empty() && token.back() == ' ') token.remove_suffix(1);
  return token;
}

std::string to_hex(const unsigned char* data, std::size_t size) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(size * 2);
  for (std::size_t i = 0; i < size; ++i) {
    out.push_back(kDigits[data[i] >> 4]);
    out.push_back(kDigits[data[i] & 15]);
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest.data());
  return to_hex(digest.data(), digest.size());
}

std::string random_hex(std::size_t bytes) {
  std::vector<unsigned char> random(bytes);
  if (RAND_bytes(random.data(), static_cast<int>(random.size())) != 1) {
    throw std::runtime_error("OpenSSL could not produce random bytes");
  }
  return to_hex(random.data(), random.size());
}

std::string hmac_sha256_hex(std::string_view key, std::string_view data) {
  std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
  unsigned size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(data.data()),
       data.size(), digest.data(), &size);
  return to_hex(digest.data(), size);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

IdentityResolver::IdentityResolver(const IdentityConfig& config) : config_(config) {
  if (config_.jwt_public_key_pem.empty()) return;
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(config_.jwt_public_key_pem.data(), static_cast<int>(config_.jwt_public_key_pem.size())),
      &BIO_free);
  key_ = std::make_unique<Key>();
  key_->public_key.reset(PEM_read_bio_PUBKEY(bio.get(), nullptr, nullptr, nullptr));
  if (!key_->public_key) {
    throw ConfigError("identity.jwt_public_key_file: not a PEM public key (-----BEGIN PUBLIC KEY-----)");
  }
  const int type = EVP_PKEY_base_id(key_->public_key.get());
  if (config_.jwt_algorithm == "RS256" && type != EVP_PKEY_RSA) {
    throw ConfigError("identity.jwt_public_key_file: RS256 needs an RSA public key");
  }
  if (config_.jwt_algorithm == "ES256" && type != EVP_PKEY_EC) {
    throw ConfigError("identity.jwt_public_key_file: ES256 needs an EC (P-256) public key");
  }
}

IdentityResolver::~IdentityResolver() = default;

Identity IdentityResolver::verify_jwt(std::string_view token, std::int64_t now_seconds) const {
  Identity identity;
  auto refuse = [&](std::string why) {
    identity.problem = "JWT refused: " + std::move(why);
    return identity;
  };
  if (token.size() > 8192) return refuse("longer than 8 KiB");
  const auto first = token.find('.');
  const auto second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return refuse("not three dot-separated parts");
  }
  const auto signed_part = token.substr(0, second);
  const auto header_text = base64url_decode(token.substr(0, first));
  const auto payload_text = base64url_decode(token.substr(first + 1, second - first - 1));
  const auto signature = base64url_decode(token.substr(second + 1));
  if (!header_text || !payload_text || !signature) return refuse("not base64url");
  boost::system::error_code error;
  const auto header = boost::json::parse(*header_text, error);
  if (error || !header.is_object()) return refuse("header is not a JSON object");
  const auto* alg = header.as_object().if_contains("alg");
  // The algorithm is the configured one, never what the token asks for ("none", HS256 with a
  // public key as secret, ...).
  if (alg == nullptr || !alg->is_string() || alg->get_string() != config_.jwt_algorithm) {
    return refuse("algorithm is not " + config_.jwt_algorithm);
  }
  bool valid = false;
  if (config_.jwt_algorithm == "HS256") {
    std::array<unsigned char, EVP_MAX_MD_SIZE> digest{};
    unsigned size = 0;
    HMAC(EVP_sha256(), config_.jwt_secret.data(), static_cast<int>(config_.jwt_secret.size()),
         reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size(), digest.data(), &size);
    valid = signature->size() == size && CRYPTO_memcmp(signature->data(), digest.data(), size) == 0;
  } else if (key_) {
    std::string der;
    const std::string* checked = &*signature;
    if (config_.jwt_algorithm == "ES256") {
      if (signature->size() != 64) return refuse("ES256 signature is not 64 bytes");
      ECDSA_SIG* sig = ECDSA_SIG_new();
      BIGNUM* r = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature->data()), 32, nullptr);
      BIGNUM* s = BN_bin2bn(reinterpret_cast<const unsigned char*>(signature->data()) + 32, 32, nullptr);
      ECDSA_SIG_set0(sig, r, s);
      unsigned char* encoded = nullptr;
      const int length = i2d_ECDSA_SIG(sig, &encoded);
      if (length > 0) der.assign(reinterpret_cast<char*>(encoded), static_cast<std::size_t>(length));
      OPENSSL_free(encoded);
      ECDSA_SIG_free(sig);
      checked = &der;
    }
    std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
    valid = EVP_DigestVerifyInit(context.get(), nullptr, EVP_sha256(), nullptr, key_->public_key.get()) == 1 &&
            EVP_DigestVerify(context.get(), reinterpret_cast<const unsigned char*>(checked->data()), checked->size(),
                             reinterpret_cast<const unsigned char*>(signed_part.data()), signed_part.size()) == 1;
  }
  if (!valid) return refuse("bad signature");

  const auto payload = boost::json::parse(*payload_text, error);
  if (error || !payload.is_object()) return refuse("payload is not a JSON object");
  const auto& claims = payload.as_object();
  const auto leeway = config_.leeway.count();
  auto number = [&](std::string_view name) -> std::optional<std::int64_t> {
    const auto* claim = claims.if_contains(name);
    if (claim == nullptr) return std::nullopt;
    if (claim->is_int64()) return claim->get_int64();
    if (claim->is_uint64()) return static_cast<std::int64_t>(claim->get_uint64());
    if (claim->is_double()) return static_cast<std::int64_t>(claim->get_double());
    return std::int64_t{-1};
  };
  if (auto exp = number("exp"); exp && now_seconds > *exp + leeway) return refuse("expired");
  if (auto nbf = number("nbf"); nbf && now_seconds + leeway < *nbf) return refuse("not valid yet (nbf)");
  if (!config_.issuer.empty()) {
    const auto* iss = claims.if_contains("iss");
    if (iss == nullptr || !claim_matches(*iss, config_.issuer)) return refuse("issuer mismatch");
  }
  if (!config_.audience.empty()) {
    const auto* aud = claims.if_contains("aud");
    if (aud == nullptr || !claim_matches(*aud, config_.audience)) return refuse("audience mismatch");
  }
  if (const auto* user = claims.if_contains(config_.user_claim)) {
    if (user->is_string() && !user->get_string().empty()) identity.user = std::string(user->get_string());
    else if (user->is_int64()) identity.user = std::to_string(user->get_int64());
    else if (user->is_uint64()) identity.user = std::to_string(user->get_uint64());
  }
  if (!identity.user) return refuse("no usable \"" + config_.user_claim + "\" claim");
  if (const auto* role = claims.if_contains(config_.admin_claim)) {
    identity.admin = claim_matches(*role, config_.admin_value);
  }
  return identity;
}

Identity IdentityResolver::resolve(std::string_view authorization, std::string_view trusted_header,
                                   std::int64_t now_seconds) const {
  switch (config_.source) {
    case IdentitySource::jwt: {
      const auto token = bearer_token(authorization);
      if (token.empty()) return {};
      return verify_jwt(token, now_seconds);
    }
    case IdentitySource::header: {
      Identity identity;
      if (!trusted_header.empty() && trusted_header.size() <= 256) identity.user = std::string(trusted_header);
      return identity;
    }
    case IdentitySource::bearer_digest: {
      Identity identity;
      const auto token = bearer_token(authorization);
      // Keyed, so that a leaked key set cannot be reversed into tokens by brute force.
      if (!token.empty()) identity.user = "t" + hmac_sha256_hex(config_.digest_secret, token).substr(0, 32);
      return identity;
    }
    case IdentitySource::none:
      break;
  }
  return {};
}

}  // namespace strata::gateway
