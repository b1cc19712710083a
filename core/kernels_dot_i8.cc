// DotRowsBatchI8: exact int32 dot products of int8 rows (low-rank int8 V against quantized z), Highway per target.
// foreach_target.h re-includes this file once per target, so it must come
// before highway.h.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels_dot_i8.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "core/kernels-inl.h"
// clang-format on

#include <cstddef>
#include <cstdint>
#include <vector>

HWY_BEFORE_NAMESPACE();
namespace edlae {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Integer sums are exact, so the order of the multiply-adds does not matter:
// every target (and the scalar reference) returns the same integers. Each
// k-chunk widens Lanes(d16) int8 elements to int16 and multiplies pairs into
// int32 lanes (vpmaddwd on x86); the users' z rows are widened once per call.

using D16 = hn::ScalableTag<int16_t>;
using D32 = hn::Repartition<int32_t, D16>;

// kUsers users × kItems items, every dot over [0, full) by vectors, the tail
// [full, dim) by scalars. z16 rows hold `z16_stride` widened elements. With
// `prefetch`, the next kItems rows are requested a cache line at a time as
// these are read: one user's scan is bound by reading V from memory, and the
// hardware prefetchers alone follow four 1 KB row streams poorly (measured
// 8.7 GB/s without, against 16 GB/s for the float32 kernel, which prefetches).
template <size_t kUsers, size_t kItems>
HWY_INLINE void DotTileI8(const int8_t* v, size_t stride, const int16_t* z16,
                          size_t z16_stride, size_t full, size_t dim,
                          int32_t* out, size_t out_stride,
                          const int8_t* prefetch = nullptr) {
  const D16 d16;
  const D32 d32;
  const hn::Rebind<int8_t, D16> d8;
  const size_t lanes = hn::Lanes(d16);
  hn::Vec<D32> acc[kUsers][kItems], odd[kUsers][kItems];
  for (size_t u = 0; u < kUsers; ++u) {
    for (size_t i = 0; i < kItems; ++i) {
      acc[u][i] = hn::Zero(d32);
      odd[u][i] = hn::Zero(d32);
    }
  }
  for (size_t k = 0; k < full; k += lanes) {
    if (prefetch != nullptr && k % 64 == 0) {
      for (size_t i = 0; i < kItems; ++i) PrefetchToL2(prefetch + i * stride + k);
    }
    hn::Vec<D16> rows[kItems];
    for (size_t i = 0; i < kItems; ++i) {
      rows[i] = hn::PromoteTo(d16, hn::LoadU(d8, v + i * stride + k));
    }
    for (size_t u = 0; u < kUsers; ++u) {
      const auto y = hn::LoadU(d16, z16 + u * z16_stride + k);
      for (size_t i = 0; i < kItems; ++i) {
        acc[u][i] =
            hn::ReorderWidenMulAccumulate(d32, rows[i], y, acc[u][i], odd[u][i]);
      }
    }
  }
  for (size_t u = 0; u < kUsers; ++u) {
    const int16_t* zu = z16 + u * z16_stride;
    for (size_t i = 0; i < kItems; ++i) {
      int32_t sum = hn::GetLane(hn::SumOfLanes(d32, hn::Add(acc[u][i], odd[u][i])));
      const int8_t* vi = v + i * stride;
      for (size_t k = full; k < dim; ++k) sum += int32_t{vi[k]} * zu[k];
      out[u * out_stride + i] = sum;
    }
  }
}

// Items in groups of kItems for one group of kUsers users.
template <size_t kUsers>
HWY_INLINE void DotUsersI8(const int8_t* v, size_t stride, size_t count,
                           const int16_t* z16, size_t z16_stride, size_t full,
                           size_t dim, int32_t* out, size_t out_stride) {
  constexpr size_t kItems = kUsers == 1 ? 4 : 2;
  size_t j = 0;
  for (; j + kItems <= count; j += kItems) {
    // One user streams V from memory: prefetch the next tile's rows.
    const int8_t* next = kUsers == 1 && j + 2 * kItems <= count
                             ? v + (j + kItems) * stride
                             : nullptr;
    DotTileI8<kUsers, kItems>(v + j * stride, stride, z16, z16_stride, full,
                              dim, out + j, out_stride, next);
  }
  for (; j < count; ++j) {
    DotTileI8<kUsers, 1>(v + j * stride, stride, z16, z16_stride, full, dim,
                         out + j, out_stride);
  }
}

void DotRowsBatchI8Impl(const int8_t* v, size_t stride, size_t count,
                        const int8_t* z, size_t z_stride, size_t batch,
                        size_t dim, int32_t* out, size_t out_stride) {
  if (count == 0 || batch == 0) return;
  const D16 d16;
  const size_t lanes = hn::Lanes(d16);
  const size_t full = dim / lanes * lanes;
  // The users' rows widened to int16 once (per thread, reused across calls).
  thread_local std::vector<int16_t> widened;
  const size_t z16_stride = dim;
  widened.resize(batch * z16_stride);
  for (size_t b = 0; b < batch; ++b) {
    for (size_t k = 0; k < dim; ++k) {
      widened[b * z16_stride + k] = z[b * z_stride + k];
    }
  }
  // Four users share each load of V's chunks; leftovers one at a time.
  constexpr size_t kUsers = 4;
  size_t b = 0;
  for (; b + kUsers <= batch; b += kUsers) {
    DotUsersI8<kUsers>(v, stride, count, widened.data() + b * z16_stride,
                       z16_stride, full, dim, out + b * out_stride, out_stride);
  }
  for (; b < batch; ++b) {
    DotUsersI8<1>(v, stride, count, widened.data() + b * z16_stride,
                  z16_stride, full, dim, out + b * out_stride, out_stride);
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace edlae
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/kernels.h"
#include "core/kernels_x86.h"

namespace edlae {

HWY_EXPORT(DotRowsBatchI8Impl);

void DotRowsBatchI8(const int8_t* v, size_t stride, size_t count,
                    const int8_t* z, size_t z_stride, size_t batch, size_t dim,
                    int32_t* out, size_t out_stride) {
  if (DotRowsBatchI8X86(v, stride, count, z, z_stride, batch, dim, out,
                        out_stride)) {
    return;
  }
  HWY_DYNAMIC_DISPATCH(DotRowsBatchI8Impl)
  (v, stride, count, z, z_stride, batch, dim, out, out_stride);
}

}  // namespace edlae
#endif  // HWY_ONCE
