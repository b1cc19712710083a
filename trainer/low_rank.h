// Low-rank solvers U, V (n × k): EDLAE Algorithm 1 and ADMM, zero-diagonal ALS,
// DLAE closed form.
#ifndef EDLAE_TRAINER_LOW_RANK_H_
#define EDLAE_TRAINER_LOW_RANK_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "trainer/eigensolver.h"
#include "trainer/full_rank_solver.h"
#include "trainer/model_spec.h"

namespace edlae {

// One update of an iterative method, handed to LowRankOptions::observer.
struct LowRankStep {
  int epoch = 0;       // 1-based
  char updated = 'U';  // 'U' or 'V': the factor just updated
  size_t n = 0, k = 0;
  absl::Span<const double> u, v;  // n × k row-major, current values
  absl::Span<const double> beta;  // ADMM: β (n); empty otherwise
  // The training objective at (U, V) when computed at this step, else NaN:
  // ADMM: Eq. 10 of Steck 2020 after each V update; ALS: Eq. 11 after each
  // U update.
  double objective = 0;
};

struct LowRankOptions {
  size_t rank = 0;  // k, 1 ≤ k ≤ n
  LowRankMethod method = LowRankMethod::kClosedForm;
  // Closed form: how to find the leading eigenvectors.
  EigenMethod eigensolver = EigenMethod::kAuto;
  KrylovOptions krylov;
  // Closed form with kBlockKrylov: the precision of the operator M·X.
  // kFloat32 keeps a float copy of M (4·n² bytes beside the double buffer)
  // and multiplies by ssymm; the basis, its orthonormalization and
  // Rayleigh–Ritz stay float64, and the reported residual is against M in
  // float64 (its floor is float32 rounding, ~1e-6 of θ_1: keep
  // krylov.tolerance above it). LowRankOptionsFor picks kFloat32.
  Precision eigen_precision = Precision::kFloat64;
  // ADMM and ALS: full passes over (U, V).
  int epochs = 10;
  // ADMM: penalty Ω = Λ + ω·I, ω > 0.
  double omega = 0;
  uint64_t seed = 1;
  // Called after every U and V update of ADMM and ALS (tests, progress).
  std::function<void(const LowRankStep&)> observer;
};

// The low-rank solve of `spec`, ω resolved by Omega(spec) (krylov defaults but
// tolerance 1e-5; the float32 Krylov operator).
LowRankOptions LowRankOptionsFor(const ModelSpec& spec);
// The ModelSpec that `solver` and `low_rank` together describe (num_threads,
// krylov and observer are not part of it).
ModelSpec ModelSpecOf(const SolverOptions& solver,
                      const LowRankOptions& low_rank);

struct LowRankResult {
  size_t n = 0, k = 0;
  std::vector<float> u, v;  // n × k compact row-major
  // Closed form: the eigen-solve of M = B̂ᵀ(G + Λ)B̂.
  EigenMethod eigensolver = EigenMethod::kAuto;
  std::vector<double> eigenvalues;     // k, largest first
  double eigen_residual = 0;           // max ‖M·v − θ·v‖
  double eigen_relative_residual = 0;  // eigen_residual / θ_1
  int krylov_restarts = 0;
  bool eigen_converged = true;
  // ADMM: Eq. 10 after each epoch; ALS: Eq. 11 after each epoch.
  std::vector<double> objectives;
  // Dense n × n double buffers alive at the peak (the Gram buffer included).
  int dense_buffers = 0;
};

// Trains a rank-k model from G = XᵀX (`gram`, n × n compact row-major,
// consumed as workspace), with Λ = λ·I + p/(1−p)·dMat(diag G) from `solver`
// (C = (G + Λ)⁻¹, B̂ the full-rank model):
//   kEdlae + kClosedForm: Algorithm 1 of Steck & Garcia Garcia 2021,
//       B̂ = I − C·dMat(1 ⊘ diag C), V = eig_k(B̂ᵀ(G+Λ)B̂), U = B̂·V.
//   kDlae + kClosedForm: min ‖X − XUVᵀ‖² + ‖Λ^½UVᵀ‖², exactly, by the same
//       construction with B̂ = I − C·Λ (Jin et al. 2021; Eckart–Young).
//   kEdlae + kAdmm: Eq. 10 of Steck 2020 by the ADMM updates of its
//       supplement §3 (Ω = Λ + ω·I), `epochs` passes.
//   kZeroDiag + kAls: Eq. 11 of Steck 2020 (diag(UVᵀ) = 0) by the Lagrangian
//       ALS updates of its supplement §4 (Eqs. 29–32), `epochs` passes.
// All arithmetic is float64; U and V are returned as floats. Memory: the
// closed form keeps C and M = B̂ᵀ(G+Λ)B̂ together in the Gram buffer (one
// n × n buffer; a second only for syevr, which destroys its input); ADMM uses
// one ((G+Λ+Ω)⁻¹ and G share it), ALS two (C and G share one; C ⊙ VWᵀ of
// Eq. 32 needs the other). Progress goes to `log` when not null.
// Errors: InvalidArgument (bad rank or options, unsupported combination),
// FailedPrecondition (a matrix that should be positive definite is not).
absl::StatusOr<LowRankResult> SolveLowRank(std::vector<double> gram, size_t n,
                                           const SolverOptions& solver,
                                           const LowRankOptions& options,
                                           std::ostream* log);

// The objective ‖X − X·W‖² + ‖Λ^½·W‖² for W = U·Vᵀ, or for
// W = U·Vᵀ − dMat(diag(U·Vᵀ)) when `drop_diagonal` (Eq. 10), computed from
// G = XᵀX (n × n row-major) and diag(Λ) without forming W: tr G − 2 tr(G W)
// + tr(Wᵀ (G+Λ) W). For tests and diagnostics; O(n²k).
double LowRankObjective(const std::vector<double>& gram,
                        const std::vector<double>& lambda_diag, size_t n,
                        absl::Span<const double> u, absl::Span<const double> v,
                        size_t k, bool drop_diagonal);

}  // namespace edlae

#endif  // EDLAE_TRAINER_LOW_RANK_H_
