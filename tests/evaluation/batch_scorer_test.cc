// Batched top-k against the server's per-user Recommend: identical rankings
// (exact and GEMM paths), fallback, errors.
#include "evaluation/batch_scorer.h"

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/model.h"
#include "core/model_writer.h"
#include "core/scorer.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace edlae {
namespace {

struct Histories {
  std::vector<uint64_t> offsets{0};
  std::vector<uint32_t> items;
  SparseRows rows() const { return SparseRows{offsets, items}; }
};

class BatchScorerTest : public ::testing::Test {
 protected:
  // quarter = true: entries are multiples of 1/4, so every sum is exact in
  // float and any summation order (GEMM's too) gives identical scores, with
  // many ties. Otherwise entries are arbitrary floats.
  void Build(size_t n, uint32_t seed, bool quarter) {
    n_ = n;
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> real(-1.0f, 1.0f);
    b_.resize(n * n);
    for (float& v : b_) {
      v = quarter ? static_cast<float>(static_cast<int>(rng() % 17) - 8) / 4
                  : real(rng);
    }
    ids_.clear();
    for (size_t i = 0; i < n; ++i) ids_.push_back(absl::StrCat("i", i));
    popularity_.resize(n);
    for (float& p : popularity_) p = static_cast<float>(rng() % 7);  // ties
    DenseModelData data;
    data.b = b_;
    data.item_ids = ids_;
    data.popularity = popularity_;
    const std::string path =
        dir_.File(absl::StrCat("m", n, "_", seed, ".edlae"));
    ASSERT_TRUE(WriteDenseModel(path, data).ok());
    absl::StatusOr<std::shared_ptr<const Model>> m = Model::Open(path);
    ASSERT_TRUE(m.ok()) << m.status();
    model_ = *m;
  }

  Histories RandomHistories(size_t users, size_t max_items,
                            uint32_t seed) const {
    std::mt19937 rng(seed);
    Histories h;
    for (size_t u = 0; u < users; ++u) {
      std::vector<char> seen(n_, 0);
      const size_t count = rng() % (max_items + 1);  // 0 → fallback
      for (size_t k = 0; k < count; ++k) {
        const uint32_t i = rng() % n_;
        if (!seen[i]) {
          seen[i] = 1;
          h.items.push_back(i);
        }
      }
      h.offsets.push_back(h.items.size());
    }
    return h;
  }

  // What the server returns for user u: Recommend with exclude_history.
  std::vector<uint32_t> ServerTopK(const Histories& h, size_t u,
                                   size_t k) const {
    std::vector<HistoryEntry> history;
    for (uint64_t p = h.offsets[u]; p < h.offsets[u + 1]; ++p) {
      history.push_back({h.items[p], 1.0f});
    }
    RecommendOptions options;
    options.top_n = k;
    absl::StatusOr<Recommendation> r = Recommend(*model_, history, options);
    EXPECT_TRUE(r.ok()) << r.status();
    std::vector<uint32_t> out;
    for (const ScoredItem& s : r->items) out.push_back(s.index);
    return out;
  }

  testing::ScratchDir dir_;
  size_t n_ = 0;
  std::vector<float> b_;
  std::vector<std::string> ids_;
  std::vector<float> popularity_;
  std::shared_ptr<const Model> model_;
};

TEST_F(BatchScorerTest, ExactPathEqualsRecommendOnArbitraryFloats) {
  // 2500 items: more than one 2048-item column block, and a padded stride.
  Build(2500, 1, /*quarter=*/false);
  const Histories h = RandomHistories(40, 30, 2);
  for (int threads : {1, 3}) {
    BatchOptions options;
    options.top_k = 100;
    options.num_threads = threads;
    absl::StatusOr<std::vector<std::vector<uint32_t>>> got = TopKBatch(
        model_->dense_rows(), model_->popularity(), h.rows(), options);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), 40u);
    for (size_t u = 0; u < 40; ++u) {
      EXPECT_EQ((*got)[u], ServerTopK(h, u, 100)) << "user " << u;
    }
  }
}

TEST_F(BatchScorerTest, SparsePathEqualsRecommendOnASparseModel) {
  // B: about 5 % of a random dense B's entries, as a sparse model file; 2500
  // items span two column blocks. Rows without entries and empty histories
  // (popularity fallback) occur.
  Build(2500, 11, /*quarter=*/false);
  std::mt19937 rng(12);
  std::vector<uint64_t> offsets = {0};
  std::vector<uint32_t> indices;
  std::vector<float> weights;
  for (size_t i = 0; i < n_; ++i) {
    for (size_t j = 0; j < n_; ++j) {
      if (rng() % 20 != 0 || i % 97 == 0) continue;
      indices.push_back(static_cast<uint32_t>(j));
      weights.push_back(b_[i * n_ + j]);
    }
    offsets.push_back(indices.size());
  }
  SparseModelData data;
  data.offsets = offsets;
  data.indices = indices;
  data.weights = weights;
  data.item_ids = ids_;
  data.popularity = popularity_;
  const std::string path = dir_.File("sparse.edlae");
  ASSERT_TRUE(WriteSparseModel(path, data).ok());
  absl::StatusOr<std::shared_ptr<const Model>> sparse = Model::Open(path);
  ASSERT_TRUE(sparse.ok()) << sparse.status();
  model_ = *sparse;
  const Histories h = RandomHistories(40, 30, 13);
  for (int threads : {1, 3}) {
    BatchOptions options;
    options.top_k = 100;
    options.num_threads = threads;
    absl::StatusOr<std::vector<std::vector<uint32_t>>> got = TopKBatchSparse(
        model_->sparse_rows(), model_->popularity(), h.rows(), options);
    ASSERT_TRUE(got.ok()) << got.status();
    absl::StatusOr<std::vector<std::vector<uint32_t>>> of_model =
        TopKBatchOfModel(*model_, h.rows(), options);
    ASSERT_TRUE(of_model.ok()) << of_model.status();
    EXPECT_EQ(*of_model, *got);
    ASSERT_EQ(got->size(), 40u);
    for (size_t u = 0; u < 40; ++u) {
      EXPECT_EQ((*got)[u], ServerTopK(h, u, 100)) << "user " << u;
    }
  }
  Histories bad;
  bad.items = {static_cast<uint32_t>(n_)};
  bad.offsets = {0, 1};
  EXPECT_FALSE(TopKBatchSparse(model_->sparse_rows(), {}, bad.rows(), {}).ok());
}

TEST_F(BatchScorerTest, GemmPathEqualsRecommendWhenSumsAreExact) {
  Build(300, 3, /*quarter=*/true);
  const Histories h = RandomHistories(70, 25, 4);
  for (size_t block : {1, 16, 256}) {
    BatchOptions options;
    options.top_k = 50;
    options.method = BatchMethod::kGemm;
    options.block_users = block;
    absl::StatusOr<std::vector<std::vector<uint32_t>>> got = TopKBatch(
        model_->dense_rows(), model_->popularity(), h.rows(), options);
    ASSERT_TRUE(got.ok()) << got.status();
    for (size_t u = 0; u < h.offsets.size() - 1; ++u) {
      EXPECT_EQ((*got)[u], ServerTopK(h, u, 50))
          << "user " << u << " block " << block;
    }
  }
}

TEST_F(BatchScorerTest, GemmPathMatchesExactUpToRoundingOnRealScores) {
  Build(400, 5, /*quarter=*/false);
  const Histories h = RandomHistories(50, 40, 6);
  BatchOptions exact;
  exact.top_k = 20;
  BatchOptions gemm = exact;
  gemm.method = BatchMethod::kGemm;
  auto a =
      TopKBatch(model_->dense_rows(), model_->popularity(), h.rows(), exact);
  auto b =
      TopKBatch(model_->dense_rows(), model_->popularity(), h.rows(), gemm);
  ASSERT_TRUE(a.ok() && b.ok());
  // Different summation order may only swap items whose scores are within
  // float rounding; the sets of the top 20 agree for these random scores.
  size_t same = 0;
  for (size_t u = 0; u < a->size(); ++u) same += (*a)[u] == (*b)[u];
  EXPECT_GE(same, a->size() - 1);
}

TEST_F(BatchScorerTest, EmptyHistoryGetsPopularityAndTopKBeyondCatalog) {
  Build(12, 7, /*quarter=*/true);
  Histories h;
  h.offsets = {0, 0, 3};
  h.items = {1, 5, 9};
  for (BatchMethod method : {BatchMethod::kExact, BatchMethod::kGemm}) {
    BatchOptions options;
    options.top_k = 50;  // more than the 12 items
    options.method = method;
    auto got = TopKBatch(model_->dense_rows(), model_->popularity(), h.rows(),
                         options);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ((*got)[0], ServerTopK(h, 0, 50));  // popularity fallback
    EXPECT_EQ((*got)[0].size(), 12u);
    EXPECT_EQ((*got)[1], ServerTopK(h, 1, 50));
    EXPECT_EQ((*got)[1].size(), 9u);  // the three history items are excluded
    // Without popularity an empty history yields nothing.
    auto bare = TopKBatch(model_->dense_rows(), {}, h.rows(), options);
    ASSERT_TRUE(bare.ok());
    EXPECT_TRUE((*bare)[0].empty());
  }
}

TEST_F(BatchScorerTest, RejectsBadInput) {
  Build(10, 8, true);
  const WeightRows view = model_->dense_rows();
  Histories ok;
  ok.offsets = {0, 1};
  ok.items = {3};
  BatchOptions options;
  options.top_k = 0;
  EXPECT_FALSE(TopKBatch(view, {}, ok.rows(), options).ok());
  options.top_k = 5;
  Histories out_of_range;
  out_of_range.offsets = {0, 1};
  out_of_range.items = {10};
  EXPECT_FALSE(TopKBatch(view, {}, out_of_range.rows(), options).ok());
  Histories bad_offsets;
  bad_offsets.offsets = {0, 2, 1};
  bad_offsets.items = {1};
  EXPECT_FALSE(TopKBatch(view, {}, bad_offsets.rows(), options).ok());
  std::vector<float> short_popularity(3, 1.0f);
  EXPECT_FALSE(TopKBatch(view, short_popularity, ok.rows(), options).ok());
  WeightRows not_square = view;
  not_square.dim = 9;
  EXPECT_FALSE(TopKBatch(not_square, {}, ok.rows(), options).ok());
  Histories none;
  auto empty = TopKBatch(view, {}, none.rows(), options);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

}  // namespace
}  // namespace edlae
