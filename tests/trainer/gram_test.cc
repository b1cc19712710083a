// ComputeGram (all entry points) against a naive dense XᵀX, for several
// thread counts.
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

// Brute-force XᵀX as doubles (both triangles counted independently).
std::vector<double> NaiveGram(const Interactions& x) {
  const size_t n = x.num_items();
  std::vector<double> want(n * n, 0.0);
  for (size_t r = 0; r < x.num_users(); ++r) {
    for (uint64_t a = x.row_offsets[r]; a < x.row_offsets[r + 1]; ++a) {
      for (uint64_t b = x.row_offsets[r]; b < x.row_offsets[r + 1]; ++b) {
        want[x.item_indices[a] * n + x.item_indices[b]] += 1;
      }
    }
  }
  return want;
}

// Every path to G (ComputeGram, ComputeGramFloat, ComputeGramInto on garbage
// with each GramRows)
// equals the brute force, for 1, 2 and more threads than work ranges.
void ExpectAllPathsEqualNaive(const Interactions& x) {
  const size_t n = x.num_items();
  const std::vector<double> want = NaiveGram(x);
  const std::vector<float> want_f(want.begin(), want.end());
  for (int threads : {1, 2, 3, 8}) {
    EXPECT_EQ(ComputeGram(x, threads), want) << threads << " threads";
    EXPECT_EQ(ComputeGramFloat(x, threads), want_f) << threads << " threads";
    // Caller-owned memory full of garbage: every entry must be overwritten,
    // whichever way the rows are built.
    for (GramRows rows :
         {GramRows::kAuto, GramRows::kWhole, GramRows::kUpperThenMirror}) {
      const std::string what = absl::StrCat(
          threads, " threads, ComputeGramInto rows ", static_cast<int>(rows));
      std::vector<double> into(n * n, -7.5);
      ComputeGramInto(x, threads, into.data(), rows);
      EXPECT_EQ(into, want) << what;
      std::vector<float> into_f(n * n, 3.25f);
      ComputeGramInto(x, threads, into_f.data(), rows);
      EXPECT_EQ(into_f, want_f) << what;
    }
  }
}

TEST(GramTest, EqualsNaiveProductForAnyThreadCount) {
  ExpectAllPathsEqualNaive(RandomInteractions(300, 150, 0.08, 11));
}

// Skewed popularity (row work differs by orders of magnitude, so the
// work-balanced ranges are uneven in rows), items nobody used, users with one
// item or none, and an n that is a multiple of no block size.
TEST(GramTest, EqualsNaiveProductWithSkewedAndEmptyItems) {
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(0, 1);
  constexpr size_t kItems = 211, kUsers = 400;
  Interactions x;
  for (size_t i = 0; i < kItems; ++i)
    x.item_ids.push_back(absl::StrCat("i", i));
  x.row_offsets.push_back(0);
  for (size_t r = 0; r < kUsers; ++r) {
    x.user_ids.push_back(absl::StrCat("u", r));
    if (r % 7 == 0) {  // one item, or none
      if (r % 14 == 0) x.item_indices.push_back(static_cast<uint32_t>(r % 5));
    } else {
      for (size_t i = 0; i < kItems; ++i) {
        // Item i used with probability ~ 1/(i+1); every 10th item never.
        if (i % 10 != 9 && u(rng) < 0.9 / (1.0 + 0.2 * i)) {
          x.item_indices.push_back(static_cast<uint32_t>(i));
        }
      }
    }
    x.row_offsets.push_back(x.item_indices.size());
  }
  const std::vector<double> want = NaiveGram(x);
  EXPECT_EQ(want[9 * kItems + 9], 0.0);  // the set does have unused items
  ExpectAllPathsEqualNaive(x);
}

TEST(GramTest, DiagonalCountsUsersPerItemAndEmptyUsersAreHarmless) {
  Interactions x;
  x.item_ids = {"a", "b", "c"};
  x.user_ids = {"u0", "u1", "u2"};
  x.row_offsets = {0, 2, 2, 5};  // u1 has no items
  x.item_indices = {0, 2, 0, 1, 2};
  const std::vector<double> g = ComputeGram(x, 2);
  const std::vector<double> want = {2, 1, 2,  //
                                    1, 1, 1,  //
                                    2, 1, 2};
  EXPECT_EQ(g, want);
}

}  // namespace
}  // namespace edlae
