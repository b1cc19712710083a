// WidenF16 / WidenBF16 / WidenI8 (to float32): Highway bodies and dispatch.
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

// int8 → int32 → float32 (exact), then one multiply by the row's scale: the
// same IEEE product on every target (no fused multiply-add), so a dequantized
// row never depends on the SIMD target.
void WidenI8Impl(const int8_t* src, size_t n, float scale, float* dst) {
  const hn::ScalableTag<float> d;
  const hn::RebindToSigned<decltype(d)> di;
  const hn::Rebind<int8_t, decltype(d)> d8;
  const size_t lanes = hn::Lanes(d);
  const auto s = hn::Set(d, scale);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) {
    const auto wide =
        hn::ConvertTo(d, hn::PromoteTo(di, hn::LoadU(d8, src + i)));
    hn::StoreU(hn::Mul(wide, s), d, dst + i);
  }
  for (; i < n; ++i) dst[i] = scale * static_cast<float>(src[i]);
}

}  // namespace HWY_NAMESPACE
}  // namespace edlae
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/kernels.h"

namespace edlae {

HWY_EXPORT(WidenF16Impl);
HWY_EXPORT(WidenBF16Impl);
HWY_EXPORT(WidenI8Impl);

void WidenF16(const uint16_t* src, size_t n, float* dst) {
  HWY_DYNAMIC_DISPATCH(WidenF16Impl)(src, n, dst);
}
void WidenBF16(const uint16_t* src, size_t n, float* dst) {
  HWY_DYNAMIC_DISPATCH(WidenBF16Impl)(src, n, dst);
}
void WidenI8(const int8_t* src, size_t n, float scale, float* dst) {
  HWY_DYNAMIC_DISPATCH(WidenI8Impl)(src, n, scale, dst);
}

}  // namespace edlae
#endif  // HWY_ONCE
