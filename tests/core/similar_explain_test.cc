// SimilarItems (model scores and cosine) and score explanations against brute
// force on dense, sparse and low-rank models.
#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/explain.h"
#include "core/model.h"
#include "core/model_writer.h"
#include "core/scorer.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace edlae {
namespace {

constexpr size_t kItems = 2500;  // more than one 2048-item block
constexpr size_t kRank = 12;
constexpr uint32_t kZeroVRow = 7;  // low-rank: this item's V row is zero

// One model of each kind with continuous random weights, and the weights
// themselves (float32, as stored) for the references.
class SimilarExplainTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal(0, 1);
    for (size_t i = 0; i < kItems; ++i) ids_.push_back(absl::StrCat("i", i));
    popularity_.resize(kItems);
    for (float& p : popularity_) p = static_cast<float>(rng() % 50);

    b_.resize(kItems * kItems);
    for (float& x : b_) x = normal(rng);
    DenseModelData dense;
    dense.b = b_;
    dense.item_ids = ids_;
    dense.popularity = popularity_;
    ASSERT_TRUE(WriteDenseModel(dir_.File("d.edlae"), dense).ok());

    u_.resize(kItems * kRank);
    v_.resize(kItems * kRank);
    for (float& x : u_) x = normal(rng);
    for (float& x : v_) x = normal(rng);
    std::fill_n(v_.begin() + kZeroVRow * kRank, kRank, 0.0f);
    LowRankModelData low;
    low.rank = kRank;
    low.u = u_;
    low.v = v_;
    low.item_ids = ids_;
    low.popularity = popularity_;
    ASSERT_TRUE(WriteLowRankModel(dir_.File("l.edlae"), low).ok());

    // Sparse: ~20 entries per row; sparse_b_ holds B with the rest zero.
    std::vector<uint64_t> offsets{0};
    std::vector<uint32_t> indices;
    std::vector<float> weights;
    sparse_b_.assign(kItems * kItems, 0.0f);
    for (size_t i = 0; i < kItems; ++i) {
      std::vector<uint32_t> cols;
      for (int k = 0; k < 20; ++k) cols.push_back(rng() % kItems);
      std::sort(cols.begin(), cols.end());
      cols.erase(std::unique(cols.begin(), cols.end()), cols.end());
      for (uint32_t j : cols) {
        indices.push_back(j);
        weights.push_back(normal(rng));
        sparse_b_[i * kItems + j] = weights.back();
      }
      offsets.push_back(indices.size());
    }
    SparseModelData sparse;
    sparse.offsets = offsets;
    sparse.indices = indices;
    sparse.weights = weights;
    sparse.item_ids = ids_;
    sparse.popularity = popularity_;
    ASSERT_TRUE(WriteSparseModel(dir_.File("s.edlae"), sparse).ok());

    for (const char* name : {"d", "l", "s"}) {
      auto m = Model::Open(dir_.File(absl::StrCat(name, ".edlae")));
      ASSERT_TRUE(m.ok()) << m.status();
      models_.push_back(*m);
    }
  }

  // Reference scores (double) of a history on models_[kind]: Σ w·B rows
  // (dense, sparse), Σ w·<U_i, V_j> (low-rank).
  std::vector<double> Reference(int kind,
                                const std::vector<HistoryEntry>& h) const {
    std::vector<double> s(kItems, 0.0);
    for (const HistoryEntry& e : h) {
      for (size_t j = 0; j < kItems; ++j)
        s[j] += e.weight * Term(kind, e.index, j);
    }
    return s;
  }
  // B[i, j] of models_[kind] (<U_i, V_j> for low-rank).
  double Term(int kind, size_t i, size_t j) const {
    if (kind == 0) return b_[i * kItems + j];
    if (kind == 2) return sparse_b_[i * kItems + j];
    double d = 0;
    for (size_t c = 0; c < kRank; ++c)
      d += u_[i * kRank + c] * v_[j * kRank + c];
    return d;
  }
  double VNorm(size_t i) const {
    double d = 0;
    for (size_t c = 0; c < kRank; ++c)
      d += v_[i * kRank + c] * v_[i * kRank + c];
    return std::sqrt(d);
  }
  // cos(V_j, mean of the query's normalized V rows), 0 for a zero V_j.
  std::vector<double> ReferenceCosine(
      const std::vector<uint32_t>& query) const {
    std::vector<double> z(kRank, 0.0);
    for (uint32_t i : query) {
      const double n = VNorm(i);
      if (n == 0) continue;
      for (size_t c = 0; c < kRank; ++c) z[c] += v_[i * kRank + c] / n;
    }
    double zn = 0;
    for (double x : z) zn += x * x;
    zn = std::sqrt(zn);
    std::vector<double> s(kItems, 0.0);
    for (size_t j = 0; j < kItems; ++j) {
      const double n = VNorm(j);
      if (n == 0) continue;
      double d = 0;
      for (size_t c = 0; c < kRank; ++c) d += v_[j * kRank + c] * z[c];
      s[j] = d / (n * zn);
    }
    return s;
  }

  // `got` is a correct top-`top_n` of `ref` over `allowed`: sizes, order,
  // every score within eps of the reference, and no allowed item left out
  // that scores more than the last one returned (beyond eps).
  static void ExpectTopN(const std::vector<ScoredItem>& got,
                         const std::vector<double>& ref,
                         const std::vector<bool>& allowed, size_t top_n,
                         double eps) {
    const size_t n_allowed = std::count(allowed.begin(), allowed.end(), true);
    ASSERT_EQ(got.size(), std::min(top_n, n_allowed));
    std::vector<bool> returned(ref.size(), false);
    for (size_t k = 0; k < got.size(); ++k) {
      const uint32_t j = got[k].index;
      ASSERT_TRUE(allowed[j]) << "item " << j << " is not allowed";
      EXPECT_NEAR(got[k].score, ref[j], eps) << "item " << j;
      if (k > 0) {
        EXPECT_GE(got[k - 1].score, got[k].score);
      }
      returned[j] = true;
    }
    if (got.empty()) return;
    for (size_t j = 0; j < ref.size(); ++j) {
      if (allowed[j] && !returned[j]) {
        EXPECT_LE(ref[j], got.back().score + eps)
            << "item " << j << " left out";
      }
    }
  }

  // Brute-force contributions of `h` to item j on models_[kind], merged per
  // history item, zeros left out, largest first.
  std::vector<std::pair<uint32_t, double>> AllContributions(
      int kind, const std::vector<HistoryEntry>& h, uint32_t j) const {
    std::vector<std::pair<uint32_t, double>> merged;
    for (const HistoryEntry& e : h) {
      auto it = std::find_if(merged.begin(), merged.end(),
                             [&](const auto& p) { return p.first == e.index; });
      if (it == merged.end()) {
        merged.push_back({e.index, 0.0});
        it = merged.end() - 1;
      }
      it->second += e.weight * Term(kind, e.index, j);
    }
    std::erase_if(merged, [](const auto& p) { return p.second == 0; });
    std::sort(merged.begin(), merged.end(),
              [](const auto& a, const auto& b) { return a.second > b.second; });
    return merged;
  }

  static std::vector<HistoryEntry> Ones(const std::vector<uint32_t>& items) {
    std::vector<HistoryEntry> h;
    for (uint32_t i : items) h.push_back({i, 1.0f});
    return h;
  }

  testing::ScratchDir dir_;
  std::vector<std::string> ids_;
  std::vector<float> popularity_, b_, u_, v_, sparse_b_;
  std::vector<std::shared_ptr<const Model>> models_;  // dense, low-rank, sparse
};

TEST_F(SimilarExplainTest, ModelSimilarityIsTheQueryRowsSummedOnEveryKind) {
  const std::vector<uint32_t> query = {3, 2100, 3, 999};  // a duplicate
  const std::vector<uint32_t> distinct = {3, 999, 2100};
  const std::vector<uint32_t> exclude = {5, 2499};
  for (int kind = 0; kind < 3; ++kind) {
    const std::vector<double> ref = Reference(kind, Ones(distinct));
    RecommendOptions options;
    options.top_n = 40;
    options.exclude = exclude;
    options.exclude_history = false;  // ignored: the query is never returned
    auto got = SimilarItems(*models_[kind], query, Similarity::kModel, options);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_FALSE(got->popularity_fallback);
    EXPECT_TRUE(got->contributions.empty());  // not asked for
    std::vector<bool> allowed(kItems, true);
    for (uint32_t i : distinct) allowed[i] = false;
    for (uint32_t i : exclude) allowed[i] = false;
    ExpectTopN(got->items, ref, allowed, 40, 1e-4);
    // Exactly what Recommend answers for that history.
    RecommendOptions as_history = options;
    as_history.exclude_history = true;
    auto rec = Recommend(*models_[kind], Ones(distinct), as_history);
    ASSERT_TRUE(rec.ok());
    ASSERT_EQ(rec->items.size(), got->items.size());
    for (size_t k = 0; k < got->items.size(); ++k) {
      EXPECT_EQ(rec->items[k].index, got->items[k].index);
      EXPECT_EQ(rec->items[k].score, got->items[k].score);
    }
  }
}

TEST_F(SimilarExplainTest, ModelSimilarityWithCandidatesAndFallback) {
  const std::vector<uint32_t> candidates = {1, 2, 3, 500, 2400, 2, 77};
  for (int kind = 0; kind < 3; ++kind) {
    RecommendOptions options;
    options.top_n = 3;
    options.candidates = candidates;
    auto got = SimilarItems(*models_[kind], std::vector<uint32_t>{3, 77},
                            Similarity::kModel, options);
    ASSERT_TRUE(got.ok()) << got.status();
    std::vector<bool> allowed(kItems, false);
    for (uint32_t c : {1u, 2u, 500u, 2400u}) allowed[c] = true;
    ExpectTopN(got->items, Reference(kind, Ones({3, 77})), allowed, 3, 1e-4);

    // No query item: the most popular items, the exclusions still apply.
    RecommendOptions cold;
    cold.top_n = 5;
    const std::vector<uint32_t> exclude = {
        models_[kind]->items_by_popularity()[0]};
    cold.exclude = exclude;
    auto fallback = SimilarItems(*models_[kind], {}, Similarity::kModel, cold);
    ASSERT_TRUE(fallback.ok());
    EXPECT_TRUE(fallback->popularity_fallback);
    ASSERT_EQ(fallback->items.size(), 5u);
    EXPECT_EQ(fallback->items[0].index,
              models_[kind]->items_by_popularity()[1]);
  }
}

TEST_F(SimilarExplainTest, CosineOnLowRankIsCosineWithTheMeanOfNormalizedRows) {
  const Model& low = *models_[1];
  ASSERT_EQ(low.v_inverse_norms().size(), kItems);
  EXPECT_EQ(low.v_inverse_norms()[kZeroVRow], 0.0f);
  EXPECT_NEAR(low.v_inverse_norms()[1], 1.0 / VNorm(1), 1e-6);
  // kZeroVRow in the query is skipped; a duplicate counts once.
  const std::vector<uint32_t> query = {10, 2300, kZeroVRow, 10};
  const std::vector<double> ref = ReferenceCosine({10, 2300});
  for (size_t top_n : {1u, 25u, 5000u}) {
    RecommendOptions options;
    options.top_n = top_n;
    const std::vector<uint32_t> exclude = {11, 12};
    options.exclude = exclude;
    auto got = SimilarItems(low, query, Similarity::kCosine, options);
    ASSERT_TRUE(got.ok()) << got.status();
    std::vector<bool> allowed(kItems, true);
    for (uint32_t i : {10u, 2300u, kZeroVRow, 11u, 12u}) allowed[i] = false;
    ExpectTopN(got->items, ref, allowed, top_n, 1e-5);
    for (const ScoredItem& s : got->items) {
      EXPECT_LE(std::abs(s.score), 1.0f + 1e-5f);
    }
  }
  // One query item: its nearest neighbour by cosine, brute force.
  RecommendOptions one;
  one.top_n = 1;
  auto nearest =
      SimilarItems(low, std::vector<uint32_t>{42}, Similarity::kCosine, one);
  ASSERT_TRUE(nearest.ok());
  const std::vector<double> ref42 = ReferenceCosine({42});
  size_t best = 0;
  for (size_t j = 0; j < kItems; ++j) {
    if (j != 42 && (best == 42 || ref42[j] > ref42[best])) best = j;
  }
  ASSERT_EQ(nearest->items.size(), 1u);
  EXPECT_EQ(nearest->items[0].index, best);

  // Candidates; a candidate with a zero V row scores 0.
  RecommendOptions cand;
  cand.top_n = 10;
  const std::vector<uint32_t> candidates = {kZeroVRow, 100, 200, 300, 10};
  cand.candidates = candidates;
  auto restricted = SimilarItems(low, std::vector<uint32_t>{10, 2300},
                                 Similarity::kCosine, cand);
  ASSERT_TRUE(restricted.ok());
  std::vector<bool> allowed(kItems, false);
  for (uint32_t c : {kZeroVRow, 100u, 200u, 300u}) allowed[c] = true;
  ExpectTopN(restricted->items, ref, allowed, 10, 1e-5);

  // Only a zero row in the query: no signal, the popularity fallback.
  auto cold = SimilarItems(low, std::vector<uint32_t>{kZeroVRow},
                           Similarity::kCosine, cand);
  ASSERT_TRUE(cold.ok());
  EXPECT_TRUE(cold->popularity_fallback);
}

TEST_F(SimilarExplainTest,
       CosineIsRefusedWhereItHasNoMeaningAndBadInputIsRefused) {
  RecommendOptions options;
  options.top_n = 5;
  for (int kind : {0, 2}) {
    auto got = SimilarItems(*models_[kind], std::vector<uint32_t>{1},
                            Similarity::kCosine, options);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(got.status().message().find("low-rank"), std::string::npos);
  }
  for (int kind = 0; kind < 3; ++kind) {
    for (Similarity sim : {Similarity::kModel, Similarity::kCosine}) {
      if (sim == Similarity::kCosine && kind != 1) continue;
      auto out_of_range = SimilarItems(
          *models_[kind], std::vector<uint32_t>{static_cast<uint32_t>(kItems)},
          sim, options);
      EXPECT_EQ(out_of_range.status().code(),
                absl::StatusCode::kInvalidArgument);
      RecommendOptions zero = options;
      zero.top_n = 0;
      auto no_top =
          SimilarItems(*models_[kind], std::vector<uint32_t>{1}, sim, zero);
      EXPECT_EQ(no_top.status().code(), absl::StatusCode::kInvalidArgument);
    }
  }
}

using ExplainTest = SimilarExplainTest;

TEST_F(ExplainTest, ContributionsSumToTheScoreAndAreTheLargestOnEveryKind) {
  std::mt19937 rng(9);
  std::vector<HistoryEntry> history;
  for (int k = 0; k < 30; ++k) {
    history.push_back({static_cast<uint32_t>(rng() % kItems), 0.25f + k % 4});
  }
  history.push_back(history[3]);    // a duplicate: merged
  history.push_back({1234, 0.0f});  // zero weight: no contribution
  for (int kind = 0; kind < 3; ++kind) {
    RecommendOptions all;
    all.top_n = 12;
    all.max_contributions = 1000;  // every one
    auto got = Recommend(*models_[kind], history, all);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->contributions.size(), got->items.size());
    RecommendOptions few = all;
    few.max_contributions = 3;
    auto top3 = Recommend(*models_[kind], history, few);
    ASSERT_TRUE(top3.ok());
    for (size_t k = 0; k < got->items.size(); ++k) {
      const uint32_t j = got->items[k].index;
      const auto ref = AllContributions(kind, history, j);
      const std::vector<Contribution>& c = got->contributions[k];
      ASSERT_EQ(c.size(), ref.size()) << "kind " << kind;
      double sum = 0, magnitude = 0;
      for (size_t m = 0; m < c.size(); ++m) {
        sum += c[m].contribution;
        magnitude += std::abs(c[m].contribution);
        EXPECT_NEAR(c[m].contribution, ref[m].second, 1e-4);
        if (m > 0) {
          EXPECT_GE(c[m - 1].contribution, c[m].contribution);
        }
        EXPECT_NE(c[m].index, 1234u);
      }
      EXPECT_NEAR(sum, got->items[k].score, 1e-5 * std::max(1.0, magnitude));
      // The limit keeps the largest ones.
      ASSERT_EQ(top3->contributions[k].size(), std::min<size_t>(3, ref.size()));
      for (size_t m = 0; m < top3->contributions[k].size(); ++m) {
        EXPECT_EQ(top3->contributions[k][m].index, c[m].index);
        EXPECT_EQ(top3->contributions[k][m].contribution, c[m].contribution);
      }
    }
  }
}

TEST_F(ExplainTest, SparseLeavesOutItemsWithoutAStoredEntry) {
  // Item 0's row: its stored columns get contributions, others none.
  const Model& sparse = *models_[2];
  const CsrWeights csr = sparse.sparse_rows();
  const uint32_t stored = csr.indices[csr.offsets[0]];
  std::vector<ScoredItem> items = {{stored, 0.0f}};
  uint32_t absent = 0;
  while (sparse_b_[absent] != 0.0f) ++absent;
  items.push_back({absent, 0.0f});
  const std::vector<HistoryEntry> history = {{0, 2.0f}};
  auto explained = ExplainScores(sparse, history, items, 5);
  ASSERT_TRUE(explained.ok());
  const auto& c = *explained;
  ASSERT_EQ(c.size(), 2u);
  ASSERT_EQ(c[0].size(), 1u);
  EXPECT_EQ(c[0][0].index, 0u);
  EXPECT_FLOAT_EQ(c[0][0].contribution, 2.0f * sparse_b_[stored]);
  EXPECT_TRUE(c[1].empty());
}

TEST_F(ExplainTest, ShouldStopCancelsExplanations) {
  std::vector<ScoredItem> items;
  for (uint32_t j = 0; j < 200; ++j) items.push_back({j, 0.0f});
  const std::vector<HistoryEntry> history = {{1, 1.0f}, {2, 1.0f}};
  for (int kind = 0; kind < 3; ++kind) {
    int calls = 0;
    auto stop_second = [&calls] { return ++calls > 1; };
    auto got = ExplainScores(*models_[kind], history, items, 5, stop_second);
    EXPECT_EQ(got.status().code(), absl::StatusCode::kCancelled);
    EXPECT_EQ(calls, 2);  // once per 64 items
  }
}

TEST_F(ExplainTest, CosineContributionsSumToTheCosine) {
  RecommendOptions options;
  options.top_n = 8;
  options.max_contributions = 10;
  const std::vector<uint32_t> query = {10, 2300, 400, kZeroVRow};
  auto got = SimilarItems(*models_[1], query, Similarity::kCosine, options);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->contributions.size(), got->items.size());
  for (size_t k = 0; k < got->items.size(); ++k) {
    const auto& c = got->contributions[k];
    EXPECT_EQ(c.size(), 3u);  // the zero row contributes nothing
    double sum = 0;
    for (const Contribution& x : c) {
      sum += x.contribution;
      EXPECT_NE(x.index, kZeroVRow);
    }
    EXPECT_NEAR(sum, got->items[k].score, 1e-5);
  }
}

TEST_F(ExplainTest, RecommendManyExplainsAsRecommendDoes) {
  std::vector<HistoryEntry> h1 = {{4, 1.0f}, {900, 2.0f}};
  std::vector<HistoryEntry> h2 = {{17, 1.0f}};
  std::vector<ScoringRequest> requests(2);
  requests[0].history = h1;
  requests[0].options.top_n = 6;
  requests[0].options.max_contributions = 2;
  requests[1].history = h2;
  requests[1].options.top_n = 4;  // no explanations asked
  const auto got = RecommendMany(*models_[1], requests, 64);
  for (size_t r = 0; r < 2; ++r) {
    ASSERT_TRUE(got[r].ok());
    auto alone =
        Recommend(*models_[1], requests[r].history, requests[r].options);
    ASSERT_TRUE(alone.ok());
    ASSERT_EQ(got[r]->contributions.size(), alone->contributions.size());
    for (size_t k = 0; k < alone->contributions.size(); ++k) {
      ASSERT_EQ(got[r]->contributions[k].size(),
                alone->contributions[k].size());
      for (size_t m = 0; m < alone->contributions[k].size(); ++m) {
        EXPECT_EQ(got[r]->contributions[k][m].index,
                  alone->contributions[k][m].index);
        EXPECT_EQ(got[r]->contributions[k][m].contribution,
                  alone->contributions[k][m].contribution);
      }
    }
  }
  EXPECT_EQ(got[0]->contributions.size(), 6u);
  EXPECT_TRUE(got[1]->contributions.empty());
}

}  // namespace
}  // namespace edlae
