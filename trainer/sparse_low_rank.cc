// Matrix-free Algorithm 1: CHOLMOD factor of G + Λ, exact diag C by Takahashi,
// block Krylov on B̂ᵀ(G+Λ)B̂.
#include "trainer/sparse_low_rank.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/seconds_since.h"
#include "trainer/eigensolver.h"
#include "trainer/parallel.h"
#include "trainer/sparse_factor.h"
#include "trainer/train.h"

extern "C" {
#include <cholmod.h>
}

namespace edlae {
namespace {

using Clock = std::chrono::steady_clock;

void LogPhase(std::ostream* log, const std::string& what, double seconds) {
  if (!log) return;
  *log << absl::StrFormat(
      "[train] sparse low-rank %s: %.3f s, peak RSS %.1f "
      "MiB\n",
      what, seconds, PeakRssBytes() / 1048576.0);
}

// Owns a cholmod_common, the factor and the solve workspaces made with it.
class Cholmod {
 public:
  Cholmod() {
    cholmod_l_start(&common_);
    common_.print = 0;  // errors come back as statuses
    common_.final_ll = 1;
  }
  ~Cholmod() {
    for (cholmod_dense** d : {&b_, &x_, &y_, &e_}) {
      if (*d != nullptr) cholmod_l_free_dense(d, &common_);
    }
    if (a_ != nullptr) cholmod_l_free_sparse(&a_, &common_);
    if (l_ != nullptr) cholmod_l_free_factor(&l_, &common_);
    cholmod_l_finish(&common_);
  }
  Cholmod(const Cholmod&) = delete;
  Cholmod& operator=(const Cholmod&) = delete;

  cholmod_common* common() { return &common_; }
  cholmod_sparse*& a() { return a_; }
  cholmod_factor*& l() { return l_; }
  // Right-hand side, solution and cholmod_l_solve2's workspaces.
  cholmod_dense*& b() { return b_; }
  cholmod_dense*& x() { return x_; }
  cholmod_dense*& y() { return y_; }
  cholmod_dense*& e() { return e_; }

  absl::Status StatusOf(const char* what) const {
    if (common_.status == CHOLMOD_OUT_OF_MEMORY) {
      return absl::ResourceExhaustedError(
          absl::StrCat("CHOLMOD ran out of memory in ", what));
    }
    if (common_.status < CHOLMOD_OK) {
      return absl::InternalError(absl::StrCat(
          "CHOLMOD ", what, " failed with status ", common_.status));
    }
    return absl::OkStatus();
  }

 private:
  cholmod_common common_;
  cholmod_sparse* a_ = nullptr;
  cholmod_factor* l_ = nullptr;
  cholmod_dense *b_ = nullptr, *x_ = nullptr, *y_ = nullptr, *e_ = nullptr;
};

// The full symmetric A = G + Λ (+ dropped row sums) in CSR: row i, columns
// ascending. For the parallel A·X products on row-major blocks.
struct FullCsr {
  std::vector<uint64_t> offsets;
  std::vector<uint32_t> indices;
  std::vector<double> values;
};

// Both triangles of `g` (upper CSR) with `diagonal_add` added to the
// diagonal.
FullCsr ToFullCsr(const SparseGram& g, const std::vector<double>& diag_add) {
  const size_t n = g.n;
  FullCsr a;
  a.offsets.assign(n + 1, 0);
  for (size_t i = 0; i < n; ++i) {
    for (uint64_t q = g.offsets[i]; q < g.offsets[i + 1]; ++q) {
      ++a.offsets[i + 1];                                    // (i, j ≥ i)
      if (g.indices[q] != i) ++a.offsets[g.indices[q] + 1];  // (j, i)
    }
  }
  for (size_t i = 0; i < n; ++i) a.offsets[i + 1] += a.offsets[i];
  a.indices.resize(a.offsets[n]);
  a.values.resize(a.offsets[n]);
  std::vector<uint64_t> fill(a.offsets.begin(), a.offsets.end() - 1);
  // Row i receives its lower entries (j < i) from rows j < i first, in
  // ascending j, then its own upper row: columns come out ascending.
  for (size_t i = 0; i < n; ++i) {
    for (uint64_t q = g.offsets[i]; q < g.offsets[i + 1]; ++q) {
      const uint32_t j = g.indices[q];
      const double v = g.values[q] + (j == i ? diag_add[i] : 0.0);
      const uint64_t at = fill[i]++;
      a.indices[at] = j;
      a.values[at] = v;
      if (j != i) {
        const uint64_t at_t = fill[j]++;
        a.indices[at_t] = static_cast<uint32_t>(i);
        a.values[at_t] = v;
      }
    }
  }
  return a;
}

// diag((P·A·Pᵀ)⁻¹) from the simplicial L·Lᵀ = P·A·Pᵀ (CSC, diagonal first in
// each column) by the Takahashi recurrence on L's pattern: with Z = (LLᵀ)⁻¹
// and S_j the off-diagonal rows of column j, Z·L = L⁻ᵀ gives, for columns j
// from n − 1 down to 0,
//   z_ij = −(1/l_jj)·Σ_{k ∈ S_j} z_ik·l_kj        (i ∈ S_j),
//   z_jj = 1/l_jj² − (1/l_jj)·Σ_{k ∈ S_j} z_kj·l_kj,
// where every z_ik needed (i, k ∈ S_j) lies on the pattern of L, in column
// min(i, k) > j (S_j is a clique of the filled graph). Exact; work
// Σ_j Σ_{k ∈ S_j} |L_k|, memory nnz(L) + 2n doubles. Returns diag Z in
// factor order.
std::vector<double> TakahashiDiagonal(size_t n, const int64_t* lp,
                                      const int64_t* li, const double* lx) {
  std::vector<double> z(static_cast<size_t>(lp[n]));
  std::vector<int64_t> pos(n, 0);  // 1 + offset in column j, 0: not in S_j
  std::vector<double> acc;
  for (size_t jj = n; jj-- > 0;) {
    const int64_t p0 = lp[jj], p1 = lp[jj + 1];
    const int64_t len = p1 - p0;  // diagonal + |S_j|
    const double ljj = lx[p0];
    acc.assign(static_cast<size_t>(len), 0.0);
    for (int64_t q = p0 + 1; q < p1; ++q) pos[li[q]] = q - p0;
    for (int64_t q = p0 + 1; q < p1; ++q) {
      const int64_t k = li[q], t = q - p0;
      const double lkj = lx[q];
      double at_t = z[lp[k]] * lkj;  // z_kk · l_kj
      for (int64_t r = lp[k] + 1; r < lp[k + 1]; ++r) {
        const int64_t u = pos[li[r]];
        if (u == 0) continue;
        // z_ik for i = li[r] > k, both in S_j: feeds z_ij and z_kj.
        acc[u] += z[r] * lkj;
        at_t += z[r] * lx[p0 + u];
      }
      acc[t] += at_t;
    }
    double s = 0;
    for (int64_t t = 1; t < len; ++t) {
      z[p0 + t] = -acc[t] / ljj;
      s += lx[p0 + t] * z[p0 + t];
    }
    z[p0] = 1.0 / (ljj * ljj) - s / ljj;
    for (int64_t q = p0 + 1; q < p1; ++q) pos[li[q]] = 0;
  }
  std::vector<double> diag(n);
  for (size_t j = 0; j < n; ++j) diag[j] = z[lp[j]];
  return diag;
}

// diag((P·A·Pᵀ)⁻¹) from CHOLMOD's supernodal L·Lᵀ = P·A·Pᵀ by blocked
// selected inversion (the Takahashi recurrence per supernode, as in SelInv):
// for supernode J (columns J, rows R below its diagonal block, L_JJ dense
// lower triangular, L_RJ dense) from the root down, with Z = (LLᵀ)⁻¹ and
// L̃ = L_RJ·L_JJ⁻¹,
//   Z_RJ = −Z_RR·L̃,   Z_JJ = L_JJ⁻ᵀ·L_JJ⁻¹ − L̃ᵀ·Z_RJ,
// where Z_RR (|R| × |R|) is gathered from the ancestors' blocks (on the
// supernodal pattern, closed under the fill path). BLAS-3 (trsm, symm, gemm)
// on each supernode: about the factorization's flops; memory: Z on L's
// layout (its x array again) + |R|² + 2·|R|·|J| doubles for the largest
// supernode. Returns diag Z in factor order.
std::vector<double> SupernodalDiagonal(const cholmod_factor& f) {
  const size_t n = f.n, nsuper = f.nsuper;
  const auto* super = static_cast<const int64_t*>(f.super);
  const auto* pi = static_cast<const int64_t*>(f.pi);
  const auto* px = static_cast<const int64_t*>(f.px);
  const auto* ls = static_cast<const int64_t*>(f.s);
  const auto* lx = static_cast<const double*>(f.x);
  std::vector<double> z(static_cast<size_t>(px[nsuper]), 0.0);
  std::vector<int64_t> super_of(n), pos(n, -1);
  for (size_t t = 0; t < nsuper; ++t) {
    for (int64_t j = super[t]; j < super[t + 1]; ++j) super_of[j] = t;
  }
  std::vector<double> lt, zrr, tjj;
  for (size_t s = nsuper; s-- > 0;) {
    const int64_t k1 = super[s], c = super[s + 1] - k1;
    const int64_t nsrow = pi[s + 1] - pi[s], r = nsrow - c;
    const int64_t* rows = ls + pi[s] + c;  // R, ascending
    const double* block = lx + px[s];      // nsrow × c, column-major
    double* zblock = z.data() + px[s];
    // T = L_JJ⁻¹, then Z_JJ starts as TᵀT.
    tjj.assign(c * c, 0.0);
    for (int64_t i = 0; i < c; ++i) tjj[i * c + i] = 1.0;
    cblas_dtrsm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans,
                CblasNonUnit, c, c, 1.0, block, nsrow, tjj.data(), c);
    cblas_dsyrk(CblasColMajor, CblasLower, CblasTrans, c, c, 1.0, tjj.data(), c,
                0.0, zblock, nsrow);
    if (r > 0) {
      // L̃ = L_RJ·L_JJ⁻¹ (r × c).
      lt.resize(r * c);
      for (int64_t j = 0; j < c; ++j) {
        std::copy_n(block + j * nsrow + c, r, lt.data() + j * r);
      }
      cblas_dtrsm(CblasColMajor, CblasRight, CblasLower, CblasNoTrans,
                  CblasNonUnit, r, c, 1.0, block, nsrow, lt.data(), r);
      // Z_RR, lower triangle: column b (row ρ = R[b]) lives in supernode t
      // = super_of[ρ], column ρ − super[t], at the positions of R[a ≥ b] in
      // t's row list. Columns of one t are consecutive in R.
      zrr.assign(r * r, 0.0);
      for (int64_t b = 0; b < r;) {
        const int64_t t = super_of[rows[b]];
        const int64_t t_rows = pi[t + 1] - pi[t];
        for (int64_t q = 0; q < t_rows; ++q) pos[ls[pi[t] + q]] = q;
        for (; b < r && super_of[rows[b]] == t; ++b) {
          const double* zcol = z.data() + px[t] + (rows[b] - super[t]) * t_rows;
          for (int64_t a = b; a < r; ++a) zrr[b * r + a] = zcol[pos[rows[a]]];
        }
        for (int64_t q = 0; q < t_rows; ++q) pos[ls[pi[t] + q]] = -1;
      }
      // Z_RJ = −Z_RR·L̃, into Z's block below the diagonal block.
      cblas_dsymm(CblasColMajor, CblasLeft, CblasLower, r, c, -1.0, zrr.data(),
                  r, lt.data(), r, 0.0, zblock + c, nsrow);
      // Z_JJ −= L̃ᵀ·Z_RJ (symmetric; the lower triangle is kept).
      cblas_dgemm(CblasColMajor, CblasTrans, CblasNoTrans, c, c, r, -1.0,
                  lt.data(), r, zblock + c, nsrow, 1.0, zblock, nsrow);
    }
  }
  std::vector<double> diag(n);
  for (size_t s = 0; s < nsuper; ++s) {
    const int64_t nsrow = pi[s + 1] - pi[s];
    for (int64_t j = super[s]; j < super[s + 1]; ++j) {
      const int64_t col = j - super[s];
      diag[j] = z[px[s] + col * nsrow + col];
    }
  }
  return diag;
}

// The products the eigen-solve needs, on row-major n × cols blocks: A·X by
// the full CSR in parallel, C·X by CHOLMOD solves in chunks of
// `solve_columns` (transposed into its column-major right-hand side).
// Not thread-safe (one CHOLMOD workspace).
class Products {
 public:
  Products(Cholmod* chol, FullCsr a, size_t n, size_t solve_columns,
           int threads)
      : chol_(chol),
        a_(std::move(a)),
        n_(n),
        chunk_(std::max<size_t>(1, solve_columns)),
        threads_(threads) {}

  // y = A·x.
  void MultiplyA(const double* x, size_t ldx, size_t cols, double* y,
                 size_t ldy) const {
    ParallelFor(n_, 256, threads_, [&](size_t begin, size_t end) {
      for (size_t i = begin; i < end; ++i) {
        double* yi = y + i * ldy;
        std::fill_n(yi, cols, 0.0);
        for (uint64_t q = a_.offsets[i]; q < a_.offsets[i + 1]; ++q) {
          const double v = a_.values[q];
          const double* xj = x + static_cast<size_t>(a_.indices[q]) * ldx;
          for (size_t c = 0; c < cols; ++c) yi[c] += v * xj[c];
        }
      }
    });
  }

  // s = C·dMat(scale)·x, handed out as emit(i, c, s[i][c]) for every entry.
  template <typename Emit>
  absl::Status SolveScaled(const double* x, size_t ldx, size_t cols,
                           const std::vector<double>& scale, Emit emit) {
    cholmod_common* cc = chol_->common();
    if (chol_->b() == nullptr) {
      chol_->b() = cholmod_l_allocate_dense(n_, std::min(chunk_, cols), n_,
                                            CHOLMOD_REAL, cc);
      if (chol_->b() == nullptr) return chol_->StatusOf("allocate_dense");
    }
    cholmod_dense* b = chol_->b();
    const size_t capacity = b->nzmax / n_;
    for (size_t c0 = 0; c0 < cols; c0 += capacity) {
      const size_t width = std::min(capacity, cols - c0);
      b->ncol = width;
      auto* bx = static_cast<double*>(b->x);
      for (size_t i = 0; i < n_; ++i) {
        const double* xi = x + i * ldx + c0;
        for (size_t c = 0; c < width; ++c) bx[c * n_ + i] = scale[i] * xi[c];
      }
      if (!cholmod_l_solve2(CHOLMOD_A, chol_->l(), b, nullptr, &chol_->x(),
                            nullptr, &chol_->y(), &chol_->e(), cc)) {
        return chol_->StatusOf("solve");
      }
      const auto* sx = static_cast<const double*>(chol_->x()->x);
      for (size_t i = 0; i < n_; ++i) {
        for (size_t c = 0; c < width; ++c) emit(i, c0 + c, sx[c * n_ + i]);
      }
    }
    return absl::OkStatus();
  }

 private:
  Cholmod* chol_;
  FullCsr a_;
  size_t n_, chunk_;
  int threads_;
};

absl::Status Validate(size_t n, const SolverOptions& solver,
                      const LowRankOptions& low_rank) {
  if (n == 0) return absl::InvalidArgumentError("no items");
  if (low_rank.rank == 0 || low_rank.rank >= n) {
    return absl::InvalidArgumentError(
        absl::StrCat("--rank must be in [1, ", n - 1,
                     "] for the sparse low-rank solver (", n, " items; rank ",
                     n, " is the full-rank model), got ", low_rank.rank));
  }
  if (!std::isfinite(solver.lambda) || solver.lambda < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("lambda must be finite and >= 0, got ", solver.lambda));
  }
  if (!std::isfinite(solver.dropout) || solver.dropout < 0 ||
      solver.dropout >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("dropout must be in [0, 1), got ", solver.dropout));
  }
  if (absl::Status s = ValidateLowRankMethod(solver.algorithm, low_rank.method);
      !s.ok()) {
    return s;
  }
  if (low_rank.method != LowRankMethod::kClosedForm ||
      (solver.algorithm != Algorithm::kEdlae &&
       solver.algorithm != Algorithm::kDlae)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the sparse low-rank solver trains edlae and dlae by the closed form, "
        "not ",
        AlgorithmName(solver.algorithm), " by ",
        LowRankMethodName(low_rank.method)));
  }
  if (low_rank.eigensolver == EigenMethod::kSyevr) {
    return absl::InvalidArgumentError(
        "the sparse low-rank solver is matrix-free: --eigensolver syevr needs "
        "M explicitly (use auto or krylov)");
  }
  return absl::OkStatus();
}

// The Krylov basis LeadingEigenpairsKrylov allocates for (n, k), in
// elements (basis + image), and whether it falls back to a dense solve
// through the operator (n × n) because the basis would not fit.
std::pair<size_t, bool> KrylovFootprint(size_t n, size_t k,
                                        const KrylovOptions& o) {
  const KrylovShape shape = KrylovShapeFor(n, k, o);
  if (shape.depth < 2) return {2 * n * n, true};
  return {2 * n * shape.block * shape.depth, false};
}

// A = G + dMat(diag_add) as CHOLMOD's lower triangle in CSC (= G's upper
// CSR rows), into chol->a().
absl::Status LoadLowerTriangle(const SparseGram& g,
                               const std::vector<double>& diag_add,
                               Cholmod* chol) {
  const size_t n = g.n;
  cholmod_common* cc = chol->common();
  chol->a() =
      cholmod_l_allocate_sparse(n, n, g.nnz_upper(), /*sorted=*/1,
                                /*packed=*/1, /*stype=*/-1, CHOLMOD_REAL, cc);
  if (chol->a() == nullptr) return chol->StatusOf("allocate");
  auto* ap = static_cast<int64_t*>(chol->a()->p);
  auto* ai = static_cast<int64_t*>(chol->a()->i);
  auto* ax = static_cast<double*>(chol->a()->x);
  for (size_t i = 0; i <= n; ++i) ap[i] = static_cast<int64_t>(g.offsets[i]);
  for (size_t q = 0; q < g.nnz_upper(); ++q) {
    ai[q] = g.indices[q];
    ax[q] = g.values[q];
  }
  for (size_t i = 0; i < n; ++i) ax[g.offsets[i]] += diag_add[i];
  return absl::OkStatus();
}

void SetFactorization(SparseLowRankOptions::Factorization f,
                      cholmod_common* cc) {
  switch (f) {
    case SparseLowRankOptions::Factorization::kAuto:
      cc->supernodal = CHOLMOD_AUTO;
      break;
    case SparseLowRankOptions::Factorization::kSimplicial:
      cc->supernodal = CHOLMOD_SIMPLICIAL;
      break;
    case SparseLowRankOptions::Factorization::kSupernodal:
      cc->supernodal = CHOLMOD_SUPERNODAL;
      break;
  }
}

// Λ = λ·I + p/(1−p)·dMat(diag G), and what A adds to G's diagonal (Λ plus
// the dropped co-occurrences' row sums).
void Regularization(const SparseGram& g, const SolverOptions& solver,
                    std::vector<double>* lambda,
                    std::vector<double>* diag_add) {
  const size_t n = g.n;
  const double p = solver.dropout;
  lambda->resize(n);
  diag_add->resize(n);
  for (size_t i = 0; i < n; ++i) {
    (*lambda)[i] = solver.lambda + p / (1 - p) * g.diagonal(i);
    (*diag_add)[i] = (*lambda)[i] +
                     (g.dropped_row_sums.empty() ? 0.0 : g.dropped_row_sums[i]);
  }
}

// Entries CHOLMOD holds (or will hold, after analyze) for L's values.
size_t StoredEntries(const cholmod_factor& l) {
  return l.is_super
             ? static_cast<size_t>(l.xsize)
             : std::max(static_cast<size_t>(l.nzmax), static_cast<size_t>(l.n));
}

// Scratch of the diag C recurrence beyond Z, in elements: supernodal, the
// largest |R|² + |R|·|J| + |J|² (Z_RR, L̃, T); simplicial, a column.
size_t DiagScratch(const cholmod_factor& l) {
  if (!l.is_super) return l.n;
  const auto* super = static_cast<const int64_t*>(l.super);
  const auto* pi = static_cast<const int64_t*>(l.pi);
  size_t most = 0;
  for (size_t s = 0; s < l.nsuper; ++s) {
    const size_t c = super[s + 1] - super[s];
    const size_t r = pi[s + 1] - pi[s] - c;
    most = std::max(most, r * r + r * c + c * c);
  }
  return most;
}

// Peak bytes of SolveSparseLowRank's phases (see SparseLowRankPlan).
size_t PeakBytes(size_t n, size_t nnz_full, size_t nnz_upper,
                 size_t factor_entries, size_t basis_elements, size_t k,
                 const KrylovOptions& krylov, size_t solve_columns, bool edlae,
                 size_t diag_scratch) {
  const double csr = 12.0 * nnz_full + 8.0 * n;  // FullCsr, kept throughout
  const double gram = 12.0 * nnz_upper;          // G, until A is loaded
  const double a = 16.0 * nnz_upper;             // CHOLMOD's A
  const double l = 8.0 * factor_entries + 16.0 * n;
  const double b = static_cast<double>(KrylovShapeFor(n, k, krylov).block);
  const double eig = 8.0 * (basis_elements + 2.0 * n * b +
                            4.0 * n * std::min<double>(solve_columns, b));
  const double factor_phase = gram + a + l + csr;
  const double diag_phase = edlae ? csr + 2 * l + 8.0 * diag_scratch : 0.0;
  const double eig_phase = csr + l + eig;
  return static_cast<size_t>(std::max({factor_phase, diag_phase, eig_phase}) +
                             64.0 * (1 << 20));
}

absl::Status ToFloats(const std::vector<double>& in, std::vector<float>* out,
                      const char* what) {
  out->resize(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    (*out)[i] = static_cast<float>(in[i]);
    if (!std::isfinite((*out)[i])) {
      return absl::FailedPreconditionError(absl::StrCat(
          what, " has non-finite entries; increase --lambda or lower --rank"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SparseLowRankResult> SolveSparseLowRank(
    SparseGram g, const SolverOptions& solver, const LowRankOptions& low_rank,
    const SparseLowRankOptions& options, std::ostream* log) {
  const size_t n = g.n;
  if (absl::Status s = Validate(n, solver, low_rank); !s.ok()) return s;
  const size_t k = low_rank.rank;
  const auto [basis_elements, dense_fallback] =
      KrylovFootprint(n, k, low_rank.krylov);
  if (dense_fallback && n > 8192) {
    return absl::InvalidArgumentError(absl::StrCat(
        "rank ", k, " is too close to the ", n,
        " items for the matrix-free eigen-solve (the Krylov basis would not "
        "fit); train it with the dense low-rank path"));
  }
  const int threads = ResolveThreadCount(options.num_threads);
  const bool edlae = solver.algorithm == Algorithm::kEdlae;
  SparseLowRankResult out;
  SparseLowRankReport& report = out.report;
  report.nnz_gram = g.nnz_full();
  const size_t nnz_upper = g.nnz_upper();
  // What the process holds besides G (which PeakBytes counts itself).
  const size_t rss = CurrentRssBytes();
  const size_t base_bytes = rss > g.bytes() ? rss - g.bytes() : 0;
  report.krylov_basis_elements = basis_elements;
  out.popularity = PopularityFromSparseGram(g);

  // 1. A = G + Λ (+ dropped row sums): CHOLMOD's lower CSC (= G's upper
  // CSR rows) for the factor, the full CSR for products.
  std::vector<double> lambda, diag_add;
  Regularization(g, solver, &lambda, &diag_add);
  auto start = Clock::now();
  Cholmod chol;
  cholmod_common* cc = chol.common();
  if (absl::Status st = LoadLowerTriangle(g, diag_add, &chol); !st.ok()) {
    return st;
  }
  FullCsr full = ToFullCsr(g, diag_add);
  g = SparseGram();  // A holds it now

  // 2. Ordering and factorization.
  SetFactorization(options.factorization, cc);
  chol.l() = cholmod_l_analyze(chol.a(), cc);
  if (chol.l() == nullptr) return chol.StatusOf("analyze");
  report.ordering = CholmodOrderingName(cc->method[cc->selected].ordering);
  {
    const size_t stored = chol.l()->is_super ? StoredEntries(*chol.l())
                                             : static_cast<size_t>(cc->lnz);
    const double peak =
        static_cast<double>(base_bytes) +
        static_cast<double>(PeakBytes(n, report.nnz_gram, nnz_upper, stored,
                                      basis_elements, k, low_rank.krylov,
                                      options.solve_columns, edlae,
                                      edlae ? DiagScratch(*chol.l()) : 0));
    constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;
    const size_t limit = options.memory_limit_bytes;
    if (log != nullptr) {
      *log << absl::StrFormat(
          "[train] sparse low-rank memory estimate: nnz(L) = %.4g (%.4g "
          "GFlop, %s ordering), Krylov basis %.2f GiB → peak %.2f GiB; limit "
          "%s\n",
          static_cast<double>(cc->lnz), cc->fl / 1e9, report.ordering,
          8.0 * basis_elements / kGiB, peak / kGiB,
          limit > 0 ? absl::StrFormat("%.2f GiB", limit / kGiB)
                    : std::string("none"));
    }
    if (limit > 0 && peak > static_cast<double>(limit)) {
      return absl::ResourceExhaustedError(absl::StrFormat(
          "the sparse low-rank solve needs about %.2f GiB at its peak "
          "(complete factor nnz(L) = %.4g, Krylov basis %.2f GiB for rank "
          "%d) but only %.2f GiB is allowed: raise --min-cooccurrence (a "
          "sparser G fills less), lower --rank, drop rare items "
          "(--min-item-count), or pass --skip-memory-check to try anyway",
          peak / kGiB, static_cast<double>(cc->lnz),
          8.0 * basis_elements / kGiB, k, limit / kGiB));
    }
  }
  cholmod_l_factorize(chol.a(), chol.l(), cc);
  if (cc->status == CHOLMOD_NOT_POSDEF ||
      (cc->status >= CHOLMOD_OK && chol.l()->minor < n)) {
    return absl::FailedPreconditionError(
        "G + Λ is not positive definite (e.g. λ = 0 with an unused item); "
        "increase lambda");
  }
  if (absl::Status s = chol.StatusOf("factorize"); !s.ok()) return s;
  cholmod_l_free_sparse(&chol.a(), cc);
  report.nnz_factor = static_cast<size_t>(cc->lnz);
  report.factor_stored_entries = StoredEntries(*chol.l());
  report.factor_seconds = SecondsSince(start);
  LogPhase(log,
           absl::StrFormat("factor (%s ordering, %s, nnz(L) = %d, fill %.2f× "
                           "G's lower triangle)",
                           report.ordering,
                           chol.l()->is_super ? "supernodal" : "simplicial",
                           report.nnz_factor,
                           2.0 * report.nnz_factor / (report.nnz_gram + n)),
           report.factor_seconds);

  // 3. D: dMat(1 ⊘ diag C) (EDLAE, diag C by Takahashi on the factor) or Λ
  // (DLAE).
  std::vector<double> d(n);
  if (edlae) {
    start = Clock::now();
    cholmod_factor* l = chol.l();
    std::vector<double> diag_c_perm;
    if (l->is_super) {
      diag_c_perm = SupernodalDiagonal(*l);
    } else {
      // Simplicial: packed, monotonic L·Lᵀ in place (the solves take it).
      if (!cholmod_l_change_factor(CHOLMOD_REAL, /*to_ll=*/1, /*to_super=*/0,
                                   /*to_packed=*/1, /*to_monotonic=*/1, l,
                                   cc)) {
        return chol.StatusOf("change_factor");
      }
      diag_c_perm = TakahashiDiagonal(n, static_cast<const int64_t*>(l->p),
                                      static_cast<const int64_t*>(l->i),
                                      static_cast<const double*>(l->x));
    }
    const auto* perm = static_cast<const int64_t*>(l->Perm);
    for (size_t j = 0; j < n; ++j) d[perm[j]] = 1.0 / diag_c_perm[j];
    for (size_t i = 0; i < n; ++i) {
      if (!std::isfinite(d[i]) || d[i] <= 0) {
        return absl::FailedPreconditionError(
            "diag (G + Λ)⁻¹ is not positive: G + Λ is too ill-conditioned; "
            "increase lambda");
      }
    }
    report.diag_seconds = SecondsSince(start);
    LogPhase(log,
             absl::StrFormat("diag C (%s Takahashi, exact)",
                             l->is_super ? "supernodal" : "simplicial"),
             report.diag_seconds);
  } else {
    d = lambda;
  }

  // 4. V = eig_k(M), M·X = A·X − 2·D·X + D·C·(D·X).
  start = Clock::now();
  Products products(&chol, std::move(full), n, options.solve_columns, threads);
  absl::Status op_status;
  const SymmetricOperator m_op = [&](const double* x, size_t ldx, size_t cols,
                                     double* y, size_t ldy) {
    if (!op_status.ok()) {
      for (size_t i = 0; i < n; ++i) {
        std::fill_n(y + i * ldy, cols,
                    std::numeric_limits<double>::quiet_NaN());
      }
      return;
    }
    products.MultiplyA(x, ldx, cols, y, ldy);
    op_status = products.SolveScaled(
        x, ldx, cols, d, [&](size_t i, size_t c, double s) {
          y[i * ldy + c] += d[i] * (s - 2.0 * x[i * ldx + c]);
        });
  };
  absl::StatusOr<EigenResult> eig =
      LeadingEigenpairsKrylov(m_op, n, k, low_rank.krylov);
  if (!op_status.ok()) return op_status;
  if (!eig.ok()) return eig.status();
  report.eigen_seconds = SecondsSince(start);
  report.operator_columns = eig->operator_columns;
  LowRankResult& result = out.low_rank;
  result.n = n;
  result.k = k;
  result.eigensolver = EigenMethod::kBlockKrylov;
  result.eigenvalues = eig->values;
  result.eigen_residual = eig->max_residual;
  result.eigen_relative_residual =
      eig->max_residual / std::max(std::fabs(eig->values[0]), 1e-300);
  result.krylov_restarts = eig->restarts;
  result.eigen_converged = eig->converged;
  result.dense_buffers = 0;
  LogPhase(log,
           absl::StrFormat(
               "eig_%d(M) by krylov (matrix-free, %d operator columns, %d "
               "restarts%s): θ_1 = %.6g, θ_k = %.6g, residual %.3g (%.3g "
               "relative)",
               k, eig->operator_columns, eig->restarts,
               eig->converged ? "" : ", NOT converged", eig->values[0],
               eig->values[k - 1], result.eigen_residual,
               result.eigen_relative_residual),
           report.eigen_seconds);

  // 5. U = V − C·(D·V).
  start = Clock::now();
  const std::vector<double>& v = eig->vectors;
  std::vector<double> u = v;
  if (absl::Status s = products.SolveScaled(
          v.data(), k, k, d,
          [&](size_t i, size_t c, double cdv) { u[i * k + c] -= cdv; });
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ToFloats(u, &result.u, "U"); !s.ok()) return s;
  if (absl::Status s = ToFloats(v, &result.v, "V"); !s.ok()) return s;
  report.u_seconds = SecondsSince(start);
  report.peak_rss_bytes = PeakRssBytes();
  LogPhase(log, "U = V − C·D·V", report.u_seconds);
  return out;
}

absl::StatusOr<SparseLowRankPlan> PlanSparseLowRank(
    const SparseGram& g, const SolverOptions& solver,
    const LowRankOptions& low_rank, const SparseLowRankOptions& options) {
  const size_t n = g.n;
  if (absl::Status s = Validate(n, solver, low_rank); !s.ok()) return s;
  SparseLowRankPlan plan;
  plan.n = n;
  plan.nnz_gram = g.nnz_full();
  plan.krylov_basis_elements =
      KrylovFootprint(n, low_rank.rank, low_rank.krylov).first;
  std::vector<double> lambda, diag_add;
  Regularization(g, solver, &lambda, &diag_add);
  Cholmod chol;
  cholmod_common* cc = chol.common();
  if (absl::Status s = LoadLowerTriangle(g, diag_add, &chol); !s.ok()) {
    return s;
  }
  SetFactorization(options.factorization, cc);
  chol.l() = cholmod_l_analyze(chol.a(), cc);
  if (chol.l() == nullptr) return chol.StatusOf("analyze");
  plan.ordering = CholmodOrderingName(cc->method[cc->selected].ordering);
  plan.nnz_factor = static_cast<size_t>(cc->lnz);
  plan.factor_flops = cc->fl;
  plan.supernodal = chol.l()->is_super;
  plan.diag_scratch_elements = DiagScratch(*chol.l());
  plan.factor_stored_entries =
      plan.supernodal ? StoredEntries(*chol.l()) : plan.nnz_factor;
  plan.peak_bytes =
      PeakBytes(n, g.nnz_full(), g.nnz_upper(), plan.factor_stored_entries,
                plan.krylov_basis_elements, low_rank.rank, low_rank.krylov,
                options.solve_columns, solver.algorithm == Algorithm::kEdlae,
                plan.diag_scratch_elements);
  return plan;
}

absl::StatusOr<SparseLowRankResult> TrainSparseLowRank(
    const Interactions& x, const ModelSpec& spec,
    const SparseLowRankOptions& options, std::ostream* log) {
  if (x.num_items() == 0) {
    return absl::InvalidArgumentError("no items to train on");
  }
  const auto start = Clock::now();
  SparseGramOptions gram_options;
  gram_options.min_cooccurrence = options.min_cooccurrence;
  gram_options.num_threads = options.num_threads;
  SparseGram g = ComputeSparseGram(x, gram_options);
  const double gram_seconds = SecondsSince(start);
  const size_t n = x.num_items();
  LogPhase(
      log,
      absl::StrFormat("gram (nnz(G) = %d, density %.4g, min co-occurrence %d)",
                      g.nnz_full(), static_cast<double>(g.nnz_full()) / n / n,
                      options.min_cooccurrence),
      gram_seconds);
  absl::StatusOr<SparseLowRankResult> result = SolveSparseLowRank(
      std::move(g), SolverOptionsFor(spec, options.num_threads),
      LowRankOptionsFor(spec), options, log);
  if (result.ok()) result->report.gram_seconds = gram_seconds;
  return result;
}

}  // namespace edlae
