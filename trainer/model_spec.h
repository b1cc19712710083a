// What to train (family, rank, method, hyperparameters) and its defaults.
#ifndef EDLAE_TRAINER_MODEL_SPEC_H_
#define EDLAE_TRAINER_MODEL_SPEC_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/eigensolver.h"

namespace edlae {

// The model family (the `algorithm` metadata key, --model). kZeroDiag: Eq. 11
// of Steck 2020, low-rank only.
enum class Algorithm { kEase, kDlae, kEdlae, kZeroDiag };
// How a low-rank (rank > 0) model is solved (the `method` metadata key).
enum class LowRankMethod { kClosedForm, kAdmm, kAls };
enum class Precision { kFloat64, kFloat32 };

// "ease" | "dlae" | "edlae" | "zero-diag" (and back).
absl::StatusOr<Algorithm> ParseAlgorithm(const std::string& name);
const char* AlgorithmName(Algorithm algorithm);
// "closed-form" | "admm" | "als" (and back).
absl::StatusOr<LowRankMethod> ParseLowRankMethod(const std::string& name);
const char* LowRankMethodName(LowRankMethod method);
// "float64"/"double" | "float32"/"float".
absl::StatusOr<Precision> ParsePrecision(const std::string& name);
const char* PrecisionName(Precision precision);

// One model to train. Defaults are those of `edlae-train train`.
struct ModelSpec {
  Algorithm algorithm = Algorithm::kEdlae;
  double lambda = 0;   // L2 regularization λ >= 0
  double dropout = 0;  // dropout probability p in [0, 1); ignored by kEase
  // Of the full-rank solve; every low-rank method computes in float64.
  Precision precision = Precision::kFloat64;
  size_t rank = 0;  // k; 0 = full rank
  LowRankMethod method = LowRankMethod::kClosedForm;
  EigenMethod eigensolver = EigenMethod::kAuto;  // closed form
  int epochs = 10;   // ADMM and ALS: full passes over (U, V)
  double omega = 0;  // ADMM penalty ω; 0 = unset, see Omega()
  uint64_t seed = 1;
};

// ω when none is given: λ, or 1 when λ = 0.
double DefaultOmega(double lambda);
// The ω ADMM uses: spec.omega, or DefaultOmega(spec.lambda) when it is 0.
double Omega(const ModelSpec& spec);
// The p the model is trained with: 0 for kEase, spec.dropout otherwise.
double EffectiveDropout(const ModelSpec& spec);
// The precision the solve runs in: spec.precision at full rank, else float64.
Precision SolvePrecision(const ModelSpec& spec);

// OK when (algorithm, method) is a low-rank model there is a solver for:
// edlae (closed-form, admm), dlae (closed-form), zero-diag (als).
absl::Status ValidateLowRankMethod(Algorithm algorithm, LowRankMethod method);

// The model/rank/method checks train, evaluate and edlae.fit make before any
// work: zero-diag needs rank > 0; at rank > 0 a method not given
// (`method_given` false) becomes zero-diag's only one (kAls) and the pair must
// pass ValidateLowRankMethod. `method` is updated in place. InvalidArgument
// saying what is wrong.
absl::Status ResolveLowRankMethod(Algorithm algorithm, size_t rank,
                                  bool method_given, LowRankMethod& method);

}  // namespace edlae

#endif  // EDLAE_TRAINER_MODEL_SPEC_H_
