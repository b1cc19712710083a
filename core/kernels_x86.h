// x86 AMX tiles and AVX-512 VNNI beyond Highway 1.0.3, detected at run time.
#ifndef EDLAE_CORE_KERNELS_X86_H_
#define EDLAE_CORE_KERNELS_X86_H_

// These kernels are optional accelerations behind the portable ones in
// core/kernels.h. Each entry point returns false, having written nothing,
// when no matrix path is active on this CPU (or dispatch was restricted by
// EDLAE_SIMD_TARGET / ForceSimdTargetForTest / ForceX86MatrixPathForTest);
// the caller then runs the Highway kernel. Thread-safe: every call configures
// and releases the tile registers of its own thread; the path choice is a
// process-wide setting changed only at start-up or by tests.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace edlae {

// What this CPU and kernel allow. amx_* are true only when CPUID reports the
// feature, XCR0 enables the tile state, AVX-512 (F, BW, VL) is usable for the
// tile epilogue and Linux granted tile-data permission (arch_prctl
// ARCH_REQ_XCOMP_PERM).
struct X86MatrixFeatures {
  bool avx512 = false;  // F, BW and VL, enabled by the OS (XCR0)
  bool amx_tile = false;
  bool amx_bf16 = false;
  bool amx_int8 = false;
  bool avx512_vnni = false;
  bool avx_vnni = false;
};

// Detected once per process (thread-safe); the same value every call.
const X86MatrixFeatures& DetectX86MatrixFeatures();

// The matrix path the entry points below take. kAmx: AMX tiles, which need
// amx_bf16 for bf16 rows and amx_int8 for int8 rows (a CPU with one only runs
// the other dtype on Highway). kVnni: int8 rows on AVX-512 VNNI (vpdpbusd),
// bf16 on Highway; the best path of AVX-512 CPUs without AMX (Ice Lake,
// Zen 4), and selectable on AMX ones to measure it.
enum class X86MatrixPath { kNone, kVnni, kAmx };

// The path in effect now: the best one this machine has unless
// EDLAE_SIMD_TARGET or a test chose otherwise.
X86MatrixPath ActiveX86MatrixPath();
// "AMX", "VNNI" or "none".
const char* X86MatrixPathName(X86MatrixPath path);
// Whether `path` can run here (kNone always can).
bool X86MatrixPathAvailable(X86MatrixPath path);
// Whether the active matrix path (AMX tiles, or VNNI for int8) scores
// `batch` queries against bf16 rows (int8 = false) or int8 rows now. int8
// single queries stay on Highway, which streams V faster for one user (0.68
// vs 1.04 ms over 20,000 × 1000 here) with the same exact integers; bf16
// always takes the tiles once they are active, so that a user's scores never
// depend on the batch around it.
bool TilesActiveFor(bool int8, size_t batch);
// Selects `path` for the rest of the process; false (nothing changed) when it
// is not available here. Not thread-safe: call before scoring starts.
bool ForceX86MatrixPathForTest(X86MatrixPath path);
// Back to the best available path (what a process starts with).
void ResetX86MatrixPath();

// Queries (z rows) prepared once for the active matrix path — packed into
// AMX B tiles, or for VNNI padded with their sums — for many calls over item
// ranges (a scorer prepares its batch once, not once per item block).
// Immutable after construction, so one object may serve many threads at once.
class TileQueries {
 public:
  TileQueries() = default;
  // z rounded to bfloat16 (see DotRowsBatchBF16X86), for bf16 rows.
  static TileQueries Bf16(const float* z, size_t z_stride, size_t batch,
                          size_t dim);
  // int8 z as is (REQUIRES: elements in [−127, 127]), for int8 rows;
  // z_scales (batch floats, copied), when given, let DotRowsTilesScaled
  // return dequantized scores.
  static TileQueries Int8(const int8_t* z, size_t z_stride, size_t batch,
                          size_t dim, const float* z_scales = nullptr);

  bool empty() const { return batch_ == 0; }
  bool int8() const { return int8_; }
  size_t batch() const { return batch_; }
  size_t dim() const { return dim_; }

 private:
  friend bool DotRowsTiles(const void*, size_t, size_t, const TileQueries&,
                           void*, size_t);
  friend bool DotRowsTilesScaled(const int8_t*, size_t, size_t, const float*,
                                 const TileQueries&, float*, size_t);
  // The one body of both: the active path's scores of `count` rows, int8's
  // dequantized when row_scales is given (REQUIRES: then scales_ is full).
  bool Score(const void* v, size_t stride, size_t count,
             const float* row_scales, void* out, size_t out_stride) const;
  bool int8_ = false;
  X86MatrixPath path_ = X86MatrixPath::kNone;  // the path prepared for
  size_t batch_ = 0, dim_ = 0;
  size_t row_bytes_ = 0;  // dim · element size
  size_t chunks_ = 0;     // 64-byte chunks per row, the last one zero-padded
  // AMX: group g of 16 users, chunk c, tile row r, user n: the 4-byte word
  // (c·16 + r) of user 16g + n's row at [((g·chunks + c)·16 + r)·16 + n].
  std::vector<uint32_t> panels_;
  // VNNI: each user's row zero-padded to a multiple of 4 bytes, and Σ z.
  std::vector<int8_t> padded_;
  std::vector<int32_t> sums_;
  std::vector<float> scales_;  // int8: each user's z scale, if given
};

// The matrix-path scores of `count` rows of V (bf16 or int8 as q was
// prepared for, `stride` elements apart) against q: out[b·out_stride + j] is
// a float (bf16, as DotRowsBatchBF16X86) or an int32 (int8, as
// DotRowsBatchI8X86). Returns false, writing nothing, when the path for that
// dtype and batch is not active (TilesActiveFor) or is not the one q was
// prepared for.
bool DotRowsTiles(const void* v, size_t stride, size_t count,
                  const TileQueries& q, void* out, size_t out_stride);

// Dequantized int8 scores: out[b·out_stride + j] = float(dot_bj) ·
// (z_scale_b · row_scales[j]), dot_bj the exact int32 sum DotRowsTiles
// returns — bit for bit what that sum followed by the scalar loop gives,
// with the conversion fused into the tiles' epilogue (AMX) or done in place
// (VNNI). q: prepared by TileQueries::Int8 with z_scales. Returns false,
// writing nothing, when DotRowsTiles would or q has no scales.
bool DotRowsTilesScaled(const int8_t* v, size_t stride, size_t count,
                        const float* row_scales, const TileQueries& q,
                        float* out, size_t out_stride);

// AMX-BF16 scores of bf16 rows:
//   out[b·out_stride + j] = Σ_{d < dim} V[j·stride + d] · bf16(z[b·z_stride +
//   d])
// for b in [0, batch), j in [0, count): z is rounded to bfloat16 (nearest,
// ties to even; subnormals become 0), every product is exact and the sums are
// float32 in the tile unit's order (ascending 32-element chunks of d). A
// user's scores depend only on its own z and the rows: bit-identical whatever
// the batch size, the item range of the call or the other users beside it.
// REQUIRES: v holds `count` rows of `dim` bfloat16 bit patterns `stride`
// elements apart (stride ≥ dim; nothing past the dim-th element of a row is
// read). Returns false when the AMX path is not active for bf16.
bool DotRowsBatchBF16X86(const uint16_t* v, size_t stride, size_t count,
                         const float* z, size_t z_stride, size_t batch,
                         size_t dim, float* out, size_t out_stride);

// Exact int32 dot products of int8 rows:
//   out[b·out_stride + j] = Σ_{d < dim} v[j·stride + d] · z[b·z_stride + d]
// for b in [0, batch), j in [0, count). REQUIRES: every element of v and z in
// [−127, 127]; dim ≤ 131072 (so no partial sum overflows int32); stride and
// z_stride ≥ dim. Integer sums are exact, so every path (scalar, Highway,
// AVX-512 VNNI, AMX-INT8) returns the same integers. The AMX path may read up
// to 63 bytes past a row's dim elements when another row of the call follows
// it (bytes of its padding or of that next row, multiplied by zero). Returns
// false when the AMX path is not active for int8 at this batch size (AMX:
// TilesActiveFor; VNNI: kVnni and batch ≥ 2; nothing written).
bool DotRowsBatchI8X86(const int8_t* v, size_t stride, size_t count,
                       const int8_t* z, size_t z_stride, size_t batch,
                       size_t dim, int32_t* out, size_t out_stride);

}  // namespace edlae

#endif  // EDLAE_CORE_KERNELS_X86_H_
