// x86 matrix extensions beyond Highway 1.0.3's ops (AMX tiles, VNNI), detected at run time, with a scalar fallback contract.
#ifndef EDLAE_CORE_KERNELS_X86_H_
#define EDLAE_CORE_KERNELS_X86_H_

// These kernels are optional accelerations behind the portable ones in
// core/kernels.h. Each entry point returns false, having written nothing,
// when no accelerated path is active on this CPU (or dispatch was restricted
// by EDLAE_SIMD_TARGET / ForceSimdTargetForTest); the caller then runs the
// Highway kernel. Thread-safe once detection ran (it runs on first use).

#include <cstddef>
#include <cstdint>

namespace edlae {

// What this CPU and kernel allow. amx_* are true only when CPUID reports the
// feature, XCR0 enables the tile state and Linux granted tile data permission
// (arch_prctl ARCH_REQ_XCOMP_PERM).
struct X86MatrixFeatures {
  bool amx_tile = false;
  bool amx_bf16 = false;
  bool amx_int8 = false;
  bool avx512_vnni = false;
  bool avx_vnni = false;
};

// Detected once per process (thread-safe); the same value every call.
const X86MatrixFeatures& DetectX86MatrixFeatures();

// Exact int32 dot products of int8 rows:
//   out[b·out_stride + j] = Σ_{d < dim} v[j·stride + d] · z[b·z_stride + d]
// for b in [0, batch), j in [0, count). REQUIRES: every element of v and z in
// [−127, 127]; dim ≤ 131072 (so no partial sum overflows int32); stride and
// z_stride ≥ dim. Integer sums are exact, so every path (scalar, Highway,
// VNNI, AMX-INT8) returns the same integers. Returns false when no x86
// acceleration is active (nothing written).
bool DotRowsBatchI8X86(const int8_t* v, size_t stride, size_t count,
                       const int8_t* z, size_t z_stride, size_t batch,
                       size_t dim, int32_t* out, size_t out_stride);

}  // namespace edlae

#endif  // EDLAE_CORE_KERNELS_X86_H_
