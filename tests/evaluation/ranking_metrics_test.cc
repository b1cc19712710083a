// Recall@k, nDCG@k and the standard error against hand-computed values.
#include "evaluation/ranking_metrics.h"

#include <cmath>
#include <vector>

#include "core/topn.h"
#include "gtest/gtest.h"

namespace edlae {
namespace {

using V = std::vector<uint32_t>;

TEST(RecallTest, DividesByTheSmallerOfKAndTargets) {
  // Hits at ranks 1 and 3 among the top 3; 4 targets → min(3, 4) = 3.
  EXPECT_DOUBLE_EQ(RecallAtK(V{7, 2, 9, 4}, V{4, 7, 8, 9}, 3), 2.0 / 3);
  // k = 4: 3 hits of min(4, 4).
  EXPECT_DOUBLE_EQ(RecallAtK(V{7, 2, 9, 4}, V{4, 7, 8, 9}, 4), 3.0 / 4);
  // Fewer targets than k: 1 target found in the top 20 → recall 1, not 1/20.
  EXPECT_DOUBLE_EQ(RecallAtK(V{5, 1, 3}, V{3}, 20), 1.0);
  EXPECT_DOUBLE_EQ(RecallAtK(V{5, 1, 3}, V{8}, 20), 0.0);
  // k larger than the catalog (ranking shorter than k): divides by
  // min(k, |targets|) = 2, finds 1.
  EXPECT_DOUBLE_EQ(RecallAtK(V{0, 1, 2}, V{2, 5}, 100), 0.5);
}

TEST(RecallTest, EmptyTargetsOrZeroKIsUndefined) {
  EXPECT_TRUE(std::isnan(RecallAtK(V{1, 2}, V{}, 20)));
  EXPECT_TRUE(std::isnan(RecallAtK(V{1, 2}, V{1}, 0)));
  EXPECT_DOUBLE_EQ(RecallAtK(V{}, V{1}, 20), 0.0);
}

TEST(NdcgTest, HandComputed) {
  // Hits at ranks 1 and 3 (positions 0 and 2): DCG = 1 + 1/log2(4) = 1.5.
  // Two targets: IDCG = 1 + 1/log2(3).
  const double idcg2 = 1 + 1 / std::log2(3.0);
  EXPECT_NEAR(NdcgAtK(V{4, 8, 6}, V{4, 6}, 100), 1.5 / idcg2, 1e-15);
  // Perfect ranking → 1.
  EXPECT_DOUBLE_EQ(NdcgAtK(V{6, 4, 8}, V{4, 6}, 100), 1.0);
  // The cut at k: k = 2 sees only the hit at rank 1; IDCG over min(2, 2).
  EXPECT_NEAR(NdcgAtK(V{4, 8, 6}, V{4, 6}, 2), 1.0 / idcg2, 1e-15);
  // More targets than k: IDCG is over k positions, so a full top-k is 1.
  EXPECT_DOUBLE_EQ(NdcgAtK(V{1, 2}, V{1, 2, 3, 4}, 2), 1.0);
  // No hit.
  EXPECT_DOUBLE_EQ(NdcgAtK(V{1, 2}, V{3}, 100), 0.0);
  EXPECT_TRUE(std::isnan(NdcgAtK(V{1, 2}, V{}, 100)));
}

TEST(NdcgTest, TiesInScoreAreRankedByItemIndex) {
  // Items 3, 1, 2 all score 0.5: RanksBefore puts 1, 2, 3 in that order, so
  // a target at item 3 sits at rank 3 and is scored as such.
  std::vector<ScoredItem> items = {{3, 0.5f}, {1, 0.5f}, {2, 0.5f}, {0, 0.9f}};
  std::sort(items.begin(), items.end(), RanksBefore);
  V ranked;
  for (const ScoredItem& s : items) ranked.push_back(s.index);
  EXPECT_EQ(ranked, (V{0, 1, 2, 3}));
  EXPECT_NEAR(NdcgAtK(ranked, V{3}, 100), 1 / std::log2(5.0), 1e-15);
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, V{3}, 3), 0.0);
  EXPECT_DOUBLE_EQ(RecallAtK(ranked, V{3}, 4), 1.0);
}

TEST(SummarizeTest, PopulationStdOverSqrtNSkippingNan) {
  const double nan = std::nan("");
  // Values 1, 2, 3, 4: mean 2.5, population variance 1.25, s.e. sqrt(1.25)/2.
  MetricSummary s = Summarize(std::vector<double>{1, nan, 2, 3, 4});
  EXPECT_EQ(s.count, 4u);
  EXPECT_DOUBLE_EQ(s.mean, 2.5);
  EXPECT_DOUBLE_EQ(s.std_error, std::sqrt(1.25) / 2);
  MetricSummary one = Summarize(std::vector<double>{0.3});
  EXPECT_DOUBLE_EQ(one.mean, 0.3);
  EXPECT_DOUBLE_EQ(one.std_error, 0.0);
  MetricSummary none = Summarize(std::vector<double>{nan});
  EXPECT_EQ(none.count, 0u);
  EXPECT_EQ(none.mean, 0.0);
}

}  // namespace
}  // namespace edlae
