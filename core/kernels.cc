// Highway per-target kernel bodies (this file is re-included once per target) and the dispatch entry points.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

#include <cstring>
#include <type_traits>

#include "core/half.h"

HWY_BEFORE_NAMESPACE();
namespace edlae {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Loads Lanes(d) weights stored as T and widens them to float32.
template <typename T, class D>
HWY_INLINE hn::Vec<D> LoadAsFloat(D d, const T* p) {
  if constexpr (std::is_same_v<T, float>) {
    return hn::LoadU(d, p);
  } else {
    const hn::Rebind<T, D> dt;
    return hn::PromoteTo(d, hn::LoadU(dt, p));
  }
}

// Scalar tails: the same conversions as core/half.h.
HWY_INLINE float ToFloat(float v) { return v; }
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

// Four rows per pass: each accumulator load/store serves four multiply-adds,
// which keeps the loop bound by reading the rows, not by acc traffic.
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
      auto a = hn::LoadU(d, acc + j);
      a = hn::MulAdd(w0, LoadAsFloat(d, r0 + j), a);
      a = hn::MulAdd(w1, LoadAsFloat(d, r1 + j), a);
      a = hn::MulAdd(w2, LoadAsFloat(d, r2 + j), a);
      a = hn::MulAdd(w3, LoadAsFloat(d, r3 + j), a);
      hn::StoreU(a, d, acc + j);
    }
    for (; j < len; ++j) {
      acc[j] += weights[r] * ToFloat(r0[j]) + weights[r + 1] * ToFloat(r1[j]) +
                weights[r + 2] * ToFloat(r2[j]) + weights[r + 3] * ToFloat(r3[j]);
    }
  }
  for (; r < num_rows; ++r) {
    const T* row = rows[r];
    const auto w = hn::Set(d, weights[r]);
    size_t j = 0;
    for (; j + lanes <= len; j += lanes) {
      hn::StoreU(hn::MulAdd(w, LoadAsFloat(d, row + j), hn::LoadU(d, acc + j)),
                 d, acc + j);
    }
    for (; j < len; ++j) acc[j] += weights[r] * ToFloat(row[j]);
  }
}

// Two independent accumulators per row hide the FMA latency; four rows at a
// time reuse each load of z.
template <typename T>
void DotRowsT(const T* v, size_t stride, size_t count, const float* z,
              size_t dim, float* out) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const size_t full = dim - dim % lanes;
  size_t j = 0;
  for (; j + 4 <= count; j += 4) {
    const T* v0 = v + j * stride;
    const T* v1 = v0 + stride;
    const T* v2 = v1 + stride;
    const T* v3 = v2 + stride;
    auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
    for (size_t k = 0; k < full; k += lanes) {
      const auto zk = hn::LoadU(d, z + k);
      s0 = hn::MulAdd(LoadAsFloat(d, v0 + k), zk, s0);
      s1 = hn::MulAdd(LoadAsFloat(d, v1 + k), zk, s1);
      s2 = hn::MulAdd(LoadAsFloat(d, v2 + k), zk, s2);
      s3 = hn::MulAdd(LoadAsFloat(d, v3 + k), zk, s3);
    }
    float t0 = hn::GetLane(hn::SumOfLanes(d, s0));
    float t1 = hn::GetLane(hn::SumOfLanes(d, s1));
    float t2 = hn::GetLane(hn::SumOfLanes(d, s2));
    float t3 = hn::GetLane(hn::SumOfLanes(d, s3));
    for (size_t k = full; k < dim; ++k) {
      t0 += ToFloat(v0[k]) * z[k];
      t1 += ToFloat(v1[k]) * z[k];
      t2 += ToFloat(v2[k]) * z[k];
      t3 += ToFloat(v3[k]) * z[k];
    }
    out[j] = t0;
    out[j + 1] = t1;
    out[j + 2] = t2;
    out[j + 3] = t3;
  }
  for (; j < count; ++j) {
    const T* row = v + j * stride;
    auto s = hn::Zero(d);
    for (size_t k = 0; k < full; k += lanes) {
      s = hn::MulAdd(LoadAsFloat(d, row + k), hn::LoadU(d, z + k), s);
    }
    float t = hn::GetLane(hn::SumOfLanes(d, s));
    for (size_t k = full; k < dim; ++k) t += ToFloat(row[k]) * z[k];
    out[j] = t;
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
void AccumulateRowsBF16(const uint16_t* const* rows, const float* weights,
                        size_t num_rows, size_t len, float* acc) {
  AccumulateRowsT(reinterpret_cast<const hwy::bfloat16_t* const*>(rows),
                  weights, num_rows, len, acc);
}
void DotRowsF32(const float* v, size_t stride, size_t count, const float* z,
                size_t dim, float* out) {
  DotRowsT(v, stride, count, z, dim, out);
}
void DotRowsF16(const uint16_t* v, size_t stride, size_t count, const float* z,
                size_t dim, float* out) {
  DotRowsT(reinterpret_cast<const hwy::float16_t*>(v), stride, count, z, dim,
           out);
}
void DotRowsBF16(const uint16_t* v, size_t stride, size_t count,
                 const float* z, size_t dim, float* out) {
  DotRowsT(reinterpret_cast<const hwy::bfloat16_t*>(v), stride, count, z, dim,
           out);
}

template <typename T>
void WidenT(const T* src, size_t n, float* dst) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t i = 0;
  for (; i + lanes <= n; i += lanes) hn::StoreU(LoadAsFloat(d, src + i), d, dst + i);
  for (; i < n; ++i) dst[i] = ToFloat(src[i]);
}
void WidenF16Impl(const uint16_t* src, size_t n, float* dst) {
  WidenT(reinterpret_cast<const hwy::float16_t*>(src), n, dst);
}
void WidenBF16Impl(const uint16_t* src, size_t n, float* dst) {
  WidenT(reinterpret_cast<const hwy::bfloat16_t*>(src), n, dst);
}

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace edlae
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/half.h"
#include "core/kernels.h"

namespace edlae {

HWY_EXPORT(AccumulateRowsF32);
HWY_EXPORT(AccumulateRowsF16);
HWY_EXPORT(AccumulateRowsBF16);
HWY_EXPORT(DotRowsF32);
HWY_EXPORT(DotRowsF16);
HWY_EXPORT(DotRowsBF16);
HWY_EXPORT(WidenF16Impl);
HWY_EXPORT(WidenBF16Impl);
HWY_EXPORT(TargetNameImpl);

void WidenF16(const uint16_t* src, size_t n, float* dst) {
  HWY_DYNAMIC_DISPATCH(WidenF16Impl)(src, n, dst);
}
void WidenBF16(const uint16_t* src, size_t n, float* dst) {
  HWY_DYNAMIC_DISPATCH(WidenBF16Impl)(src, n, dst);
}

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

void DotRows(const float* v, size_t stride, size_t count, const float* z,
             size_t dim, float* out) {
  HWY_DYNAMIC_DISPATCH(DotRowsF32)(v, stride, count, z, dim, out);
}
void DotRowsF16(const uint16_t* v, size_t stride, size_t count, const float* z,
                size_t dim, float* out) {
  HWY_DYNAMIC_DISPATCH(DotRowsF16)(v, stride, count, z, dim, out);
}
void DotRowsBF16(const uint16_t* v, size_t stride, size_t count,
                 const float* z, size_t dim, float* out) {
  HWY_DYNAMIC_DISPATCH(DotRowsBF16)(v, stride, count, z, dim, out);
}

namespace {

template <typename T, typename Convert>
void AccumulateScalar(const T* const* rows, const float* weights,
                      size_t num_rows, size_t len, float* acc, Convert to_float) {
  for (size_t r = 0; r < num_rows; ++r) {
    for (size_t j = 0; j < len; ++j) acc[j] += weights[r] * to_float(rows[r][j]);
  }
}

template <typename T, typename Convert>
void DotScalar(const T* v, size_t stride, size_t count, const float* z,
               size_t dim, float* out, Convert to_float) {
  for (size_t j = 0; j < count; ++j) {
    float t = 0;
    for (size_t k = 0; k < dim; ++k) t += to_float(v[j * stride + k]) * z[k];
    out[j] = t;
  }
}

float Identity(float f) { return f; }

}  // namespace

void AccumulateRowsScalar(const float* const* rows, const float* weights,
                          size_t num_rows, size_t len, float* acc) {
  AccumulateScalar(rows, weights, num_rows, len, acc, Identity);
}
void AccumulateRowsF16Scalar(const uint16_t* const* rows, const float* weights,
                             size_t num_rows, size_t len, float* acc) {
  AccumulateScalar(rows, weights, num_rows, len, acc, F16ToFloat);
}
void AccumulateRowsBF16Scalar(const uint16_t* const* rows, const float* weights,
                              size_t num_rows, size_t len, float* acc) {
  AccumulateScalar(rows, weights, num_rows, len, acc, Bf16ToFloat);
}

void DotRowsScalar(const float* v, size_t stride, size_t count, const float* z,
                   size_t dim, float* out) {
  DotScalar(v, stride, count, z, dim, out, Identity);
}
void DotRowsF16Scalar(const uint16_t* v, size_t stride, size_t count,
                      const float* z, size_t dim, float* out) {
  DotScalar(v, stride, count, z, dim, out, F16ToFloat);
}
void DotRowsBF16Scalar(const uint16_t* v, size_t stride, size_t count,
                       const float* z, size_t dim, float* out) {
  DotScalar(v, stride, count, z, dim, out, Bf16ToFloat);
}

std::string ActiveSimdTarget() {
  return HWY_DYNAMIC_DISPATCH(TargetNameImpl)();
}

std::vector<int64_t> AvailableSimdTargets() {
  return hwy::SupportedAndGeneratedTargets();
}

void ForceSimdTargetForTest(int64_t target) {
  hwy::SetSupportedTargetsForTest(target);
}

absl::Status ApplySimdTargetFromEnv() {
  const char* value = std::getenv("EDLAE_SIMD_TARGET");
  if (value == nullptr || *value == '\0') return absl::OkStatus();
  const std::string wanted = absl::AsciiStrToUpper(value);
  // The portable fallback is "SCALAR" or "EMU128" depending on the Highway
  // version; accept either name for it.
  const bool wants_fallback = wanted == "SCALAR" || wanted == "EMU128";
  std::string available;
  for (int64_t target : AvailableSimdTargets()) {
    const std::string name = hwy::TargetName(target);
    if (name == wanted ||
        (wants_fallback && (name == "SCALAR" || name == "EMU128"))) {
      ForceSimdTargetForTest(target);
      return absl::OkStatus();
    }
    absl::StrAppend(&available, available.empty() ? "" : ", ", name);
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "EDLAE_SIMD_TARGET=", value, " is not available here (available: ",
      available, ")"));
}

}  // namespace edlae
#endif  // HWY_ONCE
