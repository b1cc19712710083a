// Per-target Highway helpers shared by the core/kernels_*.cc families.
// Included by core/kernels_*.cc after hwy/highway.h, once per target
// (foreach_target.h re-includes those files), so the include guard below is
// the per-target one that HWY_TARGET_TOGGLE flips, as in hwy/highway.h.

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "core/half.h"

#if defined(EDLAE_CORE_KERNELS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef EDLAE_CORE_KERNELS_INL_H_
#undef EDLAE_CORE_KERNELS_INL_H_
#else
#define EDLAE_CORE_KERNELS_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace edlae {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Loads Lanes(d) weights stored as T and widens them to float32 (int8: the
// integer value, exactly; the caller applies the row's scale).
template <typename T, class D>
HWY_INLINE hn::Vec<D> LoadAsFloat(D d, const T* p) {
  if constexpr (std::is_same_v<T, float>) {
    return hn::LoadU(d, p);
  } else if constexpr (std::is_same_v<T, int8_t>) {
    const hn::Rebind<int8_t, D> d8;
    const hn::Rebind<int32_t, D> d32;
    return hn::ConvertTo(d, hn::PromoteTo(d32, hn::LoadU(d8, p)));
  } else {
    const hn::Rebind<T, D> dt;
    return hn::PromoteTo(d, hn::LoadU(dt, p));
  }
}

// Hints that the cache line at p be brought into L2 (not L1, which holds a
// tile's z rows): the kernels that stream V or B rows from memory ask for the
// next rows as they read these.
HWY_INLINE void PrefetchToL2(const void* p) {
#if HWY_COMPILER_GCC  // includes clang
  __builtin_prefetch(p, /*rw=*/0, /*locality=*/2);
#else
  (void)p;
#endif
}

// Scalar tails: the same conversions as core/half.h.
HWY_INLINE float ToFloat(float v) { return v; }
HWY_INLINE float ToFloat(int8_t v) { return static_cast<float>(v); }
HWY_INLINE float ToFloat(hwy::float16_t v) {
  uint16_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return F16ToFloat(bits);
}
HWY_INLINE float ToFloat(hwy::bfloat16_t v) {
  uint16_t bits;
  std::memcpy(&bits, &v, sizeof(bits));
  return Bf16ToFloat(bits);
}

}  // namespace HWY_NAMESPACE
}  // namespace edlae
HWY_AFTER_NAMESPACE();

#endif  // per-target include guard
