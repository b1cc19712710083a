// Bounded top-N selection over (score, item): a threshold-filtered reservoir.
#ifndef EDLAE_CORE_TOPN_H_
#define EDLAE_CORE_TOPN_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
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
// the SIMD SelectAtOrAbove); when the reservoir is full, PartitionLargest
// keeps its best n and the threshold rises to the n-th score. Amortized O(1)
// per admitted candidate, where a heap pays a log n sift with unpredictable
// branches. Candidates are held as 64-bit keys whose unsigned order is
// RanksBefore's (the score's bits mapped to an order-preserving integer above
// the complemented index), so selection and sorting compare single integers.
// The result — the best n under the total order, best first — does not
// depend on the order of the pushes. A score of −0 is returned as +0 (they
// rank equal). Not thread-safe; use one per request (or per thread).
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
  size_t size() const { return std::min(keys_.size(), n_); }

  // Returns the kept items best-first and empties the selector.
  std::vector<ScoredItem> TakeSorted();

 private:
  // The key of a non-NaN score: larger keys rank first (RanksBefore).
  static uint64_t KeyOf(uint32_t index, float score) {
    uint32_t bits;
    score += 0.0f;  // −0 → +0: the two compare equal, so they must tie
    std::memcpy(&bits, &score, sizeof(bits));
    // Negative floats order backwards as integers: flip all their bits;
    // positive ones only need the sign bit set above every negative one.
    bits ^= (bits & 0x80000000u) ? 0xFFFFFFFFu : 0x80000000u;
    return (uint64_t{bits} << 32) | ~index;
  }
  static ScoredItem ItemOf(uint64_t key);

  void Admit(uint32_t index, float score) {
    if (n_ == 0) return;
    keys_.push_back(KeyOf(index, score));
    if (keys_.size() == kReservoirFactor * n_) Compact();
  }
  // Keeps the best n_ of keys_ (the n-th last). REQUIRES: more than n_ held.
  void KeepBest();
  // KeepBest, then raises threshold_ to the n-th score.
  void Compact();

  size_t n_;
  float threshold_;
  static constexpr size_t kReservoirFactor = 4;
  // Candidates, unordered: fewer than 4·n_ between calls (Push compacts at
  // 4·n_, PushBlock once after its block when there are 4·n_ or more).
  std::vector<uint64_t> keys_;
  std::vector<uint32_t> positions_;  // PushBlock's SelectAtOrAbove output
  std::vector<uint64_t> scratch_;    // PartitionLargest's workspace
};

}  // namespace edlae

#endif  // EDLAE_CORE_TOPN_H_
