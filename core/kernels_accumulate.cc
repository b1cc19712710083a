// AccumulateRows (f32, f16, bf16, int8 rows): Highway per-target bodies, dispatch.
// foreach_target.h re-includes this file once per target, so it must come
// before highway.h and the per-target helpers.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels_accumulate.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "core/kernels-inl.h"
// clang-format on

#include <cstddef>
#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace edlae {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Four rows per pass: each accumulator load/store serves four multiply-adds,
// which keeps the loop bound by reading the rows, not by acc traffic.
// While a row's segment is read, the same row's next segment (the next item
// block of a scan, len elements on) is prefetched, one line at a time: a
// block reads each history row for only len elements, too short for the
// hardware prefetchers to ramp up on, and this made a history-50 call on a
// 41k-item f16 model 14 % faster (docs/performance.md §8). A prefetch past
// the end of a row is harmless (prefetches never fault and change nothing).
template <typename T>
void AccumulateRowsT(const T* const* rows, const float* weights,
                     size_t num_rows, size_t len, float* acc) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t r = 0;
  for (; r + 4 <= num_rows; r += 4) {
    const T* r0 = rows[r];
    const T* r1 = rows[r + 1];
    const T* r2 = rows[r + 2];
    const T* r3 = rows[r + 3];
    const auto w0 = hn::Set(d, weights[r]), w1 = hn::Set(d, weights[r + 1]);
    const auto w2 = hn::Set(d, weights[r + 2]), w3 = hn::Set(d, weights[r + 3]);
    size_t j = 0;
    for (; j + lanes <= len; j += lanes) {
      if (j % (64 / sizeof(T)) < lanes) {
        __builtin_prefetch(r0 + len + j);
        __builtin_prefetch(r1 + len + j);
        __builtin_prefetch(r2 + len + j);
        __builtin_prefetch(r3 + len + j);
      }
      auto a = hn::LoadU(d, acc + j);
      a = hn::MulAdd(w0, LoadAsFloat(d, r0 + j), a);
      a = hn::MulAdd(w1, LoadAsFloat(d, r1 + j), a);
      a = hn::MulAdd(w2, LoadAsFloat(d, r2 + j), a);
      a = hn::MulAdd(w3, LoadAsFloat(d, r3 + j), a);
      hn::StoreU(a, d, acc + j);
    }
    for (; j < len; ++j) {
      acc[j] += weights[r] * ToFloat(r0[j]) + weights[r + 1] * ToFloat(r1[j]) +
                weights[r + 2] * ToFloat(r2[j]) +
                weights[r + 3] * ToFloat(r3[j]);
    }
  }
  for (; r < num_rows; ++r) {
    const T* row = rows[r];
    const auto w = hn::Set(d, weights[r]);
    size_t j = 0;
    for (; j + lanes <= len; j += lanes) {
      if (j % (64 / sizeof(T)) < lanes) __builtin_prefetch(row + len + j);
      hn::StoreU(hn::MulAdd(w, LoadAsFloat(d, row + j), hn::LoadU(d, acc + j)),
                 d, acc + j);
    }
    for (; j < len; ++j) acc[j] += weights[r] * ToFloat(row[j]);
  }
}

// Non-template entry points per storage type, for HWY_EXPORT. Half types
// arrive as uint16_t bit patterns (the public API does not expose hwy types).
void AccumulateRowsF32(const float* const* rows, const float* weights,
                       size_t num_rows, size_t len, float* acc) {
  AccumulateRowsT(rows, weights, num_rows, len, acc);
}
void AccumulateRowsF16(const uint16_t* const* rows, const float* weights,
                       size_t num_rows, size_t len, float* acc) {
  AccumulateRowsT(reinterpret_cast<const hwy::float16_t* const*>(rows), weights,
                  num_rows, len, acc);
}
void AccumulateRowsI8(const int8_t* const* rows, const float* weights,
                      size_t num_rows, size_t len, float* acc) {
  AccumulateRowsT(rows, weights, num_rows, len, acc);
}
void AccumulateRowsBF16(const uint16_t* const* rows, const float* weights,
                        size_t num_rows, size_t len, float* acc) {
  AccumulateRowsT(reinterpret_cast<const hwy::bfloat16_t* const*>(rows),
                  weights, num_rows, len, acc);
}

}  // namespace HWY_NAMESPACE
}  // namespace edlae
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/kernels.h"
#include "core/kernels_testing.h"

namespace edlae {

HWY_EXPORT(AccumulateRowsF32);
HWY_EXPORT(AccumulateRowsF16);
HWY_EXPORT(AccumulateRowsBF16);
HWY_EXPORT(AccumulateRowsI8);

void AccumulateRows(const float* const* rows, const float* weights,
                    size_t num_rows, size_t len, float* acc) {
  HWY_DYNAMIC_DISPATCH(AccumulateRowsF32)(rows, weights, num_rows, len, acc);
}
void AccumulateRowsF16(const uint16_t* const* rows, const float* weights,
                       size_t num_rows, size_t len, float* acc) {
  HWY_DYNAMIC_DISPATCH(AccumulateRowsF16)(rows, weights, num_rows, len, acc);
}
void AccumulateRowsBF16(const uint16_t* const* rows, const float* weights,
                        size_t num_rows, size_t len, float* acc) {
  HWY_DYNAMIC_DISPATCH(AccumulateRowsBF16)(rows, weights, num_rows, len, acc);
}
void AccumulateRowsI8(const int8_t* const* rows, const float* weights,
                      size_t num_rows, size_t len, float* acc) {
  HWY_DYNAMIC_DISPATCH(AccumulateRowsI8)(rows, weights, num_rows, len, acc);
}

void AccumulateRows(DType dtype, const void* const* rows, const float* weights,
                    size_t num_rows, size_t len, float* acc) {
  switch (dtype) {
    case DType::kFloat32:
      AccumulateRows(reinterpret_cast<const float* const*>(rows), weights,
                     num_rows, len, acc);
      return;
    case DType::kFloat16:
      AccumulateRowsF16(reinterpret_cast<const uint16_t* const*>(rows), weights,
                        num_rows, len, acc);
      return;
    case DType::kBFloat16:
      AccumulateRowsBF16(reinterpret_cast<const uint16_t* const*>(rows),
                         weights, num_rows, len, acc);
      return;
    case DType::kInt8:
      AccumulateRowsI8(reinterpret_cast<const int8_t* const*>(rows), weights,
                       num_rows, len, acc);
      return;
  }
}

}  // namespace edlae
#endif  // HWY_ONCE
