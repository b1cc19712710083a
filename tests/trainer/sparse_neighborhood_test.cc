// Neighborhood regressions: each column against its own normal equations.
#include "trainer/sparse_neighborhood.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "trainer/gram.h"
#include "trainer/interactions.h"
#include "trainer/lapack.h"
#include "trainer/sparse_gram.h"

namespace edlae {
namespace {

// Users drawn from 8 taste blocks plus a power-law tail: many ties in the
// counts, popular items in most neighborhoods.
Interactions BlockInteractions(size_t users, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> unit(0, 1);
  Interactions x;
  for (size_t i = 0; i < n; ++i) x.item_ids.push_back(absl::StrCat("i", i));
  x.row_offsets.push_back(0);
  for (size_t u = 0; u < users; ++u) {
    x.user_ids.push_back(absl::StrCat("u", u));
    const size_t block = rng() % 8;
    for (size_t i = 0; i < n; ++i) {
      const double p = (i * 8 / n == block ? 0.12 : 0.0) + 1.5 / (6.0 + i);
      if (unit(rng) < p) x.item_indices.push_back(static_cast<uint32_t>(i));
    }
    x.row_offsets.push_back(x.item_indices.size());
  }
  return x;
}

SparseGram Gram(const Interactions& x) {
  SparseGramOptions o;
  o.num_threads = 2;
  return ComputeSparseGram(x, o);
}

// Column j of B as a dense vector.
std::vector<double> Column(const NeighborhoodModel& m, size_t n, size_t j) {
  std::vector<double> b(n, 0.0);
  for (size_t i = 0; i < n; ++i) {
    for (uint64_t q = m.offsets[i]; q < m.offsets[i + 1]; ++q) {
      if (m.indices[q] == j) b[i] = m.weights[q];
    }
  }
  return b;
}

// The support the solver must choose, by brute force over the dense G: the
// `neighbors` items i ≠ j with G_ij > 0 and the largest
// G_ij / A_ii^kNeighborExponent, ties to
// the less popular item (smaller G_ii, then smaller index).
std::vector<size_t> ExpectedSupport(const std::vector<double>& g,
                                    const std::vector<double>& a_diag, size_t n,
                                    size_t j, size_t neighbors) {
  std::vector<size_t> c;
  for (size_t i = 0; i < n; ++i) {
    if (i != j && g[i * n + j] > 0) c.push_back(i);
  }
  std::sort(c.begin(), c.end(), [&](size_t x, size_t y) {
    const double sx = g[x * n + j] * std::pow(a_diag[x], -kNeighborExponent);
    const double sy = g[y * n + j] * std::pow(a_diag[y], -kNeighborExponent);
    if (sx != sy) return sx > sy;
    if (g[x * n + x] != g[y * n + y]) return g[x * n + x] < g[y * n + y];
    return x < y;
  });
  if (c.size() > neighbors) c.resize(neighbors);
  std::sort(c.begin(), c.end());
  return c;
}

// b_S = (G_SS + Λ_SS)⁻¹·G_Sj, in double by the dense LAPACK solve.
std::vector<double> SolveOnSupport(const std::vector<double>& g,
                                   const std::vector<double>& a_diag, size_t n,
                                   size_t j, const std::vector<size_t>& s) {
  const size_t k = s.size();
  std::vector<double> m(k * k), b(k);
  for (size_t a = 0; a < k; ++a) {
    b[a] = g[s[a] * n + j];
    for (size_t c = 0; c < k; ++c) {
      m[a * k + c] = a == c ? a_diag[s[a]] : g[s[a] * n + s[c]];
    }
  }
  EXPECT_TRUE(SolveSpdUpper(m.data(), k, b.data()).ok());
  return b;
}

struct Fixture {
  size_t n;
  Interactions x;
  std::vector<double> g;       // dense G
  std::vector<double> shift;   // Λ
  std::vector<double> a_diag;  // diag(G + Λ)
};

Fixture MakeFixture(size_t n, size_t users, double lambda, double extra) {
  Fixture f{n, BlockInteractions(users, n, 29), {}, {}, {}};
  f.g = ComputeGram(f.x, 2);
  for (size_t i = 0; i < n; ++i) {
    f.shift.push_back(lambda + extra * f.g[i * n + i]);
    f.a_diag.push_back(f.g[i * n + i] + f.shift[i]);
  }
  return f;
}

// Each column is the exact ridge regression of its item on the chosen
// neighbors, and the neighbors are the ones the rule names: B minimizes the
// EASE/EDLAE objective over every B supported there.
TEST(SparseNeighborhoodTest, EachColumnSolvesItsNormalEquationsOnItsNeighbors) {
  const Fixture f = MakeFixture(240, 900, 15, 0.3);
  NeighborhoodOptions o;
  o.neighbors = 30;
  o.keep = 30;
  o.num_threads = 2;
  absl::StatusOr<NeighborhoodModel> m =
      SolveNeighborhoods(Gram(f.x), f.shift, o);
  ASSERT_TRUE(m.ok()) << m.status();
  size_t checked = 0;
  for (size_t j = 0; j < f.n; ++j) {
    const std::vector<size_t> s =
        ExpectedSupport(f.g, f.a_diag, f.n, j, o.neighbors);
    const std::vector<double> want = SolveOnSupport(f.g, f.a_diag, f.n, j, s);
    const std::vector<double> got = Column(*m, f.n, j);
    std::vector<double> expected(f.n, 0.0);
    for (size_t a = 0; a < s.size(); ++a) expected[s[a]] = want[a];
    for (size_t i = 0; i < f.n; ++i) {
      ASSERT_NEAR(got[i], expected[i], 1e-6 + 1e-5 * std::abs(expected[i]))
          << "B[" << i << "][" << j << "]";
    }
    EXPECT_EQ(got[j], 0.0);
    checked += s.size() == o.neighbors;
  }
  EXPECT_GT(checked, f.n / 2) << "most columns had more candidates than m";
  size_t longest = 0;
  for (size_t i = 0; i < f.n; ++i) {
    longest = std::max<size_t>(longest, m->offsets[i + 1] - m->offsets[i]);
    for (uint64_t q = m->offsets[i] + 1; q < m->offsets[i + 1]; ++q) {
      ASSERT_LT(m->indices[q - 1], m->indices[q]) << "row " << i;
    }
  }
  EXPECT_EQ(m->longest_row, longest);
}

// With neighbors ≥ n − 1 every column regresses on all other items: the
// closed form B = I − C·dMat(1 ⊘ diag C), C = (G + Λ)⁻¹, which also holds
// weights for pairs that never co-occur.
TEST(SparseNeighborhoodTest, AllNeighborsIsTheClosedForm) {
  const Fixture f = MakeFixture(90, 400, 4, 0);
  std::vector<double> c = f.g;
  for (size_t i = 0; i < f.n; ++i) c[i * f.n + i] = f.a_diag[i];
  ASSERT_TRUE(InvertSpdUpperLapack(c.data(), f.n).ok());
  for (int zero_diagonal = 0; zero_diagonal < 2; ++zero_diagonal) {
    NeighborhoodOptions o;
    o.neighbors = f.n;
    o.keep = f.n;
    o.zero_diagonal = zero_diagonal;
    absl::StatusOr<NeighborhoodModel> m =
        SolveNeighborhoods(Gram(f.x), f.shift, o);
    ASSERT_TRUE(m.ok()) << m.status();
    for (size_t j = 0; j < f.n; ++j) {
      const std::vector<double> got = Column(*m, f.n, j);
      for (size_t i = 0; i < f.n; ++i) {
        const double cij = c[std::min(i, j) * f.n + std::max(i, j)];
        const double cjj = c[j * f.n + j];
        const double want = zero_diagonal
                                ? (i == j ? 0.0 : -cij / cjj)
                                : (i == j ? 1.0 : 0.0) - cij * f.shift[j];
        ASSERT_NEAR(got[i], want, 1e-6) << i << "," << j;
      }
    }
  }
}

// DLAE keeps the diagonal: the support is the neighbors plus j itself.
TEST(SparseNeighborhoodTest, DlaeRegressesOnItselfToo) {
  const Fixture f = MakeFixture(160, 600, 6, 0.5);
  NeighborhoodOptions o;
  o.neighbors = 20;
  o.keep = 21;
  o.zero_diagonal = false;
  absl::StatusOr<NeighborhoodModel> m =
      SolveNeighborhoods(Gram(f.x), f.shift, o);
  ASSERT_TRUE(m.ok()) << m.status();
  for (size_t j = 0; j < f.n; j += 7) {
    std::vector<size_t> s = ExpectedSupport(f.g, f.a_diag, f.n, j, 20);
    s.push_back(j);
    std::sort(s.begin(), s.end());
    const size_t k = s.size();
    std::vector<double> mat(k * k), b(k);
    for (size_t a = 0; a < k; ++a) {
      b[a] = f.g[s[a] * f.n + j];
      for (size_t c = 0; c < k; ++c) {
        mat[a * k + c] = a == c ? f.a_diag[s[a]] : f.g[s[a] * f.n + s[c]];
      }
    }
    ASSERT_TRUE(SolveSpdUpper(mat.data(), k, b.data()).ok());
    const std::vector<double> got = Column(*m, f.n, j);
    for (size_t a = 0; a < k; ++a) {
      EXPECT_NEAR(got[s[a]], b[a], 1e-6 + 1e-5 * std::abs(b[a]));
    }
    EXPECT_GT(got[j], 0.0) << "DLAE's diagonal weight";
  }
}

// keep < neighbors: each column holds exactly the `keep` largest |b| of its
// full solve, unchanged.
TEST(SparseNeighborhoodTest, KeepCutsEachColumnToItsLargestWeights) {
  const Fixture f = MakeFixture(200, 800, 10, 0);
  NeighborhoodOptions o;
  o.neighbors = 40;
  o.keep = 40;
  absl::StatusOr<NeighborhoodModel> full =
      SolveNeighborhoods(Gram(f.x), f.shift, o);
  o.keep = 12;
  absl::StatusOr<NeighborhoodModel> cut =
      SolveNeighborhoods(Gram(f.x), f.shift, o);
  ASSERT_TRUE(full.ok() && cut.ok());
  for (size_t j = 0; j < f.n; ++j) {
    std::vector<double> all = Column(*full, f.n, j);
    const std::vector<double> kept = Column(*cut, f.n, j);
    std::vector<double> magnitudes;
    for (double v : all) {
      if (v != 0) magnitudes.push_back(std::abs(v));
    }
    std::sort(magnitudes.rbegin(), magnitudes.rend());
    const size_t count = std::min<size_t>(12, magnitudes.size());
    size_t nonzero = 0;
    for (size_t i = 0; i < f.n; ++i) {
      if (kept[i] == 0) continue;
      ++nonzero;
      EXPECT_EQ(kept[i], all[i]);
      EXPECT_GE(std::abs(kept[i]), magnitudes[count - 1]);
    }
    EXPECT_EQ(nonzero, count) << "column " << j;
  }
}

// max_per_row: each row keeps its largest |b_ij| of the uncapped solve,
// unchanged, columns ascending.
TEST(SparseNeighborhoodTest, RowCapKeepsEachRowsLargestWeights) {
  const Fixture f = MakeFixture(200, 800, 10, 0);
  NeighborhoodOptions o;
  o.neighbors = 40;
  o.keep = 30;
  absl::StatusOr<NeighborhoodModel> full =
      SolveNeighborhoods(Gram(f.x), f.shift, o);
  o.max_per_row = 25;
  absl::StatusOr<NeighborhoodModel> capped =
      SolveNeighborhoods(Gram(f.x), f.shift, o);
  ASSERT_TRUE(full.ok() && capped.ok());
  ASSERT_GT(full->longest_row, 25u) << "popular rows must need the cap";
  EXPECT_EQ(capped->longest_row, 25u);
  size_t cut_rows = 0;
  for (size_t i = 0; i < f.n; ++i) {
    std::vector<float> magnitudes;
    for (uint64_t q = full->offsets[i]; q < full->offsets[i + 1]; ++q) {
      magnitudes.push_back(std::abs(full->weights[q]));
    }
    std::sort(magnitudes.rbegin(), magnitudes.rend());
    const size_t count = std::min<size_t>(25, magnitudes.size());
    ASSERT_EQ(capped->offsets[i + 1] - capped->offsets[i], count) << i;
    cut_rows += magnitudes.size() > 25;
    uint64_t q = full->offsets[i];
    for (uint64_t c = capped->offsets[i]; c < capped->offsets[i + 1]; ++c) {
      if (c > capped->offsets[i]) {
        ASSERT_LT(capped->indices[c - 1], capped->indices[c]);
      }
      while (full->indices[q] != capped->indices[c]) ++q;
      EXPECT_EQ(capped->weights[c], full->weights[q]);
      EXPECT_GE(std::abs(capped->weights[c]), magnitudes[count - 1]);
    }
  }
  EXPECT_GT(cut_rows, 0u);
}

TEST(SparseNeighborhoodTest, ThreadCountDoesNotChangeAWeight) {
  const Fixture f = MakeFixture(300, 700, 8, 0.2);
  NeighborhoodOptions o;
  o.neighbors = 25;
  o.keep = 20;
  o.num_threads = 1;
  absl::StatusOr<NeighborhoodModel> one =
      SolveNeighborhoods(Gram(f.x), f.shift, o);
  o.num_threads = 3;
  absl::StatusOr<NeighborhoodModel> three =
      SolveNeighborhoods(Gram(f.x), f.shift, o);
  ASSERT_TRUE(one.ok() && three.ok());
  EXPECT_EQ(one->offsets, three->offsets);
  EXPECT_EQ(one->indices, three->indices);
  EXPECT_EQ(one->weights, three->weights);
}

TEST(SparseNeighborhoodTest, RefusesBadOptionsAndSingularNeighborhoods) {
  const Fixture f = MakeFixture(40, 200, 1, 0);
  NeighborhoodOptions o;
  o.neighbors = 0;
  EXPECT_EQ(SolveNeighborhoods(Gram(f.x), f.shift, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  o.neighbors = 10;
  EXPECT_EQ(SolveNeighborhoods(Gram(f.x), {1.0}, o).status().code(),
            absl::StatusCode::kInvalidArgument);
  // Items 40 and 41 have exactly the same users: with λ = 0 the
  // neighborhood of any item that co-occurs with both (all 41 others here)
  // has a singular G_SS.
  Interactions y = f.x;
  y.item_ids.push_back("twin-a");
  y.item_ids.push_back("twin-b");
  Interactions z;
  z.item_ids = y.item_ids;
  z.user_ids = y.user_ids;
  z.row_offsets.push_back(0);
  for (size_t u = 0; u < y.num_users(); ++u) {
    for (uint64_t q = y.row_offsets[u]; q < y.row_offsets[u + 1]; ++q) {
      z.item_indices.push_back(y.item_indices[q]);
    }
    if (u % 3 == 0) {
      z.item_indices.push_back(40);
      z.item_indices.push_back(41);
    }
    z.row_offsets.push_back(z.item_indices.size());
  }
  std::vector<double> zero(42, 0.0);
  o.neighbors = 41;
  absl::StatusOr<NeighborhoodModel> singular =
      SolveNeighborhoods(Gram(z), zero, o);
  EXPECT_EQ(singular.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(singular.status().message().find("increase lambda"),
            std::string::npos)
      << singular.status();
  // An item nobody used gets no weights (not an error: no column needs it).
  o.neighbors = 10;
  Interactions w = f.x;
  w.item_ids.push_back("unused");
  std::vector<double> shift = f.shift;
  shift.push_back(0);
  absl::StatusOr<NeighborhoodModel> unused =
      SolveNeighborhoods(Gram(w), shift, o);
  ASSERT_TRUE(unused.ok()) << unused.status();
  EXPECT_EQ(unused->offsets[41] - unused->offsets[40], 0u);
  for (uint32_t j : unused->indices) EXPECT_NE(j, 40u);
}

}  // namespace
}  // namespace edlae
