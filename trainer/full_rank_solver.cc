// Full-rank closed forms: Λ from G's diagonal, Cholesky inverse C = (G + Λ)⁻¹,
// then B from C's columns.
#include "trainer/full_rank_solver.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "trainer/lapack.h"
#include "trainer/parallel.h"

namespace edlae {
namespace {

absl::Status ValidateOptions(const SolverOptions& o) {
  if (!std::isfinite(o.lambda) || o.lambda < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("lambda must be finite and >= 0, got ", o.lambda));
  }
  if (!std::isfinite(o.dropout) || o.dropout < 0 || o.dropout >= 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("dropout must be in [0, 1), got ", o.dropout));
  }
  return absl::OkStatus();
}

// Writes B from the symmetric inverse C, of which only the upper triangle and
// the diagonal are valid (as potri leaves them):
//   zero_diagonal: B[i][j] = −C[i][j] / C[j][j], B[i][i] = 0 (EASE, EDLAE)
//   otherwise:     B[i][j] = δ_ij − C[i][j] · Λ_j            (DLAE)
// One tile walk writes B[i][j] and B[j][i] from the one stored C[i][j], so C
// is never mirrored first. `b` may alias `c` (the float32 path inverts in
// place): each pair's upper element is read before either is written.
template <typename In>
void BuildB(In* c, size_t n, bool zero_diagonal,
            const std::vector<double>& lambda_diag, float* b, int threads) {
  std::vector<double> column_scale(n);
  for (size_t j = 0; j < n; ++j) {
    column_scale[j] = zero_diagonal ? -1.0 / static_cast<double>(c[j * n + j])
                                    : -lambda_diag[j];
  }
  ForEachLowerWithUpper(c, n, threads, [&](size_t i, size_t j, In&, In& upper) {
    const double cij = static_cast<double>(upper);  // C[j][i] = C[i][j]
    b[i * n + j] = static_cast<float>(cij * column_scale[j]);
    b[j * n + i] = static_cast<float>(cij * column_scale[i]);
  });
  for (size_t i = 0; i < n; ++i) {
    b[i * n + i] =
        zero_diagonal
            ? 0.0f
            : static_cast<float>(
                  static_cast<double>(c[i * n + i]) * column_scale[i] + 1.0);
  }
}

// Near-singular systems can pass Cholesky yet overflow float; refuse them.
absl::Status CheckFinite(const std::vector<float>& b) {
  for (float v : b) {
    if (!std::isfinite(v)) {
      return absl::FailedPreconditionError(
          "B has non-finite entries: G + Λ is too ill-conditioned; increase "
          "--lambda or use --precision float64");
    }
  }
  return absl::OkStatus();
}

}  // namespace

SolverOptions SolverOptionsFor(const ModelSpec& spec, int num_threads) {
  SolverOptions o;
  o.algorithm = spec.algorithm;
  o.lambda = spec.lambda;
  o.dropout = spec.dropout;
  o.precision = spec.precision;
  o.num_threads = num_threads;
  return o;
}

namespace {

// Checks shared by both SolveFullRank overloads.
absl::Status ValidateSolve(size_t gram_size, size_t n,
                           const SolverOptions& options) {
  if (absl::Status s = ValidateOptions(options); !s.ok()) return s;
  if (options.algorithm == Algorithm::kZeroDiag) {
    return absl::InvalidArgumentError(
        "zero-diag is a low-rank model: give --rank K --method als");
  }
  if (n == 0 || gram_size != n * n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Gram matrix has ", gram_size, " entries, expected ", n, "²"));
  }
  return absl::OkStatus();
}

// Λ's diagonal: λ + p/(1−p)·diag(G) (Eq. 4); EASE is the p = 0 case.
template <typename T>
std::vector<double> LambdaDiagonal(const std::vector<T>& gram, size_t n,
                                   const SolverOptions& options) {
  const double dropout_scale = options.algorithm == Algorithm::kEase
                                   ? 0.0
                                   : options.dropout / (1.0 - options.dropout);
  std::vector<double> lambda_diag(n);
  for (size_t j = 0; j < n; ++j) {
    lambda_diag[j] =
        options.lambda + dropout_scale * static_cast<double>(gram[j * n + j]);
  }
  return lambda_diag;
}

// (G + Λ)⁻¹ in place, its progress on options.log.
template <typename T>
absl::Status InvertWithProgress(T* a, size_t n, const SolverOptions& options) {
  ProgressMeter progress(options.log, "invert G + Λ (Mflop)",
                         InverseWorkUnits(n), options.progress);
  return InvertSpdUpper(a, n, &progress);
}

// float32 tail: `a` = G + Λ; inverted and turned into B in place.
absl::StatusOr<std::vector<float>> InvertAndBuildInPlace(
    std::vector<float> a, size_t n, const SolverOptions& options,
    const std::vector<double>& lambda_diag) {
  const int threads = ResolveThreadCount(options.num_threads);
  if (absl::Status s = InvertWithProgress(a.data(), n, options); !s.ok()) {
    return s;
  }
  BuildB(a.data(), n, options.algorithm != Algorithm::kDlae, lambda_diag,
         a.data(), threads);
  if (absl::Status s = CheckFinite(a); !s.ok()) return s;
  return a;
}

}  // namespace

absl::StatusOr<std::vector<float>> SolveFullRank(std::vector<double> gram,
                                                 size_t n,
                                                 const SolverOptions& options) {
  if (absl::Status s = ValidateSolve(gram.size(), n, options); !s.ok())
    return s;
  const int threads = ResolveThreadCount(options.num_threads);
  const std::vector<double> lambda_diag = LambdaDiagonal(gram, n, options);
  for (size_t j = 0; j < n; ++j) gram[j * n + j] += lambda_diag[j];

  if (options.precision == Precision::kFloat64) {
    if (absl::Status s = InvertWithProgress(gram.data(), n, options); !s.ok()) {
      return s;
    }
    std::vector<float> b(n * n);
    BuildB(gram.data(), n, options.algorithm != Algorithm::kDlae, lambda_diag,
           b.data(), threads);
    if (absl::Status s = CheckFinite(b); !s.ok()) return s;
    return b;
  }

  // float32: convert, release the doubles, invert and build B in place.
  std::vector<float> a(n * n);
  ParallelFor(n, 64, threads, [&](size_t begin, size_t end) {
    for (size_t k = begin * n; k < end * n; ++k)
      a[k] = static_cast<float>(gram[k]);
  });
  std::vector<double>().swap(gram);
  return InvertAndBuildInPlace(std::move(a), n, options, lambda_diag);
}

absl::StatusOr<std::vector<float>> SolveFullRank(std::vector<float> gram,
                                                 size_t n,
                                                 const SolverOptions& options) {
  if (absl::Status s = ValidateSolve(gram.size(), n, options); !s.ok())
    return s;
  if (options.precision != Precision::kFloat32) {
    return absl::InvalidArgumentError(
        "a float32 Gram matrix is solved in float32 (precision float32)");
  }
  const std::vector<double> lambda_diag = LambdaDiagonal(gram, n, options);
  for (size_t j = 0; j < n; ++j) {
    gram[j * n + j] = static_cast<float>(gram[j * n + j] + lambda_diag[j]);
  }
  return InvertAndBuildInPlace(std::move(gram), n, options, lambda_diag);
}

}  // namespace edlae
