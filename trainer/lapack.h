// Cholesky inverse and solve of a symmetric positive-definite matrix via LAPACK
// potrf + potri / posv (OpenBLAS).
#ifndef EDLAE_TRAINER_LAPACK_H_
#define EDLAE_TRAINER_LAPACK_H_

#include <cstddef>

#include "absl/status/status.h"

namespace edlae {

// Replaces the upper triangle (j >= i) of the n × n compact row-major matrix
// `a` with the upper triangle of a⁻¹, reading only that triangle. The lower
// triangle is left as it was. Errors: FailedPrecondition when `a` is not
// positive definite (naming the failing leading minor), InvalidArgument when
// n does not fit LAPACK's 32-bit integers.
absl::Status InvertSpdUpper(double* a, size_t n);
absl::Status InvertSpdUpper(float* a, size_t n);

// Solves a·x = b for the symmetric positive-definite n × n row-major `a`,
// reading only its upper triangle (j >= i), which is overwritten by the
// Cholesky factor; `b` (n entries) is replaced by x. Errors as above.
absl::Status SolveSpdUpper(double* a, size_t n, double* b);

}  // namespace edlae

#endif  // EDLAE_TRAINER_LAPACK_H_
