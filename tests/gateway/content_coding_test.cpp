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

}  // namespace
}  // namespace strata::gateway
