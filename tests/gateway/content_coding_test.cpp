// Accept-Encoding as a table (RFC 9110 12.5.3): the gateway never sends a coding the client did
// not accept.

#include "gateway/content_coding.hpp"

#include <gtest/gtest.h>

namespace strata::gateway {
namespace {

struct Row {
  const char* accept_encoding;
  const char* coding;
  bool accepted;
};

const Row kRows[] = {
    {"", "identity", true},
    {"", "gzip", false},  // no Accept-Encoding: identity only
    {"gzip", "gzip", true},
    {"gzip", "br", false},
    {"gzip", "identity", true},
    {"GZIP", "gzip", true},
    {"x-gzip", "gzip", true},
    {"gzip", "x-gzip", true},
    {"gzip, deflate, br, zstd", "zstd", true},
    {"gzip;q=0", "gzip", false},
    {"gzip;q=0.0", "gzip", false},
    {"gzip; q=0.001", "gzip", true},
    {"gzip;q=1.0", "gzip", true},
    {"gzip;Q=0", "gzip", false},
    {"gzip;q=2", "gzip", false},      // malformed q: the member is ignored
    {"gzip;q=0.5x", "gzip", false},
    {"*", "br", true},
    {"*;q=0", "br", false},
    {"*;q=0", "identity", false},
    {"*;q=0, identity", "identity", true},
    {"gzip, *;q=0", "gzip", true},
    {"gzip, *;q=0", "br", false},
    {"identity;q=0", "identity", false},
    {"identity;q=0, gzip", "identity", false},
    {"br;q=0, *", "br", false},        // listed by name wins over *
    {"gzip;q=0, gzip", "gzip", true},  // the best weight of repeated members
    {" , gzip ,, ", "gzip", true},
};

TEST(ContentCoding, AcceptEncodingWithQValuesAndWildcards) {
  for (const auto& row : kRows) {
    EXPECT_EQ(accepts_coding(row.accept_encoding, row.coding), row.accepted)
        << "Accept-Encoding: \"" << row.accept_encoding << "\", coding " << row.coding;
  }
}

TEST(ContentCoding, EveryAppliedCodingMustBeAccepted) {
  EXPECT_TRUE(accepts_content_encoding("gzip, br", "gzip"));
  EXPECT_TRUE(accepts_content_encoding("", "identity"));
  EXPECT_TRUE(accepts_content_encoding("gzip, br", "gzip, br"));
  EXPECT_FALSE(accepts_content_encoding("gzip", "gzip, br"));
  EXPECT_FALSE(accepts_content_encoding("", "gzip"));
}

TEST(ContentCoding, TheStoredCodingWhenAcceptedElseDecodedElseReencoded) {
  using Action = CodingChoice::Action;
  struct ChoiceRow {
    const char* accept_encoding;
    Coding stored;
    CodingChoice expected;
  };
  const ChoiceRow rows[] = {
      {"gzip, br", Coding::gzip, {Action::as_stored, Coding::gzip}},
      {"br;q=1, gzip;q=0.5", Coding::gzip, {Action::as_stored, Coding::gzip}},  // acceptable: no work
      {"", Coding::gzip, {Action::decode, Coding::identity}},
      {"br", Coding::gzip, {Action::decode, Coding::identity}},
      {"", Coding::identity, {Action::as_stored, Coding::identity}},
      {"gzip", Coding::identity, {Action::as_stored, Coding::identity}},
      {"br, identity;q=0", Coding::gzip, {Action::encode, Coding::br}},
      {"zstd, *;q=0", Coding::gzip, {Action::encode, Coding::zstd}},
      {"gzip, identity;q=0", Coding::br, {Action::encode, Coding::gzip}},
      {"identity;q=0", Coding::gzip, {Action::refuse, Coding::identity}},
      {"compress, *;q=0", Coding::identity, {Action::refuse, Coding::identity}},
  };
  for (const auto& row : rows) {
    const auto choice = choose_coding(row.accept_encoding, row.stored);
    EXPECT_TRUE(choice == row.expected) << "\"" << row.accept_encoding << "\" from " << coding_name(row.stored)
                                        << ": got " << static_cast<int>(choice.action) << " " << coding_name(choice.coding);
  }
}

TEST(ContentCoding, CompressibleTypes) {
  const std::vector<std::string> types{"text/*", "application/json", "*+json"};
  EXPECT_TRUE(compressible_type("application/json; charset=utf-8", types));
  EXPECT_TRUE(compressible_type("Text/HTML", types));
  EXPECT_TRUE(compressible_type("application/problem+json", types));
  EXPECT_FALSE(compressible_type("image/png", types));
  EXPECT_FALSE(compressible_type("", types));
  EXPECT_FALSE(compressible_type("application/jsonx", types));
}

TEST(Compression, EveryCodingRoundTripsAndNamesItself) {
  std::string text;
  for (int i = 0; i < 2000; ++i) text += R"({"id":)" + std::to_string(i) + R"(,"title":"row"},)";
  for (const Coding coding : {Coding::identity, Coding::gzip, Coding::br, Coding::zstd}) {
    SCOPED_TRACE(std::string(coding_name(coding)));
    const auto encoded = encode(coding, text, 5).value();
    if (coding != Coding::identity) {
      EXPECT_LT(encoded.size(), text.size() / 4);
    }
    EXPECT_EQ(decode(coding, encoded, text.size()), text);
    EXPECT_EQ(coding_named(coding_name(coding)), coding);
    EXPECT_EQ(decode(coding, encode(coding, "", 5).value(), 10), std::string());
  }
  EXPECT_EQ(coding_named("X-GZIP"), Coding::gzip);
  EXPECT_EQ(coding_named(""), Coding::identity);
  EXPECT_FALSE(coding_named("deflate"));
  EXPECT_FALSE(coding_named("gzip, br"));
}

TEST(Compression, DamagedTruncatedOrBombsFailToDecode) {
  const std::string text(1 << 20, 'a');  // a megabyte of one byte: compresses a thousandfold
  for (const Coding coding : {Coding::gzip, Coding::br, Coding::zstd}) {
    SCOPED_TRACE(std::string(coding_name(coding)));
    const auto encoded = encode(coding, text, 5).value();
    EXPECT_FALSE(decode(coding, encoded, text.size() - 1));  // the bound holds
    EXPECT_FALSE(decode(coding, encoded.substr(0, encoded.size() / 2), text.size()));
    EXPECT_FALSE(decode(coding, encoded + "trailing", text.size()));
    EXPECT_FALSE(decode(coding, "not compressed at all", text.size()));
    std::string flipped = encoded;
    flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x5a);
    const auto damaged = decode(coding, flipped, text.size());
    EXPECT_TRUE(!damaged || *damaged != text);
  }
  // gzip members may follow one another.
  EXPECT_EQ(decode(Coding::gzip, encode(Coding::gzip, "ab", 5).value() + encode(Coding::gzip, "cd", 5).value(), 10), "abcd");
}

TEST(Compression, ResultsKeepNoSpareCapacityForAsLongAsTheyAreStored) {
  std::string text;
  for (int i = 0; i < 40; ++i) text += R"({"id":)" + std::to_string(i) + R"(,"title":"row"},)";
  for (const Coding coding : {Coding::gzip, Coding::br, Coding::zstd}) {
    SCOPED_TRACE(std::string(coding_name(coding)));
    const auto encoded = encode(coding, text, 6).value();
    EXPECT_LE(encoded.capacity(), encoded.size() + encoded.size() / 8);  // not the worst-case bound
    const auto decoded = decode(coding, encoded, text.size()).value();
    EXPECT_EQ(decoded, text);
    EXPECT_LE(decoded.capacity(), decoded.size() + decoded.size() / 8);
  }
}

TEST(Compression, AThreadsReusedStateForgetsTheLevelAndTheFailureBeforeIt) {
  std::string text;
  for (int i = 0; i < 500; ++i) text += "line " + std::to_string(i * 7919 % 1000) + "\n";
  for (const Coding coding : {Coding::gzip, Coding::zstd}) {
    SCOPED_TRACE(std::string(coding_name(coding)));
    const auto fast = encode(coding, text, 1).value();
    const auto small = encode(coding, text, 9).value();
    EXPECT_NE(small, fast);                           // each call compresses at its own level
    EXPECT_EQ(encode(coding, text, 1).value(), fast);  // and the same level gives the same bytes again
    EXPECT_EQ(encode(coding, text, 9).value(), small);
    // A body cut short leaves a decoder mid-stream; the next body starts afresh.
    EXPECT_FALSE(decode(coding, small.substr(0, small.size() / 2), text.size()));
    EXPECT_EQ(decode(coding, fast, text.size()), text);
    EXPECT_EQ(decode(coding, small, text.size()), text);
  }
}

}  // namespace
}  // namespace strata::gateway
