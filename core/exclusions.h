// Excluded items as a sorted list, masked into consecutive score blocks by a cursor (no n-sized map per request).
#ifndef EDLAE_CORE_EXCLUSIONS_H_
#define EDLAE_CORE_EXCLUSIONS_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/types/span.h"

namespace edlae {

// `items` sorted ascending with duplicates removed: the form ExclusionCursor
// and FactorTopNOptions::exclude take.
inline std::vector<uint32_t> SortedUnique(std::vector<uint32_t> items) {
  std::sort(items.begin(), items.end());
  items.erase(std::unique(items.begin(), items.end()), items.end());
  return items;
}

// Walks a sorted exclusion list alongside a scan over item blocks, so
// excluding h items from a scan of n costs O(h + blocks), not O(n). Borrows
// `sorted`, which must outlive the cursor. Not thread-safe; one per scan.
class ExclusionCursor {
 public:
  // A scan that starts at item `first` (e.g. one thread's share of the items)
  // begins at the first listed item >= first.
  explicit ExclusionCursor(absl::Span<const uint32_t> sorted, size_t first = 0)
      : sorted_(sorted),
        next_(static_cast<size_t>(
            std::lower_bound(sorted.begin(), sorted.end(), first) -
            sorted.begin())) {}

  // Sets scores[i − begin] = mark for every listed i in [begin, begin + len).
  // Successive calls must cover increasing, non-overlapping ranges; entries
  // below `begin` are skipped, so a scan may start anywhere.
  void Mark(size_t begin, size_t len, float* scores, float mark) {
    for (; next_ < sorted_.size() && sorted_[next_] < begin + len; ++next_) {
      if (sorted_[next_] >= begin) scores[sorted_[next_] - begin] = mark;
    }
  }

 private:
  absl::Span<const uint32_t> sorted_;
  size_t next_;
};

}  // namespace edlae

#endif  // EDLAE_CORE_EXCLUSIONS_H_
