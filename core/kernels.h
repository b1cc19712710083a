// SIMD scoring kernels, compiled for every Highway target, chosen at run time.
#ifndef EDLAE_CORE_KERNELS_H_
#define EDLAE_CORE_KERNELS_H_

// The production surface. Typed entry points, scalar references and target
// forcing, used by tests and benchmarks, are in core/kernels_testing.h. The
// bodies are in core/kernels_{accumulate,dot,dot_i8,select,widen,dispatch}.cc,
// one Highway family per file. The kernels are safe to call from many threads
// at once.

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "core/model_format.h"

namespace edlae {

// acc[j] += Σ_r weights[r] · rows[r][j] for j in [0, len), for rows stored as
// `dtype`: rows[r] points at len float32s, at len half bit patterns
// (uint16_t, IEEE binary16 or bfloat16, see core/half.h) or at len int8_t
// (their integer values: fold each row's scale into its weight); accumulation
// stays float32. REQUIRES: acc holds len floats and does not alias a row. Any alignment works; 64-byte-aligned
// pointers are fastest.
void AccumulateRows(DType dtype, const void* const* rows, const float* weights,
                    size_t num_rows, size_t len, float* acc);

// out[b·out_stride + j] = <V_j, z_b> for b in [0, batch), j in [0, count):
// V_j = the `dim` elements of dtype at element j·stride of `v`, z_b = the dim
// floats at z + b·z_stride. Each user's scores are bit-identical to DotRows
// (or DotRowsF16/BF16, core/kernels_testing.h) on that user alone, whatever
// the batch size: batching changes speed, never results. bfloat16 V on the
// AMX path (ActiveMatrixPath() == "AMX") is the exception to the first
// clause: z is rounded to bfloat16 and the tiles sum in their own order
// (DotRowsBatchBF16X86, core/kernels_x86.h), still bit-identical whatever the
// batch size or item range; the change in ranking accuracy is measured in
// docs/performance.md. REQUIRES: dtype is
// kFloat32, kFloat16 or kBFloat16 (halves as uint16_t bit patterns).
// Fastest with z rows on 64-byte boundaries (FactorTopN copies them so) and
// float32 rows of V too (model files lay them out so); unaligned float32 rows
// are copied to aligned per-thread scratch when several users share a pass.
void DotRowsBatch(DType dtype, const void* v, size_t stride, size_t count,
                  const float* z, size_t z_stride, size_t batch, size_t dim,
                  float* out, size_t out_stride);

// Exact int32 dot products of int8 rows (a low-rank int8 V against queries
// quantized to int8): out[b·out_stride + j] = Σ_{d < dim} v[j·stride + d] ·
// z[b·z_stride + d] for b in [0, batch), j in [0, count). REQUIRES: every
// element of v and z in [−127, 127]; dim ≤ 131072 (no int32 overflow);
// stride, z_stride ≥ dim. Runs the x86 matrix extensions of
// core/kernels_x86.h where active, else the Highway kernel; the sums are
// exact, so every path returns the same integers.
void DotRowsBatchI8(const int8_t* v, size_t stride, size_t count,
                    const int8_t* z, size_t z_stride, size_t batch, size_t dim,
                    int32_t* out, size_t out_stride);

// Writes to positions, in ascending order, every j in [0, count) with
// scores[j] ≥ threshold (NaN never qualifies) and returns how many. REQUIRES:
// positions holds count entries; count < 2³². The top-N scan's rejection test.
size_t SelectAtOrAbove(const float* scores, size_t count, float threshold,
                       uint32_t* positions);

// Rearranges keys[0, count) so that keys[0, n) are its n largest (ties
// between equal keys broken arbitrarily) and keys[n - 1] the n-th largest,
// in no particular order otherwise: the top-N reservoir's compaction, as
// branch-free SIMD partitions around sampled pivots, finished by
// std::nth_element below 32 keys. scratch: count entries of workspace.
// Nothing happens when n == 0 or n ≥ count.
void PartitionLargest(uint64_t* keys, size_t count, size_t n,
                      uint64_t* scratch);

// dst[i] = src[i] as float32, for i in [0, n): widening of stored halves.
void WidenF16(const uint16_t* src, size_t n, float* dst);
void WidenBF16(const uint16_t* src, size_t n, float* dst);
// dst[i] = scale · float(src[i]): a dequantized int8 row, bit-identical on
// every target (an exact conversion and one rounded multiply).
void WidenI8(const int8_t* src, size_t n, float scale, float* dst);

// Name of the target the kernels dispatch to now, e.g. "AVX3", "AVX2", "SSE4".
std::string ActiveSimdTarget();

// The matrix-extension path in use beside it (core/kernels_x86.h): "AMX" when
// bf16 and int8 low-rank scoring run on AMX tiles, else "none".
std::string ActiveMatrixPath();

// Applies the environment variable EDLAE_SIMD_TARGET when set, to every
// kernel family: a Highway target name as ActiveSimdTarget prints (e.g.
// EDLAE_SIMD_TARGET=AVX2; "SCALAR" or "EMU128" for the portable fallback)
// runs that target's kernels alone, without AMX tiles; "AMX" runs the best
// Highway target plus the AMX tiles (the default where they exist).
// InvalidArgument when the name is not available here. Not thread-safe: call
// once at start-up, before any scoring.
absl::Status ApplySimdTargetFromEnv();

}  // namespace edlae

#endif  // EDLAE_CORE_KERNELS_H_
