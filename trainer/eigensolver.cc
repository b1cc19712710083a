// Block Krylov (GEMM + LQ + Rayleigh–Ritz) and dsyevr/dsyevd bindings for
// leading symmetric eigenpairs.
#include "trainer/eigensolver.h"

#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/seconds_since.h"

extern "C" {
// Fortran LAPACK (OpenBLAS); trailing size_t are gfortran's hidden CHARACTER
// lengths.
void dsyevr_(const char* jobz, const char* range, const char* uplo,
             const int* n, double* a, const int* lda, const double* vl,
             const double* vu, const int* il, const int* iu,
             const double* abstol, int* m, double* w, double* z, const int* ldz,
             int* isuppz, double* work, const int* lwork, int* iwork,
             const int* liwork, int* info, size_t jobz_len, size_t range_len,
             size_t uplo_len);
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a,
             const int* lda, double* w, double* work, const int* lwork,
             int* iwork, const int* liwork, int* info, size_t jobz_len,
             size_t uplo_len);
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda,
             int* info, size_t uplo_len);
void dgelqf_(const int* m, const int* n, double* a, const int* lda, double* tau,
             double* work, const int* lwork, int* info);
void dorglq_(const int* m, const int* n, const int* k, double* a,
             const int* lda, const double* tau, double* work, const int* lwork,
             int* info);
}

namespace edlae {
namespace {

absl::Status CheckLapackSize(size_t n) {
  if (n > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("matrix of order ", n, " is too large for LAPACK"));
  }
  return absl::OkStatus();
}

// Replaces the row-major n × b block (leading dimension ld) by an orthonormal
// basis of its span: LQ factorization of the block as the column-major b × n
// matrix it is (dgelqf + dorglq). Works for any block, rank-deficient ones
// included.
absl::Status OrthonormalizeLq(double* block, size_t n, size_t ld, size_t b) {
  const int rows = static_cast<int>(b), cols = static_cast<int>(n);
  const int lda = static_cast<int>(ld);
  std::vector<double> tau(b);
  int info = 0, lwork = -1;
  double query = 0;
  dgelqf_(&rows, &cols, block, &lda, tau.data(), &query, &lwork, &info);
  lwork = std::max<int>(static_cast<int>(query), rows);
  std::vector<double> work(lwork);
  dgelqf_(&rows, &cols, block, &lda, tau.data(), work.data(), &lwork, &info);
  if (info != 0) return absl::InternalError(absl::StrCat("dgelqf info ", info));
  lwork = -1;
  dorglq_(&rows, &cols, &rows, block, &lda, tau.data(), &query, &lwork, &info);
  lwork = std::max<int>(static_cast<int>(query), rows);
  work.resize(lwork);
  dorglq_(&rows, &cols, &rows, block, &lda, tau.data(), work.data(), &lwork,
          &info);
  if (info != 0) {
    return absl::InternalError(absl::StrCat("dorglq info ", info));
  }
  return absl::OkStatus();
}

// Cholesky QR of the same block: S = blockᵀ·block = RᵀR, block ← block·R⁻¹
// (one syrk, one potrf of b × b, one trsm: GEMM speed, against LQ's panel
// factorization). Returns false, leaving the block scaled but not
// orthonormal, when the block is too ill-conditioned for it (S not
// numerically positive definite, or cond(R) above 1e6), so the caller falls
// back to LQ.
bool OrthonormalizeCholesky(double* block, size_t n, size_t ld, size_t b,
                            std::vector<double>& s) {
  // Unit columns first, so that cond(R) measures the block's conditioning and
  // not its column scales (converged directions leave tiny remainders).
  s.assign(b, 0.0);
  for (size_t i = 0; i < n; ++i) {
    const double* row = block + i * ld;
    for (size_t c = 0; c < b; ++c) s[c] += row[c] * row[c];
  }
  for (size_t c = 0; c < b; ++c) {
    if (!(s[c] > 0) || !std::isfinite(s[c])) return false;
    s[c] = 1.0 / std::sqrt(s[c]);
  }
  for (size_t i = 0; i < n; ++i) {
    double* row = block + i * ld;
    for (size_t c = 0; c < b; ++c) row[c] *= s[c];
  }
  s.assign(b * b, 0.0);
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, b, n, 1.0, block, ld, 0.0,
              s.data(), b);
  // Row-major upper == column-major lower: potrf 'L' leaves R (row-major
  // upper, S = RᵀR).
  const int order = static_cast<int>(b);
  const char uplo = 'L';
  int info = 0;
  dpotrf_(&uplo, &order, s.data(), &order, &info, 1);
  if (info != 0) return false;
  double lo = INFINITY, hi = 0;
  for (size_t i = 0; i < b; ++i) {
    lo = std::min(lo, std::fabs(s[i * b + i]));
    hi = std::max(hi, std::fabs(s[i * b + i]));
  }
  if (!(lo > 1e-6 * hi)) return false;
  cblas_dtrsm(CblasRowMajor, CblasRight, CblasUpper, CblasNoTrans, CblasNonUnit,
              n, b, 1.0, s.data(), b, block, ld);
  return true;
}

// Orthonormalizes the row-major n × b block at column `p` of K (leading
// dimension ld) against columns [0, p) and within itself, twice (block
// classical Gram–Schmidt then Cholesky QR, "BCGS2 + CholQR2"), so that
// directions the first pass nearly cancelled (an invariant subspace was
// found) still come out orthogonal to the earlier columns. A block too
// ill-conditioned for Cholesky QR is orthonormalized by LQ instead.
absl::Status Orthonormalize(double* k_mat, size_t n, size_t ld, size_t p,
                            size_t b, std::vector<double>& scratch) {
  double* block = k_mat + p;
  auto project = [&] {
    if (p == 0) return;
    scratch.resize(p * b);
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, p, b, n, 1.0, k_mat,
                ld, block, ld, 0.0, scratch.data(), b);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, b, p, -1.0, k_mat,
                ld, scratch.data(), b, 1.0, block, ld);
  };
  std::vector<double> r;
  for (int pass = 0; pass < 2; ++pass) {
    project();
    if (!OrthonormalizeCholesky(block, n, ld, b, r)) {
      if (absl::Status s = OrthonormalizeLq(block, n, ld, b); !s.ok()) {
        return s;
      }
    }
  }
  return absl::OkStatus();
}

// Column norms of R = MX − X·dMat(θ) for the first k columns (row-major
// n × ld blocks); returns the largest.
double MaxColumnResidual(const double* x, const double* mx, size_t n, size_t ld,
                         const std::vector<double>& theta, size_t k) {
  std::vector<double> sq(k, 0.0);
  for (size_t i = 0; i < n; ++i) {
    const double* xr = x + i * ld;
    const double* mr = mx + i * ld;
    for (size_t c = 0; c < k; ++c) {
      const double r = mr[c] - theta[c] * xr[c];
      sq[c] += r * r;
    }
  }
  double worst = 0;
  for (double s : sq) worst = std::max(worst, std::sqrt(s));
  return worst;
}

// Exact solve through the operator: M = op(I), then all eigenpairs. For
// blocks so wide relative to n that Krylov gains nothing.
absl::StatusOr<EigenResult> DenseThroughOperator(const SymmetricOperator& op,
                                                 size_t n, size_t k) {
  std::vector<double> eye(n * n, 0.0), m(n * n);
  for (size_t i = 0; i < n; ++i) eye[i * n + i] = 1.0;
  op(eye.data(), n, n, m.data(), n);
  for (size_t i = 0; i < n; ++i) {
    for (size_t j = 0; j < i; ++j) {
      const double s = 0.5 * (m[i * n + j] + m[j * n + i]);
      m[i * n + j] = m[j * n + i] = s;
    }
  }
  std::vector<double> values;
  if (absl::Status s = SymmetricEigen(m.data(), n, &values); !s.ok()) return s;
  EigenResult r;
  r.n = n;
  r.k = k;
  r.method = EigenMethod::kBlockKrylov;
  r.operator_columns = n;
  r.values.resize(k);
  r.vectors.resize(n * k);
  for (size_t c = 0; c < k; ++c) {
    const size_t src = n - 1 - c;
    r.values[c] = values[src];
    for (size_t i = 0; i < n; ++i) r.vectors[i * k + c] = m[src * n + i];
  }
  r.max_residual = MaxResidual(op, r);
  return r;
}

}  // namespace

absl::StatusOr<EigenMethod> ParseEigenMethod(const std::string& name) {
  if (name == "auto") return EigenMethod::kAuto;
  if (name == "krylov") return EigenMethod::kBlockKrylov;
  if (name == "syevr") return EigenMethod::kSyevr;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown eigensolver '", name, "' (expected auto, krylov or syevr)"));
}

const char* EigenMethodName(EigenMethod method) {
  switch (method) {
    case EigenMethod::kAuto:
      return "auto";
    case EigenMethod::kBlockKrylov:
      return "krylov";
    case EigenMethod::kSyevr:
      return "syevr";
  }
  return "unknown";
}

EigenMethod ChooseEigenMethod(size_t n, size_t k) {
  // Krylov costs about 2·n²·(k+p) flops per cycle over a handful of cycles;
  // syevr's tridiagonal reduction costs 4/3·n³ whatever k is (half of it
  // memory-bound symv). Measured (docs/performance.md §3): ML-1M (n = 3,603)
  // k = 100 Krylov 1.4 s against syevr 13.7 s, k = 1000 (n/3.6) Krylov 98 s
  // against syevr 52 s, both on the side this rule picks; k = n/20 itself
  // was not timed against syevr, so the threshold is kept.
  return 20 * k <= n ? EigenMethod::kBlockKrylov : EigenMethod::kSyevr;
}

absl::Status SymmetricEigen(double* a, size_t m, std::vector<double>* values) {
  if (absl::Status s = CheckLapackSize(m); !s.ok()) return s;
  values->assign(m, 0.0);
  if (m == 0) return absl::OkStatus();
  const int order = static_cast<int>(m);
  const char jobz = 'V', uplo = 'L';
  int info = 0, lwork = -1, liwork = -1, iquery = 0;
  double query = 0;
  dsyevd_(&jobz, &uplo, &order, a, &order, values->data(), &query, &lwork,
          &iquery, &liwork, &info, 1, 1);
  lwork = static_cast<int>(query);
  liwork = iquery;
  std::vector<double> work(std::max(lwork, 1));
  std::vector<int> iwork(std::max(liwork, 1));
  dsyevd_(&jobz, &uplo, &order, a, &order, values->data(), work.data(), &lwork,
          iwork.data(), &liwork, &info, 1, 1);
  if (info != 0) {
    return absl::InternalError(absl::StrCat("dsyevd failed, info ", info));
  }
  return absl::OkStatus();
}

double MaxResidual(const SymmetricOperator& op, const EigenResult& result) {
  const size_t n = result.n, k = result.k;
  std::vector<double> mv(n * k);
  op(result.vectors.data(), k, k, mv.data(), k);
  return MaxColumnResidual(result.vectors.data(), mv.data(), n, k,
                           result.values, k);
}

KrylovShape KrylovShapeFor(size_t n, size_t k, const KrylovOptions& options) {
  const size_t oversample =
      options.oversample > 0 ? options.oversample : std::max<size_t>(8, k / 10);
  KrylovShape shape;
  shape.block = std::min(n, k + oversample);
  shape.depth = std::max<size_t>(2, options.depth);
  if (shape.block * shape.depth > n) shape.depth = n / shape.block;
  return shape;
}

absl::StatusOr<EigenResult> LeadingEigenpairsKrylov(
    const SymmetricOperator& op, size_t n, size_t k,
    const KrylovOptions& options) {
  if (k == 0 || k > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", k, " must be in [1, ", n, "]"));
  }
  if (absl::Status s = CheckLapackSize(n); !s.ok()) return s;
  const KrylovShape shape = KrylovShapeFor(n, k, options);
  const size_t b = shape.block;
  const size_t depth = shape.depth;
  if (depth < 2) return DenseThroughOperator(op, n, k);
  const size_t m = b * depth;

  // K: orthonormal basis, n × m row-major; MK = M·K, block by block.
  std::vector<double> basis(n * m), m_basis(n * m), scratch;
  {
    std::mt19937_64 rng(options.seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    for (size_t i = 0; i < n; ++i) {
      for (size_t c = 0; c < b; ++c) basis[i * m + c] = normal(rng);
    }
  }
  if (absl::Status s = Orthonormalize(basis.data(), n, m, 0, b, scratch);
      !s.ok()) {
    return s;
  }
  EigenResult r;
  r.n = n;
  r.k = k;
  r.method = EigenMethod::kBlockKrylov;
  std::vector<double> t(m * m), select(m * b), x(n * b), mx(n * b), theta;
  bool have_m_block0 = false;  // after a restart, M·X is already known
  for (int cycle = 1;; ++cycle) {
    for (size_t j = 0; j < depth; ++j) {
      if (j > 0 || !have_m_block0) {
        const auto op_start = std::chrono::steady_clock::now();
        op(basis.data() + j * b, m, b, m_basis.data() + j * b, m);
        r.operator_seconds += SecondsSince(op_start);
        r.operator_columns += b;
      }
      if (j + 1 < depth) {
        const auto orth_start = std::chrono::steady_clock::now();
        for (size_t i = 0; i < n; ++i) {
          std::copy_n(&m_basis[i * m + j * b], b, &basis[i * m + (j + 1) * b]);
        }
        if (absl::Status s =
                Orthonormalize(basis.data(), n, m, (j + 1) * b, b, scratch);
            !s.ok()) {
          return s;
        }
        r.orthonormalize_seconds += SecondsSince(orth_start);
      }
    }
    const auto rr_start = std::chrono::steady_clock::now();
    // Rayleigh–Ritz: T = Kᵀ·M·K, its upper block triangle (block column j:
    // K[:, ≤ j]ᵀ·(M·K_j), (1 + 1/depth)/2 of the full product), mirrored.
    for (size_t j = 0; j < depth; ++j) {
      cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (j + 1) * b, b, n,
                  1.0, basis.data(), m, m_basis.data() + j * b, m, 0.0,
                  t.data() + j * b, m);
    }
    for (size_t i = 0; i < m; ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (j >= (i / b) * b) {
          // Inside a diagonal block: both triangles computed; average.
          const double s = 0.5 * (t[i * m + j] + t[j * m + i]);
          t[i * m + j] = t[j * m + i] = s;
        } else {
          t[i * m + j] = t[j * m + i];
        }
      }
    }
    std::vector<double> all;
    if (absl::Status s = SymmetricEigen(t.data(), m, &all); !s.ok()) return s;
    theta.resize(b);
    for (size_t c = 0; c < b; ++c) {
      const size_t src = m - 1 - c;  // ascending → largest first
      theta[c] = all[src];
      for (size_t i = 0; i < m; ++i) select[i * b + c] = t[src * m + i];
    }
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, b, m, 1.0,
                basis.data(), m, select.data(), b, 0.0, x.data(), b);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, b, m, 1.0,
                m_basis.data(), m, select.data(), b, 0.0, mx.data(), b);
    const double residual =
        MaxColumnResidual(x.data(), mx.data(), n, b, theta, k);
    const double scale = std::max(std::fabs(theta[0]), 1e-300);
    r.rayleigh_ritz_seconds += SecondsSince(rr_start);
    r.restarts = cycle;
    if (residual <= options.tolerance * scale ||
        cycle >= options.max_restarts) {
      r.converged = residual <= options.tolerance * scale;
      r.max_residual = residual;
      r.values.assign(theta.begin(), theta.begin() + k);
      r.vectors.resize(n * k);
      for (size_t i = 0; i < n; ++i) {
        std::copy_n(&x[i * b], k, &r.vectors[i * k]);
      }
      return r;
    }
    // Restart from the leading Ritz vectors, whose images are known.
    for (size_t i = 0; i < n; ++i) {
      std::copy_n(&x[i * b], b, &basis[i * m]);
      std::copy_n(&mx[i * b], b, &m_basis[i * m]);
    }
    have_m_block0 = true;
  }
}

absl::StatusOr<EigenResult> LeadingEigenpairsSyevr(double* a, size_t n,
                                                   size_t k) {
  if (k == 0 || k > n) {
    return absl::InvalidArgumentError(
        absl::StrCat("rank ", k, " must be in [1, ", n, "]"));
  }
  if (absl::Status s = CheckLapackSize(n); !s.ok()) return s;
  const int order = static_cast<int>(n);
  // Row-major lower triangle == column-major upper triangle.
  const char jobz = 'V', range = 'I', uplo = 'U';
  const int il = order - static_cast<int>(k) + 1, iu = order;
  const double vl = 0, vu = 0, abstol = 0;  // 0: LAPACK's default accuracy
  int found = 0, info = 0, lwork = -1, liwork = -1, iquery = 0;
  double query = 0;
  std::vector<double> w(n), z(n * k);
  std::vector<int> isuppz(2 * k);
  dsyevr_(&jobz, &range, &uplo, &order, a, &order, &vl, &vu, &il, &iu, &abstol,
          &found, w.data(), z.data(), &order, isuppz.data(), &query, &lwork,
          &iquery, &liwork, &info, 1, 1, 1);
  lwork = static_cast<int>(query);
  liwork = iquery;
  std::vector<double> work(std::max(lwork, 1));
  std::vector<int> iwork(std::max(liwork, 1));
  dsyevr_(&jobz, &range, &uplo, &order, a, &order, &vl, &vu, &il, &iu, &abstol,
          &found, w.data(), z.data(), &order, isuppz.data(), work.data(),
          &lwork, iwork.data(), &liwork, &info, 1, 1, 1);
  if (info != 0 || found != static_cast<int>(k)) {
    return absl::InternalError(absl::StrCat("dsyevr failed: info ", info,
                                            ", found ", found, " of ", k));
  }
  EigenResult r;
  r.n = n;
  r.k = k;
  r.method = EigenMethod::kSyevr;
  r.values.resize(k);
  r.vectors.resize(n * k);
  // z: column-major n × k, ascending; return largest first, row-major.
  for (size_t c = 0; c < k; ++c) {
    const size_t src = k - 1 - c;
    r.values[c] = w[src];
    for (size_t i = 0; i < n; ++i) r.vectors[i * k + c] = z[src * n + i];
  }
  return r;
}

}  // namespace edlae
