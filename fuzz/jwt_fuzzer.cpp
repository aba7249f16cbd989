// Bearer tokens from clients. Only a token signed with the configured key and algorithm yields
// an identity; nothing the fuzzer writes can be signed with the secret it never sees.

#include "gateway/identity.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace strata::gateway;
  static const IdentityResolver resolver = [] {
    IdentityConfig config;
    config.source = IdentitySource::jwt;
    config.jwt_secret = "a fuzzer never learns this secret 0123456789";
    config.issuer = "strata-fuzz";
    return IdentityResolver(config);
  }();
  const std::string authorization = "Bearer " + std::string(reinterpret_cast<const char*>(data), size);
  const auto identity = resolver.resolve(authorization, "", 1'700'000'000);
  if (identity.user) std::abort();  // forged: no signature the fuzzer could compute
  return 0;
}
