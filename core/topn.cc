// Bounded top-N selection: a 4n reservoir of integer keys compacted by SIMD
// partitions.
#include "core/topn.h"

#include <algorithm>
#include <functional>
#include <limits>

#include "core/kernels.h"

namespace edlae {

TopN::TopN(size_t n)
    : n_(n), threshold_(-std::numeric_limits<float>::infinity()) {
  // Grown on demand past this: a huge n need not be backed up front.
  keys_.reserve(std::min<size_t>(kReservoirFactor * n, 4096));
}

ScoredItem TopN::ItemOf(uint64_t key) {
  uint32_t bits = static_cast<uint32_t>(key >> 32);
  bits ^= (bits & 0x80000000u) ? 0x80000000u : 0xFFFFFFFFu;
  float score;
  std::memcpy(&score, &bits, sizeof(score));
  return {~static_cast<uint32_t>(key), score};
}

void TopN::KeepBest() {
  scratch_.resize(keys_.size());
  PartitionLargest(keys_.data(), keys_.size(), n_, scratch_.data());
  keys_.resize(n_);
}

void TopN::Compact() {
  KeepBest();
  // Everything at or above this score may still rank among the best n (ties
  // are settled by index at the next compaction); everything below cannot.
  threshold_ = ItemOf(keys_[n_ - 1]).score;
}

void TopN::PushBlock(uint32_t first_index, const float* scores, size_t count) {
  if (n_ == 0 || count == 0) return;
  positions_.resize(count);
  const size_t found =
      SelectAtOrAbove(scores, count, threshold_, positions_.data());
  // Every candidate of the block is admitted against the threshold it met
  // and the reservoir compacts once, after the block: no branch per
  // candidate, and the reservoir may hold up to 4n + count − 1 keys.
  const size_t held = keys_.size();
  keys_.resize(held + found);
  uint64_t* out = keys_.data() + held;
  for (size_t i = 0; i < found; ++i) {
    const uint32_t j = positions_[i];
    out[i] = KeyOf(first_index + j, scores[j]);
  }
  if (keys_.size() >= kReservoirFactor * n_) Compact();
}

std::vector<ScoredItem> TopN::TakeSorted() {
  if (keys_.size() > n_) KeepBest();
  std::sort(keys_.begin(), keys_.end(), std::greater<uint64_t>());
  std::vector<ScoredItem> out(keys_.size());
  for (size_t i = 0; i < keys_.size(); ++i) out[i] = ItemOf(keys_[i]);
  keys_.clear();
  threshold_ = -std::numeric_limits<float>::infinity();
  return out;
}

}  // namespace edlae
