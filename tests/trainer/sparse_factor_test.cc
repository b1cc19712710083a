// Sparse factorization: complete and incomplete factors against A, the memory
// estimate's choice and refusals, and the incomplete solve equal to the closed
// form when there is no fill.
#include "trainer/sparse_factor.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "trainer/full_rank_solver.h"
#include "trainer/gram.h"
#include "trainer/incomplete_cholesky.h"
#include "trainer/interactions.h"
#include "trainer/sparse_gram.h"
#include "trainer/sparse_solver.h"

namespace edlae {
namespace {

Interactions FromHistories(const std::vector<std::vector<uint32_t>>& users,
                           size_t n) {
  Interactions x;
  for (size_t i = 0; i < n; ++i) x.item_ids.push_back(absl::StrCat("i", i));
  x.row_offsets.push_back(0);
  for (size_t u = 0; u < users.size(); ++u) {
    x.user_ids.push_back(absl::StrCat("u", u));
    std::set<uint32_t> items(users[u].begin(), users[u].end());
    x.item_indices.insert(x.item_indices.end(), items.begin(), items.end());
    x.row_offsets.push_back(x.item_indices.size());
  }
  return x;
}

// Stars: item i co-occurs only with its center 10·⌊i/10⌋ (centers never with
// each other). Eliminating leaves first — both AMD and the ascending-degree
// order do — fills nothing, so the incomplete factor with A's fill is the
// complete one.
Interactions StarInteractions(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<uint32_t>> users;
  for (uint32_t i = 0; i < n; ++i) {
    const uint32_t center = i / 10 * 10;
    if (i != center) {
      for (uint32_t r = 0; r < 1 + rng() % 3; ++r) users.push_back({i, center});
    }
    users.push_back({i});
  }
  return FromHistories(users, n);
}

// Users drawing uniformly from all items: G's graph is random, whose
// complete factor fills in far beyond A.
Interactions RandomInteractions(size_t users, size_t n, size_t per_user,
                                uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<std::vector<uint32_t>> histories(users);
  for (auto& h : histories) {
    for (size_t k = 0; k < per_user; ++k) h.push_back(rng() % n);
  }
  return FromHistories(histories, n);
}

std::vector<double> Shift(const SparseGram& g, double lambda) {
  return std::vector<double>(g.n, lambda);
}

// (L·Lᵀ)[r][c] for the lower-triangular CSC factor, densely (small n).
std::vector<double> Product(const FactorView& f) {
  const size_t n = f.n;
  std::vector<double> l(n * n, 0.0), out(n * n, 0.0);
  for (size_t c = 0; c < n; ++c) {
    for (int64_t q = f.p[c]; q < f.p[c + 1]; ++q) l[f.i[q] * n + c] = f.x[q];
  }
  for (size_t r = 0; r < n; ++r) {
    for (size_t c = 0; c <= r; ++c) {
      double s = 0;
      for (size_t k = 0; k <= c; ++k) s += l[r * n + k] * l[c * n + k];
      out[r * n + c] = out[c * n + r] = s;
    }
  }
  return out;
}

// A = G + λI permuted as the factor: a[k][m] = A[perm[k]][perm[m]].
std::vector<double> PermutedA(const Interactions& x, const FactorView& f,
                              double lambda) {
  const size_t n = f.n;
  const std::vector<double> g = ComputeGram(x, 1);
  std::vector<double> a(n * n);
  for (size_t k = 0; k < n; ++k) {
    for (size_t m = 0; m < n; ++m) {
      a[k * n + m] = g[f.perm[k] * n + f.perm[m]] + (k == m ? lambda : 0.0);
    }
  }
  return a;
}

TEST(FactorizationMethodTest, ParsesNames) {
  EXPECT_EQ(ParseFactorizationMethod("auto"), FactorizationMethod::kAuto);
  EXPECT_EQ(ParseFactorizationMethod("complete"),
            FactorizationMethod::kComplete);
  EXPECT_EQ(ParseFactorizationMethod("incomplete"),
            FactorizationMethod::kIncomplete);
  EXPECT_FALSE(ParseFactorizationMethod("ichol").has_value());
  EXPECT_STREQ(FactorizationMethodName(FactorizationMethod::kIncomplete),
               "incomplete");
}

TEST(SparseFactorTest, CompleteFactorReproducesA) {
  const size_t n = 120;
  const Interactions x = RandomInteractions(400, n, 6, 1);
  SparseFactorOptions o;
  o.method = FactorizationMethod::kComplete;
  const SparseGram g = ComputeSparseGram(x, {});
  absl::StatusOr<SparseFactor> f = FactorSparseGram(g, Shift(g, 5.0), o);
  ASSERT_TRUE(f.ok()) << f.status();
  const FactorView v = f->view();
  EXPECT_TRUE(v.complete);
  EXPECT_EQ(f->report().method, FactorizationMethod::kComplete);
  // The simplicial copy of a supernodal factor keeps the supernodes'
  // explicit zeros: at least the predicted count.
  EXPECT_GE(static_cast<double>(f->report().nnz_factor),
            f->report().complete_nnz);
  const std::vector<double> a = PermutedA(x, v, 5.0), llt = Product(v);
  for (size_t k = 0; k < n * n; ++k) {
    ASSERT_NEAR(llt[k], a[k], 1e-9 * std::max(1.0, std::abs(a[k]))) << k;
  }
}

// The incomplete factor keeps A's fill per column (the largest entries of
// each computed column, as many as A's column has). Left-looking, each kept
// L[i][j] is (A[i][j] − Σ_k L[i][k]·L[j][k]) / L[j][j] over kept entries, so
// L·Lᵀ equals A exactly wherever L keeps an entry; dropped entries move to
// the diagonals, so L·Lᵀ − A is positive semidefinite.
// (Eigen 3.4's IncompleteCholesky fails this: it stores a new fill-in entry
// with the wrong sign and takes the dropped entries off the diagonal.)
TEST(SparseFactorTest, IncompleteFactorMatchesAWhereItKeepsEntries) {
  const size_t n = 120;
  const Interactions x = RandomInteractions(400, n, 6, 2);
  SparseFactorOptions o;
  o.method = FactorizationMethod::kIncomplete;
  const SparseGram g = ComputeSparseGram(x, {});
  const size_t nnz_lower = g.nnz_upper();
  absl::StatusOr<SparseFactor> f = FactorSparseGram(g, Shift(g, 5.0), o);
  ASSERT_TRUE(f.ok()) << f.status();
  const FactorView v = f->view();
  EXPECT_FALSE(v.complete);
  EXPECT_EQ(f->report().method, FactorizationMethod::kIncomplete);
  EXPECT_EQ(f->report().nnz_factor, nnz_lower);
  EXPECT_EQ(f->report().ordering, "degree");
  const std::vector<double> a = PermutedA(x, v, 5.0), llt = Product(v);
  size_t checked = 0;
  for (size_t c = 0; c < n; ++c) {
    ASSERT_EQ(v.i[v.p[c]], static_cast<int64_t>(c)) << "diagonal first";
    ASSERT_GT(v.x[v.p[c]], 0);
    for (int64_t q = v.p[c] + 1; q < v.p[c + 1]; ++q) {
      const size_t r = static_cast<size_t>(v.i[q]);
      ASSERT_GT(r, c);
      EXPECT_NEAR(llt[r * n + c], a[r * n + c], 1e-9 * a[c * n + c])
          << r << "," << c;
      ++checked;
    }
    // The dropped entries' mass is on the diagonal: L·Lᵀ = A + E, E ⪰ 0.
    EXPECT_GE(llt[c * n + c], a[c * n + c] * (1 - 1e-12)) << c;
  }
  EXPECT_GT(checked, n);
  EXPECT_EQ(f->report().replaced_pivots, 0u);
  double off_error = 0, off_norm = 0;
  for (size_t k = 0; k < n; ++k) {
    for (size_t m = 0; m < k; ++m) {
      off_error += std::pow(llt[k * n + m] - a[k * n + m], 2);
      off_norm += std::pow(a[k * n + m], 2);
    }
  }
  // An approximation of A, not of something else.
  EXPECT_LT(std::sqrt(off_error), 0.5 * std::sqrt(off_norm));
  // E = L·Lᵀ − A ⪰ 0: vᵀ·E·v ≥ 0 for random v.
  std::mt19937 rng(11);
  std::normal_distribution<double> normal;
  for (int trial = 0; trial < 20; ++trial) {
    std::vector<double> v(n);
    for (double& e : v) e = normal(rng);
    double quad_e = 0, quad_a = 0;
    for (size_t r = 0; r < n; ++r) {
      for (size_t c = 0; c < n; ++c) {
        quad_e += v[r] * (llt[r * n + c] - a[r * n + c]) * v[c];
        quad_a += v[r] * a[r * n + c] * v[c];
      }
    }
    EXPECT_GE(quad_e, -1e-9 * quad_a) << trial;
  }
}

// A small dense SPD matrix as a LowerCsc (every lower entry stored).
LowerCsc DenseLower(const std::vector<double>& a, size_t n) {
  LowerCsc out;
  out.n = n;
  out.p.push_back(0);
  for (size_t c = 0; c < n; ++c) {
    for (size_t r = c; r < n; ++r) {
      if (r == c || a[r * n + c] != 0) {
        out.i.push_back(static_cast<int64_t>(r));
        out.x.push_back(a[r * n + c]);
      }
    }
    out.p.push_back(static_cast<int64_t>(out.i.size()));
  }
  return out;
}

// With room for every entry the incomplete factorization is the complete
// one (on the natural order): L·Lᵀ = A everywhere.
TEST(IncompleteCholeskyTest, UnboundedFillIsTheCompleteFactor) {
  const size_t n = 60;
  const Interactions x = RandomInteractions(200, n, 4, 9);
  std::vector<double> g = ComputeGram(x, 1);
  for (size_t k = 0; k < n; ++k) g[k * n + k] += 2.0;
  const LowerCsc a = DenseLower(g, n);
  IncompleteCholeskyOptions o;
  o.fill = static_cast<double>(n);
  IncompleteCholeskyReport report;
  absl::StatusOr<LowerCsc> l = IncompleteCholesky(a, o, &report);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(report.replaced_pivots, 0u);
  std::vector<int64_t> identity(n);
  for (size_t k = 0; k < n; ++k) identity[k] = static_cast<int64_t>(k);
  FactorView v{n,           l->p.data(),     l->i.data(),
               l->x.data(), identity.data(), false};
  const std::vector<double> llt = Product(v);
  for (size_t k = 0; k < n * n; ++k) {
    ASSERT_NEAR(llt[k], g[k], 1e-9 * std::max(1.0, std::abs(g[k]))) << k;
  }
  // fill = 1 on the same matrix: fewer entries, still L·Lᵀ = A on them.
  o.fill = 1.0;
  absl::StatusOr<LowerCsc> small = IncompleteCholesky(a, o, &report);
  ASSERT_TRUE(small.ok());
  EXPECT_LE(small->i.size(), a.i.size());
}

TEST(IncompleteCholeskyTest, RefusesMalformedInput) {
  LowerCsc a;
  a.n = 2;
  a.p = {0, 2, 3};
  a.i = {0, 1, 1};
  a.x = {4.0, 1.0, 3.0};
  EXPECT_TRUE(IncompleteCholesky(a, {}).ok());
  LowerCsc no_diagonal = a;
  no_diagonal.i = {1, 0, 1};
  EXPECT_EQ(IncompleteCholesky(no_diagonal, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  LowerCsc negative = a;
  negative.x[2] = -1.0;
  EXPECT_EQ(IncompleteCholesky(negative, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  LowerCsc short_p = a;
  short_p.p = {0, 2};
  EXPECT_EQ(IncompleteCholesky(short_p, {}).status().code(),
            absl::StatusCode::kInvalidArgument);
  IncompleteCholeskyOptions zero_fill;
  zero_fill.fill = 0;
  EXPECT_EQ(IncompleteCholesky(a, zero_fill).status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A breakdown (a non-positive pivot) is repaired and counted, never NaN.
TEST(IncompleteCholeskyTest, RepairsABreakdown) {
  // Indefinite (0.9² + 0.9² > 1): the third pivot goes negative, and the
  // complete factorization would fail; the incomplete one repairs it.
  const size_t n = 3;
  const std::vector<double> dense = {1.0, 0.9,  0.9,   //
                                     0.9, 1.0,  0.01,  //
                                     0.9, 0.01, 1.0};
  const LowerCsc a = DenseLower(dense, n);
  IncompleteCholeskyReport report;
  absl::StatusOr<LowerCsc> l = IncompleteCholesky(a, {}, &report);
  ASSERT_TRUE(l.ok()) << l.status();
  EXPECT_EQ(report.replaced_pivots, 1u);
  EXPECT_EQ(l->x[l->p[2]], 1.0) << "the pivot replaced by √A[2][2]";
  for (double v : l->x) EXPECT_TRUE(std::isfinite(v));
}

// With base and later phases at 0 the estimates depend on A alone, so the
// choice is deterministic: auto takes the complete factor with no limit, the
// incomplete one below the complete estimate, and refuses below both.
TEST(SparseFactorTest, AutoChoosesByTheMemoryEstimateAndRefusesBelowIt) {
  const Interactions x = RandomInteractions(2000, 600, 8, 3);
  const SparseGram g = ComputeSparseGram(x, {});
  SparseFactorOptions o;
  absl::StatusOr<SparseFactor> free = FactorSparseGram(g, Shift(g, 10.0), o);
  ASSERT_TRUE(free.ok()) << free.status();
  EXPECT_EQ(free->report().method, FactorizationMethod::kComplete);
  const double complete = free->report().complete_peak_bytes;
  const double incomplete = free->report().incomplete_peak_bytes;
  ASSERT_GT(complete, 1.5 * incomplete) << "data must fill in";

  o.memory_limit_bytes = static_cast<size_t>((complete + incomplete) / 2);
  absl::StatusOr<SparseFactor> tight = FactorSparseGram(g, Shift(g, 10.0), o);
  ASSERT_TRUE(tight.ok()) << tight.status();
  EXPECT_EQ(tight->report().method, FactorizationMethod::kIncomplete);
  EXPECT_FALSE(tight->view().complete);

  o.method = FactorizationMethod::kComplete;
  absl::StatusOr<SparseFactor> forced = FactorSparseGram(g, Shift(g, 10.0), o);
  EXPECT_EQ(forced.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(forced.status().message().find("complete factorization needs"),
            std::string::npos)
      << forced.status();

  o.method = FactorizationMethod::kAuto;
  o.memory_limit_bytes = static_cast<size_t>(incomplete / 2);
  absl::StatusOr<SparseFactor> none = FactorSparseGram(g, Shift(g, 10.0), o);
  EXPECT_EQ(none.status().code(), absl::StatusCode::kResourceExhausted);

  o.memory_limit_bytes = 1000;  // not even A can be ordered
  absl::StatusOr<SparseFactor> tiny = FactorSparseGram(g, Shift(g, 10.0), o);
  EXPECT_EQ(tiny.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(tiny.status().message().find("to order"), std::string::npos)
      << tiny.status();
}

TEST(SparseFactorTest, RefusesAShiftOfTheWrongSizeAndASingularA) {
  const Interactions x = RandomInteractions(50, 30, 4, 4);
  const SparseGram g = ComputeSparseGram(x, {});
  EXPECT_EQ(
      FactorSparseGram(g, std::vector<double>(3, 1.0), {}).status().code(),
      absl::StatusCode::kInvalidArgument);
  // λ = 0 with an item nobody used: G + Λ is singular.
  Interactions unused = x;
  unused.item_ids.push_back("never");
  const SparseGram gu = ComputeSparseGram(unused, {});
  for (FactorizationMethod m :
       {FactorizationMethod::kComplete, FactorizationMethod::kIncomplete}) {
    SparseFactorOptions o;
    o.method = m;
    absl::StatusOr<SparseFactor> f =
        FactorSparseGram(gu, std::vector<double>(gu.n, 0.0), o);
    // Refused before either runs (Eigen's would shift the zero pivot away
    // silently and change the model).
    EXPECT_EQ(f.status().code(), absl::StatusCode::kFailedPrecondition)
        << f.status();
    EXPECT_NE(f.status().message().find("not positive definite"),
              std::string::npos);
  }
}

// The whole sparse solve through the incomplete factor: exact where the
// factor has no fill (the closed form of SolveFullRank), and the same
// ranking as the complete factor's on data that fills in.
TEST(SparseSolverIncompleteTest, NoFillGivesTheClosedForm) {
  const size_t n = 150;
  const Interactions x = StarInteractions(n, 5);
  for (Algorithm algorithm : {Algorithm::kEase, Algorithm::kEdlae}) {
    ModelSpec spec;
    spec.algorithm = algorithm;
    spec.lambda = 3.0;
    spec.dropout = algorithm == Algorithm::kEase ? 0.0 : 0.3;
    absl::StatusOr<std::vector<float>> dense =
        SolveFullRank(ComputeGram(x, 1), n, SolverOptionsFor(spec, 1));
    ASSERT_TRUE(dense.ok()) << dense.status();
    SparseTrainOptions o;
    o.density = 1.0;
    o.factorization = FactorizationMethod::kIncomplete;
    absl::StatusOr<SparseModel> m = TrainSparse(x, spec, o);
    ASSERT_TRUE(m.ok()) << m.status();
    EXPECT_EQ(m->report.factorization, "incomplete");
    double worst = 0, largest = 0;
    std::vector<double> b(n * n, 0.0);
    for (size_t i = 0; i < n; ++i) {
      for (uint64_t q = m->offsets[i]; q < m->offsets[i + 1]; ++q) {
        b[i * n + m->indices[q]] = m->weights[q];
      }
    }
    for (size_t k = 0; k < n * n; ++k) {
      worst = std::max(worst, std::abs(b[k] - (*dense)[k]));
      largest = std::max(largest, std::abs(static_cast<double>((*dense)[k])));
    }
    EXPECT_GT(largest, 1e-2);
    EXPECT_LT(worst, 1e-5) << AlgorithmName(algorithm);
  }
}

TEST(SparseSolverIncompleteTest, KeepsMostOfTheCompleteRankingOnFilledData) {
  const size_t n = 400;
  const Interactions x = RandomInteractions(3000, n, 10, 6);
  ModelSpec spec;
  spec.algorithm = Algorithm::kEase;
  spec.lambda = 20.0;
  SparseTrainOptions o;
  o.density = 0.05;
  o.factorization = FactorizationMethod::kComplete;  // implies kFactor
  absl::StatusOr<SparseModel> complete = TrainSparse(x, spec, o);
  ASSERT_TRUE(complete.ok()) << complete.status();
  o.factorization = FactorizationMethod::kIncomplete;
  absl::StatusOr<SparseModel> incomplete = TrainSparse(x, spec, o);
  ASSERT_TRUE(incomplete.ok()) << incomplete.status();
  EXPECT_EQ(incomplete->report.factorization, "incomplete");
  EXPECT_LT(incomplete->report.nnz_factor, complete->report.nnz_factor);
  // Top-5 of each row (by weight) shared between the two models.
  auto top = [](const SparseModel& m, size_t i) {
    std::vector<std::pair<float, uint32_t>> row;
    for (uint64_t q = m.offsets[i]; q < m.offsets[i + 1]; ++q) {
      row.emplace_back(-m.weights[q], m.indices[q]);
    }
    std::sort(row.begin(), row.end());
    std::set<uint32_t> out;
    for (size_t k = 0; k < std::min<size_t>(5, row.size()); ++k)
      out.insert(row[k].second);
    return out;
  };
  size_t shared = 0, all = 0;
  for (size_t i = 0; i < n; ++i) {
    const std::set<uint32_t> a = top(*complete, i), b = top(*incomplete, i);
    for (uint32_t j : a) shared += b.count(j);
    all += a.size();
  }
  EXPECT_GT(all, 0u);
  EXPECT_GT(static_cast<double>(shared) / all, 0.6) << shared << " of " << all;
}

}  // namespace
}  // namespace edlae
