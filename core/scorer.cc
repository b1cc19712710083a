// Dense scoring: history rows of B summed block by block (the block stays in L1) with top-N fused in.
#include "core/scorer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"

namespace edlae {
namespace {

// Items per column block: 2048 floats = 8 KiB of accumulator, so it stays in
// L1 while the history rows stream through it.
constexpr size_t kBlockItems = 2048;

// acc[0..len) += Σ_h weight_h · row_h[begin .. begin+len), four rows at a time
// so each accumulator load/store is shared by four multiply-adds.
void AccumulateRows(const Model& model, absl::Span<const HistoryEntry> history,
                    size_t begin, size_t len, float* acc) {
  size_t h = 0;
  for (; h + 4 <= history.size(); h += 4) {
    const float* r0 = model.dense_row(history[h].index) + begin;
    const float* r1 = model.dense_row(history[h + 1].index) + begin;
    const float* r2 = model.dense_row(history[h + 2].index) + begin;
    const float* r3 = model.dense_row(history[h + 3].index) + begin;
    const float w0 = history[h].weight, w1 = history[h + 1].weight;
    const float w2 = history[h + 2].weight, w3 = history[h + 3].weight;
    for (size_t j = 0; j < len; ++j) {
      acc[j] += (w0 * r0[j] + w1 * r1[j]) + (w2 * r2[j] + w3 * r3[j]);
    }
  }
  for (; h < history.size(); ++h) {
    const float* r = model.dense_row(history[h].index) + begin;
    const float w = history[h].weight;
    for (size_t j = 0; j < len; ++j) acc[j] += w * r[j];
  }
}

bool ShouldStop(const RecommendOptions& options) {
  return options.should_stop && options.should_stop();
}

absl::Status StoppedError() {
  return absl::CancelledError("scoring stopped (deadline or cancellation)");
}

absl::Status Validate(const Model& model, absl::Span<const HistoryEntry> history,
                      const RecommendOptions& options) {
  if (model.kind() != ModelKind::kDense) {
    return absl::UnimplementedError("only dense models can be scored");
  }
  if (options.top_n == 0) {
    return absl::InvalidArgumentError("top_n must be at least 1");
  }
  const size_t n = model.num_items();
  for (const HistoryEntry& e : history) {
    if (e.index >= n) {
      return absl::InvalidArgumentError(
          absl::StrCat("history item index ", e.index, " out of range"));
    }
    if (!std::isfinite(e.weight)) {
      return absl::InvalidArgumentError("history weights must be finite");
    }
  }
  for (absl::Span<const uint32_t> list : {options.exclude, options.candidates}) {
    for (uint32_t i : list) {
      if (i >= n) {
        return absl::InvalidArgumentError(
            absl::StrCat("item index ", i, " out of range"));
      }
    }
  }
  return absl::OkStatus();
}

// Bit i set ⇔ item i may not be returned.
std::vector<bool> ExcludedItems(size_t n, absl::Span<const HistoryEntry> history,
                                const RecommendOptions& options) {
  std::vector<bool> excluded(n, false);
  for (uint32_t i : options.exclude) excluded[i] = true;
  if (options.exclude_history) {
    for (const HistoryEntry& e : history) excluded[e.index] = true;
  }
  return excluded;
}

Recommendation PopularityFallback(const Model& model,
                                  const std::vector<bool>& excluded,
                                  const RecommendOptions& options) {
  Recommendation result;
  result.popularity_fallback = true;
  absl::Span<const float> popularity = model.popularity();
  if (!options.candidates.empty()) {
    TopN top(options.top_n);
    for (uint32_t c : options.candidates) {
      if (!excluded[c]) top.Push(c, popularity[c]);
    }
    result.items = top.TakeSorted();
    // Duplicate candidates may have entered twice; keep the first of each.
    result.items.erase(std::unique(result.items.begin(), result.items.end(),
                                   [](const ScoredItem& a, const ScoredItem& b) {
                                     return a.index == b.index;
                                   }),
                       result.items.end());
    return result;
  }
  for (uint32_t i : model.items_by_popularity()) {
    if (result.items.size() == options.top_n) break;
    if (!excluded[i]) result.items.push_back({i, popularity[i]});
  }
  return result;
}

}  // namespace

void ComputeScores(const Model& model, absl::Span<const HistoryEntry> history,
                   absl::Span<float> scores) {
  std::fill(scores.begin(), scores.end(), 0.0f);
  AccumulateRows(model, history, 0, scores.size(), scores.data());
}

absl::StatusOr<Recommendation> Recommend(const Model& model,
                                         absl::Span<const HistoryEntry> raw,
                                         const RecommendOptions& options) {
  if (absl::Status s = Validate(model, raw, options); !s.ok()) return s;
  const size_t n = model.num_items();

  // Zero weights contribute nothing; a history of only zeros is cold.
  std::vector<HistoryEntry> history;
  history.reserve(raw.size());
  for (const HistoryEntry& e : raw) {
    if (e.weight != 0.0f) history.push_back(e);
  }
  const std::vector<bool> excluded = ExcludedItems(n, raw, options);
  if (history.empty()) return PopularityFallback(model, excluded, options);

  Recommendation result;
  TopN top(options.top_n);
  if (!options.candidates.empty()) {
    std::vector<uint32_t> candidates(options.candidates.begin(),
                                     options.candidates.end());
    std::sort(candidates.begin(), candidates.end());
    candidates.erase(std::unique(candidates.begin(), candidates.end()),
                     candidates.end());
    for (size_t k = 0; k < candidates.size(); ++k) {
      if (k % kBlockItems == 0 && ShouldStop(options)) return StoppedError();
      const uint32_t c = candidates[k];
      if (excluded[c]) continue;
      float score = 0;
      for (const HistoryEntry& e : history) {
        score += e.weight * model.dense_row(e.index)[c];
      }
      top.Push(c, score);
    }
    result.items = top.TakeSorted();
    return result;
  }

  alignas(64) float acc[kBlockItems];
  const float kSkip = std::numeric_limits<float>::quiet_NaN();  // TopN drops NaN
  for (size_t begin = 0; begin < n; begin += kBlockItems) {
    if (ShouldStop(options)) return StoppedError();
    const size_t len = std::min(kBlockItems, n - begin);
    std::fill(acc, acc + len, 0.0f);
    AccumulateRows(model, history, begin, len, acc);
    for (size_t j = 0; j < len; ++j) {
      if (excluded[begin + j]) acc[j] = kSkip;
    }
    top.PushBlock(static_cast<uint32_t>(begin), acc, len);
  }
  result.items = top.TakeSorted();
  return result;
}

}  // namespace edlae
