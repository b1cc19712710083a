// Low-rank solvers and eigensolvers against dense references: LAPACK dsyev, B̂ formed explicitly, optimality conditions.
#include "trainer/low_rank.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/model.h"
#include "core/scorer.h"
#include "gtest/gtest.h"
#include "tests/testing/test_util.h"
#include "trainer/eigensolver.h"
#include "trainer/gram.h"
#include "trainer/interactions.h"
#include "trainer/lapack.h"
#include "trainer/train.h"

extern "C" void dsyev_(const char* jobz, const char* uplo, const int* n,
                       double* a, const int* lda, double* w, double* work,
                       const int* lwork, int* info, size_t, size_t);

namespace edlae {
namespace {

using Mat = std::vector<double>;  // row-major

// Users with latent tastes over a catalog whose popularity falls with the
// index: enough structure for a leading eigenspace with gaps.
Interactions RandomInteractions(size_t users, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Interactions x;
  for (size_t i = 0; i < n; ++i) x.item_ids.push_back(absl::StrCat("i", i));
  x.row_offsets.push_back(0);
  for (size_t u = 0; u < users; ++u) {
    x.user_ids.push_back(absl::StrCat("u", u));
    const size_t taste = rng() % 4;
    for (size_t i = 0; i < n; ++i) {
      const size_t odds = (i % 4 == taste ? 3 : 9) + i / 8;
      if (rng() % odds == 0) x.item_indices.push_back(static_cast<uint32_t>(i));
    }
    x.row_offsets.push_back(x.item_indices.size());
  }
  return x;
}

Mat MatMul(const Mat& a, const Mat& b, size_t n, size_t m, size_t p) {
  Mat c(n * p, 0.0);  // (n × m)·(m × p)
  for (size_t i = 0; i < n; ++i) {
    for (size_t t = 0; t < m; ++t) {
      const double x = a[i * m + t];
      for (size_t j = 0; j < p; ++j) c[i * p + j] += x * b[t * p + j];
    }
  }
  return c;
}

Mat Transpose(const Mat& a, size_t n, size_t m) {
  Mat t(m * n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < m; ++j) t[j * n + i] = a[i * m + j];
  }
  return t;
}

std::vector<double> LambdaDiag(const Mat& g, size_t n, double lambda,
                               double dropout) {
  std::vector<double> l(n);
  for (size_t i = 0; i < n; ++i) {
    l[i] = lambda + dropout / (1 - dropout) * g[i * n + i];
  }
  return l;
}

// Full-rank B̂ in double, formed explicitly: I − C·D, D = dMat(1 ⊘ diag C)
// (EDLAE) or Λ (DLAE).
Mat FullRankB(const Mat& g, const std::vector<double>& lambda, size_t n,
              bool edlae) {
  Mat c = g;
  for (size_t i = 0; i < n; ++i) c[i * n + i] += lambda[i];
  EXPECT_TRUE(InvertSpdUpper(c.data(), n).ok());
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < i; ++j) c[i * n + j] = c[j * n + i];
  }
  Mat b(n * n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < n; ++j) {
      const double d = edlae ? 1.0 / c[j * n + j] : lambda[j];
      b[i * n + j] = (i == j ? 1.0 : 0.0) - c[i * n + j] * d;
    }
  }
  return b;
}

// All eigenpairs by LAPACK dsyev (the reference), largest first; vectors as
// the columns of an n × n row-major matrix.
void DenseEigen(Mat a, size_t n, std::vector<double>* values, Mat* vectors) {
  const int order = static_cast<int>(n), lwork = static_cast<int>(8 * n);
  std::vector<double> w(n), work(lwork);
  int info = 0;
  const char jobz = 'V', uplo = 'U';
  dsyev_(&jobz, &uplo, &order, a.data(), &order, w.data(), work.data(), &lwork,
         &info, 1, 1);
  ASSERT_EQ(info, 0);
  values->resize(n);
  vectors->resize(n * n);
  for (size_t c = 0; c < n; ++c) {
    (*values)[c] = w[n - 1 - c];
    for (size_t i = 0; i < n; ++i) (*vectors)[i * n + c] = a[(n - 1 - c) * n + i];
  }
}

// Distance of span(b) from span(a), both n × k with orthonormal columns:
// ‖b − a·aᵀ·b‖_F, which bounds the sine of the largest principal angle and,
// unlike sqrt(1 − σ²), stays accurate far below sqrt(machine epsilon).
double SubspaceSine(const Mat& a, const Mat& b, size_t n, size_t k) {
  const Mat atb = MatMul(Transpose(a, n, k), b, k, n, k);
  const Mat proj = MatMul(a, atb, n, k, k);
  double s = 0;
  for (size_t e = 0; e < n * k; ++e) s += (b[e] - proj[e]) * (b[e] - proj[e]);
  return std::sqrt(s);
}

Mat Leading(const Mat& vectors, size_t n, size_t k) {
  Mat out(n * k);
  for (size_t i = 0; i < n; ++i) {
    for (size_t c = 0; c < k; ++c) out[i * k + c] = vectors[i * n + c];
  }
  return out;
}

Mat ToDouble(const std::vector<float>& x) { return Mat(x.begin(), x.end()); }

// A symmetric positive semi-definite test matrix with spectrum 1/(j+1)^1.5.
Mat DecayingSpd(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  Mat q(n * n);
  for (double& x : q) x = normal(rng);
  Mat s = MatMul(Transpose(q, n, n), q, n, n, n);
  std::vector<double> values;
  Mat vectors;
  DenseEigen(s, n, &values, &vectors);
  Mat out(n * n, 0.0);
  for (size_t j = 0; j < n; ++j) {
    const double theta = 1.0 / std::pow(j + 1.0, 1.5);
    for (size_t a = 0; a < n; ++a) {
      for (size_t b = 0; b < n; ++b) {
        out[a * n + b] += theta * vectors[a * n + j] * vectors[b * n + j];
      }
    }
  }
  return out;
}

SymmetricOperator DenseOperator(const Mat& m, size_t n) {
  return [&m, n](const double* x, size_t ldx, size_t cols, double* y,
                 size_t ldy) {
    for (size_t i = 0; i < n; ++i) {
      for (size_t c = 0; c < cols; ++c) y[i * ldy + c] = 0;
      for (size_t t = 0; t < n; ++t) {
        const double a = m[i * n + t];
        for (size_t c = 0; c < cols; ++c) y[i * ldy + c] += a * x[t * ldx + c];
      }
    }
  };
}

// ---------------------------------------------------------------------------
// Eigensolvers.

TEST(EigenTest, KrylovAndSyevrMatchDsyev) {
  const size_t n = 200;
  const Mat m = DecayingSpd(n, 1);
  std::vector<double> want_values;
  Mat want_vectors;
  DenseEigen(m, n, &want_values, &want_vectors);
  for (size_t k : {1u, 6u, 9u}) {
    KrylovOptions o;
    o.tolerance = 1e-11;
    o.max_restarts = 200;
    absl::StatusOr<EigenResult> kr =
        LeadingEigenpairsKrylov(DenseOperator(m, n), n, k, o);
    ASSERT_TRUE(kr.ok()) << kr.status();
    EXPECT_TRUE(kr->converged);
    EXPECT_EQ(kr->method, EigenMethod::kBlockKrylov);
    Mat copy = m;
    absl::StatusOr<EigenResult> sy = LeadingEigenpairsSyevr(copy.data(), n, k);
    ASSERT_TRUE(sy.ok()) << sy.status();
    for (const EigenResult* r : {&*kr, &*sy}) {
      for (size_t c = 0; c < k; ++c) {
        EXPECT_NEAR(r->values[c], want_values[c], 1e-12) << "k " << k << " c " << c;
      }
      EXPECT_LT(SubspaceSine(r->vectors, Leading(want_vectors, n, k), n, k), 1e-8)
          << EigenMethodName(r->method) << " k " << k;
      EXPECT_LT(MaxResidual(DenseOperator(m, n), *r), 1e-10);
    }
    EXPECT_LE(kr->max_residual, 1e-11 * want_values[0]);
  }
}

TEST(EigenTest, KrylovRejectsBadRankAndHandlesWideBlocks) {
  const size_t n = 30;
  const Mat m = DecayingSpd(n, 2);
  EXPECT_FALSE(LeadingEigenpairsKrylov(DenseOperator(m, n), n, 0, {}).ok());
  EXPECT_FALSE(LeadingEigenpairsKrylov(DenseOperator(m, n), n, 31, {}).ok());
  // k close to n: the block no longer fits a Krylov basis; exact fallback.
  absl::StatusOr<EigenResult> r =
      LeadingEigenpairsKrylov(DenseOperator(m, n), n, 25, {});
  ASSERT_TRUE(r.ok());
  EXPECT_LT(r->max_residual, 1e-12);
  EXPECT_EQ(ChooseEigenMethod(3583, 100), EigenMethod::kBlockKrylov);
  EXPECT_EQ(ChooseEigenMethod(3583, 1000), EigenMethod::kSyevr);
}

TEST(EigenTest, KrylovFindsALowRankMatrixsEigenpairsThroughRankDeficientBlocks) {
  // M of rank 6 (spectrum 6, 5, …, 1 on random orthonormal directions), k = 3:
  // the Krylov blocks beyond the first lose rank (MQ lies in a 6-dimensional
  // space), so Cholesky QR must give way to LQ and the result still be exact.
  const size_t n = 120, rank = 6, k = 3;
  const Mat full = DecayingSpd(n, 5);
  std::vector<double> values;
  Mat vectors;
  DenseEigen(full, n, &values, &vectors);
  Mat m(n * n, 0.0);
  for (size_t j = 0; j < rank; ++j) {
    for (size_t a = 0; a < n; ++a) {
      for (size_t b = 0; b < n; ++b) {
        m[a * n + b] += (rank - j) * vectors[a * n + j] * vectors[b * n + j];
      }
    }
  }
  KrylovOptions o;
  o.tolerance = 1e-10;
  o.oversample = 3;
  o.depth = 4;
  absl::StatusOr<EigenResult> r =
      LeadingEigenpairsKrylov(DenseOperator(m, n), n, k, o);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_TRUE(r->converged);
  for (size_t c = 0; c < k; ++c) EXPECT_NEAR(r->values[c], rank - c, 1e-9);
  EXPECT_LT(SubspaceSine(r->vectors, Leading(vectors, n, k), n, k), 1e-8);
  // Orthonormal columns.
  const Mat vtv = MatMul(Transpose(r->vectors, n, k), r->vectors, k, n, k);
  for (size_t a = 0; a < k; ++a) {
    for (size_t b = 0; b < k; ++b) {
      EXPECT_NEAR(vtv[a * k + b], a == b ? 1.0 : 0.0, 1e-12);
    }
  }
}

// ---------------------------------------------------------------------------
// Closed forms.

class LowRankTest : public ::testing::Test {
 protected:
  void SetUp() override {
    x_ = RandomInteractions(600, n_, 7);
    g_ = ComputeGram(x_, 2);
    lambda_ = LambdaDiag(g_, n_, kLambda, kDropout);
  }
  SolverOptions Solver(Algorithm a) const {
    SolverOptions s;
    s.algorithm = a;
    s.lambda = kLambda;
    s.dropout = kDropout;
    s.num_threads = 2;
    return s;
  }
  // M = B̂ᵀ(G + Λ)B̂, formed explicitly.
  Mat ExplicitM(const Mat& b) const {
    Mat a = g_;
    for (size_t i = 0; i < n_; ++i) a[i * n_ + i] += lambda_[i];
    return MatMul(Transpose(b, n_, n_), MatMul(a, b, n_, n_, n_), n_, n_, n_);
  }
  double Objective(const Mat& u, const Mat& v, size_t k, bool drop) const {
    return LowRankObjective(g_, lambda_, n_, u, v, k, drop);
  }

  static constexpr double kLambda = 20;
  static constexpr double kDropout = 0.25;
  const size_t n_ = 96;
  Interactions x_;
  Mat g_;
  std::vector<double> lambda_;
};

TEST_F(LowRankTest, Algorithm1MatchesDenseEigenDecompositionAndUIsBV) {
  const Mat b = FullRankB(g_, lambda_, n_, /*edlae=*/true);
  std::vector<double> values;
  Mat vectors;
  DenseEigen(ExplicitM(b), n_, &values, &vectors);
  for (EigenMethod method : {EigenMethod::kBlockKrylov, EigenMethod::kSyevr}) {
    const size_t k = 4;
    LowRankOptions o;
    o.rank = k;
    o.eigensolver = method;
    o.krylov.tolerance = 1e-12;
    o.krylov.max_restarts = 300;
    absl::StatusOr<LowRankResult> r =
        SolveLowRank(g_, n_, Solver(Algorithm::kEdlae), o, nullptr);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->eigensolver, method);
    EXPECT_EQ(r->dense_buffers, method == EigenMethod::kSyevr ? 2 : 1);
    for (size_t c = 0; c < k; ++c) {
      EXPECT_NEAR(r->eigenvalues[c], values[c], 1e-9 * values[0]);
    }
    EXPECT_LT(r->eigen_relative_residual, 1e-10);
    // V spans the leading eigenspace (V is stored in float: ~1e-7).
    const Mat v = ToDouble(r->v);
    EXPECT_LT(SubspaceSine(Leading(vectors, n_, k), v, n_, k), 1e-5);
    // U = B̂·V, with B̂ formed independently.
    const Mat bv = MatMul(b, v, n_, n_, k);
    for (size_t e = 0; e < n_ * k; ++e) {
      ASSERT_NEAR(r->u[e], bv[e], 1e-5 * (1 + std::fabs(bv[e]))) << e;
    }
  }
}

TEST_F(LowRankTest, Float32KrylovOperatorMatchesTheSyevrClosedForm) {
  // The float32 operator (LowRankOptionsFor's default) against the float64
  // syevr closed form: same eigenvalues to float32 rounding, same U·Vᵀ to
  // 1e-4 of its largest entry, and the objective within 1e-6 of the optimum.
  for (size_t k : {4u, 12u}) {
    LowRankOptions exact;
    exact.rank = k;
    exact.eigensolver = EigenMethod::kSyevr;
    absl::StatusOr<LowRankResult> want =
        SolveLowRank(g_, n_, Solver(Algorithm::kEdlae), exact, nullptr);
    ASSERT_TRUE(want.ok()) << want.status();
    ModelSpec spec;
    spec.algorithm = Algorithm::kEdlae;
    spec.rank = k;
    spec.eigensolver = EigenMethod::kBlockKrylov;
    LowRankOptions o = LowRankOptionsFor(spec);
    ASSERT_EQ(o.eigen_precision, Precision::kFloat32);
    o.krylov.tolerance = 1e-6;
    absl::StatusOr<LowRankResult> got =
        SolveLowRank(g_, n_, Solver(Algorithm::kEdlae), o, nullptr);
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(got->eigensolver, EigenMethod::kBlockKrylov);
    EXPECT_TRUE(got->eigen_converged);
    // The residual is measured against M in float64.
    EXPECT_LE(got->eigen_relative_residual, 1e-6);
    for (size_t c = 0; c < k; ++c) {
      EXPECT_NEAR(got->eigenvalues[c], want->eigenvalues[c],
                  1e-5 * want->eigenvalues[0])
          << "k " << k << " c " << c;
    }
    const Mat w_want = MatMul(ToDouble(want->u),
                              Transpose(ToDouble(want->v), n_, k), n_, k, n_);
    const Mat w_got = MatMul(ToDouble(got->u),
                             Transpose(ToDouble(got->v), n_, k), n_, k, n_);
    double scale = 0, diff = 0;
    for (size_t e = 0; e < n_ * n_; ++e) {
      scale = std::max(scale, std::fabs(w_want[e]));
      diff = std::max(diff, std::fabs(w_got[e] - w_want[e]));
    }
    EXPECT_LT(diff, 1e-4 * scale) << "k " << k;
    const double f_want = Objective(ToDouble(want->u), ToDouble(want->v), k,
                                    false);
    const double f_got = Objective(ToDouble(got->u), ToDouble(got->v), k,
                                   false);
    EXPECT_NEAR(f_got, f_want, 1e-6 * f_want) << "k " << k;
  }
}

TEST_F(LowRankTest, DlaeLowRankIsTheEckartYoungOptimum) {
  // min ‖X − XW‖² + ‖Λ^½W‖² over rank-k W equals the full-rank optimum plus
  // the discarded eigenvalues of M = B̂ᵀ(G+Λ)B̂ (B̂ = I − CΛ).
  const Mat b = FullRankB(g_, lambda_, n_, /*edlae=*/false);
  std::vector<double> values;
  Mat vectors;
  DenseEigen(ExplicitM(b), n_, &values, &vectors);
  const Mat eye = [&] {
    Mat e(n_ * n_, 0.0);
    for (size_t i = 0; i < n_; ++i) e[i * n_ + i] = 1;
    return e;
  }();
  const double full = Objective(b, eye, n_, false);
  for (size_t k : {3u, 12u}) {
    LowRankOptions o;
    o.rank = k;
    o.krylov.tolerance = 1e-12;
    o.krylov.max_restarts = 300;
    absl::StatusOr<LowRankResult> r =
        SolveLowRank(g_, n_, Solver(Algorithm::kDlae), o, nullptr);
    ASSERT_TRUE(r.ok()) << r.status();
    double tail = 0;
    for (size_t j = k; j < n_; ++j) tail += values[j];
    const Mat u = ToDouble(r->u), v = ToDouble(r->v);
    const double got = Objective(u, v, k, false);
    EXPECT_NEAR(got, full + tail, 1e-5 * full) << "k " << k;
    // Perturbing the optimum in any direction costs.
    std::mt19937 rng(k);
    std::normal_distribution<double> normal(0, 1e-3);
    for (int trial = 0; trial < 3; ++trial) {
      Mat up = u, vp = v;
      for (double& e : up) e += normal(rng);
      for (double& e : vp) e += normal(rng);
      EXPECT_GT(Objective(up, vp, k, false), got);
    }
  }
}

TEST_F(LowRankTest, PredictionsApproachFullRankAsRankGrows) {
  const Mat b = FullRankB(g_, lambda_, n_, /*edlae=*/true);
  double norm = 0;
  for (double e : b) norm += e * e;
  double previous = INFINITY;
  for (size_t k : {5u, 20u, 60u, 96u}) {
    LowRankOptions o;
    o.rank = k;
    absl::StatusOr<LowRankResult> r =
        SolveLowRank(g_, n_, Solver(Algorithm::kEdlae), o, nullptr);
    ASSERT_TRUE(r.ok()) << r.status();
    const Mat w = MatMul(ToDouble(r->u), Transpose(ToDouble(r->v), n_, k), n_,
                         k, n_);
    double err = 0;
    for (size_t e = 0; e < n_ * n_; ++e) err += (w[e] - b[e]) * (w[e] - b[e]);
    const double relative = std::sqrt(err / norm);
    EXPECT_LT(relative, previous) << "k " << k;
    previous = relative;
    if (k == n_) {
      EXPECT_LT(relative, 1e-5);  // V orthogonal: U·Vᵀ = B̂
    }
  }
}

// ---------------------------------------------------------------------------
// Iterative methods.

TEST_F(LowRankTest, AdmmDecreasesEq10AndConvergesToDiagEqualsBeta) {
  const size_t k = 10;
  LowRankOptions o;
  o.rank = k;
  o.method = LowRankMethod::kAdmm;
  o.epochs = 200;
  // The printed U/V updates penalize all of U·Vᵀ − dMat(β − γ) by Ω, not just
  // its diagonal, so their fixed point moves with ω; a small ω keeps it close
  // to the optimum of Eq. 10.
  o.omega = 1;
  std::vector<double> objectives;
  double last_gap = 0, last_scale = 0;  // max |diag(UVᵀ) − β|, max |β|
  o.observer = [&](const LowRankStep& s) {
    if (s.updated != 'V') return;
    objectives.push_back(s.objective);
    // The observer's objective is Eq. 10 at (U, V), recomputed here from G.
    EXPECT_NEAR(s.objective, Objective(Mat(s.u.begin(), s.u.end()),
                                       Mat(s.v.begin(), s.v.end()), k, true),
                1e-9 * std::fabs(s.objective));
    last_gap = last_scale = 0;
    for (size_t i = 0; i < s.n; ++i) {
      double d = 0;
      for (size_t c = 0; c < k; ++c) d += s.u[i * k + c] * s.v[i * k + c];
      last_gap = std::max(last_gap, std::fabs(d - s.beta[i]));
      last_scale = std::max(last_scale, std::fabs(s.beta[i]));
    }
  };
  absl::StatusOr<LowRankResult> r =
      SolveLowRank(g_, n_, Solver(Algorithm::kEdlae), o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(objectives.size(), 200u);
  EXPECT_EQ(r->objectives, objectives);
  // Eq. 10 falls from the first epochs and settles at its lowest values (ADMM
  // is not monotone: the multipliers trade objective for feasibility).
  EXPECT_LT(objectives.back(), 0.99 * objectives[1]);
  const double lowest = *std::min_element(objectives.begin(), objectives.end());
  EXPECT_LT(objectives.back(), lowest * (1 + 1e-3));
  for (size_t e = 10; e < objectives.size(); ++e) {
    EXPECT_LT(objectives[e], objectives[2]) << "epoch " << e + 1;
  }
  EXPECT_LT(last_gap, 1e-3 * last_scale) << "diag(UVᵀ) vs β at convergence";

  // Algorithm 1 approximates the same optimum (Steck & Garcia Garcia 2021).
  LowRankOptions cf;
  cf.rank = k;
  absl::StatusOr<LowRankResult> closed =
      SolveLowRank(g_, n_, Solver(Algorithm::kEdlae), cf, nullptr);
  ASSERT_TRUE(closed.ok());
  const double closed_objective =
      Objective(ToDouble(closed->u), ToDouble(closed->v), k, true);
  EXPECT_LT(std::fabs(closed_objective - objectives.back()),
            0.01 * objectives.back())
      << "closed form " << closed_objective << " vs ADMM " << objectives.back();
}

TEST_F(LowRankTest, AlsKeepsDiagonalZeroAfterEveryUpdateAndDescends) {
  const size_t k = 8;
  LowRankOptions o;
  o.rank = k;
  o.method = LowRankMethod::kAls;
  o.epochs = 15;
  int updates = 0;
  std::vector<double> objectives;
  o.observer = [&](const LowRankStep& s) {
    ++updates;
    double worst = 0, scale = 0;
    for (size_t i = 0; i < s.n; ++i) {
      double d = 0, nu = 0, nv = 0;
      for (size_t c = 0; c < k; ++c) {
        d += s.u[i * k + c] * s.v[i * k + c];
        nu += s.u[i * k + c] * s.u[i * k + c];
        nv += s.v[i * k + c] * s.v[i * k + c];
      }
      worst = std::max(worst, std::fabs(d));
      scale = std::max(scale, std::sqrt(nu * nv));
    }
    EXPECT_LT(worst, 1e-9 * scale) << s.updated << " update, epoch " << s.epoch;
    if (s.updated == 'U') objectives.push_back(s.objective);
  };
  absl::StatusOr<LowRankResult> r =
      SolveLowRank(g_, n_, Solver(Algorithm::kZeroDiag), o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(updates, 30);
  EXPECT_EQ(r->dense_buffers, 2);
  // Each half-step minimizes Eq. 11 exactly over one factor: monotone.
  for (size_t e = 1; e < objectives.size(); ++e) {
    EXPECT_LE(objectives[e], objectives[e - 1] * (1 + 1e-10)) << e;
  }
  EXPECT_NEAR(objectives.back(),
              Objective(ToDouble(r->u), ToDouble(r->v), k, false),
              1e-5 * objectives.back());
  // The float factors keep the constraint too.
  for (size_t i = 0; i < n_; ++i) {
    double d = 0;
    for (size_t c = 0; c < k; ++c) d += double{r->u[i * k + c]} * r->v[i * k + c];
    EXPECT_NEAR(d, 0, 1e-5);
  }
}

// Items that never co-occur with another (common in real data: a book read
// only by readers of nothing else) have no off-diagonal information; their
// rows of V vanish, and with them their rows of C ⊙ V(VᵀV)⁻¹Vᵀ (Eq. 32). ALS
// must still train, keep diag(UVᵀ) = 0 and descend.
TEST_F(LowRankTest, AlsTrainsWithItemsThatNeverCoOccur) {
  const size_t extra = 3, n = n_ + extra, k = 8;
  Mat g(n * n, 0.0);
  for (size_t i = 0; i < n_; ++i) {
    for (size_t j = 0; j < n_; ++j) g[i * n + j] = g_[i * n_ + j];
  }
  for (size_t i = n_; i < n; ++i) g[i * n + i] = 5.0 + i % 2;  // alone
  LowRankOptions o;
  o.rank = k;
  o.method = LowRankMethod::kAls;
  o.epochs = 6;
  std::vector<double> objectives;
  o.observer = [&](const LowRankStep& s) {
    if (s.updated == 'U') objectives.push_back(s.objective);
  };
  absl::StatusOr<LowRankResult> r =
      SolveLowRank(g, n, Solver(Algorithm::kZeroDiag), o, nullptr);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(objectives.size(), 6u);
  for (size_t e = 1; e < objectives.size(); ++e) {
    EXPECT_LE(objectives[e], objectives[e - 1] * (1 + 1e-10)) << e;
  }
  for (size_t i = 0; i < n; ++i) {
    double d = 0;
    for (size_t c = 0; c < k; ++c) {
      ASSERT_TRUE(std::isfinite(r->u[i * k + c]) &&
                  std::isfinite(r->v[i * k + c]));
      d += double{r->u[i * k + c]} * r->v[i * k + c];
    }
    EXPECT_NEAR(d, 0, 1e-5) << i;
  }
}

TEST_F(LowRankTest, RejectsBadRanksAndCombinations) {
  LowRankOptions o;
  o.rank = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(
      SolveLowRank(g_, n_, Solver(Algorithm::kEdlae), o, nullptr).status()));
  o.rank = n_ + 1;
  EXPECT_TRUE(absl::IsInvalidArgument(
      SolveLowRank(g_, n_, Solver(Algorithm::kEdlae), o, nullptr).status()));
  o.rank = 3;
  EXPECT_TRUE(absl::IsInvalidArgument(
      SolveLowRank(g_, n_, Solver(Algorithm::kEase), o, nullptr).status()));
  o.method = LowRankMethod::kAls;
  EXPECT_TRUE(absl::IsInvalidArgument(
      SolveLowRank(g_, n_, Solver(Algorithm::kEdlae), o, nullptr).status()));
  o.method = LowRankMethod::kAdmm;
  o.omega = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(
      SolveLowRank(g_, n_, Solver(Algorithm::kEdlae), o, nullptr).status()));
  SolverOptions zero_diag = Solver(Algorithm::kZeroDiag);
  EXPECT_TRUE(absl::IsInvalidArgument(SolveFullRank(g_, n_, zero_diag).status()));
  EXPECT_EQ(ParseAlgorithm("zero-diag").value(), Algorithm::kZeroDiag);
  EXPECT_EQ(ParseLowRankMethod("admm").value(), LowRankMethod::kAdmm);
  EXPECT_FALSE(ParseLowRankMethod("svd").ok());
}

TEST_F(LowRankTest, TrainAndWriteServesXUVt) {
  testing::ScratchDir dir;
  const std::string path = dir.File("lr.edlae");
  LowRankOptions o;
  o.rank = 6;
  TrainOptions train;
  train.spec = ModelSpecOf(Solver(Algorithm::kEdlae), o);
  train.source = "unit";
  train.num_threads = 2;
  train.out_path = path;
  absl::StatusOr<TrainReport> report = TrainAndWrite(x_, train);
  ASSERT_TRUE(report.ok()) << report.status();
  absl::StatusOr<std::shared_ptr<const Model>> model = Model::Open(path);
  ASSERT_TRUE(model.ok()) << model.status();
  const Model& m = **model;
  EXPECT_EQ(m.kind(), ModelKind::kLowRank);
  EXPECT_EQ(m.rank(), 6u);
  EXPECT_EQ(m.GetMetadata("rank"), std::optional<std::string_view>("6"));
  EXPECT_EQ(m.GetMetadata("method"),
            std::optional<std::string_view>("closed-form"));
  EXPECT_EQ(m.GetMetadata("algorithm"), std::optional<std::string_view>("edlae"));
  // Scores from the file equal (x·U)·Vᵀ from the factors it holds.
  std::vector<HistoryEntry> history = {{1, 1.0f}, {5, 1.0f}, {40, 1.0f}};
  std::vector<float> scores(n_);
  ComputeScores(m, history, absl::MakeSpan(scores));
  for (size_t j = 0; j < n_; ++j) {
    double s = 0;
    for (size_t c = 0; c < 6; ++c) {
      double z = 0;
      for (const HistoryEntry& e : history) z += m.u_row(e.index)[c];
      s += z * m.v_row(j)[c];
    }
    EXPECT_NEAR(scores[j], s, 1e-5 * (1 + std::fabs(s)));
  }
}

}  // namespace
}  // namespace edlae
