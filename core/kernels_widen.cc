// WidenF16 / WidenBF16 (halves to float32): Highway bodies and dispatch.
// foreach_target.h re-includes this file once per target, so it must come
// before highway.h and the per-target helpers.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels_widen.cc"
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

template <typename T>
void WidenT(const T* src, size_t n, float* dst) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes)
    hn::StoreU(LoadAsFloat(d, src + i), d, dst + i);
  for (; i < n; ++i) dst[i] = ToFloat(src[i]);
}
void WidenF16Impl(const uint16_t* src, size_t n, float* dst) {
  WidenT(reinterpret_cast<const hwy::float16_t*>(src), n, dst);
}
void WidenBF16Impl(const uint16_t* src, size_t n, float* dst) {
  WidenT(reinterpret_cast<const hwy::bfloat16_t*>(src), n, dst);
}

}  // namespace HWY_NAMESPACE
}  // namespace edlae
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/kernels.h"

namespace edlae {

HWY_EXPORT(WidenF16Impl);
HWY_EXPORT(WidenBF16Impl);

void WidenF16(const uint16_t* src, size_t n, float* dst) {
  HWY_DYNAMIC_DISPATCH(WidenF16Impl)(src, n, dst);
}
void WidenBF16(const uint16_t* src, size_t n, float* dst) {
  HWY_DYNAMIC_DISPATCH(WidenBF16Impl)(src, n, dst);
}

}  // namespace edlae
#endif  // HWY_ONCE
