// The top-N selection kernels — SelectAtOrAbove (positions of scores ≥ a
// threshold) and PartitionLargest (the n largest keys first): Highway and
// dispatch.
// foreach_target.h re-includes this file once per target, so it must come
// before highway.h and the per-target helpers.
// clang-format off
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "core/kernels_select.cc"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
// clang-format on

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>

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

// One pass of PartitionLargest: keys[0, count) rearranged so that those
// > pivot come first (their count is returned) and the rest follow, in
// no particular order. The greater keys are compressed in place (the write
// position never passes the vector just loaded), the others into scratch and
// copied back behind them.
size_t PartitionAbove(uint64_t* HWY_RESTRICT keys, size_t count, uint64_t pivot,
                      uint64_t* HWY_RESTRICT scratch) {
  const hn::ScalableTag<uint64_t> d;
  const size_t lanes = hn::Lanes(d);
  const auto p = hn::Set(d, pivot);
  size_t above = 0, rest = 0, i = 0;
  for (; i + lanes <= count; i += lanes) {
    const auto v = hn::LoadU(d, keys + i);
    const auto m = hn::Gt(v, p);
    above += hn::CompressStore(v, m, d, keys + above);
    rest += hn::CompressStore(v, hn::Not(m), d, scratch + rest);
  }
  for (; i < count; ++i) {
    const uint64_t k = keys[i];
    if (k > pivot) {
      keys[above++] = k;
    } else {
      scratch[rest++] = k;
    }
  }
  std::copy_n(scratch, rest, keys + above);
  return above;
}

// Below this many keys the rest is left to std::nth_element.
constexpr size_t kPartitionSmall = 32;

void PartitionLargestImpl(uint64_t* HWY_RESTRICT keys, size_t count, size_t n,
                          uint64_t* HWY_RESTRICT scratch) {
  // keys[0, begin) are among the n largest and none is smaller than any key
  // of [begin, end), which holds the rest of them.
  size_t begin = 0, end = count;
  while (begin < n) {
    const size_t size = end - begin, need = n - begin;
    if (size == need) {  // all of them: the smallest goes last
      std::iter_swap(std::min_element(keys + begin, keys + end), keys + n - 1);
      return;
    }
    if (size <= kPartitionSmall) {
      std::nth_element(keys + begin, keys + (n - 1), keys + end,
                       std::greater<uint64_t>());
      return;
    }
    // The pivot: of 9 evenly spaced samples, the one at the quantile of the
    // need, so that one pass usually leaves few more than `need` above it.
    uint64_t sample[9];
    for (size_t s = 0; s < 9; ++s) sample[s] = keys[begin + s * (size - 1) / 8];
    std::sort(sample, sample + 9, std::greater<uint64_t>());
    const uint64_t pivot = sample[std::min<size_t>(8, need * 9 / size)];
    const size_t above = PartitionAbove(keys + begin, size, pivot, scratch);
    if (above >= need) {
      end = begin + above;  // the pivot itself is not among them: shrinks
    } else if (above > 0) {
      begin += above;
    } else {
      // Nothing above the pivot: it is the largest key left. Take the keys
      // equal to it (unique keys: just the pivot) and go on below them;
      // they are the smallest taken so far, so keys[n - 1] is right when
      // they complete the n.
      size_t equal = 0;
      for (size_t i = begin; i < end; ++i) {
        if (keys[i] == pivot) std::swap(keys[i], keys[begin + equal++]);
      }
      begin += std::min(equal, need);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace edlae
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include "core/kernels.h"

namespace edlae {

HWY_EXPORT(SelectAtOrAboveImpl);
HWY_EXPORT(PartitionLargestImpl);

size_t SelectAtOrAbove(const float* scores, size_t count, float threshold,
                       uint32_t* positions) {
  return HWY_DYNAMIC_DISPATCH(SelectAtOrAboveImpl)(scores, count, threshold,
                                                   positions);
}

void PartitionLargest(uint64_t* keys, size_t count, size_t n,
                      uint64_t* scratch) {
  if (n == 0 || n >= count) return;
  HWY_DYNAMIC_DISPATCH(PartitionLargestImpl)(keys, count, n, scratch);
}

}  // namespace edlae
#endif  // HWY_ONCE
