// ComputeGram against a naive dense XᵀX, for several thread counts.
#include "trainer/gram.h"

#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace edlae {
namespace {

Interactions RandomInteractions(size_t users, size_t items, double density,
                                uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> u(0, 1);
  Interactions x;
  for (size_t i = 0; i < items; ++i) x.item_ids.push_back(absl::StrCat("i", i));
  x.row_offsets.push_back(0);
  for (size_t r = 0; r < users; ++r) {
    x.user_ids.push_back(absl::StrCat("u", r));
    for (size_t i = 0; i < items; ++i) {
      if (u(rng) < density) x.item_indices.push_back(i);
    }
    x.row_offsets.push_back(x.item_indices.size());
  }
  return x;
}

TEST(GramTest, EqualsNaiveProductForAnyThreadCount) {
  const Interactions x = RandomInteractions(300, 150, 0.08, 11);
  const size_t n = x.num_items();
  std::vector<double> want(n * n, 0.0);
  for (size_t r = 0; r < x.num_users(); ++r) {
    for (uint64_t a = x.row_offsets[r]; a < x.row_offsets[r + 1]; ++a) {
      for (uint64_t b = x.row_offsets[r]; b < x.row_offsets[r + 1]; ++b) {
        want[x.item_indices[a] * n + x.item_indices[b]] += 1;
      }
    }
  }
  for (int threads : {1, 2, 3, 8}) {
    EXPECT_EQ(ComputeGram(x, threads), want) << threads << " threads";
    const std::vector<float> want_f(want.begin(), want.end());
    EXPECT_EQ(ComputeGramFloat(x, threads), want_f) << threads << " threads";
  }
}

TEST(GramTest, DiagonalCountsUsersPerItemAndEmptyUsersAreHarmless) {
  Interactions x;
  x.item_ids = {"a", "b", "c"};
  x.user_ids = {"u0", "u1", "u2"};
  x.row_offsets = {0, 2, 2, 5};  // u1 has no items
  x.item_indices = {0, 2, 0, 1, 2};
  const std::vector<double> g = ComputeGram(x, 2);
  const std::vector<double> want = {2, 1, 2,   //
                                    1, 1, 1,   //
                                    2, 1, 2};
  EXPECT_EQ(g, want);
}

}  // namespace
}  // namespace edlae
