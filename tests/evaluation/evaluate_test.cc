// Held-out evaluation: batched == per-user server scoring, foreign splits, tune's choice, and sane numbers on ML-100K.
#include "evaluation/evaluate.h"

#include <algorithm>
#include <memory>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "core/model.h"
#include "core/scorer.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"
#include "trainer/interactions.h"
#include "evaluation/split.h"
#include "evaluation/synth.h"
#include "evaluation/tune.h"

namespace edlae {
namespace {

ItemLookup LookupIn(const Interactions& train) {
  absl::flat_hash_map<std::string, uint32_t> index;
  for (size_t i = 0; i < train.num_items(); ++i)
    index.emplace(train.item_ids[i], i);
  return [index](std::string_view id) -> std::optional<uint32_t> {
    auto it = index.find(std::string(id));
    if (it == index.end()) return std::nullopt;
    return it->second;
  };
}

absl::Span<const uint32_t> Slice(const std::vector<uint32_t>& v,
                                 const std::vector<uint64_t>& offsets,
                                 size_t u) {
  return absl::MakeConstSpan(v).subspan(offsets[u],
                                        offsets[u + 1] - offsets[u]);
}

// A split of synthetic data written to a scratch directory.
class EvaluateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SynthOptions synth;
    synth.num_users = 900;
    synth.num_items = 300;
    synth.mean_items_per_user = 25;
    const std::string csv = dir_.File("ratings.csv");
    ASSERT_TRUE(WriteSyntheticInteractions(csv, synth).ok());
    LoadOptions load;
    load.format = InputFormat::kMovieLensCsv;
    load.min_rating = 3.5;
    auto x = LoadInteractions(csv, load);
    ASSERT_TRUE(x.ok()) << x.status();
    SplitOptions options;
    options.heldout_users = 100;
    auto split = MakeStrongSplit(*x, options);
    ASSERT_TRUE(split.ok()) << split.status();
    split_dir_ = dir_.File("split");
    ASSERT_TRUE(WriteStrongSplit(*split, split_dir_).ok());
    auto train = ReadSplitFile(split_dir_ + "/train.csv");
    ASSERT_TRUE(train.ok());
    train_ = *std::move(train);
  }

  testing::ScratchDir dir_;
  std::string split_dir_;
  Interactions train_;
};

TEST_F(EvaluateTest, BatchedEvaluationEqualsPerUserServerScoring) {
  SolverOptions solver;
  solver.algorithm = Algorithm::kEdlae;
  solver.lambda = 20;
  solver.dropout = 0.25;
  auto trained = TrainInMemory(train_, solver);
  ASSERT_TRUE(trained.ok()) << trained.status();
  const std::string path = dir_.File("m.edlae");
  ASSERT_TRUE(WriteTrainedModel(train_, *trained, "test", path).ok());
  auto model = Model::Open(path);
  ASSERT_TRUE(model.ok()) << model.status();
  const Model& m = **model;

  auto users = ReadHeldOutUsers(
      split_dir_, "test", [&](std::string_view id) { return m.FindItem(id); });
  ASSERT_TRUE(users.ok()) << users.status();
  EXPECT_EQ(users->unknown_fold_in + users->unknown_targets, 0u);

  // Per user, the way a client would ask the server.
  std::vector<double> r20, r50, n100;
  for (size_t u = 0; u < users->num_users(); ++u) {
    std::vector<HistoryEntry> history;
    for (uint32_t i : Slice(users->fold_in_items, users->fold_in_offsets, u)) {
      history.push_back({i, 1.0f});
    }
    RecommendOptions options;
    options.top_n = 100;
    auto rec = Recommend(m, history, options);
    ASSERT_TRUE(rec.ok());
    std::vector<uint32_t> ranked;
    for (const ScoredItem& s : rec->items) ranked.push_back(s.index);
    auto targets = Slice(users->target_items, users->target_offsets, u);
    r20.push_back(RecallAtK(ranked, targets, 20));
    r50.push_back(RecallAtK(ranked, targets, 50));
    n100.push_back(NdcgAtK(ranked, targets, 100));
  }
  const MetricSummary want20 = Summarize(r20), want50 = Summarize(r50),
                      want100 = Summarize(n100);
  ASSERT_GT(want100.count, 50u);

  // Batched on the mapped file, and on the in-memory B tune uses: identical.
  for (const WeightRows& view : {m.dense_rows(), trained->view()}) {
    EvalOptions options;
    auto got = EvaluateHeldOut(view, m.popularity(), *users, options);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->recall20.mean, want20.mean);
    EXPECT_EQ(got->recall50.mean, want50.mean);
    EXPECT_EQ(got->ndcg100.mean, want100.mean);
    EXPECT_EQ(got->ndcg100.std_error, want100.std_error);
    EXPECT_EQ(got->users_with_targets, want100.count);
  }
  // The GEMM path agrees up to float rounding of near-ties.
  EvalOptions gemm;
  gemm.method = BatchMethod::kGemm;
  auto got = EvaluateHeldOut(m.dense_rows(), m.popularity(), *users, gemm);
  ASSERT_TRUE(got.ok());
  EXPECT_NEAR(got->ndcg100.mean, want100.mean, 1e-3);
  EXPECT_NEAR(got->recall20.mean, want20.mean, 1e-3);
}

TEST_F(EvaluateTest, TunePicksTheBestValidationPointAndReportsItsTest) {
  TuneOptions options;
  options.models = {Algorithm::kEase, Algorithm::kEdlae};
  options.lambdas = {1, 30, 300};
  options.dropouts = {0.1, 0.5};
  options.keep_best_model = true;
  const ItemLookup lookup = LookupIn(train_);
  auto validation = ReadHeldOutUsers(split_dir_, "validation", lookup);
  auto test = ReadHeldOutUsers(split_dir_, "test", lookup);
  ASSERT_TRUE(validation.ok() && test.ok());
  auto result = Tune(train_, *validation, *test, options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->points.size(), 3u + 6u);  // EASE: one point per λ
  ASSERT_EQ(result->best_per_model.size(), 2u);
  double best = -1;
  for (const TunePoint& p : result->points) {
    ASSERT_TRUE(p.error.empty()) << p.error;
    best = std::max(best, p.validation.ndcg100.mean);
  }
  EXPECT_EQ(result->points[result->best_point].validation.ndcg100.mean, best);
  for (const ModelBest& b : result->best_per_model) {
    const TunePoint& p = result->points[b.point];
    EXPECT_EQ(p.algorithm, b.algorithm);
    for (const TunePoint& q : result->points) {
      if (q.algorithm == p.algorithm) {
        EXPECT_LE(q.validation.ndcg100.mean, p.validation.ndcg100.mean);
      }
    }
    // Its test numbers are what a fresh training of that point gives.
    SolverOptions solver;
    solver.algorithm = p.algorithm;
    solver.lambda = p.lambda;
    solver.dropout = p.dropout;
    auto trained = TrainInMemory(train_, solver);
    ASSERT_TRUE(trained.ok());
    auto fresh =
        EvaluateHeldOut(trained->view(), trained->popularity, *test, {});
    ASSERT_TRUE(fresh.ok());
    EXPECT_EQ(fresh->ndcg100.mean, b.test.ndcg100.mean);
    EXPECT_EQ(fresh->recall20.mean, b.test.recall20.mean);
  }
  // The kept best model is that point's B.
  EXPECT_EQ(result->best_model.b.size(),
            train_.num_items() * train_.num_items());
  EXPECT_EQ(result->best_model.options.lambda,
            result->points[result->best_point].lambda);
}

TEST(ReadHeldOutUsersTest, ForeignIdsUnknownItemsAndTargetOnlyUsers) {
  testing::ScratchDir dir;
  dir.Write("validation_tr.csv", "uid,sid\nann,a\nann,b\nann,zz\nbob,c\n");
  dir.Write("validation_te.csv", "uid,sid\nann,c\nann,yy\ncid,a\n");
  const absl::flat_hash_map<std::string, uint32_t> index = {
      {"a", 0}, {"b", 1}, {"c", 2}};
  auto users =
      ReadHeldOutUsers(dir.path().string(), "validation",
                       [&](std::string_view id) -> std::optional<uint32_t> {
                         auto it = index.find(std::string(id));
                         if (it == index.end()) return std::nullopt;
                         return it->second;
                       });
  ASSERT_TRUE(users.ok()) << users.status();
  EXPECT_EQ(users->user_ids, (std::vector<std::string>{"ann", "bob", "cid"}));
  EXPECT_EQ(users->unknown_fold_in, 1u);
  EXPECT_EQ(users->unknown_targets, 1u);
  EXPECT_EQ(users->fold_in_offsets, (std::vector<uint64_t>{0, 2, 3, 3}));
  EXPECT_EQ(users->target_offsets, (std::vector<uint64_t>{0, 2, 2, 3}));
  // ann's unknown target stays in her denominator as an unreachable entry.
  EXPECT_EQ(users->target_items[0], 2u);
  EXPECT_GE(users->target_items[1], HeldOutUsers::kUnknownItemBase);

  // B = 0: ann's history {a, b} leaves c first by index → 1 hit of 2 targets;
  // bob has no targets (not averaged); cid has no fold-in → popularity
  // fallback ranks a (most popular) first.
  std::vector<float> b(9, 0.0f);
  std::vector<float> popularity = {5, 1, 1};
  auto result = EvaluateHeldOut(WeightRows{b.data(), DType::kFloat32, 3, 3, 3}, popularity,
                                *users, {});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->num_users, 3u);
  EXPECT_EQ(result->users_with_targets, 2u);
  EXPECT_DOUBLE_EQ(result->recall20.mean, (0.5 + 1.0) / 2);
  EXPECT_FALSE(ReadHeldOutUsers(dir.path().string(), "training", {}).ok());
  EXPECT_FALSE(
      ReadHeldOutUsers(dir.path().string(), "test", {}).ok());  // no files
}

TEST(EvaluateRealDataTest, MovieLens100kEdlaeFarAbovePopularity) {
  EDLAE_REQUIRE_DATASET(path, "movielens-100k/u.data");
  LoadOptions load;
  load.min_rating = 3.5;
  auto x = LoadInteractions(path, load);
  ASSERT_TRUE(x.ok()) << x.status();
  SplitOptions options;
  options.heldout_users = 94;
  auto split = MakeStrongSplit(*x, options);
  ASSERT_TRUE(split.ok());
  testing::ScratchDir dir;
  ASSERT_TRUE(WriteStrongSplit(*split, dir.File("s")).ok());
  auto train = ReadSplitFile(dir.File("s") + "/train.csv");
  ASSERT_TRUE(train.ok());
  auto test = ReadHeldOutUsers(dir.File("s"), "test", LookupIn(*train));
  ASSERT_TRUE(test.ok());

  SolverOptions solver;
  solver.algorithm = Algorithm::kEdlae;
  solver.lambda = 100;
  solver.dropout = 0.33;
  auto trained = TrainInMemory(*train, solver);
  ASSERT_TRUE(trained.ok());
  auto edlae = EvaluateHeldOut(trained->view(), trained->popularity, *test, {});
  ASSERT_TRUE(edlae.ok());

  // Popularity baseline: training counts, fold-in excluded, ties by index.
  std::vector<uint32_t> by_popularity(train->num_items());
  std::iota(by_popularity.begin(), by_popularity.end(), 0);
  std::stable_sort(by_popularity.begin(), by_popularity.end(),
                   [&](uint32_t a, uint32_t b) {
                     return trained->popularity[a] > trained->popularity[b];
                   });
  std::vector<double> pop_ndcg;
  for (size_t u = 0; u < test->num_users(); ++u) {
    auto fold_in = Slice(test->fold_in_items, test->fold_in_offsets, u);
    std::vector<uint32_t> ranked;
    for (uint32_t i : by_popularity) {
      if (ranked.size() == 100) break;
      if (std::find(fold_in.begin(), fold_in.end(), i) == fold_in.end())
        ranked.push_back(i);
    }
    pop_ndcg.push_back(NdcgAtK(
        ranked, Slice(test->target_items, test->target_offsets, u), 100));
  }
  const MetricSummary popularity = Summarize(pop_ndcg);
  // Published strong-generalization numbers on MovieLens are ~0.4 nDCG@100
  // for EASE-like models and ~0.2–0.25 for popularity.
  EXPECT_GT(edlae->ndcg100.mean, 0.3);
  EXPECT_LT(edlae->ndcg100.mean, 0.7);
  EXPECT_GT(edlae->ndcg100.mean,
            popularity.mean + 5 * edlae->ndcg100.std_error);
  EXPECT_GT(edlae->recall50.mean, edlae->recall20.mean - 0.05);
  EXPECT_GT(edlae->ndcg100.std_error, 0.005);
  EXPECT_LT(edlae->ndcg100.std_error, 0.05);
}

}  // namespace
}  // namespace edlae
