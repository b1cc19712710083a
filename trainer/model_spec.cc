// Names, defaults and supported combinations of ModelSpec.
#include "trainer/model_spec.h"

#include "absl/strings/str_cat.h"

namespace edlae {

absl::StatusOr<Algorithm> ParseAlgorithm(const std::string& name) {
  if (name == "ease") return Algorithm::kEase;
  if (name == "dlae") return Algorithm::kDlae;
  if (name == "edlae") return Algorithm::kEdlae;
  if (name == "zero-diag") return Algorithm::kZeroDiag;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown model '", name, "' (expected ease, dlae, edlae or zero-diag)"));
}

const char* AlgorithmName(Algorithm algorithm) {
  switch (algorithm) {
    case Algorithm::kEase:
      return "ease";
    case Algorithm::kDlae:
      return "dlae";
    case Algorithm::kEdlae:
      return "edlae";
    case Algorithm::kZeroDiag:
      return "zero-diag";
  }
  return "unknown";
}

absl::StatusOr<LowRankMethod> ParseLowRankMethod(const std::string& name) {
  if (name == "closed-form") return LowRankMethod::kClosedForm;
  if (name == "admm") return LowRankMethod::kAdmm;
  if (name == "als") return LowRankMethod::kAls;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown method '", name, "' (expected closed-form, admm or als)"));
}

const char* LowRankMethodName(LowRankMethod method) {
  switch (method) {
    case LowRankMethod::kClosedForm:
      return "closed-form";
    case LowRankMethod::kAdmm:
      return "admm";
    case LowRankMethod::kAls:
      return "als";
  }
  return "unknown";
}

absl::StatusOr<Precision> ParsePrecision(const std::string& name) {
  if (name == "float64" || name == "double") return Precision::kFloat64;
  if (name == "float32" || name == "float") return Precision::kFloat32;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown precision '", name, "' (expected float64 or float32)"));
}

const char* PrecisionName(Precision precision) {
  return precision == Precision::kFloat64 ? "float64" : "float32";
}

double DefaultOmega(double lambda) { return lambda > 0 ? lambda : 1.0; }

double Omega(const ModelSpec& spec) {
  return spec.omega != 0 ? spec.omega : DefaultOmega(spec.lambda);
}

double EffectiveDropout(const ModelSpec& spec) {
  return spec.algorithm == Algorithm::kEase ? 0.0 : spec.dropout;
}

Precision SolvePrecision(const ModelSpec& spec) {
  return spec.rank > 0 ? Precision::kFloat64 : spec.precision;
}

absl::Status ValidateLowRankMethod(Algorithm a, LowRankMethod m) {
  const bool supported =
      (a == Algorithm::kEdlae &&
       (m == LowRankMethod::kClosedForm || m == LowRankMethod::kAdmm)) ||
      (a == Algorithm::kDlae && m == LowRankMethod::kClosedForm) ||
      (a == Algorithm::kZeroDiag && m == LowRankMethod::kAls);
  if (supported) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "--model ", AlgorithmName(a), " --method ", LowRankMethodName(m),
      " is not available; low-rank models are edlae (closed-form, admm), "
      "dlae (closed-form) and zero-diag (als)"));
}

absl::Status ResolveLowRankMethod(Algorithm algorithm, size_t rank,
                                  bool method_given, LowRankMethod& method) {
  if (rank == 0) {
    if (algorithm == Algorithm::kZeroDiag) {
      return absl::InvalidArgumentError(
          "--model zero-diag is low-rank: give --rank K --method als");
    }
    return absl::OkStatus();
  }
  if (!method_given && algorithm == Algorithm::kZeroDiag) {
    method = LowRankMethod::kAls;  // its only method
  }
  return ValidateLowRankMethod(algorithm, method);
}

}  // namespace edlae
