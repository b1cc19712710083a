// Closed-form solvers checked against their optimality conditions on random and real data.
#include "trainer/full_rank_solver.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"
#include "trainer/gram.h"
#include "trainer/interactions.h"

namespace edlae {
namespace {

std::vector<double> RandomGram(size_t users, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Interactions x;
  for (size_t i = 0; i < n; ++i) x.item_ids.push_back(absl::StrCat(i));
  x.row_offsets.push_back(0);
  for (size_t u = 0; u < users; ++u) {
    x.user_ids.push_back(absl::StrCat(u));
    for (size_t i = 0; i < n; ++i) {
      // Popularity falls with the index, as in real catalogs.
      if (rng() % (4 + i) == 0) x.item_indices.push_back(i);
    }
    x.row_offsets.push_back(x.item_indices.size());
  }
  return ComputeGram(x, 2);
}

std::vector<double> Lambda(const std::vector<double>& g, size_t n,
                           const SolverOptions& o) {
  const double p = o.algorithm == Algorithm::kEase ? 0 : o.dropout;
  std::vector<double> l(n);
  for (size_t j = 0; j < n; ++j) l[j] = o.lambda + p / (1 - p) * g[j * n + j];
  return l;
}

// Largest |((G + Λ)·B − G)[i][j]| over the checked columns, relative to the
// scale of the terms, skipping the diagonal when `off_diagonal_only`.
double Residual(const std::vector<double>& g, const std::vector<double>& lambda,
                const std::vector<float>& b, size_t n,
                const std::vector<size_t>& columns, bool off_diagonal_only) {
  double worst = 0, scale = 0;
  for (double v : g) scale = std::max(scale, std::abs(v));
  for (size_t j : columns) {
    for (size_t i = 0; i < n; ++i) {
      if (off_diagonal_only && i == j) continue;
      double sum = lambda[i] * b[i * n + j];
      for (size_t k = 0; k < n; ++k) sum += g[i * n + k] * b[k * n + j];
      worst = std::max(worst, std::abs(sum - g[i * n + j]));
    }
  }
  return worst / scale;
}

std::vector<size_t> AllColumns(size_t n) {
  std::vector<size_t> c(n);
  for (size_t j = 0; j < n; ++j) c[j] = j;
  return c;
}

struct Case {
  Algorithm algorithm;
  Precision precision;
  double lambda;
  double dropout;
  double tolerance;
};

TEST(SolverTest, OptimalityConditionsOnRandomData) {
  const size_t n = 60;
  const std::vector<double> g = RandomGram(400, n, 3);
  for (const Case& c : {Case{Algorithm::kEase, Precision::kFloat64, 5, 0, 1e-6},
                        Case{Algorithm::kEdlae, Precision::kFloat64, 2, 0.3, 1e-6},
                        Case{Algorithm::kDlae, Precision::kFloat64, 2, 0.3, 1e-6},
                        Case{Algorithm::kEdlae, Precision::kFloat32, 2, 0.3, 1e-4},
                        Case{Algorithm::kDlae, Precision::kFloat32, 2, 0.3, 1e-4}}) {
    SolverOptions o{c.algorithm, c.lambda, c.dropout, c.precision};
    SCOPED_TRACE(absl::StrCat(AlgorithmName(c.algorithm), " ",
                              PrecisionName(c.precision)));
    absl::StatusOr<std::vector<float>> b = SolveFullRank(g, n, o);
    ASSERT_TRUE(b.ok()) << b.status();
    ASSERT_EQ(b->size(), n * n);
    const std::vector<double> lambda = Lambda(g, n, o);
    if (c.algorithm == Algorithm::kDlae) {
      // Ridge regression: (G + Λ)·B = G everywhere, and diag(B) ≠ 0.
      EXPECT_LT(Residual(g, lambda, *b, n, AllColumns(n), false), c.tolerance);
      EXPECT_GT((*b)[0], 0.0f);
    } else {
      // Zero diagonal; the Lagrange multipliers only touch the diagonal of
      // (G + Λ)·B − G, so every off-diagonal entry vanishes.
      for (size_t i = 0; i < n; ++i) EXPECT_EQ((*b)[i * n + i], 0.0f);
      EXPECT_LT(Residual(g, lambda, *b, n, AllColumns(n), true), c.tolerance);
    }
  }
}

TEST(SolverTest, TwoItemEaseMatchesHandDerivation) {
  // G = [[a, c], [c, d]]: B[0][1] = c / (a + λ), B[1][0] = c / (d + λ).
  const std::vector<double> g = {4, 2, 2, 3};
  absl::StatusOr<std::vector<float>> b =
      SolveFullRank(g, 2, SolverOptions{Algorithm::kEase, 1.0, 0, Precision::kFloat64});
  ASSERT_TRUE(b.ok());
  EXPECT_FLOAT_EQ((*b)[0], 0.0f);
  EXPECT_FLOAT_EQ((*b)[1], 2.0f / 5.0f);
  EXPECT_FLOAT_EQ((*b)[2], 2.0f / 4.0f);
  EXPECT_FLOAT_EQ((*b)[3], 0.0f);
}

TEST(SolverTest, EaseIsEdlaeWithoutDropoutAndIgnoresDropout) {
  const size_t n = 30;
  const std::vector<double> g = RandomGram(200, n, 5);
  auto solve = [&](Algorithm a, double p) {
    return *SolveFullRank(g, n, SolverOptions{a, 3.0, p, Precision::kFloat64});
  };
  EXPECT_EQ(solve(Algorithm::kEase, 0), solve(Algorithm::kEdlae, 0));
  EXPECT_EQ(solve(Algorithm::kEase, 0.5), solve(Algorithm::kEase, 0));
  EXPECT_NE(solve(Algorithm::kEdlae, 0.5), solve(Algorithm::kEdlae, 0));
}

TEST(SolverTest, DlaeApproachesEdlaeDiagonalOnlyInTheFutileLimit) {
  // Eq. 5 vs Eq. 8: DLAE keeps a positive diagonal that shrinks as p → 1.
  const size_t n = 20;
  const std::vector<double> g = RandomGram(200, n, 9);
  double previous = 1e9;
  for (double p : {0.1, 0.5, 0.9, 0.99}) {
    std::vector<float> b =
        *SolveFullRank(g, n, SolverOptions{Algorithm::kDlae, 1.0, p, Precision::kFloat64});
    double diag = 0;
    for (size_t i = 0; i < n; ++i) diag += b[i * n + i];
    EXPECT_GT(diag, 0);
    EXPECT_LT(diag, previous);
    previous = diag;
  }
}

TEST(SolverTest, SingularSystemIsAClearError) {
  // An item no user touched and no regularization: G + Λ is singular.
  const std::vector<double> g = {2, 0, 0, 0};
  absl::StatusOr<std::vector<float>> b =
      SolveFullRank(g, 2, SolverOptions{Algorithm::kEase, 0.0, 0, Precision::kFloat64});
  EXPECT_EQ(b.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(b.status().message().find("positive definite"), std::string::npos);
}

TEST(SolverTest, RejectsBadArguments) {
  const std::vector<double> g = {2, 1, 1, 2};
  for (SolverOptions o : {SolverOptions{Algorithm::kEdlae, -1, 0.1},
                          SolverOptions{Algorithm::kEdlae, NAN, 0.1},
                          SolverOptions{Algorithm::kEdlae, 1, 1.0},
                          SolverOptions{Algorithm::kEdlae, 1, -0.1}}) {
    EXPECT_EQ(SolveFullRank(g, 2, o).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(SolveFullRank(g, 3, SolverOptions{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SolveFullRank(std::vector<double>{}, 0, SolverOptions{}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A float32 Gram matrix is only solved in float32.
  EXPECT_EQ(SolveFullRank(std::vector<float>{2, 1, 1, 2}, 2,
                          SolverOptions{Algorithm::kEdlae, 1, 0.1, Precision::kFloat64})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

// The float32 Gram path (no n² doubles): same optimality conditions, and the
// same B as converting a float64 Gram matrix, up to float rounding.
TEST(SolverTest, FloatGramPathMeetsTheOptimalityConditions) {
  const size_t n = 60;
  const std::vector<double> g = RandomGram(400, n, 3);
  const std::vector<float> gf(g.begin(), g.end());  // counts: exact in float
  for (Algorithm a : {Algorithm::kEdlae, Algorithm::kDlae, Algorithm::kEase}) {
    SCOPED_TRACE(AlgorithmName(a));
    SolverOptions o{a, 2, 0.3, Precision::kFloat32};
    absl::StatusOr<std::vector<float>> from_float = SolveFullRank(gf, n, o);
    absl::StatusOr<std::vector<float>> from_double = SolveFullRank(g, n, o);
    ASSERT_TRUE(from_float.ok()) << from_float.status();
    ASSERT_TRUE(from_double.ok()) << from_double.status();
    const bool zero_diagonal = a != Algorithm::kDlae;
    if (zero_diagonal) {
      for (size_t i = 0; i < n; ++i) EXPECT_EQ((*from_float)[i * n + i], 0.0f);
    }
    EXPECT_LT(Residual(g, Lambda(g, n, o), *from_float, n, AllColumns(n), zero_diagonal),
              1e-4);
    for (size_t k = 0; k < n * n; ++k) {
      ASSERT_NEAR((*from_float)[k], (*from_double)[k], 1e-4) << k;
    }
  }
}

TEST(SolverTest, ParsesNames) {
  EXPECT_EQ(*ParseAlgorithm("edlae"), Algorithm::kEdlae);
  EXPECT_EQ(*ParseAlgorithm("dlae"), Algorithm::kDlae);
  EXPECT_EQ(*ParseAlgorithm("ease"), Algorithm::kEase);
  EXPECT_FALSE(ParseAlgorithm("slim").ok());
  EXPECT_EQ(*ParsePrecision("float32"), Precision::kFloat32);
  EXPECT_EQ(*ParsePrecision("double"), Precision::kFloat64);
  EXPECT_FALSE(ParsePrecision("f16").ok());
}

// Real data: MovieLens-100K binarized at rating > 3.5; residuals on sampled
// columns keep the O(n²) check per column cheap.
TEST(SolverTest, OptimalityConditionsOnMovieLens100k) {
  EDLAE_REQUIRE_DATASET(path, "movielens-100k/u.data");
  LoadOptions load;
  load.format = InputFormat::kMovieLensDat;
  load.min_rating = 3.5;
  absl::StatusOr<Interactions> x = LoadInteractions(path, load);
  ASSERT_TRUE(x.ok()) << x.status();
  const size_t n = x->num_items();
  const std::vector<double> g = ComputeGram(*x, 0);
  std::vector<size_t> columns;
  for (size_t j = 0; j < n; j += n / 40) columns.push_back(j);
  for (Algorithm a : {Algorithm::kEdlae, Algorithm::kDlae, Algorithm::kEase}) {
    SCOPED_TRACE(AlgorithmName(a));
    SolverOptions o{a, 50.0, 0.25, Precision::kFloat64};
    absl::StatusOr<std::vector<float>> b = SolveFullRank(g, n, o);
    ASSERT_TRUE(b.ok()) << b.status();
    const bool zero_diagonal = a != Algorithm::kDlae;
    if (zero_diagonal) {
      for (size_t i = 0; i < n; ++i) ASSERT_EQ((*b)[i * n + i], 0.0f);
    }
    EXPECT_LT(Residual(g, Lambda(g, n, o), *b, n, columns, zero_diagonal), 1e-5);
  }
}

}  // namespace
}  // namespace edlae
