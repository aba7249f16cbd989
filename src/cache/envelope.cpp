#include "cache/envelope.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <fmt/format.h>
#include <zstd.h>

#include <array>
#include <bit>
#include <cstring>
#include <limits>
#include <new>
#include <stdexcept>

namespace strata::cache {
namespace {

constexpr std::string_view kMagic = "\xB7STC";
constexpr std::uint8_t kFlagCompressed = 1;
constexpr std::uint8_t kFlagHmac = 2;
constexpr std::size_t kHmacBytes = 32;
constexpr std::size_t kFooterBytes = 4 + 1 + 1 + kMagic.size();  // metadata len, flags, version, magic
// The metadata's fixed fields: stored len, original len, created, fresh_until, stale_until,
// fill_epoch, tag count, codec len; the codec's name and the tags follow.
constexpr std::size_t kFixedMetadataBytes = 4 + 4 + 8 * 4 + 2 + 1;

void put_u8(std::string& out, std::uint8_t value) { out.push_back(static_cast<char>(value)); }
template <typename Unsigned>
void put_le(std::string& out, Unsigned value) {
  for (std::size_t i = 0; i < sizeof(Unsigned); ++i) {
    out.push_back(static_cast<char>(static_cast<std::uint8_t>(value >> (8 * i))));
  }
}

// The little-endian integer at `at` (which holds sizeof(Unsigned) bytes).
template <typename Unsigned>
[[gnu::always_inline]] inline Unsigned load_le(const char* at) {
  Unsigned value = 0;
  if constexpr (std::endian::native == std::endian::little) {
    std::memcpy(&value, at, sizeof(Unsigned));
  } else {
    for (std::size_t i = 0; i < sizeof(Unsigned); ++i) {
      value |= static_cast<Unsigned>(static_cast<std::uint8_t>(at[i])) << (8 * i);
    }
  }
  return value;
}

// Reads fields front to back; a read past the end fails and moves nothing.
class Reader {
public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}
  // Always inlined: an L2 hit decodes an envelope, and a call per field showed in its profile.
  [[gnu::always_inline]] bool take(std::size_t count, std::string_view& out) {
    if (bytes_.size() - position_ < count) return false;
    out = std::string_view(bytes_.data() + position_, count);  // in range: no substr() check
    position_ += count;
    return true;
  }
  template <typename Unsigned>
  [[gnu::always_inline]] bool read_le(Unsigned& value) {
    if (bytes_.size() - position_ < sizeof(Unsigned)) return false;
    value = load_le<Unsigned>(bytes_.data() + position_);
    position_ += sizeof(Unsigned);
    return true;
  }
  [[nodiscard]] std::size_t position() const noexcept { return position_; }
  [[nodiscard]] std::size_t remaining() const noexcept { return bytes_.size() - position_; }

private:
  std::string_view bytes_;
  std::size_t position_ = 0;
};

// HMAC-SHA256 over the key's length and bytes, then everything stored but the MAC itself (the
// bytes before it and the footer after it).
std::array<unsigned char, kHmacBytes> hmac_of(const std::string& secret, std::string_view key,
                                              std::string_view before_mac, std::string_view footer) {
  std::string message;
  message.reserve(8 + key.size() + before_mac.size() + footer.size());
  put_le<std::uint64_t>(message, key.size());
  message.append(key);
  message.append(before_mac);
  message.append(footer);
  std::array<unsigned char, kHmacBytes> digest{};
  unsigned int length = 0;
  if (HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(message.data()), message.size(), digest.data(),
           &length) == nullptr ||
      length != kHmacBytes) {
    throw std::runtime_error("HMAC-SHA256 failed in OpenSSL");
  }
  return digest;
}

// zstd contexts are costly to create (hundreds of KiB); each thread keeps one of each.
struct ZstdContexts {
  ZSTD_CCtx* compress = ZSTD_createCCtx();
  ZSTD_DCtx* decompress = ZSTD_createDCtx();
  ZstdContexts() {
    if (compress == nullptr || decompress == nullptr) throw std::bad_alloc();
  }
  ~ZstdContexts() {
    ZSTD_freeCCtx(compress);
    ZSTD_freeDCtx(decompress);
  }
  ZstdContexts(const ZstdContexts&) = delete;
  ZstdContexts& operator=(const ZstdContexts&) = delete;
};

ZstdContexts& zstd_contexts() {
  thread_local ZstdContexts contexts;
  return contexts;
}

}  // namespace

std::string_view describe(EnvelopeError error) noexcept {
  switch (error) {
    case EnvelopeError::foreign: return "not a Strata envelope (foreign value)";
    case EnvelopeError::newer_version: return "envelope from a newer Strata version";
    case EnvelopeError::truncated: return "truncated envelope";
    case EnvelopeError::corrupt: return "corrupt envelope";
    case EnvelopeError::decompression: return "compressed payload does not inflate";
    case EnvelopeError::integrity: return "integrity check (HMAC) failed";
  }
  return "unknown envelope error";
}

EnvelopeCodec::EnvelopeCodec(EnvelopeOptions options) : options_(std::move(options)) {
  if (options_.min_compression_saving < 0.0 || options_.min_compression_saving >= 1.0) {
    throw std::invalid_argument("min_compression_saving must be in [0, 1), got " +
                                std::to_string(options_.min_compression_saving));
  }
  const int level = options_.compression_level;
  if (level == 0 || level < ZSTD_minCLevel() || level > ZSTD_maxCLevel()) {
    throw std::invalid_argument(fmt::format(
        "compression_level must be in [1, {}] (zstd's levels; 3 is the default) or in [{}, -1] (its "
        "fast levels, which inflate about twice as fast and shrink less), got {}",
        ZSTD_maxCLevel(), ZSTD_minCLevel(), level));
  }
}

std::string EnvelopeCodec::encode(const Envelope& envelope, std::string_view key) const {
  return encode(envelope, envelope.payload, key);
}

std::string EnvelopeCodec::encode(const Envelope& envelope, std::string_view payload,
                                  std::string_view key) const {
  if (envelope.codec.size() > std::numeric_limits<std::uint8_t>::max()) {
    throw std::invalid_argument("codec name longer than 255 bytes: " + envelope.codec.substr(0, 40));
  }
  if (envelope.tags.size() > std::numeric_limits<std::uint16_t>::max()) {
    throw std::invalid_argument("an entry may carry at most 65535 tags");
  }
  if (payload.size() > std::numeric_limits<std::uint32_t>::max()) {
    throw std::invalid_argument("value larger than 4 GiB cannot be cached");
  }

  std::string compressed;
  bool compress = false;
  if (options_.compression_threshold != 0 && payload.size() >= options_.compression_threshold) {
    compressed.resize(ZSTD_compressBound(payload.size()));
    const std::size_t size = ZSTD_compressCCtx(zstd_contexts().compress, compressed.data(),
                                               compressed.size(), payload.data(), payload.size(),
                                               options_.compression_level);
    const auto limit = static_cast<double>(payload.size()) * (1.0 - options_.min_compression_saving);
    if (!ZSTD_isError(size) && static_cast<double>(size) <= limit) {
      compressed.resize(size);
      compress = true;
    }
  }
  const std::string_view stored = compress ? std::string_view(compressed) : std::string_view(payload);

  std::size_t tag_bytes = 0;
  for (const auto& tag : envelope.tags) {
    if (tag.size() > std::numeric_limits<std::uint16_t>::max()) {
      throw std::invalid_argument("tag longer than 65535 bytes: " + tag.substr(0, 40) + "...");
    }
    tag_bytes += 2 + tag.size();
  }
  const bool sign = !options_.integrity_secret.empty();
  std::string out;
  out.reserve(stored.size() + kFixedMetadataBytes + envelope.codec.size() + tag_bytes + kHmacBytes + kFooterBytes);
  out.append(stored);
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(stored.size()));
  put_le<std::uint32_t>(out, compress ? static_cast<std::uint32_t>(payload.size()) : 0U);
  put_le<std::uint64_t>(out, static_cast<std::uint64_t>(envelope.created_ms));
  put_le<std::uint64_t>(out, static_cast<std::uint64_t>(envelope.fresh_until_ms));
  put_le<std::uint64_t>(out, static_cast<std::uint64_t>(envelope.stale_until_ms));
  put_le<std::uint64_t>(out, envelope.fill_epoch);
  put_le<std::uint16_t>(out, static_cast<std::uint16_t>(envelope.tags.size()));
  put_u8(out, static_cast<std::uint8_t>(envelope.codec.size()));
  out.append(envelope.codec);
  for (const auto& tag : envelope.tags) {
    put_le<std::uint16_t>(out, static_cast<std::uint16_t>(tag.size()));
    out.append(tag);
  }
  const std::size_t metadata_size = out.size() - stored.size();
  if (metadata_size > std::numeric_limits<std::uint32_t>::max()) {
    throw std::invalid_argument("an entry's tags may total at most 4 GiB");
  }
  std::string footer;
  put_le<std::uint32_t>(footer, static_cast<std::uint32_t>(metadata_size));
  put_u8(footer, static_cast<std::uint8_t>((compress ? kFlagCompressed : 0) | (sign ? kFlagHmac : 0)));
  put_u8(footer, kVersion);
  footer.append(kMagic);
  if (sign) {
    const auto digest = hmac_of(options_.integrity_secret, key, out, footer);
    out.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  }
  out.append(footer);
  return out;
}

EnvelopeCodec::Inspected EnvelopeCodec::inspect(std::string_view bytes, std::string_view key) const {
  Inspected result;  // one named result returned on every path: built in place, never moved
  const auto error = inspect_into(bytes, key, result.view);
  result.ok = !error;
  if (error) result.error = *error;
  return result;
}

std::optional<EnvelopeError> EnvelopeCodec::inspect_into(std::string_view bytes, std::string_view key,
                                                         View& view) const {
  if (bytes.size() < kFooterBytes || !bytes.ends_with(kMagic)) return EnvelopeError::foreign;
  const char* const footer = bytes.data() + bytes.size() - kFooterBytes;
  const auto metadata_size = load_le<std::uint32_t>(footer);
  const auto flags = static_cast<std::uint8_t>(footer[4]);
  const auto version = static_cast<std::uint8_t>(footer[5]);
  if (version > kVersion) return EnvelopeError::newer_version;
  if (version != kVersion) return EnvelopeError::corrupt;
  if ((flags & ~(kFlagCompressed | kFlagHmac)) != 0) return EnvelopeError::corrupt;
  const bool signed_entry = (flags & kFlagHmac) != 0;
  if (!options_.integrity_secret.empty() && !signed_entry) return EnvelopeError::integrity;

  const std::size_t mac_size = signed_entry ? kHmacBytes : 0;
  const std::size_t before_footer = bytes.size() - kFooterBytes;
  if (before_footer < mac_size || before_footer - mac_size < metadata_size) return EnvelopeError::truncated;
  const std::size_t metadata_at = before_footer - mac_size - metadata_size;
  if (signed_entry && !options_.integrity_secret.empty()) {
    const auto expected = hmac_of(options_.integrity_secret, key, bytes.substr(0, before_footer - mac_size),
                                  bytes.substr(before_footer));
    if (CRYPTO_memcmp(expected.data(), bytes.data() + before_footer - mac_size, kHmacBytes) != 0) {
      return EnvelopeError::integrity;
    }
  }

  if (metadata_size < kFixedMetadataBytes) return EnvelopeError::corrupt;
  const char* const fixed = bytes.data() + metadata_at;
  const auto stored_size = load_le<std::uint32_t>(fixed);
  // The payload's own length catches bytes lost or added before the metadata.
  if (stored_size != metadata_at) return stored_size > metadata_at ? EnvelopeError::truncated : EnvelopeError::corrupt;
  view.stored = std::string_view(bytes.data(), stored_size);
  view.compressed = (flags & kFlagCompressed) != 0;
  view.original_size = load_le<std::uint32_t>(fixed + 4);
  if (!view.compressed && view.original_size != 0) return EnvelopeError::corrupt;
  view.created_ms = static_cast<std::int64_t>(load_le<std::uint64_t>(fixed + 8));
  view.fresh_until_ms = static_cast<std::int64_t>(load_le<std::uint64_t>(fixed + 16));
  view.stale_until_ms = static_cast<std::int64_t>(load_le<std::uint64_t>(fixed + 24));
  view.fill_epoch = load_le<std::uint64_t>(fixed + 32);
  view.tag_count = load_le<std::uint16_t>(fixed + 40);
  const auto codec_size = static_cast<std::uint8_t>(fixed[42]);
  if (view.fresh_until_ms > view.stale_until_ms) return EnvelopeError::corrupt;

  Reader reader(std::string_view(fixed + kFixedMetadataBytes, metadata_size - kFixedMetadataBytes));
  if (!reader.take(codec_size, view.codec)) return EnvelopeError::corrupt;
  const std::size_t tags_at = reader.position();
  for (std::uint16_t i = 0; i < view.tag_count; ++i) {
    std::uint16_t size = 0;
    std::string_view tag;
    if (!reader.read_le(size) || !reader.take(size, tag)) return EnvelopeError::corrupt;
  }
  if (reader.remaining() != 0) return EnvelopeError::corrupt;
  view.tag_block = std::string_view(fixed + kFixedMetadataBytes + tags_at, reader.position() - tags_at);
  if (view.compressed && view.original_size > options_.max_payload_bytes) return EnvelopeError::corrupt;
  return std::nullopt;
}

std::vector<std::string> EnvelopeCodec::View::tags() const {
  std::vector<std::string> out;
  if (tag_count == 0) return out;
  out.reserve(tag_count);
  Reader reader(tag_block);
  for (std::uint16_t i = 0; i < tag_count; ++i) {
    std::uint16_t size = 0;
    std::string_view tag;
    reader.read_le(size), reader.take(size, tag);  // checked by inspect()
    out.emplace_back(tag);
  }
  return out;
}

Envelope EnvelopeCodec::View::without_payload() const {
  Envelope envelope;
  envelope.codec = std::string(codec);
  envelope.created_ms = created_ms;
  envelope.fresh_until_ms = fresh_until_ms;
  envelope.stale_until_ms = stale_until_ms;
  envelope.fill_epoch = fill_epoch;
  envelope.tags = tags();
  return envelope;
}

bool EnvelopeCodec::inflate(const View& view, std::string& payload) const {
  payload.resize(view.original_size);
  const std::size_t size = ZSTD_decompressDCtx(zstd_contexts().decompress, payload.data(), payload.size(),
                                               view.stored.data(), view.stored.size());
  return !ZSTD_isError(size) && size == view.original_size;
}

bool EnvelopeCodec::take_payload(const View& view, std::string&& bytes, std::string& payload) const {
  if (view.compressed) return inflate(view, payload);
  const std::size_t size = view.stored.size();
  payload = std::move(bytes);
  payload.resize(size);  // the payload starts the buffer: shortening it is all
  return true;
}

}  // namespace strata::cache
