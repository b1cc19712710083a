// Bounded top-N selection over (score, item): a threshold-filtered reservoir.
#ifndef EDLAE_CORE_TOPN_H_
#define EDLAE_CORE_TOPN_H_

#include <algorithm>
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

// Keeps the best `n` items pushed so far (by RanksBefore) in a reservoir of
// up to 4n candidates (kReservoirFactor; 4 measured faster than 2): a candidate
// below the admission threshold is rejected by one comparison (for a block, by
// the SIMD SelectAtOrAbove); when the reservoir is full, nth_element keeps its
// best n and the threshold rises to the n-th score. Amortized O(1) per admitted
// candidate, where a heap pays a log n sift with unpredictable branches. The
// result — the best n under the total order, best first — does not depend on
// the order of the pushes. Not thread-safe; use one per request (or per
// thread).
class TopN {
 public:
  explicit TopN(size_t n);

  // Offers one candidate. NaN scores are never kept.
  void Push(uint32_t index, float score) {
    if (score >= threshold_) Admit(index, score);  // false for NaN
  }

  // Offers scores[0..count) for items first_index .. first_index+count-1.
  void PushBlock(uint32_t first_index, const float* scores, size_t count);

  // Admission threshold: a score below it cannot be among the best n pushed
  // so far. −inf until the reservoir first fills; never above the n-th best
  // score so far (it is the n-th best at the last compaction).
  float threshold() const { return threshold_; }
  // Items that TakeSorted would return now: min(n, candidates held).
  size_t size() const { return std::min(items_.size(), n_); }

  // Returns the kept items best-first and empties the selector.
  std::vector<ScoredItem> TakeSorted();

 private:
  void Admit(uint32_t index, float score) {
    if (n_ == 0) return;
    items_.push_back({index, score});
    if (items_.size() == kReservoirFactor * n_) Compact();
  }
  // Keeps the best n_ of items_ and raises threshold_ to the n-th score.
  void Compact();

  size_t n_;
  float threshold_;
  static constexpr size_t kReservoirFactor = 4;
  std::vector<ScoredItem> items_;    // candidates, unordered, < 4·n_
  std::vector<uint32_t> positions_;  // PushBlock's SelectAtOrAbove output
};

}  // namespace edlae

#endif  // EDLAE_CORE_TOPN_H_
