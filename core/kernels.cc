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

// Every <v_j, z_b> below is accumulated in exactly the same order — one
// vector accumulator over the k-chunks [0, full), a lane sum, then the scalar
// tail — whether it is computed alone or inside a tile. A user's scores are
// therefore bit-identical however many users share the pass (micro-batching
// must not change results).
template <typename T, class D>
HWY_INLINE float FinishDot(D d, hn::Vec<D> acc, const T* v, const float* z,
                           size_t full, size_t dim) {
  float t = hn::GetLane(hn::SumOfLanes(d, acc));
  for (size_t k = full; k < dim; ++k) t += ToFloat(v[k]) * z[k];
  return t;
}

// out[b·out_stride + j] = <v_j, z_b>. Register tiles of 4 users × 4 items:
// 8 loads feed 16 multiply-adds, so the loop runs at FMA throughput while the
// item block sits in L2 and the four z rows in L1.
template <typename T>
void DotRowsBatchT(const T* v, size_t stride, size_t count, const float* z,
                   size_t z_stride, size_t batch, size_t dim, float* out,
                   size_t out_stride) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const size_t full = dim - dim % lanes;
  size_t b = 0;
  for (; b + 4 <= batch; b += 4) {
    const float* z0 = z + b * z_stride;
    const float* z1 = z0 + z_stride;
    const float* z2 = z1 + z_stride;
    const float* z3 = z2 + z_stride;
    float* o0 = out + b * out_stride;
    float* o1 = o0 + out_stride;
    float* o2 = o1 + out_stride;
    float* o3 = o2 + out_stride;
    size_t j = 0;
    for (; j + 4 <= count; j += 4) {
      const T* v0 = v + j * stride;
      const T* v1 = v0 + stride;
      const T* v2 = v1 + stride;
      const T* v3 = v2 + stride;
#define EDLAE_ZERO4(r) auto a##r##0 = hn::Zero(d), a##r##1 = hn::Zero(d), \
                            a##r##2 = hn::Zero(d), a##r##3 = hn::Zero(d)
      EDLAE_ZERO4(0);
      EDLAE_ZERO4(1);
      EDLAE_ZERO4(2);
      EDLAE_ZERO4(3);
#undef EDLAE_ZERO4
      for (size_t k = 0; k < full; k += lanes) {
        const auto x0 = LoadAsFloat(d, v0 + k), x1 = LoadAsFloat(d, v1 + k);
        const auto x2 = LoadAsFloat(d, v2 + k), x3 = LoadAsFloat(d, v3 + k);
#define EDLAE_FMA4(r)                          \
  {                                            \
    const auto y = hn::LoadU(d, z##r + k);     \
    a##r##0 = hn::MulAdd(x0, y, a##r##0);      \
    a##r##1 = hn::MulAdd(x1, y, a##r##1);      \
    a##r##2 = hn::MulAdd(x2, y, a##r##2);      \
    a##r##3 = hn::MulAdd(x3, y, a##r##3);      \
  }
        EDLAE_FMA4(0)
        EDLAE_FMA4(1)
        EDLAE_FMA4(2)
        EDLAE_FMA4(3)
#undef EDLAE_FMA4
      }
#define EDLAE_FINISH4(r)                                          \
  o##r[j] = FinishDot(d, a##r##0, v0, z##r, full, dim);           \
  o##r[j + 1] = FinishDot(d, a##r##1, v1, z##r, full, dim);       \
  o##r[j + 2] = FinishDot(d, a##r##2, v2, z##r, full, dim);       \
  o##r[j + 3] = FinishDot(d, a##r##3, v3, z##r, full, dim)
      EDLAE_FINISH4(0);
      EDLAE_FINISH4(1);
      EDLAE_FINISH4(2);
      EDLAE_FINISH4(3);
#undef EDLAE_FINISH4
    }
    for (; j < count; ++j) {
      const T* row = v + j * stride;
      auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
      for (size_t k = 0; k < full; k += lanes) {
        const auto x = LoadAsFloat(d, row + k);
        a0 = hn::MulAdd(x, hn::LoadU(d, z0 + k), a0);
        a1 = hn::MulAdd(x, hn::LoadU(d, z1 + k), a1);
        a2 = hn::MulAdd(x, hn::LoadU(d, z2 + k), a2);
        a3 = hn::MulAdd(x, hn::LoadU(d, z3 + k), a3);
      }
      o0[j] = FinishDot(d, a0, row, z0, full, dim);
      o1[j] = FinishDot(d, a1, row, z1, full, dim);
      o2[j] = FinishDot(d, a2, row, z2, full, dim);
      o3[j] = FinishDot(d, a3, row, z3, full, dim);
    }
  }
  // Remaining users one at a time, four items per pass sharing each z load.
  for (; b < batch; ++b) {
    const float* zb = z + b * z_stride;
    float* ob = out + b * out_stride;
    size_t j = 0;
    for (; j + 4 <= count; j += 4) {
      const T* v0 = v + j * stride;
      const T* v1 = v0 + stride;
      const T* v2 = v1 + stride;
      const T* v3 = v2 + stride;
      auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
      for (size_t k = 0; k < full; k += lanes) {
        const auto y = hn::LoadU(d, zb + k);
        a0 = hn::MulAdd(LoadAsFloat(d, v0 + k), y, a0);
        a1 = hn::MulAdd(LoadAsFloat(d, v1 + k), y, a1);
        a2 = hn::MulAdd(LoadAsFloat(d, v2 + k), y, a2);
        a3 = hn::MulAdd(LoadAsFloat(d, v3 + k), y, a3);
      }
      ob[j] = FinishDot(d, a0, v0, zb, full, dim);
      ob[j + 1] = FinishDot(d, a1, v1, zb, full, dim);
      ob[j + 2] = FinishDot(d, a2, v2, zb, full, dim);
      ob[j + 3] = FinishDot(d, a3, v3, zb, full, dim);
    }
    for (; j < count; ++j) {
      const T* row = v + j * stride;
      auto a = hn::Zero(d);
      for (size_t k = 0; k < full; k += lanes) {
        a = hn::MulAdd(LoadAsFloat(d, row + k), hn::LoadU(d, zb + k), a);
      }
      ob[j] = FinishDot(d, a, row, zb, full, dim);
    }
  }
}

template <typename T>
void DotRowsT(const T* v, size_t stride, size_t count, const float* z,
              size_t dim, float* out) {
  DotRowsBatchT(v, stride, count, z, /*z_stride=*/dim, /*batch=*/1, dim, out,
                /*out_stride=*/count);
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
HWY_EXPORT(DotRowsBatchF32);
HWY_EXPORT(DotRowsBatchF16);
HWY_EXPORT(DotRowsBatchBF16);
HWY_EXPORT(WidenF16Impl);
HWY_EXPORT(WidenBF16Impl);
HWY_EXPORT(TargetNameImpl);

void DotRowsBatch(DType dtype, const void* v, size_t stride, size_t count,
                  const float* z, size_t z_stride, size_t batch, size_t dim,
                  float* out, size_t out_stride) {
  switch (dtype) {
    case DType::kFloat32:
      HWY_DYNAMIC_DISPATCH(DotRowsBatchF32)(static_cast<const float*>(v), stride,
                                            count, z, z_stride, batch, dim, out,
                                            out_stride);
      return;
    case DType::kFloat16:
      HWY_DYNAMIC_DISPATCH(DotRowsBatchF16)(static_cast<const uint16_t*>(v),
                                            stride, count, z, z_stride, batch,
                                            dim, out, out_stride);
      return;
    case DType::kBFloat16:
      HWY_DYNAMIC_DISPATCH(DotRowsBatchBF16)(static_cast<const uint16_t*>(v),
                                             stride, count, z, z_stride, batch,
                                             dim, out, out_stride);
      return;
  }
}

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

void AccumulateRows(DType dtype, const void* const* rows,
                    const float* weights, size_t num_rows, size_t len,
                    float* acc) {
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
