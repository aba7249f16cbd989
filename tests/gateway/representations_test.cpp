#include "gateway/representations.hpp"

#include <gtest/gtest.h>

#include <string>

namespace strata::gateway {
namespace {

std::shared_ptr<const StoredResponse> response_of(std::size_t body_bytes) {
  auto response = std::make_shared<StoredResponse>();
  response->body.assign(body_bytes, 'x');
  response->render_headers();
  return response;
}

TEST(Representations, AFormIsFoundForItsOwnResponseAndCodingOnly) {
  Representations forms(1 << 20);
  const auto stored = response_of(100);
  const auto other = response_of(100);
  const auto identity = response_of(400);
  EXPECT_EQ(forms.find(stored, Coding::identity), nullptr);
  forms.keep(stored, Coding::identity, identity);
  EXPECT_EQ(forms.find(stored, Coding::identity), identity);
  EXPECT_EQ(forms.find(stored, Coding::br), nullptr);
  EXPECT_EQ(forms.find(other, Coding::identity), nullptr);
}

TEST(Representations, AFormDiesWithItsResponseEvenIfTheAddressIsReused) {
  Representations forms(1 << 20);
  // Two responses at one address, one after the other (as the allocator may place them): each
  // owned by its own control block, as a real successor would be.
  const auto memory = std::make_shared<StoredResponse>();
  std::shared_ptr<const StoredResponse> first(std::make_shared<int>(1), memory.get());
  forms.keep(first, Coding::identity, response_of(400));
  EXPECT_NE(forms.find(first, Coding::identity), nullptr);
  first.reset();
  const std::shared_ptr<const StoredResponse> successor(std::make_shared<int>(2), memory.get());
  EXPECT_EQ(forms.find(successor, Coding::identity), nullptr);
  EXPECT_EQ(forms.bytes(), 0U);  // and the dead form is dropped
}

TEST(Representations, StaysWithinItsBytesLeastRecentlyUsedFirstOut) {
  Representations forms(40 * 1024);
  std::vector<std::shared_ptr<const StoredResponse>> stored;
  for (int i = 0; i < 20; ++i) {
    stored.push_back(response_of(10));
    forms.keep(stored.back(), Coding::identity, response_of(4096));
    (void)forms.find(stored.front(), Coding::identity);  // the first stays in use
  }
  EXPECT_LE(forms.bytes(), 40U * 1024);
  EXPECT_NE(forms.find(stored.front(), Coding::identity), nullptr);
  EXPECT_NE(forms.find(stored.back(), Coding::identity), nullptr);
  EXPECT_EQ(forms.find(stored[1], Coding::identity), nullptr);
  forms.keep(stored[2], Coding::identity, response_of(20 * 1024));  // over a quarter: not kept
  EXPECT_EQ(forms.find(stored[2], Coding::identity), nullptr);
}

}  // namespace
}  // namespace strata::gateway
