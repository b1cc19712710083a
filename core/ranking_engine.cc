// The ranking engine's non-template parts: the cancellation status and the
// popularity fallback.
#include "core/ranking_engine.h"

#include <algorithm>

namespace edlae {

absl::Status ScanStoppedError() {
  return absl::CancelledError("scoring stopped (deadline or cancellation)");
}

std::vector<ScoredItem> PopularTopN(absl::Span<const float> popularity,
                                    absl::Span<const uint32_t> by_popularity,
                                    absl::Span<const uint32_t> excluded,
                                    absl::Span<const uint32_t> candidates,
                                    size_t top_n) {
  auto is_excluded = [&](uint32_t i) {
    return std::binary_search(excluded.begin(), excluded.end(), i);
  };
  if (!candidates.empty()) {
    const std::vector<uint32_t> unique =
        SortedUnique({candidates.begin(), candidates.end()});
    TopN top(ClampTopN(top_n, unique.size()));
    for (uint32_t c : unique) {
      if (!is_excluded(c)) top.Push(c, popularity[c]);
    }
    return top.TakeSorted();
  }
  const size_t keep = ClampTopN(top_n, popularity.size());
  std::vector<ScoredItem> items;
  if (!by_popularity.empty()) {
    items.reserve(keep);
    for (uint32_t i : by_popularity) {
      if (items.size() == keep) break;
      if (!is_excluded(i)) items.push_back({i, popularity[i]});
    }
    return items;
  }
  TopNHandler top(keep, excluded);
  std::vector<float> scores(popularity.begin(), popularity.end());
  top.AddBlock(0, scores.data(), scores.size());
  return top.TakeSorted();
}

}  // namespace edlae
