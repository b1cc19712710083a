// SelectAtOrAbove (positions of scores ≥ a threshold): Highway and dispatch.
// foreach_target.h re-includes this file once per target, so it must come
// before highway.h and the per-target helpers.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels_select.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
// clang-format on

#include <cstddef>
#include <cstdint>

HWY_BEFORE_NAMESPACE();
namespace edlae {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Two vectors per test: in a long top-N scan almost every score is below the
// threshold, so one branch per 2·lanes scores rejects them; a vector with a
// hit stores its qualifying positions with one compress (no per-lane branch).
size_t SelectAtOrAboveImpl(const float* HWY_RESTRICT scores, size_t count,
                           float threshold, uint32_t* HWY_RESTRICT positions) {
  const hn::ScalableTag<float> d;
  const hn::RebindToUnsigned<decltype(d)> du;
  const size_t lanes = hn::Lanes(d);
  const auto t = hn::Set(d, threshold);
  size_t found = 0, j = 0;
  for (; j + 2 * lanes <= count; j += 2 * lanes) {
    const auto m0 = hn::Ge(hn::LoadU(d, scores + j), t);
    const auto m1 = hn::Ge(hn::LoadU(d, scores + j + lanes), t);
    if (hn::AllFalse(d, hn::Or(m0, m1))) continue;
    found +=
        hn::CompressBlendedStore(hn::Iota(du, static_cast<uint32_t>(j)),
                                 hn::RebindMask(du, m0), du, positions + found);
    found +=
        hn::CompressBlendedStore(hn::Iota(du, static_cast<uint32_t>(j + lanes)),
                                 hn::RebindMask(du, m1), du, positions + found);
  }
  for (; j < count; ++j) {
    if (scores[j] >= threshold) positions[found++] = static_cast<uint32_t>(j);
  }
  return found;
}

}  // namespace HWY_NAMESPACE
}  // namespace edlae
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/kernels.h"

namespace edlae {

HWY_EXPORT(SelectAtOrAboveImpl);

size_t SelectAtOrAbove(const float* scores, size_t count, float threshold,
                       uint32_t* positions) {
  return HWY_DYNAMIC_DISPATCH(SelectAtOrAboveImpl)(scores, count, threshold,
                                                   positions);
}

}  // namespace edlae
#endif  // HWY_ONCE
