// Incomplete Cholesky L·Lᵀ ≈ A of a sparse symmetric positive definite matrix,
// with a bounded fill per column.
#ifndef EDLAE_TRAINER_INCOMPLETE_CHOLESKY_H_
#define EDLAE_TRAINER_INCOMPLETE_CHOLESKY_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"

namespace edlae {

// A lower triangle in compressed sparse columns: column j holds rows
// i[p[j]] … i[p[j+1] − 1], the diagonal first, then strictly ascending rows.
// Memory: 8·(n + 1) + 16·nnz bytes.
struct LowerCsc {
  size_t n = 0;
  std::vector<int64_t> p;  // n + 1
  std::vector<int64_t> i;  // nnz
  std::vector<double> x;   // nnz
};

struct IncompleteCholeskyOptions {
  // Column j of L keeps at most ceil(fill · (entries of A's column j below
  // the diagonal)) off-diagonal entries: the largest by |L[r][j]| / √A[r][r]
  // (the magnitude in the Jacobi-scaled matrix). fill = 1 keeps nnz(L) ≤
  // nnz(A) (Lin & Moré's IC with no extra memory). > 0.
  double fill = 1.0;
  // And at most this many per column (0: no cap): bounds the work, which is
  // Σ_k (entries of column k)², where a popular item's column is long.
  size_t max_per_column = 0;
  // A pivot L[j][j]² below pivot_floor · A[j][j] (rounding, or A not
  // positive definite) is replaced by A[j][j]: the column then acts as if
  // its earlier couplings were dropped.
  double pivot_floor = 1e-3;
};

struct IncompleteCholeskyReport {
  size_t replaced_pivots = 0;
};

// Left-looking incomplete Cholesky: column j is A's column minus the updates
// of every earlier column k with a kept L[j][k] (the complete factor's
// computation restricted to kept entries), then cut to its largest entries;
// what is cut moves to the diagonals (Ajiz & Jennings' compensation), so
// L·Lᵀ = A + E with E positive semidefinite and an SPD A never breaks down
// (up to rounding). Each kept entry satisfies (L·Lᵀ)[r][j] = A[r][j]
// exactly (up to rounding), and diag(L·Lᵀ) ≥ diag A. Single-threaded;
// memory: L plus O(n). Errors: InvalidArgument (a malformed `a`, a
// non-positive diagonal, fill ≤ 0).
absl::StatusOr<LowerCsc> IncompleteCholesky(
    const LowerCsc& a, const IncompleteCholeskyOptions& options,
    IncompleteCholeskyReport* report = nullptr);

}  // namespace edlae

#endif  // EDLAE_TRAINER_INCOMPLETE_CHOLESKY_H_
