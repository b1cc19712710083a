// Cholesky inverse (blocked, with progress) and solve of a symmetric
// positive-definite matrix via OpenBLAS's BLAS 3 and LAPACK.
#ifndef EDLAE_TRAINER_LAPACK_H_
#define EDLAE_TRAINER_LAPACK_H_

#include <cstddef>

#include "absl/status/status.h"
#include "common/progress.h"

namespace edlae {

// Replaces the upper triangle (j >= i) of the n × n compact row-major matrix
// `a` with the upper triangle of a⁻¹, reading only that triangle. The lower
// triangle is left as it was. Errors: FailedPrecondition when `a` is not
// positive definite (naming the failing leading minor), InvalidArgument when
// n does not fit LAPACK's 32-bit integers. The same algorithm as LAPACK's
// potrf + potri (Cholesky, inverse of the factor, its Gram product), run by
// panels of BLAS 3 calls so that `progress` (may be null; total
// InverseWorkUnits(n)) advances as the work is done.
absl::Status InvertSpdUpper(double* a, size_t n,
                            ProgressMeter* progress = nullptr);
absl::Status InvertSpdUpper(float* a, size_t n,
                            ProgressMeter* progress = nullptr);

// The same by LAPACK's potrf and potri, one call each (no progress): the
// baseline bench/train_benchmark times and the tests compare against.
// FailedPrecondition with LAPACK's info when it fails.
absl::Status InvertSpdUpperLapack(double* a, size_t n);
absl::Status InvertSpdUpperLapack(float* a, size_t n);

// The ProgressMeter total of InvertSpdUpper for order n: its flops in
// millions (≈ n³: n³/3 each for the factor, its inverse and their product).
size_t InverseWorkUnits(size_t n);

// Solves a·x = b for the symmetric positive-definite n × n row-major `a`,
// reading only its upper triangle (j >= i), which is overwritten by the
// Cholesky factor; `b` (n entries) is replaced by x. Errors as above.
absl::Status SolveSpdUpper(double* a, size_t n, double* b);
// The same with row i of `a` at a + i·lda (lda >= n).
absl::Status SolveSpdUpper(double* a, size_t n, size_t lda, double* b);

// While it lives, OpenBLAS runs each call on the calling thread alone (so
// that the trainer's own threads can each run small LAPACK calls at once);
// the destructor restores the thread count it found. Not for concurrent use:
// one per parallel phase, made and destroyed on the same thread.
class ScopedSingleThreadedBlas {
 public:
  ScopedSingleThreadedBlas();
  ~ScopedSingleThreadedBlas();
  ScopedSingleThreadedBlas(const ScopedSingleThreadedBlas&) = delete;
  ScopedSingleThreadedBlas& operator=(const ScopedSingleThreadedBlas&) = delete;

 private:
  int previous_;
};

}  // namespace edlae

#endif  // EDLAE_TRAINER_LAPACK_H_
