// Bounded top-N selection: a min-heap ordered by RanksBefore, worst item at the root.
#include "core/topn.h"

#include <algorithm>
#include <limits>

namespace edlae {
namespace {

// Heap comparator: std::*_heap build a max-heap of this "less", so the item
// that ranks last sits at the front. A function object, not a function
// pointer, so the std algorithms inline it.
struct HeapLess {
  bool operator()(const ScoredItem& a, const ScoredItem& b) const {
    return RanksBefore(a, b);
  }
};

}  // namespace

TopN::TopN(size_t n)
    : n_(n), threshold_(-std::numeric_limits<float>::infinity()) {
  heap_.reserve(n);
}

void TopN::PushUnfull(uint32_t index, float score) {
  heap_.push_back({index, score});
  std::push_heap(heap_.begin(), heap_.end(), HeapLess());
  if (heap_.size() == n_) threshold_ = heap_.front().score;
}

void TopN::ReplaceRoot(uint32_t index, float score) {
  // Sift the newcomer down from the root: one pass of ~log2(n) levels, half
  // the work of pop_heap + push_heap.
  const ScoredItem item{index, score};
  const size_t size = heap_.size();
  size_t hole = 0;
  for (;;) {
    size_t child = 2 * hole + 1;
    if (child >= size) break;
    // The child that ranks last is the one that belongs nearer the root.
    if (child + 1 < size && RanksBefore(heap_[child], heap_[child + 1])) {
      ++child;
    }
    if (!RanksBefore(item, heap_[child])) break;
    heap_[hole] = heap_[child];
    hole = child;
  }
  heap_[hole] = item;
  threshold_ = heap_.front().score;
}

void TopN::PushBlock(uint32_t first_index, const float* scores, size_t count) {
  if (n_ == 0) return;
  if (heap_.empty() && count >= 2 * n_) {
    // A fresh selector and a long block: select its best n_ in linear time
    // (nth_element under the same total order gives the same set the
    // pushes would), instead of ~n_·ln(count/n_) heap replacements.
    scratch_.clear();
    for (size_t j = 0; j < count; ++j) {
      if (scores[j] == scores[j]) {  // not NaN
        scratch_.push_back({first_index + static_cast<uint32_t>(j), scores[j]});
      }
    }
    if (scratch_.size() > n_) {
      std::nth_element(scratch_.begin(), scratch_.begin() + (n_ - 1),
                       scratch_.end(), HeapLess());
      scratch_.resize(n_);
    }
    heap_.assign(scratch_.begin(), scratch_.end());
    std::make_heap(heap_.begin(), heap_.end(), HeapLess());
    if (heap_.size() == n_) threshold_ = heap_.front().score;
    return;
  }
  size_t j = 0;
  for (; j < count && heap_.size() < n_; ++j) Push(first_index + j, scores[j]);
  // Full heap: one compare rejects almost every candidate; ties with the
  // threshold go through Push, which applies the index tie-break.
  float threshold = threshold_;
  // Eight at a time first: nearly every chunk of a long scan is rejected, so
  // one branch-free "any at or above?" test per chunk replaces eight
  // compare-and-branches (about 0.5 ms of the 64-user top-100 over 20,000).
  constexpr size_t kChunk = 8;
  for (; j + kChunk <= count; j += kChunk) {
    bool any = false;
    for (size_t q = 0; q < kChunk; ++q) any |= scores[j + q] >= threshold;
    if (!any) continue;
    for (size_t q = 0; q < kChunk; ++q) {
      if (scores[j + q] >= threshold) {
        Push(first_index + static_cast<uint32_t>(j + q), scores[j + q]);
        threshold = threshold_;
      }
    }
  }
  for (; j < count; ++j) {
    if (scores[j] >= threshold) {
      Push(first_index + static_cast<uint32_t>(j), scores[j]);
      threshold = threshold_;
    }
  }
}

std::vector<ScoredItem> TopN::TakeSorted() {
  std::sort_heap(heap_.begin(), heap_.end(), HeapLess());
  std::vector<ScoredItem> out;
  out.swap(heap_);
  threshold_ = -std::numeric_limits<float>::infinity();
  heap_.reserve(n_);
  return out;
}

}  // namespace edlae
