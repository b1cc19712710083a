// SIMD kernels for scoring, compiled for every x86/Arm target Highway supports and chosen at run time.
#ifndef EDLAE_CORE_KERNELS_H_
#define EDLAE_CORE_KERNELS_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "core/model_format.h"

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
// uint16_t, see core/half.h); accumulation stays float32.
void AccumulateRowsF16(const uint16_t* const* rows, const float* weights,
                       size_t num_rows, size_t len, float* acc);
void AccumulateRowsBF16(const uint16_t* const* rows, const float* weights,
                        size_t num_rows, size_t len, float* acc);
void DotRowsF16(const uint16_t* v, size_t stride, size_t count, const float* z,
                size_t dim, float* out);

// AccumulateRows for rows stored as `dtype`: rows[r] points at float32s or at
// half bit patterns (uint16_t). The same results as the typed entry points.
void AccumulateRows(DType dtype, const void* const* rows, const float* weights,
                    size_t num_rows, size_t len, float* acc);
void DotRowsBF16(const uint16_t* v, size_t stride, size_t count,
                 const float* z, size_t dim, float* out);

// out[b·out_stride + j] = <V_j, z_b> for b in [0, batch), j in [0, count):
// V_j = the `dim` elements of dtype at element j·stride of `v`, z_b = the dim
// floats at z + b·z_stride. Each user's scores are bit-identical to DotRows
// (or DotRowsF16/BF16) on that user alone, whatever the batch size: batching
// changes speed, never results. REQUIRES: dtype is kFloat32, kFloat16 or
// kBFloat16 (halves as uint16_t bit patterns).
// Fastest with z rows on 64-byte boundaries (FactorTopN copies them so) and
// float32 rows of V too (model files lay them out so); unaligned float32 rows
// are copied to aligned per-thread scratch when several users share a pass.
void DotRowsBatch(DType dtype, const void* v, size_t stride, size_t count,
                  const float* z, size_t z_stride, size_t batch, size_t dim,
                  float* out, size_t out_stride);

// dst[i] = src[i] as float32, for i in [0, n): widening of stored halves.
void WidenF16(const uint16_t* src, size_t n, float* dst);
void WidenBF16(const uint16_t* src, size_t n, float* dst);

// Scalar references: the same contracts, plain loops, always built. Tests
// compare every compiled target against them.
void AccumulateRowsScalar(const float* const* rows, const float* weights,
                          size_t num_rows, size_t len, float* acc);
void AccumulateRowsF16Scalar(const uint16_t* const* rows, const float* weights,
                             size_t num_rows, size_t len, float* acc);
void AccumulateRowsBF16Scalar(const uint16_t* const* rows, const float* weights,
                              size_t num_rows, size_t len, float* acc);
void DotRowsScalar(const float* v, size_t stride, size_t count, const float* z,
                   size_t dim, float* out);
void DotRowsF16Scalar(const uint16_t* v, size_t stride, size_t count,
                      const float* z, size_t dim, float* out);
void DotRowsBF16Scalar(const uint16_t* v, size_t stride, size_t count,
                       const float* z, size_t dim, float* out);

// Name of the target the kernels dispatch to now, e.g. "AVX3", "AVX2", "SSE4".
std::string ActiveSimdTarget();

// Highway target bits compiled into this binary and supported by this CPU,
// best first. For tests that run every target.
std::vector<int64_t> AvailableSimdTargets();

// Restricts dispatch to one target for the rest of the process (0 restores the
// best one). Not thread-safe: call before serving or scoring starts.
void ForceSimdTargetForTest(int64_t target);

// Applies the environment variable EDLAE_SIMD_TARGET when set, e.g.
// EDLAE_SIMD_TARGET=AVX2 (names as ActiveSimdTarget prints; "SCALAR" or
// "EMU128" for the portable fallback). InvalidArgument when the name is not an
// available target. Call once at start-up, before any scoring.
absl::Status ApplySimdTargetFromEnv();

}  // namespace edlae

#endif  // EDLAE_CORE_KERNELS_H_
