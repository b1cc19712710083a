// TopN against a full sort: random scores with many ties, NaN, blocks, n larger than the input.
#include "core/topn.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace edlae {
namespace {

std::vector<ScoredItem> FullSort(const std::vector<float>& scores, size_t n) {
  std::vector<ScoredItem> all;
  for (size_t i = 0; i < scores.size(); ++i) {
    if (!std::isnan(scores[i])) all.push_back({static_cast<uint32_t>(i), scores[i]});
  }
  std::sort(all.begin(), all.end(), RanksBefore);
  if (all.size() > n) all.resize(n);
  return all;
}

void ExpectSame(const std::vector<ScoredItem>& got,
                const std::vector<ScoredItem>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].index, want[i].index) << "rank " << i;
    EXPECT_EQ(got[i].score, want[i].score) << "rank " << i;
  }
}

TEST(TopNTest, MatchesFullSortWithTies) {
  std::mt19937 rng(7);
  for (size_t count : {1u, 5u, 100u, 1000u, 4099u}) {
    for (size_t n : {1u, 3u, 10u, 100u, 5000u}) {
      std::vector<float> scores(count);
      // Few distinct values → many ties, which must break by lower index.
      for (float& s : scores) s = static_cast<float>(rng() % 17) - 8.0f;
      TopN one_by_one(n);
      for (size_t i = 0; i < count; ++i) one_by_one.Push(i, scores[i]);
      ExpectSame(one_by_one.TakeSorted(), FullSort(scores, n));

      TopN blocked(n);
      for (size_t b = 0; b < count; b += 64) {
        blocked.PushBlock(b, scores.data() + b, std::min<size_t>(64, count - b));
      }
      ExpectSame(blocked.TakeSorted(), FullSort(scores, n));
    }
  }
}

// Large blocks take PushBlock's linear-time first selection (a fresh selector
// and a block of at least 2n); later blocks and reuse after TakeSorted must
// continue from it exactly, NaN and ties included.
TEST(TopNTest, LargeBlocksAndReuseMatchFullSort) {
  std::mt19937 rng(11);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (size_t n : {1u, 7u, 100u}) {
    TopN reused(n);
    for (int round = 0; round < 3; ++round) {
      for (size_t block : {2 * n, size_t{2048}, size_t{5000}}) {
        std::vector<float> scores(6000);
        for (float& s : scores) {
          s = rng() % 9 == 0 ? nan : static_cast<float>(rng() % 23) - 11.0f;
        }
        for (size_t b = 0; b < scores.size(); b += block) {
          reused.PushBlock(b, scores.data() + b,
                           std::min(block, scores.size() - b));
        }
        ExpectSame(reused.TakeSorted(), FullSort(scores, n));
      }
    }
    // A first block that is mostly NaN leaves the selector not yet full.
    std::vector<float> sparse(4 * n + 8, nan);
    sparse[3] = 1.0f;
    sparse[sparse.size() - 1] = 2.0f;
    reused.PushBlock(0, sparse.data(), sparse.size());
    EXPECT_EQ(reused.size(), std::min<size_t>(n, 2));
    ExpectSame(reused.TakeSorted(), FullSort(sparse, n));
  }
}

TEST(TopNTest, BlocksInAnyOrderGiveTheSameResult) {
  std::vector<float> scores(300, 1.0f);  // all tied: lowest indices win
  scores[250] = 2.0f;
  TopN top(5);
  top.PushBlock(200, scores.data() + 200, 100);
  top.PushBlock(0, scores.data(), 200);
  ExpectSame(top.TakeSorted(), FullSort(scores, 5));
}

TEST(TopNTest, NaNIsNeverKeptAndInfinitiesOrder) {
  const float inf = std::numeric_limits<float>::infinity();
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> scores = {nan, -inf, 3.0f, nan, inf, 0.0f};
  TopN top(10);
  top.PushBlock(0, scores.data(), scores.size());
  ExpectSame(top.TakeSorted(), FullSort(scores, 10));
}

// The integer keys order every float as RanksBefore does: extremes,
// subnormals, both zeros (equal, so tied by index, and returned as +0).
TEST(TopNTest, KeysOrderExtremesSubnormalsAndSignedZeros) {
  const float inf = std::numeric_limits<float>::infinity();
  const float max = std::numeric_limits<float>::max();
  const float tiny = std::numeric_limits<float>::denorm_min();
  std::vector<float> scores = {-0.0f, 0.0f,  tiny,   -tiny,  max,
                               -max,  inf,   -inf,   1.0f,   -1.0f,
                               0.0f,  -0.0f, 1e-38f, -1e-38f};
  for (size_t n : {size_t{3}, size_t{5}, scores.size()}) {
    TopN top(n);
    for (size_t i = 0; i < scores.size(); ++i) {
      top.Push(static_cast<uint32_t>(i), scores[i]);
    }
    const std::vector<ScoredItem> got = top.TakeSorted();
    ExpectSame(got, FullSort(scores, n));
    for (const ScoredItem& item : got) {
      if (item.score == 0.0f) EXPECT_FALSE(std::signbit(item.score));
    }
  }
}

TEST(TopNTest, ZeroCapacityKeepsNothing) {
  TopN top(0);
  top.Push(1, 1.0f);
  float s[3] = {1, 2, 3};
  top.PushBlock(0, s, 3);
  EXPECT_TRUE(top.TakeSorted().empty());
}

// The threshold never exceeds the n-th best score pushed so far, rises to it
// when the reservoir (4n candidates) compacts, and resets with TakeSorted.
TEST(TopNTest, ThresholdIsALowerBoundThatRisesAtCompaction) {
  TopN top(2);
  EXPECT_EQ(top.threshold(), -std::numeric_limits<float>::infinity());
  top.Push(0, 5.0f);
  top.Push(1, 1.0f);
  top.Push(2, 3.0f);
  EXPECT_LE(top.threshold(), 3.0f);  // the 2nd best so far
  EXPECT_EQ(top.size(), 2u);
  top.Push(6, 2.0f);
  top.Push(7, 0.0f);
  top.Push(8, 1.5f);
  top.Push(9, -1.0f);
  EXPECT_LE(top.threshold(), 3.0f);
  top.Push(3, 4.0f);  // the 8th candidate fills the reservoir
  EXPECT_EQ(top.threshold(), 4.0f);
  top.Push(4, 0.5f);  // below the threshold: rejected at once
  top.Push(5, 4.0f);  // a tie with the threshold is admitted, settled by index
  std::vector<ScoredItem> got = top.TakeSorted();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].index, 0u);
  EXPECT_EQ(got[1].index, 3u);  // 4.0 at index 3 ranks before index 5
  EXPECT_EQ(top.size(), 0u);  // reusable after TakeSorted
  EXPECT_EQ(top.threshold(), -std::numeric_limits<float>::infinity());
}

// Random scores with many ties, pushed one by one and in blocks of every
// size, against a full sort: the reservoir's compactions never lose an item.
TEST(TopNTest, ReservoirMatchesFullSortUnderRandomPushes) {
  std::mt19937 rng(12);
  for (size_t n : {1u, 2u, 3u, 10u, 64u}) {
    std::vector<float> scores(5000);
    for (float& x : scores) x = static_cast<float>(rng() % 200) / 8;
    TopN one(n), blocks(n);
    for (size_t i = 0; i < scores.size(); ++i) {
      one.Push(static_cast<uint32_t>(i), scores[i]);
    }
    for (size_t b = 0, len = 1; b < scores.size();
         b += len, len = len % 97 + 1) {
      const size_t l = std::min(len, scores.size() - b);
      blocks.PushBlock(static_cast<uint32_t>(b), scores.data() + b, l);
    }
    ExpectSame(one.TakeSorted(), FullSort(scores, n));
    ExpectSame(blocks.TakeSorted(), FullSort(scores, n));
  }
}

}  // namespace
}  // namespace edlae
