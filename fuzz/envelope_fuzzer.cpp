// Entries read from Redis: anyone with write access to it can store any bytes under our keys.
// inspect() must accept only well-formed envelopes (and, with a secret, only ones it signed).

#include "cache/envelope.hpp"

#include <cstddef>
#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using strata::cache::EnvelopeCodec;
  using strata::cache::EnvelopeOptions;
  static const EnvelopeCodec plain(EnvelopeOptions{1024, 0.10, 3, ""});
  static const EnvelopeCodec signed_codec(EnvelopeOptions{1024, 0.10, 3, "fuzz-secret"});
  if (size == 0) return 0;
  const EnvelopeCodec& codec = (data[0] & 1) != 0 ? signed_codec : plain;
  std::string bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto inspected = codec.inspect(bytes, "strata:fuzz:g0:key");
  if (!inspected.ok) return 0;
  (void)inspected.view.tags();
  (void)inspected.view.without_payload();
  std::string payload;
  (void)codec.take_payload(inspected.view, std::move(bytes), payload);
  return 0;
}
