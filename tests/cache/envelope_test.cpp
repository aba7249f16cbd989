#include "cache/envelope.hpp"

#include <strata/cache/codec.hpp>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

namespace strata::cache {
namespace {

Envelope sample(std::string payload) {
  Envelope envelope;
  envelope.codec = "json";
  envelope.created_ms = 1'700'000'000'000;
  envelope.fresh_until_ms = envelope.created_ms + 30'000;
  envelope.stale_until_ms = envelope.created_ms + 90'000;
  envelope.fill_epoch = 41;
  envelope.tags = {"job:7", "user:alice"};
  envelope.payload = std::move(payload);
  return envelope;
}

// What a read gets out of stored bytes: inspect(), then the metadata and the payload, as the
// cache takes them (the bytes are copied first, so callers may pass temporaries).
struct Decoded {
  Envelope envelope;
  bool ok = false;
  EnvelopeError error = EnvelopeError::foreign;
  bool was_compressed = false;
};
Decoded decode(const EnvelopeCodec& codec, std::string_view bytes, std::string_view key) {
  Decoded out;
  std::string owned(bytes);
  const auto inspected = codec.inspect(owned, key);
  if (!inspected.ok) {
    out.error = inspected.error;
    return out;
  }
  out.envelope = inspected.view.without_payload();
  out.was_compressed = inspected.view.compressed;
  out.ok = codec.take_payload(inspected.view, std::move(owned), out.envelope.payload);
  if (!out.ok) out.error = EnvelopeError::decompression;
  return out;
}

void expect_same(const Envelope& a, const Envelope& b) {
  EXPECT_EQ(a.codec, b.codec);
  EXPECT_EQ(a.created_ms, b.created_ms);
  EXPECT_EQ(a.fresh_until_ms, b.fresh_until_ms);
  EXPECT_EQ(a.stale_until_ms, b.stale_until_ms);
  EXPECT_EQ(a.fill_epoch, b.fill_epoch);
  EXPECT_EQ(a.tags, b.tags);
  EXPECT_EQ(a.payload, b.payload);
}

TEST(EnvelopeTest, RoundTripsEveryFieldBinarySafely) {
  const EnvelopeCodec codec({});
  const auto envelope = sample(std::string("a\0b\xff", 4));
  const auto decoded = decode(codec, codec.encode(envelope, "k"), "k");
  ASSERT_TRUE(decoded.ok) << describe(decoded.error);
  expect_same(decoded.envelope, envelope);
  EXPECT_FALSE(decoded.was_compressed);
}

TEST(EnvelopeTest, CompressesAtTheThresholdOnlyWhenItSavesEnough) {
  const EnvelopeCodec codec({});
  const auto compressible = sample(std::string(4096, 'a'));
  const auto bytes = codec.encode(compressible, "k");
  EXPECT_LT(bytes.size(), 1024U);
  const auto decoded = decode(codec, bytes, "k");
  ASSERT_TRUE(decoded.ok);
  EXPECT_TRUE(decoded.was_compressed);
  expect_same(decoded.envelope, compressible);

  const auto small = sample(std::string(1023, 'a'));  // below the 1 KiB default
  EXPECT_FALSE(decode(codec, codec.encode(small, "k"), "k").was_compressed);

  std::string noise(4096, '\0');
  std::uint64_t state = 88172645463325252ULL;
  for (auto& c : noise) {
    state ^= state << 13, state ^= state >> 7, state ^= state << 17;
    c = static_cast<char>(state);
  }
  const auto incompressible = decode(codec, codec.encode(sample(noise), "k"), "k");
  ASSERT_TRUE(incompressible.ok);
  EXPECT_FALSE(incompressible.was_compressed);  // zstd cannot save 10% of random bytes
  EXPECT_EQ(incompressible.envelope.payload, noise);
}

TEST(EnvelopeTest, ForeignTruncatedCorruptAndNewerValuesAreRejected) {
  const EnvelopeCodec codec({});
  const auto bytes = codec.encode(sample("{\"progress\":40}"), "k");
  EXPECT_EQ(decode(codec, "{\"progress\":40}", "k").error, EnvelopeError::foreign);
  EXPECT_EQ(decode(codec, "", "k").error, EnvelopeError::foreign);
  EXPECT_EQ(decode(codec, "\xB7STC", "k").error, EnvelopeError::foreign);  // the magic alone
  // Version 1 put its metadata first, behind the magic: read as foreign, never misread.
  EXPECT_EQ(decode(codec, std::string("\xB7STC\x01\x00\x04json") + "{\"progress\":40}", "k").error,
            EnvelopeError::foreign);
  for (std::size_t cut = 1; cut < bytes.size(); ++cut) {
    const auto head = decode(codec, bytes.substr(0, cut), "k");  // the end lost: no footer
    EXPECT_FALSE(head.ok) << "accepted the first " << cut << " bytes";
    EXPECT_EQ(head.error, EnvelopeError::foreign) << cut;
    const auto tail = decode(codec, bytes.substr(cut), "k");  // the start lost
    EXPECT_FALSE(tail.ok) << "accepted the last " << bytes.size() - cut << " bytes";
    const bool footer_whole = bytes.size() - cut >= 10;
    EXPECT_EQ(tail.error, footer_whole ? EnvelopeError::truncated : EnvelopeError::foreign) << cut;
  }
  EXPECT_EQ(decode(codec, bytes + "x", "k").error, EnvelopeError::foreign);
  EXPECT_EQ(decode(codec, "x" + bytes, "k").error, EnvelopeError::corrupt);
  auto newer = bytes;
  newer[newer.size() - 5] = static_cast<char>(EnvelopeCodec::kVersion + 1);
  EXPECT_EQ(decode(codec, newer, "k").error, EnvelopeError::newer_version);
  auto older = bytes;
  older[older.size() - 5] = static_cast<char>(EnvelopeCodec::kVersion - 1);
  EXPECT_EQ(decode(codec, older, "k").error, EnvelopeError::corrupt);
  auto bad_flags = bytes;
  bad_flags[bad_flags.size() - 6] = static_cast<char>(0x80);
  EXPECT_EQ(decode(codec, bad_flags, "k").error, EnvelopeError::corrupt);
  auto bad_length = bytes;
  bad_length[bad_length.size() - 10] ^= 0x01;  // the metadata's length, one off
  EXPECT_FALSE(decode(codec, bad_length, "k").ok);

  auto compressed = codec.encode(sample(std::string(4096, 'z')), "k");
  compressed[0] ^= 0x5A;  // the zstd frame's own magic, which the payload starts with
  const auto damaged = decode(codec, compressed, "k");
  EXPECT_FALSE(damaged.ok);
  EXPECT_EQ(damaged.error, EnvelopeError::decompression);
}

TEST(EnvelopeTest, TakingThePayloadKeepsItWhereItLiesAndAgreesWithDecoding) {
  EnvelopeOptions signed_options;
  signed_options.integrity_secret = "s3cret";  // a MAC follows the payload too: it must be cut off
  for (const auto& options : {EnvelopeOptions{}, signed_options}) {
    const EnvelopeCodec codec(options);
    for (const std::string& payload : {std::string(), std::string("a\0b", 3), std::string(100, 'v'),
                                       std::string(4096, 'z')}) {
      const auto bytes = codec.encode(sample(payload), "k");
      const auto decoded = decode(codec, bytes, "k");
      auto owned_bytes = bytes;
      const char* const buffer = owned_bytes.data();
      const auto inspected = codec.inspect(owned_bytes, "k");
      ASSERT_TRUE(decoded.ok && inspected.ok) << describe(inspected.error);
      auto envelope = inspected.view.without_payload();
      ASSERT_TRUE(codec.take_payload(inspected.view, std::move(owned_bytes), envelope.payload));
      expect_same(envelope, decoded.envelope);
      EXPECT_EQ(envelope.payload, payload);
      EXPECT_EQ(inspected.view.compressed, decoded.was_compressed);
      if (!inspected.view.compressed && payload.size() > 15) {  // past the short-string buffer
        EXPECT_EQ(envelope.payload.data(), buffer) << "the payload was copied or moved, not kept";
      }
    }
    auto truncated = codec.encode(sample("value"), "k");
    truncated.erase(0, 1);  // signed, the MAC no longer matches before the lengths are read
    EXPECT_EQ(codec.inspect(truncated, "k").error,
              options.integrity_secret.empty() ? EnvelopeError::truncated : EnvelopeError::integrity);
  }
}

TEST(EnvelopeTest, APayloadThatDoesNotInflateIsRefusedWhenTaken) {
  const EnvelopeCodec codec({});
  auto bytes = codec.encode(sample(std::string(4096, 'z')), "k");
  bytes[5] ^= 0x5A;  // inside the zstd frame; the envelope around it is intact
  const auto inspected = codec.inspect(bytes, "k");
  ASSERT_TRUE(inspected.ok);
  ASSERT_TRUE(inspected.view.compressed);
  std::string payload;
  EXPECT_FALSE(codec.take_payload(inspected.view, std::move(bytes), payload));
}

TEST(EnvelopeTest, WithASecretOnlyEntriesSignedForThatKeyAreAccepted) {
  EnvelopeOptions signed_options;
  signed_options.integrity_secret = "s3cret";
  const EnvelopeCodec signer(signed_options);
  const auto bytes = signer.encode(sample("{\"role\":\"user\"}"), "app:ns:g0:1");
  ASSERT_TRUE(decode(signer, bytes, "app:ns:g0:1").ok);

  // The same bytes copied under another key fail: the key is signed too.
  EXPECT_EQ(decode(signer, bytes, "app:ns:g0:2").error, EnvelopeError::integrity);
  // An attacker with Redis write access but no secret: unsigned, or signed with another secret.
  EXPECT_EQ(decode(signer, EnvelopeCodec({}).encode(sample("{\"role\":\"admin\"}"), "app:ns:g0:1"),
                          "app:ns:g0:1")
                .error,
            EnvelopeError::integrity);
  EnvelopeOptions other;
  other.integrity_secret = "guess";
  EXPECT_EQ(decode(signer, EnvelopeCodec(other).encode(sample("{}"), "app:ns:g0:1"), "app:ns:g0:1").error,
            EnvelopeError::integrity);
  // One flipped byte anywhere: in the payload, the metadata, the MAC or the footer's flags.
  for (const std::size_t at : {std::size_t{0}, bytes.size() - 50, bytes.size() - 20, bytes.size() - 6}) {
    auto tampered = bytes;
    tampered[at] ^= 1;
    EXPECT_FALSE(decode(signer, tampered, "app:ns:g0:1").ok) << at;
  }
}

TEST(EnvelopeTest, InvalidOptionsFailFast) {
  for (const int level : {99, 0, -1'000'000}) {
    EnvelopeOptions options;
    options.compression_level = level;
    EXPECT_THAT([&] { EnvelopeCodec codec(options); },
                ::testing::ThrowsMessage<std::invalid_argument>(::testing::HasSubstr("compression_level")))
        << level;
  }
}

TEST(EnvelopeTest, ZstdFastLevelsCompressAndRoundTrip) {
  std::string json;
  for (int i = 0; json.size() < 4096; ++i) json += "{\"id\":" + std::to_string(i * 7919 % 100003) + ",\"ok\":true},";
  std::size_t stored_at_level_3 = 0;
  for (const int level : {3, -1, -5}) {
    EnvelopeOptions options;
    options.compression_level = level;
    const EnvelopeCodec codec(options);
    const auto bytes = codec.encode(sample(json), "app:ns:g0:1");
    const auto decoded = decode(codec, bytes, "app:ns:g0:1");
    ASSERT_TRUE(decoded.ok) << level;
    EXPECT_TRUE(decoded.was_compressed) << level;
    EXPECT_EQ(decoded.envelope.payload, json) << level;
    EXPECT_LT(bytes.size(), json.size() * 9 / 10) << level;
    if (level == 3) stored_at_level_3 = bytes.size();
    else EXPECT_GE(bytes.size(), stored_at_level_3) << "a fast level shrinks less than level 3";
  }
}

TEST(JsonText, DoublesReadLikeNumbersAndRoundTrip) {
  boost::json::object value;
  value["hit_rate"] = 42.86;
  value["ratio"] = 0.1;
  value["whole"] = 3.0;
  value["big"] = 1e21;
  value["count"] = 7;
  value["nan"] = std::nan("");
  value["text"] = "quote \" and \n newline";
  value["list"] = boost::json::array{1, 2.5, "x", nullptr, true};
  const auto text = strata::detail::json_serialize(value);
  EXPECT_EQ(text,
            R"({"hit_rate":42.86,"ratio":0.1,"whole":3.0,"big":1e+21,"count":7,"nan":null,)"
            R"("text":"quote \" and \n newline","list":[1,2.5,"x",null,true]})");
  const auto parsed = strata::detail::json_parse(text);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->at("hit_rate").as_double(), 42.86);
  EXPECT_EQ(parsed->at("whole").as_double(), 3.0);
  EXPECT_EQ(parsed->at("text").as_string(), "quote \" and \n newline");
}

}  // namespace
}  // namespace strata::cache
