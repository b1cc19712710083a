// DotRows and DotRowsBatch tiles: Highway per-target bodies and dispatch.
// foreach_target.h re-includes this file once per target, so it must come
// before highway.h and the per-target helpers.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels_dot.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "core/kernels-inl.h"
// clang-format on

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <vector>

HWY_BEFORE_NAMESPACE();
namespace edlae {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Every <v_j, z_b> below is accumulated in exactly the same order — one
// vector accumulator over the k-chunks [0, full), the lane sum, then the
// scalar tail k in [full, dim) as multiply-adds — whether it is computed alone
// or inside a tile. A user's scores are therefore bit-identical however many
// users share the pass (micro-batching must not change results).
//
// The tail uses the target's MulAdd explicitly (fused where the target has
// FMA, as the compiler contracts `t += v * z` there) so that the vectorised
// tile finish below cannot differ from this scalar one by a rounding.
template <typename T, class D>
HWY_INLINE float FinishDot(D d, hn::Vec<D> acc, const T* v, const float* z,
                           size_t full, size_t dim) {
  const hn::CappedTag<float, 1> d1;
  auto t = hn::Set(d1, hn::GetLane(hn::SumOfLanes(d, acc)));
  for (size_t k = full; k < dim; ++k) {
    t = hn::MulAdd(hn::Set(d1, ToFloat(v[k])), hn::Set(d1, z[k]), t);
  }
  return hn::GetLane(t);
}

// One user (z) against up to four items at once, finished per dot. Used for
// the users and items left over by the register tile (and for batch 1).
// Prefetches num_next rows from `next` on, chunk by chunk, as DotTile does:
// for a single user the scan is bound by reading V from memory.
template <size_t kItems, typename T, class D>
HWY_INLINE void DotOneUser(D d, const T* v, size_t stride, const float* z,
                           size_t full, size_t dim, float* out,
                           const T* next = nullptr, size_t num_next = 0) {
  static_assert(kItems >= 1 && kItems <= 4, "one to four items");
  const size_t lanes = hn::Lanes(d);
  const T* v0 = v;
  const T* v1 = kItems > 1 ? v0 + stride : v0;
  const T* v2 = kItems > 2 ? v0 + 2 * stride : v0;
  const T* v3 = kItems > 3 ? v0 + 3 * stride : v0;
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  for (size_t k = 0; k < full; k += lanes) {
    for (size_t i = 0; i < num_next; ++i) PrefetchToL2(next + i * stride + k);
    const auto y = hn::LoadU(d, z + k);
    a0 = hn::MulAdd(LoadAsFloat(d, v0 + k), y, a0);
    if (kItems > 1) a1 = hn::MulAdd(LoadAsFloat(d, v1 + k), y, a1);
    if (kItems > 2) a2 = hn::MulAdd(LoadAsFloat(d, v2 + k), y, a2);
    if (kItems > 3) a3 = hn::MulAdd(LoadAsFloat(d, v3 + k), y, a3);
  }
  out[0] = FinishDot(d, a0, v0, z, full, dim);
  if (kItems > 1) out[1] = FinishDot(d, a1, v1, z, full, dim);
  if (kItems > 2) out[2] = FinishDot(d, a2, v2, z, full, dim);
  if (kItems > 3) out[3] = FinishDot(d, a3, v3, z, full, dim);
}

#if !HWY_HAVE_SCALABLE  // the tile keeps vectors in arrays

// DotRowsBatch tiling. A register tile holds kUsers × kItems accumulators.
// Per k-chunk it loads (and widens) kItems rows of V once and each z chunk
// once, feeding kUsers·kItems multiply-adds. The tile's z rows (8 × 4 KiB at
// k = 1000) stay in L1 while the caller's item block streams from L2 once per
// user group, so L2 traffic per multiply-add falls as 1/kUsers. AVX-512 has
// 32 registers: 8 × 3 uses 24 accumulators + 3 rows + 1 z, and the loop
// issues 11 loads per 24 FMAs (4 × 4 issued 8 per 16 and re-read the block
// twice as often); 16-register targets use 4 × 3 (4 × 4 spilled there).
// With z rows 64-byte aligned (FactorTopN copies them so) and V in L2, this
// loop runs at ~90-95% of the FMA peak on AVX-512; what remains is the cold
// first pass over each block (prefetched, see DotTile) and the finish: on
// AVX-512, 16 dots share each step of the lane sums and of the scalar tail
// (FinishTile), bit-identical to FinishDot per dot.
#if HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
constexpr size_t kTileUsers = 8, kTileItems = 3;
#else
constexpr size_t kTileUsers = 4, kTileItems = 3;
#endif

// z and V values at k in [full, dim), transposed (row t = k − full) so that a
// tile can load the tail values of its users or items as one vector.
struct TailTables {
  const float* z = nullptr;  // z[t·z_ld + b]
  size_t z_ld = 0;
  const float* v = nullptr;  // v[t·v_ld + j]
  size_t v_ld = 0;
  size_t tail = 0;
};

#if HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
// 512-bit targets: the lane sums of 16 accumulators at once. Each step adds
// the same lane pairs as SumOfLanes (_mm512_reduce_add_ps: 256-bit halves,
// then 128-bit halves, then lanes {0,2},{1,3}, then the two sums), only for
// several accumulators per instruction, so every sum is bit-identical to
// SumOfLanes on its accumulator. Returns lane 4q+p = sum of acc[4p+q].
HWY_INLINE __m512 SumOfLanes16(const __m512* acc) {
  __m512 r[8], s[4];
  for (int m = 0; m < 8; ++m) {  // lanes i and i+8 of two accumulators
    r[m] =
        _mm512_add_ps(_mm512_shuffle_f32x4(acc[2 * m], acc[2 * m + 1], 0x44),
                      _mm512_shuffle_f32x4(acc[2 * m], acc[2 * m + 1], 0xEE));
  }
  for (int n = 0; n < 4; ++n) {  // then lanes i and i+4
    s[n] = _mm512_add_ps(_mm512_shuffle_f32x4(r[2 * n], r[2 * n + 1], 0x88),
                         _mm512_shuffle_f32x4(r[2 * n], r[2 * n + 1], 0xDD));
  }
  // Then {0,2} and {1,3} within each 128-bit block, then the two halves.
  const __m512 u0 = _mm512_add_ps(_mm512_shuffle_ps(s[0], s[1], 0x44),
                                  _mm512_shuffle_ps(s[0], s[1], 0xEE));
  const __m512 u1 = _mm512_add_ps(_mm512_shuffle_ps(s[2], s[3], 0x44),
                                  _mm512_shuffle_ps(s[2], s[3], 0xEE));
  return _mm512_add_ps(_mm512_shuffle_ps(u0, u1, 0x88),
                       _mm512_shuffle_ps(u0, u1, 0xDD));
}

// Where the dots of a tile go in the 16 lanes of a finishing group: dot
// f = u·kItems + i of group g sits in lane f − 16g. SumOfLanes16 leaves the
// sum of acc[4p+q] in lane 4q+p, so input slot s takes the dot of lane
// (s%4)·4 + s/4. Compile-time tables: built at run time, the index vectors
// would be reloaded from just-written stack memory every tile.
struct LaneMap {
  int32_t user[16];  // per lane; 0 for lanes past the last dot
  int32_t item[16];
  int32_t slot_dot[16];  // per input slot; −1: no dot (zero)
};

template <size_t kUsers, size_t kItems>
constexpr LaneMap MakeLaneMap(size_t g) {
  constexpr size_t kDots = kUsers * kItems;
  LaneMap m{};
  for (size_t lane = 0; lane < 16; ++lane) {
    const size_t f = 16 * g + lane;
    m.user[lane] = static_cast<int32_t>(f < kDots ? f / kItems : 0);
    m.item[lane] = static_cast<int32_t>(f < kDots ? f % kItems : 0);
  }
  for (size_t s = 0; s < 16; ++s) {
    const size_t f = 16 * g + (s % 4) * 4 + s / 4;
    m.slot_dot[s] = f < kDots ? static_cast<int32_t>(f) : -1;
  }
  return m;
}

// Finishes dots 16g .. 16g+15 of the tile: SumOfLanes16, then the scalar tail
// as one vector MulAdd per k across the 16 dots (lane values picked from the
// transposed tail tables by permutes). Same arithmetic as FinishDot per dot.
// `acc` holds the tile's accumulators, dot f at acc + 16·f.
template <size_t kUsers, size_t kItems, size_t kGroup, class D>
HWY_INLINE void FinishGroup(D d, const float* acc, const TailTables& tails,
                            size_t b0, size_t j0, float* out,
                            size_t out_stride) {
  constexpr size_t kDots = kUsers * kItems;
  alignas(64) static constexpr LaneMap kMap =
      MakeLaneMap<kUsers, kItems>(kGroup);
  __m512 in[16];
  for (size_t s = 0; s < 16; ++s) {
    in[s] = kMap.slot_dot[s] >= 0 ? _mm512_load_ps(acc + 16 * kMap.slot_dot[s])
                                  : _mm512_setzero_ps();
  }
  hn::Vec<D> sum{SumOfLanes16(in)};
  if (tails.tail != 0) {
    const auto user_idx = hn::SetTableIndices(d, kMap.user);
    const auto item_idx = hn::SetTableIndices(d, kMap.item);
    for (size_t t = 0; t < tails.tail; ++t) {
      const auto zt = hn::TableLookupLanes(
          hn::LoadU(d, tails.z + t * tails.z_ld + b0), user_idx);
      const auto vt = hn::TableLookupLanes(
          hn::LoadU(d, tails.v + t * tails.v_ld + j0), item_idx);
      sum = hn::MulAdd(vt, zt, sum);
    }
  }
  alignas(64) float sums[16];
  hn::Store(sum, d, sums);
  for (size_t lane = 0; lane < 16 && 16 * kGroup + lane < kDots; ++lane) {
    out[kMap.user[lane] * out_stride + kMap.item[lane]] = sums[lane];
  }
}

template <size_t kUsers, size_t kItems, class D>
HWY_INLINE void FinishTile(D d, const float* acc, const TailTables& tails,
                           size_t b0, size_t j0, float* out,
                           size_t out_stride) {
  static_assert(kUsers * kItems <= 32, "at most two finishing groups");
  FinishGroup<kUsers, kItems, 0>(d, acc, tails, b0, j0, out, out_stride);
  if constexpr (kUsers * kItems > 16) {
    FinishGroup<kUsers, kItems, 1>(d, acc, tails, b0, j0, out, out_stride);
  }
}
constexpr bool kVectorFinish = true;
#else
constexpr bool kVectorFinish = false;
#endif

// Loads each z chunk once into a register: otherwise the compiler folds the
// load into every multiply-add that uses it, and the tile becomes bound by
// loads (kUsers·kItems + kItems per chunk) instead of multiply-adds.
template <class V>
HWY_INLINE void KeepInRegister(V& v) {
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2 && \
    (HWY_COMPILER_GCC || HWY_COMPILER_CLANG)
  asm("" : "+v"(v.raw));
#else
  (void)v;
#endif
}

// out[u·out_stride + i] = <v_{i}, z_{u}> for the tile's users and items.
// With num_next > 0, also prefetches rows `next`, `next + stride`, ... (the
// next tile's items) chunk by chunk: the first user group meets each item
// block cold, and rows of 4 KiB restart the hardware prefetcher at every page.
template <size_t kUsers, size_t kItems, bool kFirstGroup, typename T, class D>
HWY_INLINE void DotTile(D d, const T* v, size_t stride, const float* z,
                        size_t z_stride, size_t full, size_t dim,
                        const TailTables& tails, size_t b0, size_t j0,
                        float* out, size_t out_stride, const T* next,
                        size_t num_next, float* widened, size_t w_stride) {
  const size_t lanes = hn::Lanes(d);
  hn::Vec<D> acc[kUsers][kItems];
  for (size_t u = 0; u < kUsers; ++u) {
    for (size_t i = 0; i < kItems; ++i) acc[u][i] = hn::Zero(d);
  }
  for (size_t k = 0; k < full; k += lanes) {
    if constexpr (kFirstGroup) {
      for (size_t i = 0; i < kItems; ++i) {
        if (i < num_next) PrefetchToL2(next + i * stride + k);
      }
    }
    hn::Vec<D> x[kItems];
    for (size_t i = 0; i < kItems; ++i) {
      x[i] = LoadAsFloat(d, v + i * stride + k);
    }
    if (kFirstGroup && widened != nullptr) {
      for (size_t i = 0; i < kItems; ++i) {
        hn::Store(x[i], d, widened + i * w_stride + k);
      }
    }
    for (size_t u = 0; u < kUsers; ++u) {
      auto y = hn::LoadU(d, z + u * z_stride + k);
      KeepInRegister(y);
      for (size_t i = 0; i < kItems; ++i) {
        acc[u][i] = hn::MulAdd(x[i], y, acc[u][i]);
      }
    }
  }
#if HWY_TARGET <= HWY_AVX3 && HWY_ARCH_X86
  if constexpr (kVectorFinish) {
    // Through memory, so the accumulators' own array never has its address
    // taken (which would make the compiler store them in the loop above).
    alignas(64) float sums[kUsers * kItems * 16];
    for (size_t u = 0; u < kUsers; ++u) {
      for (size_t i = 0; i < kItems; ++i) {
        hn::Store(acc[u][i], d, sums + 16 * (u * kItems + i));
      }
    }
    FinishTile<kUsers, kItems>(d, sums, tails, b0, j0, out, out_stride);
    return;
  }
#endif
  for (size_t u = 0; u < kUsers; ++u) {
    for (size_t i = 0; i < kItems; ++i) {
      out[u * out_stride + i] =
          FinishDot(d, acc[u][i], v + i * stride, z + u * z_stride, full, dim);
    }
  }
}

// One user group (kTileUsers rows of z from zb) against all `count` items:
// full tiles, then the leftover items one per tile. In the first group each
// tile prefetches the next tile's rows and, with `widened`, also stores the
// rows it loads, as float32, to widened + j·w_stride. (Template flag: the
// later groups' loops carry neither.)
template <bool kFirstGroup, typename T, class D>
HWY_INLINE void UserGroup(D d, const T* v, size_t stride, size_t count,
                          const float* zb, size_t z_stride, size_t full,
                          size_t dim, const TailTables& tails, size_t b,
                          float* ob, size_t out_stride, float* widened,
                          size_t w_stride) {
  size_t j = 0;
  for (; j + kTileItems <= count; j += kTileItems) {
    const size_t num_next = std::min(kTileItems, count - (j + kTileItems));
    DotTile<kTileUsers, kTileItems, kFirstGroup>(
        d, v + j * stride, stride, zb, z_stride, full, dim, tails, b, j, ob + j,
        out_stride, num_next > 0 ? v + (j + kTileItems) * stride : v, num_next,
        widened ? widened + j * w_stride : nullptr, w_stride);
  }
  for (; j < count; ++j) {
    DotTile<kTileUsers, 1, kFirstGroup>(
        d, v + j * stride, stride, zb, z_stride, full, dim, tails, b, j, ob + j,
        out_stride, v, 0, widened ? widened + j * w_stride : nullptr, w_stride);
  }
}

// 64-byte-aligned float scratch of at least n floats, reused per thread.
inline float* Scratch(size_t n) {
  thread_local std::vector<float> storage;
  if (storage.size() < n + 16) storage.resize(n + 16);
  float* p = storage.data();
  return p + (16 - reinterpret_cast<uintptr_t>(p) / sizeof(float) % 16) % 16;
}

#endif  // !HWY_HAVE_SCALABLE

// Users one at a time, four items per pass sharing each z load.
template <typename T, class D>
HWY_INLINE void OneUserAtATime(D d, const T* v, size_t stride, size_t count,
                               const float* z, size_t z_stride, size_t b,
                               size_t batch, size_t full, size_t dim,
                               float* out, size_t out_stride) {
  for (; b < batch; ++b) {
    const float* zb = z + b * z_stride;
    float* ob = out + b * out_stride;
    size_t j = 0;
    for (; j + 4 <= count; j += 4) {
      const size_t num_next = std::min<size_t>(4, count - (j + 4));
      DotOneUser<4>(d, v + j * stride, stride, zb, full, dim, ob + j,
                    num_next > 0 ? v + (j + 4) * stride : v, num_next);
    }
    for (; j < count; ++j) {
      DotOneUser<1>(d, v + j * stride, stride, zb, full, dim, ob + j);
    }
  }
}

// out[b·out_stride + j] = <v_j, z_b>: user groups of full register tiles,
// then the leftover users one at a time.
template <typename T>
void DotRowsBatchT(const T* v, size_t stride, size_t count, const float* z,
                   size_t z_stride, size_t batch, size_t dim, float* out,
                   size_t out_stride) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const size_t full = dim - dim % lanes;
#if !HWY_HAVE_SCALABLE
  if (batch >= kTileUsers && count >= kTileItems) {
    // Transposed tails for the vector finish, padded so that a tile may load
    // a whole vector starting at its first user or item.
    TailTables tails;
    std::vector<float> tail_storage;
    if (kVectorFinish && full < dim) {
      tails.tail = dim - full;
      tails.z_ld = batch + lanes;
      tails.v_ld = count + lanes;
      tail_storage.assign(tails.tail * (tails.z_ld + tails.v_ld), 0.0f);
      float* zt = tail_storage.data();
      float* vt = zt + tails.tail * tails.z_ld;
      for (size_t t = 0; t < tails.tail; ++t) {
        for (size_t u = 0; u < batch; ++u) {
          zt[t * tails.z_ld + u] = z[u * z_stride + full + t];
        }
        for (size_t j = 0; j < count; ++j) {
          vt[t * tails.v_ld + j] = ToFloat(v[j * stride + full + t]);
        }
      }
      tails.z = zt;
      tails.v = vt;
    }
    // The first user group meets the items cold, so it prefetches them. When
    // float32 rows are not 64-byte aligned (stride 1000, say) and more groups
    // follow, it also leaves an aligned copy in scratch for them: unaligned,
    // every row load straddles two cache lines (~6% at batch 64 on AVX-512).
    // For half-precision rows a widened copy measured within noise (at most a
    // few percent) of converting in every group: not worth doubling the
    // block's L2 footprint.
    const bool aligned = reinterpret_cast<uintptr_t>(v) % 64 == 0 &&
                         stride * sizeof(T) % 64 == 0;
    // (Only for blocks that fit L2 anyway: the scratch stays allocated.)
    const size_t w_stride = (dim + 15) / 16 * 16;
    constexpr size_t kMaxScratchFloats = size_t{1} << 20;  // 4 MiB
    const bool widen = std::is_same_v<T, float> && !aligned &&
                       batch >= 2 * kTileUsers &&
                       count * w_stride <= kMaxScratchFloats;
    float* widened = widen ? Scratch(count * w_stride) : nullptr;
    if (widen) {
      for (size_t j = 0; j < count; ++j) {
        for (size_t k = full; k < dim; ++k) {
          widened[j * w_stride + k] = ToFloat(v[j * stride + k]);
        }
      }
    }
    UserGroup<true>(d, v, stride, count, z, z_stride, full, dim, tails, 0, out,
                    out_stride, widened, w_stride);
    size_t b = kTileUsers;
    for (; b + kTileUsers <= batch; b += kTileUsers) {
      if (widen) {
        UserGroup<false>(d, static_cast<const float*>(widened), w_stride, count,
                         z + b * z_stride, z_stride, full, dim, tails, b,
                         out + b * out_stride, out_stride, nullptr, 0);
      } else {
        UserGroup<false>(d, v, stride, count, z + b * z_stride, z_stride, full,
                         dim, tails, b, out + b * out_stride, out_stride,
                         nullptr, 0);
      }
    }
    if (widen) {
      OneUserAtATime(d, static_cast<const float*>(widened), w_stride, count, z,
                     z_stride, b, batch, full, dim, out, out_stride);
    } else {
      OneUserAtATime(d, v, stride, count, z, z_stride, b, batch, full, dim, out,
                     out_stride);
    }
    return;
  }
#endif
  OneUserAtATime(d, v, stride, count, z, z_stride, 0, batch, full, dim, out,
                 out_stride);
}

template <typename T>
void DotRowsT(const T* v, size_t stride, size_t count, const float* z,
              size_t dim, float* out) {
  DotRowsBatchT(v, stride, count, z, /*z_stride=*/dim, /*batch=*/1, dim, out,
                /*out_stride=*/count);
}

// Non-template entry points per storage type, for HWY_EXPORT. Half types
// arrive as uint16_t bit patterns (the public API does not expose hwy types).
void DotRowsF32(const float* v, size_t stride, size_t count, const float* z,
                size_t dim, float* out) {
  DotRowsT(v, stride, count, z, dim, out);
}
void DotRowsF16(const uint16_t* v, size_t stride, size_t count, const float* z,
                size_t dim, float* out) {
  DotRowsT(reinterpret_cast<const hwy::float16_t*>(v), stride, count, z, dim,
           out);
}
void DotRowsBF16(const uint16_t* v, size_t stride, size_t count, const float* z,
                 size_t dim, float* out) {
  DotRowsT(reinterpret_cast<const hwy::bfloat16_t*>(v), stride, count, z, dim,
           out);
}

void DotRowsBatchF32(const float* v, size_t stride, size_t count,
                     const float* z, size_t z_stride, size_t batch, size_t dim,
                     float* out, size_t out_stride) {
  DotRowsBatchT(v, stride, count, z, z_stride, batch, dim, out, out_stride);
}
void DotRowsBatchF16(const uint16_t* v, size_t stride, size_t count,
                     const float* z, size_t z_stride, size_t batch, size_t dim,
                     float* out, size_t out_stride) {
  DotRowsBatchT(reinterpret_cast<const hwy::float16_t*>(v), stride, count, z,
                z_stride, batch, dim, out, out_stride);
}
void DotRowsBatchBF16(const uint16_t* v, size_t stride, size_t count,
                      const float* z, size_t z_stride, size_t batch, size_t dim,
                      float* out, size_t out_stride) {
  DotRowsBatchT(reinterpret_cast<const hwy::bfloat16_t*>(v), stride, count, z,
                z_stride, batch, dim, out, out_stride);
}

}  // namespace HWY_NAMESPACE
}  // namespace edlae
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/kernels.h"
#include "core/kernels_testing.h"
#include "core/kernels_x86.h"

namespace edlae {

HWY_EXPORT(DotRowsF32);
HWY_EXPORT(DotRowsF16);
HWY_EXPORT(DotRowsBF16);
HWY_EXPORT(DotRowsBatchF32);
HWY_EXPORT(DotRowsBatchF16);
HWY_EXPORT(DotRowsBatchBF16);

void DotRowsBatch(DType dtype, const void* v, size_t stride, size_t count,
                  const float* z, size_t z_stride, size_t batch, size_t dim,
                  float* out, size_t out_stride) {
  switch (dtype) {
    case DType::kFloat32:
      HWY_DYNAMIC_DISPATCH(DotRowsBatchF32)
      (static_cast<const float*>(v), stride, count, z, z_stride, batch, dim,
       out, out_stride);
      return;
    case DType::kFloat16:
      HWY_DYNAMIC_DISPATCH(DotRowsBatchF16)
      (static_cast<const uint16_t*>(v), stride, count, z, z_stride, batch, dim,
       out, out_stride);
      return;
    case DType::kBFloat16:
      if (DotRowsBatchBF16X86(static_cast<const uint16_t*>(v), stride, count, z,
                              z_stride, batch, dim, out, out_stride)) {
        return;
      }
      HWY_DYNAMIC_DISPATCH(DotRowsBatchBF16)
      (static_cast<const uint16_t*>(v), stride, count, z, z_stride, batch, dim,
       out, out_stride);
      return;
    case DType::kInt8:  // int8 V: DotRowsBatchI8 on quantized z (REQUIRES)
      return;
  }
}

void DotRows(const float* v, size_t stride, size_t count, const float* z,
             size_t dim, float* out) {
  HWY_DYNAMIC_DISPATCH(DotRowsF32)(v, stride, count, z, dim, out);
}
void DotRowsF16(const uint16_t* v, size_t stride, size_t count, const float* z,
                size_t dim, float* out) {
  HWY_DYNAMIC_DISPATCH(DotRowsF16)(v, stride, count, z, dim, out);
}
void DotRowsBF16(const uint16_t* v, size_t stride, size_t count, const float* z,
                 size_t dim, float* out) {
  HWY_DYNAMIC_DISPATCH(DotRowsBF16)(v, stride, count, z, dim, out);
}

}  // namespace edlae
#endif  // HWY_ONCE
