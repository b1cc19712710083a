// Bounded top-N selection: a 4n reservoir compacted with nth_element.
#include "core/topn.h"

#include <algorithm>
#include <limits>

#include "core/kernels.h"

namespace edlae {
namespace {

// A function object, not a function pointer, so the std algorithms inline it.
struct Before {
  bool operator()(const ScoredItem& a, const ScoredItem& b) const {
    return RanksBefore(a, b);
  }
};

}  // namespace

TopN::TopN(size_t n)
    : n_(n), threshold_(-std::numeric_limits<float>::infinity()) {
  // Grown on demand past this: a huge n need not be backed up front.
  items_.reserve(std::min<size_t>(kReservoirFactor * n, 4096));
}

void TopN::Compact() {
  std::nth_element(items_.begin(), items_.begin() + (n_ - 1), items_.end(),
                   Before());
  items_.resize(n_);
  // Everything at or above this score may still rank among the best n (ties
  // are settled by index at the next compaction); everything below cannot.
  threshold_ = items_[n_ - 1].score;
}

void TopN::PushBlock(uint32_t first_index, const float* scores, size_t count) {
  if (n_ == 0 || count == 0) return;
  positions_.resize(count);
  const size_t found =
      SelectAtOrAbove(scores, count, threshold_, positions_.data());
  for (size_t i = 0; i < found; ++i) {
    const uint32_t j = positions_[i];
    // The threshold may have risen at a compaction earlier in this block.
    if (scores[j] >= threshold_) Admit(first_index + j, scores[j]);
  }
}

std::vector<ScoredItem> TopN::TakeSorted() {
  if (items_.size() > n_) {
    std::nth_element(items_.begin(), items_.begin() + (n_ - 1), items_.end(),
                     Before());
    items_.resize(n_);
  }
  std::sort(items_.begin(), items_.end(), Before());
  std::vector<ScoredItem> out;
  out.swap(items_);
  threshold_ = -std::numeric_limits<float>::infinity();
  items_.reserve(std::min<size_t>(kReservoirFactor * n_, 4096));
  return out;
}

}  // namespace edlae
