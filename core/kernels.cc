// Highway per-target kernel bodies (this file is re-included once per target) and the dispatch entry points.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace edlae {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// Four rows per pass: each accumulator load/store serves four multiply-adds,
// which keeps the loop bound by reading the rows, not by acc traffic.
void AccumulateRowsImpl(const float* const* rows, const float* weights,
                        size_t num_rows, size_t len, float* acc) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  size_t r = 0;
  for (; r + 4 <= num_rows; r += 4) {
    const float* r0 = rows[r];
    const float* r1 = rows[r + 1];
    const float* r2 = rows[r + 2];
    const float* r3 = rows[r + 3];
    const auto w0 = hn::Set(d, weights[r]), w1 = hn::Set(d, weights[r + 1]);
    const auto w2 = hn::Set(d, weights[r + 2]), w3 = hn::Set(d, weights[r + 3]);
    size_t j = 0;
    for (; j + lanes <= len; j += lanes) {
      auto a = hn::LoadU(d, acc + j);
      a = hn::MulAdd(w0, hn::LoadU(d, r0 + j), a);
      a = hn::MulAdd(w1, hn::LoadU(d, r1 + j), a);
      a = hn::MulAdd(w2, hn::LoadU(d, r2 + j), a);
      a = hn::MulAdd(w3, hn::LoadU(d, r3 + j), a);
      hn::StoreU(a, d, acc + j);
    }
    for (; j < len; ++j) {
      acc[j] += weights[r] * r0[j] + weights[r + 1] * r1[j] +
                weights[r + 2] * r2[j] + weights[r + 3] * r3[j];
    }
  }
  for (; r < num_rows; ++r) {
    const float* row = rows[r];
    const auto w = hn::Set(d, weights[r]);
    size_t j = 0;
    for (; j + lanes <= len; j += lanes) {
      hn::StoreU(hn::MulAdd(w, hn::LoadU(d, row + j), hn::LoadU(d, acc + j)), d,
                 acc + j);
    }
    for (; j < len; ++j) acc[j] += weights[r] * row[j];
  }
}

// Two independent accumulators per row hide the FMA latency; four rows at a
// time reuse each load of z.
void DotRowsImpl(const float* v, size_t stride, size_t count, const float* z,
                 size_t dim, float* out) {
  const hn::ScalableTag<float> d;
  const size_t lanes = hn::Lanes(d);
  const size_t full = dim - dim % lanes;
  size_t j = 0;
  for (; j + 4 <= count; j += 4) {
    const float* v0 = v + j * stride;
    const float* v1 = v0 + stride;
    const float* v2 = v1 + stride;
    const float* v3 = v2 + stride;
    auto s0 = hn::Zero(d), s1 = hn::Zero(d), s2 = hn::Zero(d), s3 = hn::Zero(d);
    for (size_t k = 0; k < full; k += lanes) {
      const auto zk = hn::LoadU(d, z + k);
      s0 = hn::MulAdd(hn::LoadU(d, v0 + k), zk, s0);
      s1 = hn::MulAdd(hn::LoadU(d, v1 + k), zk, s1);
      s2 = hn::MulAdd(hn::LoadU(d, v2 + k), zk, s2);
      s3 = hn::MulAdd(hn::LoadU(d, v3 + k), zk, s3);
    }
    float t0 = hn::GetLane(hn::SumOfLanes(d, s0));
    float t1 = hn::GetLane(hn::SumOfLanes(d, s1));
    float t2 = hn::GetLane(hn::SumOfLanes(d, s2));
    float t3 = hn::GetLane(hn::SumOfLanes(d, s3));
    for (size_t k = full; k < dim; ++k) {
      t0 += v0[k] * z[k];
      t1 += v1[k] * z[k];
      t2 += v2[k] * z[k];
      t3 += v3[k] * z[k];
    }
    out[j] = t0;
    out[j + 1] = t1;
    out[j + 2] = t2;
    out[j + 3] = t3;
  }
  for (; j < count; ++j) {
    const float* row = v + j * stride;
    auto s = hn::Zero(d);
    for (size_t k = 0; k < full; k += lanes) {
      s = hn::MulAdd(hn::LoadU(d, row + k), hn::LoadU(d, z + k), s);
    }
    float t = hn::GetLane(hn::SumOfLanes(d, s));
    for (size_t k = full; k < dim; ++k) t += row[k] * z[k];
    out[j] = t;
  }
}

const char* TargetNameImpl() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace edlae
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <cstdlib>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "core/kernels.h"

namespace edlae {

HWY_EXPORT(AccumulateRowsImpl);
HWY_EXPORT(DotRowsImpl);
HWY_EXPORT(TargetNameImpl);

void AccumulateRows(const float* const* rows, const float* weights,
                    size_t num_rows, size_t len, float* acc) {
  HWY_DYNAMIC_DISPATCH(AccumulateRowsImpl)(rows, weights, num_rows, len, acc);
}

void DotRows(const float* v, size_t stride, size_t count, const float* z,
             size_t dim, float* out) {
  HWY_DYNAMIC_DISPATCH(DotRowsImpl)(v, stride, count, z, dim, out);
}

void AccumulateRowsScalar(const float* const* rows, const float* weights,
                          size_t num_rows, size_t len, float* acc) {
  for (size_t r = 0; r < num_rows; ++r) {
    for (size_t j = 0; j < len; ++j) acc[j] += weights[r] * rows[r][j];
  }
}

void DotRowsScalar(const float* v, size_t stride, size_t count, const float* z,
                   size_t dim, float* out) {
  for (size_t j = 0; j < count; ++j) {
    float t = 0;
    for (size_t k = 0; k < dim; ++k) t += v[j * stride + k] * z[k];
    out[j] = t;
  }
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
