// Closed-form full-rank solvers of Steck 2020: EASE, DLAE (Eq. 5) and EDLAE
// with full emphasis (Eqs. 8–9).
#ifndef EDLAE_TRAINER_FULL_RANK_SOLVER_H_
#define EDLAE_TRAINER_FULL_RANK_SOLVER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/progress.h"
#include "trainer/model_spec.h"

namespace edlae {

struct SolverOptions {
  Algorithm algorithm = Algorithm::kEdlae;
  double lambda = 0;   // L2 regularization λ >= 0
  double dropout = 0;  // dropout probability p in [0, 1); ignored by kEase
  Precision precision = Precision::kFloat64;
  int num_threads = 0;  // for the dense loops around LAPACK; 0 = all cores
  // Progress of the Cholesky inverse (the long phase) goes here when not null,
  // as `progress` says (common/progress.h).
  std::ostream* log = nullptr;
  ProgressMode progress = ProgressMode::kAuto;
};

// The full-rank solve of `spec` (its rank and low-rank fields unused).
SolverOptions SolverOptionsFor(const ModelSpec& spec, int num_threads);

// With Λ = λ·I + p/(1−p)·dMat(diag G) (p = 0 for EASE) and C = (G + Λ)⁻¹,
// computed by Cholesky (potrf + potri) of the symmetric positive-definite G +
// Λ:
//   kEase, kEdlae: B = I − C·dMat(1 ⊘ diag C)   (zero diagonal)
//   kDlae:         B = I − C·Λ
// `gram` is G, n × n compact row-major (n² entries), consumed as workspace.
// Returns B as n × n compact row-major floats; row i = weights from item i.
// Errors: InvalidArgument (bad size or hyperparameters, kZeroDiag),
// FailedPrecondition (G + Λ not positive definite, e.g. λ = 0 with an unused
// item).
absl::StatusOr<std::vector<float>> SolveFullRank(std::vector<double> gram,
                                                 size_t n,
                                                 const SolverOptions& options);

// The same from a float32 Gram matrix (exact for counts below 2²⁴), solved in
// float32 without ever holding n² doubles: peak memory 4·n² bytes instead of
// 12·n². REQUIRES: options.precision == kFloat32 (else InvalidArgument).
absl::StatusOr<std::vector<float>> SolveFullRank(std::vector<float> gram,
                                                 size_t n,
                                                 const SolverOptions& options);

}  // namespace edlae

#endif  // EDLAE_TRAINER_FULL_RANK_SOLVER_H_
