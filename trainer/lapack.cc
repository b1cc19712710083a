// potrf/potri bindings: OpenBLAS exports LAPACK's Fortran symbols (Debian ships
// no LAPACKE inside it).
#include "trainer/lapack.h"

#include <climits>

#include "absl/strings/str_cat.h"

extern "C" {
// Fortran LAPACK; the trailing size_t is gfortran's hidden CHARACTER length.
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda,
             int* info, size_t uplo_len);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda,
             int* info, size_t uplo_len);
void spotrf_(const char* uplo, const int* n, float* a, const int* lda,
             int* info, size_t uplo_len);
void dposv_(const char* uplo, const int* n, const int* nrhs, double* a,
            const int* lda, double* b, const int* ldb, int* info,
            size_t uplo_len);
void spotri_(const char* uplo, const int* n, float* a, const int* lda,
             int* info, size_t uplo_len);
}

namespace edlae {
namespace {

// Row-major upper triangle == column-major lower triangle, hence uplo 'L'.
template <typename T, typename Potrf, typename Potri>
absl::Status Invert(T* a, size_t n, Potrf potrf, Potri potri) {
  if (n == 0) return absl::OkStatus();
  if (n > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("matrix of order ", n, " is too large for LAPACK"));
  }
  const int order = static_cast<int>(n);
  const char uplo = 'L';
  int info = 0;
  potrf(&uplo, &order, a, &order, &info, 1);
  if (info > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("G + Λ is not positive definite (leading minor ", info,
                     " of ", n, "); increase --lambda or --dropout"));
  }
  if (info < 0) {
    return absl::InternalError(
        absl::StrCat("potrf argument ", -info, " invalid"));
  }
  potri(&uplo, &order, a, &order, &info, 1);
  if (info > 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("Cholesky factor is singular at ", info));
  }
  if (info < 0) {
    return absl::InternalError(
        absl::StrCat("potri argument ", -info, " invalid"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status InvertSpdUpper(double* a, size_t n) {
  return Invert(a, n, dpotrf_, dpotri_);
}

absl::Status InvertSpdUpper(float* a, size_t n) {
  return Invert(a, n, spotrf_, spotri_);
}

absl::Status SolveSpdUpper(double* a, size_t n, double* b) {
  if (n == 0) return absl::OkStatus();
  if (n > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError(
        absl::StrCat("matrix of order ", n, " is too large for LAPACK"));
  }
  const int order = static_cast<int>(n), nrhs = 1;
  const char uplo = 'L';  // row-major upper == column-major lower
  int info = 0;
  dposv_(&uplo, &order, &nrhs, a, &order, b, &order, &info, 1);
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

}  // namespace edlae
