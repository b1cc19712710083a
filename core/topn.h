// Bounded top-N selection over (score, item) pairs with a one-compare reject threshold.
#ifndef EDLAE_CORE_TOPN_H_
#define EDLAE_CORE_TOPN_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace edlae {

struct ScoredItem {
  uint32_t index;  // item index in the model
  float score;
};

// True when `a` ranks before `b`: higher score first, ties by lower index.
// This total order makes every result deterministic.
inline bool RanksBefore(const ScoredItem& a, const ScoredItem& b) {
  return a.score > b.score || (a.score == b.score && a.index < b.index);
}

// Keeps the best `n` items pushed so far in a min-heap (worst at the root), so
// most candidates of a long scan are rejected by a single comparison with the
// current threshold. Not thread-safe; use one per request (or per thread).
class TopN {
 public:
  explicit TopN(size_t n);

  // Offers one candidate. NaN scores are never kept.
  void Push(uint32_t index, float score) {
    if (heap_.size() < n_) {
      if (!(score == score)) return;  // NaN
      PushUnfull(index, score);
    } else if (n_ != 0 && (score > threshold_ || (score == threshold_ &&
                                                  index < heap_.front().index))) {
      ReplaceRoot(index, score);
    }
  }

  // Offers scores[0..count) for items first_index .. first_index+count-1.
  void PushBlock(uint32_t first_index, const float* scores, size_t count);

  // Current admission threshold: -inf until n items are held.
  float threshold() const { return threshold_; }
  size_t size() const { return heap_.size(); }

  // Returns the kept items best-first and empties the selector.
  std::vector<ScoredItem> TakeSorted();

 private:
  void PushUnfull(uint32_t index, float score);
  void ReplaceRoot(uint32_t index, float score);

  size_t n_;
  float threshold_;
  std::vector<ScoredItem> heap_;  // min-heap by RanksBefore (worst at front)
  std::vector<ScoredItem> scratch_;  // PushBlock's first-block selection
};

}  // namespace edlae

#endif  // EDLAE_CORE_TOPN_H_
