// SIMD kernel entry points for tests and benchmarks.
#ifndef EDLAE_CORE_KERNELS_TESTING_H_
#define EDLAE_CORE_KERNELS_TESTING_H_

// Production code uses core/kernels.h; these are the per-type entry points
// behind it, the plain-loop references tests compare every target against,
// and the switches that run each compiled target in turn.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/kernels.h"

namespace edlae {

// acc[j] += Σ_r weights[r] · rows[r][j] for j in [0, len).
// REQUIRES: rows[r] and acc hold len floats; acc does not alias a row.
// Any alignment works; 64-byte-aligned pointers are fastest.
void AccumulateRows(const float* const* rows, const float* weights,
                    size_t num_rows, size_t len, float* acc);

// out[j] = Σ_d v[j·stride + d] · z[d] for j in [0, count), d in [0, dim).
// REQUIRES: stride >= dim; v holds (count−1)·stride + dim floats.
void DotRows(const float* v, size_t stride, size_t count, const float* z,
             size_t dim, float* out);

// The same for weights stored as IEEE binary16 or bfloat16 (bit patterns in
// uint16_t, see core/half.h); accumulation stays float32. AccumulateRows(DType,
// ...) gives the same results as these.
void AccumulateRowsF16(const uint16_t* const* rows, const float* weights,
                       size_t num_rows, size_t len, float* acc);
void AccumulateRowsBF16(const uint16_t* const* rows, const float* weights,
                        size_t num_rows, size_t len, float* acc);
// Rows of int8 elements (the integer values; a row's scale is folded into its
// weight by the caller).
void AccumulateRowsI8(const int8_t* const* rows, const float* weights,
                      size_t num_rows, size_t len, float* acc);
void DotRowsF16(const uint16_t* v, size_t stride, size_t count, const float* z,
                size_t dim, float* out);
void DotRowsBF16(const uint16_t* v, size_t stride, size_t count, const float* z,
                 size_t dim, float* out);

// Scalar references: the same contracts, plain loops, always built. Tests
// compare every compiled target against them.
void AccumulateRowsScalar(const float* const* rows, const float* weights,
                          size_t num_rows, size_t len, float* acc);
void AccumulateRowsF16Scalar(const uint16_t* const* rows, const float* weights,
                             size_t num_rows, size_t len, float* acc);
void AccumulateRowsBF16Scalar(const uint16_t* const* rows, const float* weights,
                              size_t num_rows, size_t len, float* acc);
void AccumulateRowsI8Scalar(const int8_t* const* rows, const float* weights,
                            size_t num_rows, size_t len, float* acc);
void DotRowsScalar(const float* v, size_t stride, size_t count, const float* z,
                   size_t dim, float* out);
void DotRowsF16Scalar(const uint16_t* v, size_t stride, size_t count,
                      const float* z, size_t dim, float* out);
void DotRowsBF16Scalar(const uint16_t* v, size_t stride, size_t count,
                       const float* z, size_t dim, float* out);
void DotRowsBatchI8Scalar(const int8_t* v, size_t stride, size_t count,
                          const int8_t* z, size_t z_stride, size_t batch,
                          size_t dim, int32_t* out, size_t out_stride);

// Highway target bits compiled into this binary and supported by this CPU,
// best first. For tests that run every target.
std::vector<int64_t> AvailableSimdTargets();

// Restricts dispatch of every kernel family to one Highway target for the
// rest of the process, with the AMX tiles off (0 restores the best target and
// the best matrix path; ForceX86MatrixPathForTest in core/kernels_x86.h turns
// the tiles on beside a forced target). Not thread-safe: call before serving
// or scoring starts.
void ForceSimdTargetForTest(int64_t target);

}  // namespace edlae

#endif  // EDLAE_CORE_KERNELS_TESTING_H_
