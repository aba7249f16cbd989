#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace strata::cache {

// What the cache stores under an entry key, in L2 (and in what it publishes): the value's
// bytes with the metadata every reader needs to judge it. Times are Unix milliseconds, so that
// processes agree on them.
struct Envelope {
  std::string codec;                // "raw", "json", or a custom codec's name
  std::int64_t created_ms = 0;
  std::int64_t fresh_until_ms = 0;  // fresh before, stale (fail-safe only) after
  std::int64_t stale_until_ms = 0;  // never served at or after
  std::uint64_t fill_epoch = 0;     // invalidation epoch when the data was read from the source
  std::vector<std::string> tags;
  std::string payload;              // the codec's bytes, uncompressed
};

enum class EnvelopeError {
  foreign,        // not written by Strata (no magic)
  newer_version,  // written by a newer Strata
  truncated,      // shorter than its own lengths say
  corrupt,        // lengths or flags that make no sense, trailing bytes
  decompression,  // zstd refused the payload
  integrity,      // HMAC missing or wrong (only with a secret configured)
};
[[nodiscard]] std::string_view describe(EnvelopeError error) noexcept;

struct EnvelopeOptions {
  // Compress payloads of at least this many bytes (0: never) when zstd saves at least
  // min_compression_saving of them.
  std::size_t compression_threshold = 1024;
  double min_compression_saving = 0.10;
  int compression_level = 3;
  // Non-empty: every envelope carries HMAC-SHA256(secret, key || envelope), and one without a
  // valid HMAC is rejected, so write access to Redis alone cannot make the cache serve data.
  std::string integrity_secret;
  // Largest payload a read will inflate (guards against decompression bombs).
  std::size_t max_payload_bytes = 512 * 1024 * 1024;
};

// Versioned binary format, the value first so that a reader can keep it where it lies (the
// reply buffer becomes the value by shortening it, whatever its size):
//   stored payload | metadata | HMAC 32 bytes when flagged | footer
//   metadata: payload len u32 | original len u32 (0 when stored plain) | created, fresh_until,
//             stale_until i64 | fill_epoch u64 | tag count u16 | codec len u8 | codec bytes
//             | (tag len u16 + bytes) per tag
//   footer:   metadata len u32 | flags u8 (1 = zstd, 2 = HMAC) | version u8 | magic "\xB7STC"
// All integers little-endian. Every version keeps "version u8 | magic" as its last five bytes,
// so a reader always knows which version it looks at. Version 1 (before the first release) put
// the metadata first; its entries read as foreign (a miss that deletes them).
class EnvelopeCodec {
public:
  static constexpr std::uint8_t kVersion = 2;

  explicit EnvelopeCodec(EnvelopeOptions options);

  // The stored bytes for `envelope` under `key` (the key enters the HMAC, so an entry copied
  // to another key fails verification).
  [[nodiscard]] std::string encode(const Envelope& envelope, std::string_view key) const;
  // The same with the payload given apart (envelope.payload is ignored): a value whose bytes
  // are the value itself is stored without copying it into the envelope first.
  [[nodiscard]] std::string encode(const Envelope& envelope, std::string_view payload,
                                   std::string_view key) const;

  // A checked envelope read in place: every field is verified (lengths, version, flags, HMAC),
  // nothing is copied, and the views point into the bytes given to inspect(). A read that only
  // wants the value takes it from here without building an Envelope.
  struct View {
    std::string_view codec;
    std::int64_t created_ms = 0;
    std::int64_t fresh_until_ms = 0;
    std::int64_t stale_until_ms = 0;
    std::uint64_t fill_epoch = 0;
    std::string_view stored;  // the payload as stored (compressed when `compressed`)
    bool compressed = false;
    std::uint32_t original_size = 0;
    std::string_view tag_block;  // tag_count times (len u16 + bytes), lengths already checked
    std::uint16_t tag_count = 0;

    [[nodiscard]] std::vector<std::string> tags() const;
    // Everything but the payload, as owned values.
    [[nodiscard]] Envelope without_payload() const;
  };
  struct Inspected {
    View view;
    bool ok = false;
    EnvelopeError error = EnvelopeError::foreign;
  };
  [[nodiscard]] Inspected inspect(std::string_view bytes, std::string_view key) const;
  // The payload of `view`, inspected in `bytes`, which this takes over: stored plain, the payload
  // is `bytes` shortened (neither copied nor moved); compressed, it is inflated. False when the
  // compressed payload does not inflate.
  [[nodiscard]] bool take_payload(const View& view, std::string&& bytes, std::string& payload) const;

  [[nodiscard]] const EnvelopeOptions& options() const noexcept { return options_; }

private:
  // inspect()'s work: fills `view` and returns the error, or nullopt.
  std::optional<EnvelopeError> inspect_into(std::string_view bytes, std::string_view key, View& view) const;
  bool inflate(const View& view, std::string& payload) const;

  EnvelopeOptions options_;
};

}  // namespace strata::cache
