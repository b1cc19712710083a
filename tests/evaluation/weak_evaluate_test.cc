// Weak-generalization evaluation: hand-computed metrics on a 4-item model of
// each kind, missing users, unknown items.
#include "evaluation/weak_evaluate.h"

#include <cmath>
#include <memory>
#include <numeric>
#include <string>
#include <vector>

#include "core/model.h"
#include "core/model_writer.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"

namespace edlae {
namespace {

// B of the hand-computed example (rows a, b, c, d):
//   a: 0 3 1 2     u1 folds in {a}    → scores b 3, d 2, c 1     → b d c
//   b: 1 0 2 0     u2 folds in {b, c} → scores d 5, a 1          → d a
//   c: 0 1 0 5     u3 is only in the targets → popularity a d c b
//   d: 2 0 1 0     u4 has no targets (scored, not averaged)
// Targets: u1 {c} (rank 3), u2 {a, x} (rank 2; x unknown to the model, a
// miss), u3 {d} (rank 2).
const std::vector<float> kB = {0, 3, 1, 2, 1, 0, 2, 0, 0, 1, 0, 5, 2, 0, 1, 0};
const std::vector<std::string> kIds = {"a", "b", "c", "d"};
const std::vector<float> kPopularity = {4, 1, 2, 3};
constexpr char kFoldIn[] = "u1 a\r\nu2 b c\r\nu4 d\r\n";
constexpr char kTargets[] = "u1 c\r\nu2 a x\r\nu3 d\r\n";

double Dcg(int rank) { return 1.0 / std::log2(rank + 1.0); }  // rank from 1

std::shared_ptr<const Model> Open(const std::string& path) {
  absl::StatusOr<std::shared_ptr<const Model>> m = Model::Open(path);
  EXPECT_TRUE(m.ok()) << m.status();
  return m.ok() ? *m : nullptr;
}

std::shared_ptr<const Model> DenseModel(const testing::ScratchDir& dir) {
  DenseModelData data;
  data.b = kB;
  data.item_ids = kIds;
  data.popularity = kPopularity;
  const std::string path = dir.File("dense.edlae");
  EXPECT_TRUE(WriteDenseModel(path, data).ok());
  return Open(path);
}

// The same B in CSR (zeros dropped).
std::shared_ptr<const Model> SparseModel(const testing::ScratchDir& dir) {
  std::vector<uint64_t> offsets = {0};
  std::vector<uint32_t> indices;
  std::vector<float> weights;
  for (uint32_t i = 0; i < 4; ++i) {
    for (uint32_t j = 0; j < 4; ++j) {
      if (kB[i * 4 + j] == 0) continue;
      indices.push_back(j);
      weights.push_back(kB[i * 4 + j]);
    }
    offsets.push_back(indices.size());
  }
  SparseModelData data;
  data.offsets = offsets;
  data.indices = indices;
  data.weights = weights;
  data.item_ids = kIds;
  data.popularity = kPopularity;
  const std::string path = dir.File("sparse.edlae");
  EXPECT_TRUE(WriteSparseModel(path, data).ok());
  return Open(path);
}

// U = B, V = I: U·Vᵀ = B, so scores (and rankings) are the same.
std::shared_ptr<const Model> LowRankModel(const testing::ScratchDir& dir) {
  std::vector<float> identity(16, 0);
  for (int i = 0; i < 4; ++i) identity[i * 5] = 1;
  LowRankModelData data;
  data.rank = 4;
  data.u = kB;
  data.v = identity;
  data.item_ids = kIds;
  data.popularity = kPopularity;
  const std::string path = dir.File("low_rank.edlae");
  EXPECT_TRUE(WriteLowRankModel(path, data).ok());
  return Open(path);
}

absl::StatusOr<WeakHeldOut> ReadExample(const testing::ScratchDir& dir,
                                        const Model& model) {
  LoadOptions load;
  load.format = InputFormat::kUserLines;
  return ReadWeakHeldOut(
      dir.Write("train.txt", kFoldIn), dir.Write("test.txt", kTargets), load,
      [&model](std::string_view id) { return model.FindItem(id); });
}

TEST(WeakEvaluateTest, ReadsCrlfLinesAndCountsMissingUsersAndUnknownItems) {
  testing::ScratchDir dir;
  std::shared_ptr<const Model> model = DenseModel(dir);
  ASSERT_NE(model, nullptr);
  absl::StatusOr<WeakHeldOut> h = ReadExample(dir, *model);
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->fold_in_users, 3);
  EXPECT_EQ(h->target_users, 3);
  EXPECT_EQ(h->targets_without_fold_in, 1);  // u3
  EXPECT_EQ(h->cold_users, 1);               // u3 again
  EXPECT_EQ(h->targets_in_fold_in, 0);
  EXPECT_EQ(h->users.unknown_fold_in, 0);
  EXPECT_EQ(h->users.unknown_targets, 1);  // x
  EXPECT_EQ(h->users.user_ids,
            (std::vector<std::string>{"u1", "u2", "u4", "u3"}));
  // u2's targets: a, and x kept as an unreachable entry.
  EXPECT_EQ(h->users.target_offsets, (std::vector<uint64_t>{0, 1, 3, 3, 4}));
}

TEST(WeakEvaluateTest, HandComputedMetricsForEveryModelKind) {
  testing::ScratchDir dir;
  // Per averaged user (u1, u2, u3): recall = hits / |targets| and nDCG with
  // the ideal DCG over min(|targets|, k); the catalog is smaller than 20, so
  // every cut-off gives the same values.
  const std::vector<double> recall = {1.0, 0.5, 1.0};
  const std::vector<double> ndcg = {Dcg(3), Dcg(2) / (Dcg(1) + Dcg(2)), Dcg(2)};
  const MetricSummary want_recall = Summarize(recall);
  const MetricSummary want_ndcg = Summarize(ndcg);
  EXPECT_NEAR(want_recall.mean, 2.5 / 3, 1e-12);
  for (const std::shared_ptr<const Model>& model :
       {DenseModel(dir), SparseModel(dir), LowRankModel(dir)}) {
    ASSERT_NE(model, nullptr);
    SCOPED_TRACE(ModelKindName(model->kind()));
    absl::StatusOr<WeakHeldOut> h = ReadExample(dir, *model);
    ASSERT_TRUE(h.ok()) << h.status();
    EvalOptions options;
    options.num_threads = 2;
    absl::StatusOr<WeakEvalResult> r = EvaluateWeak(*model, h->users, options);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->num_users, 4);
    EXPECT_EQ(r->users_with_targets, 3);
    for (const WeakMetricsAtK& m : r->at) {
      SCOPED_TRACE(m.k);
      EXPECT_NEAR(m.recall.mean, want_recall.mean, 1e-12);
      EXPECT_NEAR(m.recall.std_error, want_recall.std_error, 1e-12);
      EXPECT_NEAR(m.ndcg.mean, want_ndcg.mean, 1e-12);
      EXPECT_NEAR(m.ndcg.std_error, want_ndcg.std_error, 1e-12);
    }
    EXPECT_EQ(r->at[0].k, 20);
    EXPECT_EQ(r->at[2].k, 100);
  }
}

TEST(WeakEvaluateTest, TargetsInsideTheFoldInAreCountedMisses) {
  testing::ScratchDir dir;
  std::shared_ptr<const Model> model = DenseModel(dir);
  ASSERT_NE(model, nullptr);
  LoadOptions load;
  load.format = InputFormat::kUserLines;
  // u1 folds in {a} and has targets {a, c}: a is excluded from its ranking.
  absl::StatusOr<WeakHeldOut> h = ReadWeakHeldOut(
      dir.Write("f.txt", "u1 a zz\n"), dir.Write("t.txt", "u1 a c\n"), load,
      [&](std::string_view id) { return model->FindItem(id); });
  ASSERT_TRUE(h.ok()) << h.status();
  EXPECT_EQ(h->targets_in_fold_in, 1);
  EXPECT_EQ(h->users.unknown_fold_in, 1);  // zz
  absl::StatusOr<WeakEvalResult> r = EvaluateWeak(*model, h->users, {});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_DOUBLE_EQ(r->at[0].recall.mean, 0.5);  // c found, a never
  EXPECT_NEAR(r->at[0].ndcg.mean, Dcg(3) / (Dcg(1) + Dcg(2)), 1e-12);
}

// Cut-offs beyond a small catalog: ranked = items 0..99, 30 targets.
TEST(WeakEvaluateTest, RecallDividesByAllTargetsAtEachCutoff) {
  HeldOutUsers users;
  users.user_ids = {"u"};
  users.fold_in_offsets = {0, 0};
  // Targets at ranks 1, 11, 31, 61 (0-based 0, 10, 30, 60), and 26 beyond
  // the top 100 (items 200..225).
  users.target_items = {0, 10, 30, 60};
  for (uint32_t i = 200; i < 226; ++i) users.target_items.push_back(i);
  users.target_offsets = {0, users.target_items.size()};
  std::vector<uint32_t> ranked(100);
  std::iota(ranked.begin(), ranked.end(), 0);
  const WeakEvalResult r = ScoreWeak(users, {ranked});
  double ideal20 = 0, ideal50 = 0;
  for (int k = 1; k <= 20; ++k) ideal20 += Dcg(k);
  for (int k = 1; k <= 30; ++k) ideal50 += Dcg(k);  // min(30, 50)
  EXPECT_DOUBLE_EQ(r.at[0].recall.mean, 2.0 / 30);  // not 2 / 20
  EXPECT_DOUBLE_EQ(r.at[1].recall.mean, 3.0 / 30);
  EXPECT_DOUBLE_EQ(r.at[2].recall.mean, 4.0 / 30);
  EXPECT_NEAR(r.at[0].ndcg.mean, (Dcg(1) + Dcg(11)) / ideal20, 1e-12);
  EXPECT_NEAR(r.at[1].ndcg.mean, (Dcg(1) + Dcg(11) + Dcg(31)) / ideal50, 1e-12);
  EXPECT_NEAR(r.at[2].ndcg.mean,
              (Dcg(1) + Dcg(11) + Dcg(31) + Dcg(61)) / ideal50, 1e-12);
  EXPECT_EQ(r.users_with_targets, 1);
}

}  // namespace
}  // namespace edlae
