// Leading eigenpairs of a symmetric matrix: restarted block Krylov on GEMM for
// k ≪ n, LAPACK syevr for large k.
#ifndef EDLAE_TRAINER_EIGENSOLVER_H_
#define EDLAE_TRAINER_EIGENSOLVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace edlae {

// y = M·x for a symmetric n × n operator M, where x and y are n × cols blocks
// stored row-major with leading dimensions ldx and ldy (>= cols). x and y
// never overlap. Called from one thread at a time; it may use BLAS threads.
using SymmetricOperator = std::function<void(
    const double* x, size_t ldx, size_t cols, double* y, size_t ldy)>;

enum class EigenMethod {
  kAuto,         // kBlockKrylov when k ≤ n/20, else kSyevr
  kBlockKrylov,  // restarted block Krylov + Rayleigh–Ritz; needs only M·block
  kSyevr,        // LAPACK dsyevr with an index range; needs M explicitly
};

// "auto" | "krylov" | "syevr" (and back).
absl::StatusOr<EigenMethod> ParseEigenMethod(const std::string& name);
const char* EigenMethodName(EigenMethod method);
// The method kAuto resolves to for k of n eigenpairs.
EigenMethod ChooseEigenMethod(size_t n, size_t k);

struct KrylovOptions {
  // Converged when every one of the k Ritz pairs has
  // ‖M·v − θ·v‖ ≤ tolerance · |θ_1| (θ_1 the largest eigenvalue).
  double tolerance = 1e-6;
  int max_restarts = 60;
  // Extra block columns beyond k (0: max(8, k/10)); more columns converge in
  // fewer restarts but cost quadratically in Rayleigh–Ritz. k/10 and depth 3
  // trained 20,000 items at k = 1000 in 139 s against 164 s for k/4 and
  // depth 4 (docs/performance.md §3), for the same residual tolerance.
  size_t oversample = 0;
  // Krylov blocks per restart cycle: the basis is [Q, MQ, …, M^(depth−1)Q].
  size_t depth = 3;
  uint64_t seed = 1;
};

// The block size and depth LeadingEigenpairsKrylov uses for k of n
// eigenpairs: block = min(n, k + oversample), depth = max(2, options.depth)
// cut to n / block when the basis would exceed n columns. depth < 2 means the
// basis cannot fit and the solver goes dense through the operator.
struct KrylovShape {
  size_t block = 0;
  size_t depth = 0;
};
KrylovShape KrylovShapeFor(size_t n, size_t k, const KrylovOptions& options);

struct EigenResult {
  size_t n = 0;
  size_t k = 0;
  std::vector<double> values;   // k eigenvalues, largest first
  std::vector<double> vectors;  // n × k row-major, orthonormal columns
  // max_j ‖M·v_j − θ_j·v_j‖ over the returned pairs (absolute).
  double max_residual = 0;
  EigenMethod method = EigenMethod::kAuto;  // the one that ran
  int restarts = 0;                         // kBlockKrylov only
  bool converged = true;  // false: kBlockKrylov hit max_restarts
  // M·block products applied (in columns), a cost measure.
  size_t operator_columns = 0;
  // kBlockKrylov: wall seconds in the operator, in orthonormalizing the basis,
  // and in Rayleigh–Ritz (T = KᵀMK, its eigenpairs, the Ritz vectors and
  // their residuals).
  double operator_seconds = 0;
  double orthonormalize_seconds = 0;
  double rayleigh_ritz_seconds = 0;
};

// The k largest eigenpairs of M (1 ≤ k ≤ n) by restarted block Krylov
// iteration: each cycle builds an orthonormal basis of
// span[Q, MQ, …, M^(depth−1)Q] (block Gram–Schmidt and Cholesky QR, twice;
// LQ for a block too ill-conditioned for Cholesky QR), takes the
// Rayleigh–Ritz pairs of M on it, and restarts from the leading k+oversample
// Ritz vectors. Memory: 2·n·depth·(k+oversample) doubles. When the basis would
// not fit in n columns it falls back to an exact dense solve through `op`
// applied to the identity. Errors: InvalidArgument (k out of range),
// Internal (LAPACK failure).
absl::StatusOr<EigenResult> LeadingEigenpairsKrylov(
    const SymmetricOperator& op, size_t n, size_t k,
    const KrylovOptions& options);

// The k largest eigenpairs of the n × n symmetric row-major matrix `a` by
// LAPACK dsyevr (relatively robust representations) restricted to the index
// range [n−k+1, n]. Reads the lower triangle (j ≤ i) and destroys it,
// diagonal included; the strict upper triangle is left untouched. The
// residual is not computed (max_residual = 0); see MaxResidual.
absl::StatusOr<EigenResult> LeadingEigenpairsSyevr(double* a, size_t n,
                                                   size_t k);

// All eigenpairs of the small symmetric matrix `a` (m × m, row-major, both
// triangles valid), ascending, by LAPACK dsyevd. On return `a` holds the
// eigenvectors as rows: row j is the unit eigenvector of values[j].
absl::Status SymmetricEigen(double* a, size_t m, std::vector<double>* values);

// max_j ‖M·v_j − θ_j·v_j‖ for the pairs in `result`.
double MaxResidual(const SymmetricOperator& op, const EigenResult& result);

}  // namespace edlae

#endif  // EDLAE_TRAINER_EIGENSOLVER_H_
