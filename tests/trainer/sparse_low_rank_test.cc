// Matrix-free low-rank closed form (trainer/sparse_low_rank.h): U·Vᵀ equals the
// dense Algorithm 1, errors as statuses.
#include "trainer/sparse_low_rank.h"

#include <cmath>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/model.h"
#include "core/model_writer.h"
#include "core/scorer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"
#include "trainer/gram.h"
#include "trainer/interactions.h"
#include "trainer/low_rank.h"
#include "trainer/model_metadata.h"
#include "trainer/model_spec.h"
#include "trainer/sparse_gram.h"

namespace edlae {
namespace {

// Users with a taste cluster (one of 8 item blocks) plus popularity noise:
// a Gram matrix with real sparsity (blocks) and a leading eigenspace with
// gaps. `unused` items at the end are never interacted with.
Interactions ClusteredInteractions(size_t users, size_t n, uint32_t seed,
                                   size_t unused = 0) {
  std::mt19937 rng(seed);
  Interactions x;
  for (size_t i = 0; i < n; ++i) x.item_ids.push_back(absl::StrCat("i", i));
  x.row_offsets.push_back(0);
  std::uniform_real_distribution<double> unit(0, 1);
  for (size_t u = 0; u < users; ++u) {
    x.user_ids.push_back(absl::StrCat("u", u));
    const size_t cluster = rng() % 8;
    for (size_t i = 0; i + unused < n; ++i) {
      const bool own = i * 8 / n == cluster;
      const double prob = (own ? 0.12 : 0.0) + 1.5 / (10.0 + i);
      if (unit(rng) < prob) x.item_indices.push_back(static_cast<uint32_t>(i));
    }
    x.row_offsets.push_back(x.item_indices.size());
  }
  return x;
}

// W = U·Vᵀ (n × n) from n × k float factors.
std::vector<double> Product(const std::vector<float>& u,
                            const std::vector<float>& v, size_t n, size_t k) {
  std::vector<double> w(n * n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      double s = 0;
      for (size_t c = 0; c < k; ++c) s += double{u[i * k + c]} * v[j * k + c];
      w[i * n + j] = s;
    }
  }
  return w;
}

double RelativeDifference(const std::vector<double>& a,
                          const std::vector<double>& b) {
  double diff = 0, norm = 0;
  for (size_t e = 0; e < a.size(); ++e) {
    diff += (a[e] - b[e]) * (a[e] - b[e]);
    norm += b[e] * b[e];
  }
  return std::sqrt(diff / norm);
}

class SparseLowRankTest : public ::testing::Test {
 protected:
  static constexpr size_t kItems = 320;

  void SetUp() override { x_ = ClusteredInteractions(900, kItems, 11); }

  static ModelSpec Spec(Algorithm a, size_t k) {
    ModelSpec spec;
    spec.algorithm = a;
    spec.lambda = 30;
    spec.dropout = 0.2;
    spec.rank = k;
    spec.method = LowRankMethod::kClosedForm;
    return spec;
  }
  static SparseLowRankOptions Options(
      SparseLowRankOptions::Factorization f =
          SparseLowRankOptions::Factorization::kAuto) {
    SparseLowRankOptions o;
    o.factorization = f;
    o.num_threads = 2;
    o.solve_columns = 7;  // several CHOLMOD chunks per Krylov block
    return o;
  }
  // The dense Algorithm 1 (syevr: exact leading eigenvectors of M).
  LowRankResult Dense(const ModelSpec& spec) const {
    LowRankOptions o = LowRankOptionsFor(spec);
    o.eigensolver = EigenMethod::kSyevr;
    absl::StatusOr<LowRankResult> r = SolveLowRank(
        ComputeGram(x_, 2), kItems, SolverOptionsFor(spec, 2), o, nullptr);
    EXPECT_TRUE(r.ok()) << r.status();
    return *std::move(r);
  }
  absl::StatusOr<SparseLowRankResult> Sparse(
      const ModelSpec& spec, SparseLowRankOptions::Factorization f) const {
    const SparseGram g = ComputeSparseGram(x_, {});
    LowRankOptions o = LowRankOptionsFor(spec);
    o.krylov.tolerance = 1e-11;
    o.krylov.max_restarts = 400;
    return SolveSparseLowRank(g, SolverOptionsFor(spec, 2), o, Options(f),
                              nullptr);
  }
  static constexpr SparseLowRankOptions::Factorization kBoth[] = {
      SparseLowRankOptions::Factorization::kSimplicial,
      SparseLowRankOptions::Factorization::kSupernodal};

  Interactions x_;
};

// Both factorizations: simplicial (column-by-column Takahashi) and
// supernodal (blocked selected inversion, BLAS-3 solves).
TEST_F(SparseLowRankTest, EdlaeEqualsDenseAlgorithm1) {
  for (auto [k, f] :
       {std::pair{size_t{1}, kBoth[0]}, std::pair{size_t{12}, kBoth[0]},
        std::pair{size_t{1}, kBoth[1]}, std::pair{size_t{12}, kBoth[1]},
        std::pair{size_t{40}, kBoth[1]}}) {
    SCOPED_TRACE(
        absl::StrCat("k ", k, f == kBoth[0] ? " simplicial" : " supernodal"));
    const ModelSpec spec = Spec(Algorithm::kEdlae, k);
    const LowRankResult dense = Dense(spec);
    absl::StatusOr<SparseLowRankResult> sparse = Sparse(spec, f);
    ASSERT_TRUE(sparse.ok()) << sparse.status();
    const LowRankResult& r = sparse->low_rank;
    ASSERT_EQ(r.n, kItems);
    ASSERT_EQ(r.k, k);
    EXPECT_TRUE(r.eigen_converged);
    EXPECT_EQ(r.eigensolver, EigenMethod::kBlockKrylov);
    EXPECT_EQ(r.dense_buffers, 0);
    for (size_t c = 0; c < k; ++c) {
      EXPECT_NEAR(r.eigenvalues[c], dense.eigenvalues[c],
                  1e-9 * dense.eigenvalues[0])
          << "k " << k << " eigenvalue " << c;
    }
    // U and V are float: U·Vᵀ agrees to float rounding, not further.
    EXPECT_LT(RelativeDifference(Product(r.u, r.v, kItems, k),
                                 Product(dense.u, dense.v, kItems, k)),
              1e-6)
        << "k " << k;
    EXPECT_GT(sparse->report.nnz_factor, 0u);
    EXPECT_GT(sparse->report.operator_columns, 0u);
  }
}

TEST_F(SparseLowRankTest, DlaeEqualsDenseClosedForm) {
  const ModelSpec spec = Spec(Algorithm::kDlae, 16);
  const LowRankResult dense = Dense(spec);
  for (auto f : kBoth) {
    absl::StatusOr<SparseLowRankResult> sparse = Sparse(spec, f);
    ASSERT_TRUE(sparse.ok()) << sparse.status();
    EXPECT_LT(RelativeDifference(
                  Product(sparse->low_rank.u, sparse->low_rank.v, kItems, 16),
                  Product(dense.u, dense.v, kItems, 16)),
              1e-6);
    EXPECT_EQ(sparse->report.diag_seconds, 0.0);  // D = Λ: no diag C needed
  }
}

TEST_F(SparseLowRankTest, TrainSparseLowRankMatchesAndKeepsPopularity) {
  const ModelSpec spec = Spec(Algorithm::kEdlae, 8);
  absl::StatusOr<SparseLowRankResult> trained =
      TrainSparseLowRank(x_, spec, Options(), nullptr);
  ASSERT_TRUE(trained.ok()) << trained.status();
  const LowRankResult dense = Dense(spec);
  // Default Krylov tolerance (1e-6 relative residual): still close.
  EXPECT_LT(RelativeDifference(
                Product(trained->low_rank.u, trained->low_rank.v, kItems, 8),
                Product(dense.u, dense.v, kItems, 8)),
            1e-4);
  ASSERT_EQ(trained->popularity.size(), kItems);
  const std::vector<double> g = ComputeGram(x_, 1);
  for (size_t i = 0; i < kItems; ++i) {
    EXPECT_EQ(trained->popularity[i], static_cast<float>(g[i * kItems + i]));
  }
}

// How train.cc writes a low-rank model, fed from the sparse path: the file
// serves x·U·Vᵀ of the dense Algorithm 1.
TEST_F(SparseLowRankTest, WritesALowRankFileThatServesTheDenseScores) {
  testing::ScratchDir dir;
  const std::string path = dir.File("sparse-lr.edlae");
  ModelSpec spec = Spec(Algorithm::kEdlae, 10);
  absl::StatusOr<SparseLowRankResult> r =
      TrainSparseLowRank(x_, spec, Options(), nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  LowRankModelData data;
  data.rank = r->low_rank.k;
  data.u = r->low_rank.u;
  data.v = r->low_rank.v;
  data.item_ids = x_.item_ids;
  data.popularity = r->popularity;
  TrainingFacts facts;
  facts.num_users = x_.num_users();
  facts.num_items = x_.num_items();
  facts.num_interactions = x_.num_interactions();
  data.metadata = BuildModelMetadata(spec, facts, &r->low_rank);
  ASSERT_TRUE(WriteLowRankModel(path, data).ok());
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Open(path);
  ASSERT_TRUE(model.ok()) << model.status();
  const Model& m = **model;
  EXPECT_EQ(m.kind(), ModelKind::kLowRank);
  EXPECT_EQ(m.rank(), 10u);
  EXPECT_EQ(m.GetMetadata("eigensolver"),
            std::optional<std::string_view>("krylov"));
  const LowRankResult dense = Dense(spec);
  const std::vector<double> w = Product(dense.u, dense.v, kItems, 10);
  const std::vector<HistoryEntry> history = {
      {2, 1.0f}, {50, 1.0f}, {301, 1.0f}};
  std::vector<float> scores(kItems);
  ComputeScores(m, history, absl::MakeSpan(scores));
  double diff = 0, norm = 0;
  for (size_t j = 0; j < kItems; ++j) {
    double s = 0;
    for (const HistoryEntry& e : history) s += w[e.index * kItems + j];
    diff += (scores[j] - s) * (scores[j] - s);
    norm += s * s;
  }
  EXPECT_LT(std::sqrt(diff / norm), 1e-4);
}

TEST_F(SparseLowRankTest, PlanPredictsTheFactorTheSolveBuilds) {
  const ModelSpec spec = Spec(Algorithm::kEdlae, 12);
  const SparseGram g = ComputeSparseGram(x_, {});
  for (auto f : kBoth) {
    absl::StatusOr<SparseLowRankPlan> plan = PlanSparseLowRank(
        g, SolverOptionsFor(spec, 2), LowRankOptionsFor(spec), Options(f));
    ASSERT_TRUE(plan.ok()) << plan.status();
    absl::StatusOr<SparseLowRankResult> solved = Sparse(spec, f);
    ASSERT_TRUE(solved.ok()) << solved.status();
    EXPECT_EQ(plan->nnz_factor, solved->report.nnz_factor);
    EXPECT_EQ(plan->ordering, solved->report.ordering);
    EXPECT_EQ(plan->supernodal, f == kBoth[1]);
    EXPECT_EQ(plan->krylov_basis_elements,
              solved->report.krylov_basis_elements);
    EXPECT_GE(plan->factor_stored_entries, plan->nnz_factor);
    EXPECT_GT(plan->factor_flops, 0);
    EXPECT_GT(plan->diag_scratch_elements, 0u);
    // The peak counts at least the factor, G's CSR and the Krylov basis.
    EXPECT_GT(plan->peak_bytes,
              8 * (plan->factor_stored_entries + plan->krylov_basis_elements));
  }
  ModelSpec bad = spec;
  bad.rank = kItems;
  EXPECT_TRUE(absl::IsInvalidArgument(
      PlanSparseLowRank(g, SolverOptionsFor(bad, 2), LowRankOptionsFor(bad),
                        Options())
          .status()));
}

TEST_F(SparseLowRankTest, ErrorsComeBackAsStatuses) {
  const SparseGram g = ComputeSparseGram(x_, {});
  auto solve = [&](const ModelSpec& spec, LowRankOptions o) {
    return SolveSparseLowRank(g, SolverOptionsFor(spec, 2), o, Options(),
                              nullptr)
        .status();
  };
  ModelSpec spec = Spec(Algorithm::kEdlae, 0);
  EXPECT_TRUE(absl::IsInvalidArgument(solve(spec, LowRankOptionsFor(spec))));
  spec.rank = kItems;  // k = n: the full-rank model
  EXPECT_TRUE(absl::IsInvalidArgument(solve(spec, LowRankOptionsFor(spec))));
  spec.rank = 4;
  spec.lambda = -1;
  EXPECT_TRUE(absl::IsInvalidArgument(solve(spec, LowRankOptionsFor(spec))));
  spec.lambda = std::nan("");
  EXPECT_TRUE(absl::IsInvalidArgument(solve(spec, LowRankOptionsFor(spec))));
  spec.lambda = 30;
  spec.dropout = 1;
  EXPECT_TRUE(absl::IsInvalidArgument(solve(spec, LowRankOptionsFor(spec))));
  spec.dropout = 0.2;
  LowRankOptions syevr = LowRankOptionsFor(spec);
  syevr.eigensolver = EigenMethod::kSyevr;
  EXPECT_TRUE(absl::IsInvalidArgument(solve(spec, syevr)));
  ModelSpec admm = spec;
  admm.method = LowRankMethod::kAdmm;
  EXPECT_TRUE(absl::IsInvalidArgument(solve(admm, LowRankOptionsFor(admm))));
  ModelSpec ease = spec;
  ease.algorithm = Algorithm::kEase;
  EXPECT_TRUE(absl::IsInvalidArgument(solve(ease, LowRankOptionsFor(ease))));
  ModelSpec zero_diag = spec;
  zero_diag.algorithm = Algorithm::kZeroDiag;
  zero_diag.method = LowRankMethod::kAls;
  EXPECT_TRUE(
      absl::IsInvalidArgument(solve(zero_diag, LowRankOptionsFor(zero_diag))));
}

TEST_F(SparseLowRankTest,
       AMemoryLimitBelowThePlannedPeakIsRefusedBeforeFactoring) {
  const ModelSpec spec = Spec(Algorithm::kEdlae, 12);
  const SparseGram g = ComputeSparseGram(x_, {});
  absl::StatusOr<SparseLowRankPlan> plan = PlanSparseLowRank(
      g, SolverOptionsFor(spec, 2), LowRankOptionsFor(spec), Options());
  ASSERT_TRUE(plan.ok()) << plan.status();
  // The limit is the whole process's: what it holds now plus the plan's
  // peak. Just below the plan's peak alone cannot fit; far above it does.
  SparseLowRankOptions o = Options();
  o.memory_limit_bytes = plan->peak_bytes - 1;
  std::ostringstream log;
  absl::StatusOr<SparseLowRankResult> r = SolveSparseLowRank(
      g, SolverOptionsFor(spec, 2), LowRankOptionsFor(spec), o, &log);
  ASSERT_TRUE(absl::IsResourceExhausted(r.status())) << r.status();
  EXPECT_THAT(std::string(r.status().message()),
              ::testing::HasSubstr("--min-cooccurrence"));
  EXPECT_THAT(log.str(),
              ::testing::HasSubstr("sparse low-rank memory estimate"));
  // Refused after the analysis, before the numeric factorization.
  EXPECT_THAT(log.str(), ::testing::Not(::testing::HasSubstr("factor (")));
  o.memory_limit_bytes = size_t{64} << 30;
  r = SolveSparseLowRank(g, SolverOptionsFor(spec, 2), LowRankOptionsFor(spec),
                         o, nullptr);
  EXPECT_TRUE(r.ok()) << r.status();
}

TEST_F(SparseLowRankTest,
       UnusedItemWithoutRegularizationIsNotPositiveDefinite) {
  const Interactions x = ClusteredInteractions(300, 60, 5, /*unused=*/1);
  ModelSpec spec = Spec(Algorithm::kEdlae, 4);
  spec.lambda = 0;  // G + Λ has a zero row and column
  absl::StatusOr<SparseLowRankResult> r =
      TrainSparseLowRank(x, spec, Options(), nullptr);
  EXPECT_TRUE(absl::IsFailedPrecondition(r.status())) << r.status();
  spec.lambda = 1;  // regularized: fine
  EXPECT_TRUE(TrainSparseLowRank(x, spec, Options(), nullptr).ok());
}

}  // namespace
}  // namespace edlae
