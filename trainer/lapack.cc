// Cholesky inverse (blocked potrf, trtri, lauum with progress) and solve of a
// symmetric positive-definite matrix: OpenBLAS's BLAS 3 and LAPACK's Fortran
// symbols (Debian ships no LAPACKE inside it).
#include "trainer/lapack.h"

#include <cblas.h>

#include <algorithm>
#include <climits>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

extern "C" {
// Fortran LAPACK; the trailing size_t is gfortran's hidden CHARACTER length.
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda,
             int* info, size_t uplo_len);
void spotrf_(const char* uplo, const int* n, float* a, const int* lda,
             int* info, size_t uplo_len);
void dposv_(const char* uplo, const int* n, const int* nrhs, double* a,
            const int* lda, double* b, const int* ldb, int* info,
            size_t uplo_len);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda,
             int* info, size_t uplo_len);
void spotri_(const char* uplo, const int* n, float* a, const int* lda,
             int* info, size_t uplo_len);
void dtrtri_(const char* uplo, const char* diag, const int* n, double* a,
             const int* lda, int* info, size_t uplo_len, size_t diag_len);
void strtri_(const char* uplo, const char* diag, const int* n, float* a,
             const int* lda, int* info, size_t uplo_len, size_t diag_len);
void dlauum_(const char* uplo, const int* n, double* a, const int* lda,
             int* info, size_t uplo_len);
void slauum_(const char* uplo, const int* n, float* a, const int* lda,
             int* info, size_t uplo_len);
}

namespace edlae {
namespace {

// The BLAS 3 and LAPACK calls of the blocked inverse, per precision. All are
// column-major; the matrix is the column-major lower triangle (== the
// row-major upper triangle the callers hold).
template <typename T>
struct Blas;

template <>
struct Blas<double> {
  static constexpr auto trsm = cblas_dtrsm;
  static constexpr auto trmm = cblas_dtrmm;
  static constexpr auto syrk = cblas_dsyrk;
  static constexpr auto gemm = cblas_dgemm;
  static constexpr auto potrf = dpotrf_;
  static constexpr auto trtri = dtrtri_;
  static constexpr auto lauum = dlauum_;
  static constexpr auto potri = dpotri_;
};

template <>
struct Blas<float> {
  static constexpr auto trsm = cblas_strsm;
  static constexpr auto trmm = cblas_strmm;
  static constexpr auto syrk = cblas_ssyrk;
  static constexpr auto gemm = cblas_sgemm;
  static constexpr auto potrf = spotrf_;
  static constexpr auto trtri = strtri_;
  static constexpr auto lauum = slauum_;
  static constexpr auto potri = spotri_;
};

// n as LAPACK's 32-bit order; InvalidArgument when it does not fit.
absl::StatusOr<int> LapackOrder(size_t n) {
  if (n > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("matrix of order ", n, " is too large for LAPACK"));
  }
  return static_cast<int>(n);
}

// Panel width: wide enough that the trailing BLAS 3 updates (k = panel width)
// run at GEMM speed, narrow enough for a progress line every few percent.
constexpr int kPanel = 384;

// Work units of the progress meter: millions of flops, so the three phases
// (each ≈ n³/3 flops) weigh what they cost.
size_t Mflops(double flops) { return static_cast<size_t>(flops / 1e6); }

// A = L·Lᵀ in place (lower), right-looking by panels: factor the diagonal
// block, solve the panel below it, update the trailing matrix with one syrk.
// Returns potrf's info for the whole matrix (> 0: leading minor not positive).
template <typename T>
int FactorLower(T* a, int n, ProgressMeter* progress) {
  for (int k = 0; k < n; k += kPanel) {
    const int kb = std::min(kPanel, n - k), m = n - k - kb;
    T* akk = a + k + static_cast<size_t>(k) * n;
    int info = 0;
    const char uplo = 'L';
    Blas<T>::potrf(&uplo, &kb, akk, &n, &info, 1);
    if (info != 0) return info > 0 ? info + k : info;
    if (m > 0) {
      T* panel = akk + kb;  // rows k + kb .. n of columns k .. k + kb
      Blas<T>::trsm(CblasColMajor, CblasRight, CblasLower, CblasTrans,
                    CblasNonUnit, m, kb, T{1}, akk, n, panel, n);
      Blas<T>::syrk(CblasColMajor, CblasLower, CblasNoTrans, m, kb, T{-1},
                    panel, n, T{1}, panel + static_cast<size_t>(kb) * n, n);
    }
    if (progress) {
      progress->Add(Mflops(kb * (static_cast<double>(kb) * kb / 3.0 +
                                 static_cast<double>(m) * kb +
                                 static_cast<double>(m) * m)));
    }
  }
  return 0;
}

// L := L⁻¹ in place (lower, non-unit), by panels from the last one back (as
// LAPACK's trtri): the block column below a panel is multiplied by the
// already inverted trailing triangle, then by the panel's inverse.
template <typename T>
int InvertLower(T* a, int n, ProgressMeter* progress) {
  const int last = ((n - 1) / kPanel) * kPanel;
  for (int j = last; j >= 0; j -= kPanel) {
    const int jb = std::min(kPanel, n - j), m = n - j - jb;
    T* ajj = a + j + static_cast<size_t>(j) * n;
    if (m > 0) {
      T* below = ajj + jb;
      const T* trailing = below + static_cast<size_t>(jb) * n;
      Blas<T>::trmm(CblasColMajor, CblasLeft, CblasLower, CblasNoTrans,
                    CblasNonUnit, m, jb, T{1}, trailing, n, below, n);
      Blas<T>::trsm(CblasColMajor, CblasRight, CblasLower, CblasNoTrans,
                    CblasNonUnit, m, jb, T{-1}, ajj, n, below, n);
    }
    int info = 0;
    const char uplo = 'L', diag = 'N';
    Blas<T>::trtri(&uplo, &diag, &jb, ajj, &n, &info, 1, 1);
    if (info != 0) return info > 0 ? info + j : info;
    if (progress) {
      progress->Add(Mflops(static_cast<double>(jb) *
                           (static_cast<double>(m) * m + 1.0 * m * jb +
                            static_cast<double>(jb) * jb / 3.0)));
    }
  }
  return 0;
}

// A := Lᵀ·L in place (lower), by panels (as LAPACK's lauum): with L = (G+Λ)'s
// inverse factor this is (G+Λ)⁻¹.
template <typename T>
int MultiplyLowerTransposed(T* a, int n, ProgressMeter* progress) {
  for (int i = 0; i < n; i += kPanel) {
    const int ib = std::min(kPanel, n - i), m = n - i - ib;
    T* aii = a + i + static_cast<size_t>(i) * n;
    T* row_block = a + i;  // rows i .. i + ib of columns 0 .. i
    Blas<T>::trmm(CblasColMajor, CblasLeft, CblasLower, CblasTrans,
                  CblasNonUnit, ib, i, T{1}, aii, n, row_block, n);
    int info = 0;
    const char uplo = 'L';
    Blas<T>::lauum(&uplo, &ib, aii, &n, &info, 1);
    if (info != 0) return info;
    if (m > 0) {
      const T* below = aii + ib;  // rows i + ib .. n of columns i .. i + ib
      Blas<T>::gemm(CblasColMajor, CblasTrans, CblasNoTrans, ib, i, m, T{1},
                    below, n, a + i + ib, n, T{1}, row_block, n);
      Blas<T>::syrk(CblasColMajor, CblasLower, CblasTrans, ib, m, T{1}, below,
                    n, T{1}, aii, n);
    }
    if (progress) {
      progress->Add(Mflops(static_cast<double>(ib) *
                           (2.0 * i * m + 1.0 * ib * i + 1.0 * ib * m +
                            static_cast<double>(ib) * ib / 3.0)));
    }
  }
  return 0;
}

// Row-major upper triangle == column-major lower triangle, hence 'L'.
template <typename T>
absl::Status Invert(T* a, size_t n, ProgressMeter* progress) {
  if (n == 0) return absl::OkStatus();
  absl::StatusOr<int> lapack_order = LapackOrder(n);
  if (!lapack_order.ok()) return lapack_order.status();
  const int order = *lapack_order;
  int info = FactorLower(a, order, progress);
  if (info > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("G + Λ is not positive definite (leading minor ", info,
                     " of ", n, "); increase --lambda or --dropout"));
  }
  if (info < 0) {
    return absl::InternalError(
        absl::StrCat("potrf argument ", -info, " invalid"));
  }
  info = InvertLower(a, order, progress);
  if (info == 0) info = MultiplyLowerTransposed(a, order, progress);
  if (info > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("Cholesky factor is singular at ", info));
  }
  if (info < 0) {
    return absl::InternalError(
        absl::StrCat("trtri/lauum argument ", -info, " invalid"));
  }
  return absl::OkStatus();
}

// LAPACK's own potrf + potri, one call each.
template <typename T>
absl::Status InvertLapack(T* a, size_t n) {
  if (n == 0) return absl::OkStatus();
  absl::StatusOr<int> lapack_order = LapackOrder(n);
  if (!lapack_order.ok()) return lapack_order.status();
  const int order = *lapack_order;
  const char uplo = 'L';
  int info = 0;
  Blas<T>::potrf(&uplo, &order, a, &order, &info, 1);
  if (info == 0) Blas<T>::potri(&uplo, &order, a, &order, &info, 1);
  if (info != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("LAPACK potrf/potri info ", info, " at order ", n));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status InvertSpdUpperLapack(double* a, size_t n) {
  return InvertLapack(a, n);
}

absl::Status InvertSpdUpperLapack(float* a, size_t n) {
  return InvertLapack(a, n);
}

size_t InverseWorkUnits(size_t n) {
  const double order = static_cast<double>(n);
  return Mflops(order * order * order);  // three phases of ≈ n³/3 each
}

absl::Status InvertSpdUpper(double* a, size_t n, ProgressMeter* progress) {
  return Invert(a, n, progress);
}

absl::Status InvertSpdUpper(float* a, size_t n, ProgressMeter* progress) {
  return Invert(a, n, progress);
}

absl::Status SolveSpdUpper(double* a, size_t n, double* b) {
  return SolveSpdUpper(a, n, n, b);
}

absl::Status SolveSpdUpper(double* a, size_t n, size_t lda, double* b) {
  if (n == 0) return absl::OkStatus();
  if (lda < n) return absl::InvalidArgumentError("lda must be >= n");
  absl::StatusOr<int> lapack_order = LapackOrder(n);
  if (!lapack_order.ok()) return lapack_order.status();
  absl::StatusOr<int> lapack_lda = LapackOrder(lda);
  if (!lapack_lda.ok()) return lapack_lda.status();
  const int order = *lapack_order, ld = *lapack_lda, nrhs = 1;
  const char uplo = 'L';  // row-major upper == column-major lower
  int info = 0;
  dposv_(&uplo, &order, &nrhs, a, &ld, b, &order, &info, 1);
  if (info > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("matrix is not positive definite (leading minor ", info,
                     " of ", n, ")"));
  }
  if (info < 0) {
    return absl::InternalError(
        absl::StrCat("posv argument ", -info, " invalid"));
  }
  return absl::OkStatus();
}

ScopedSingleThreadedBlas::ScopedSingleThreadedBlas()
    : previous_(openblas_get_num_threads()) {
  openblas_set_num_threads(1);
}

ScopedSingleThreadedBlas::~ScopedSingleThreadedBlas() {
  openblas_set_num_threads(previous_);
}

}  // namespace edlae
