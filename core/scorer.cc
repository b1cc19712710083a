// Scoring: dense (history rows of B summed per item block) and low-rank (z = x·U, then V·z per item block), top-N fused in.
#include "core/scorer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/exclusions.h"
#include "core/factor_topn.h"
#include "core/kernels.h"
#include "core/model_format.h"
#include "core/weight_rows.h"

namespace edlae {
namespace {

// Items per column block: 2048 floats = 8 KiB of accumulator, so it stays in
// L1 while the history rows stream through it.
constexpr size_t kBlockItems = 2048;

// Scores of a dense model: Σ_h weight_h · B[h, item], for B stored in any
// dtype (halves widened in registers, float32 accumulation).
class DenseScorer {
 public:
  DenseScorer(const Model& model, absl::Span<const HistoryEntry> history)
      : b_(model.dense_rows()), history_(history) {
    rows_.reserve(history.size());
    weights_.reserve(history.size());
    for (const HistoryEntry& e : history) {
      rows_.push_back(static_cast<const uint8_t*>(b_.row(e.index)));
      weights_.push_back(e.weight);
    }
    shifted_.resize(rows_.size());
  }
  // out[0..len) = scores of items begin .. begin+len-1, by the dispatched
  // AccumulateRows kernel over the history's rows of B.
  void ScoreBlock(size_t begin, size_t len, float* out) {
    std::fill(out, out + len, 0.0f);
    const size_t offset = begin * DTypeSize(b_.dtype);
    for (size_t h = 0; h < rows_.size(); ++h) shifted_[h] = rows_[h] + offset;
    AccumulateRows(b_.dtype, shifted_.data(), weights_.data(), rows_.size(),
                   len, out);
  }
  float ScoreOne(uint32_t item) const {
    float score = 0;
    for (const HistoryEntry& e : history_) {
      score += e.weight * WeightAt(b_, e.index, item);
    }
    return score;
  }

 private:
  const WeightRows b_;
  absl::Span<const HistoryEntry> history_;
  std::vector<const uint8_t*> rows_;
  std::vector<float> weights_;
  std::vector<const void*> shifted_;  // rows_ offset to the current block
};

// Scores of a low-rank model: V[item, :] · z with z = Σ_h weight_h · U[h, :]
// computed once per request (row_stride floats).
class LowRankScorer {
 public:
  LowRankScorer(const Model& model, absl::Span<const HistoryEntry> history)
      : v_(model.v_rows()), z_(LatentVector(model, history)) {}
  // The DotRowsBatch kernel (a batch of one) over whole padded rows: the same
  // per-item arithmetic as FactorTopN, so batched and single requests score
  // identically.
  void ScoreBlock(size_t begin, size_t len, float* out) const {
    DotRowsBatch(v_.dtype, v_.row(begin), v_.stride, len, z_.data(),
                 v_.stride, /*batch=*/1, v_.stride, out, len);
  }
  float ScoreOne(uint32_t item) const {
    float score;
    ScoreBlock(item, 1, &score);
    return score;
  }

 private:
  const WeightRows v_;
  std::vector<float> z_;
};

bool ShouldStop(const RecommendOptions& options) {
  return options.should_stop && options.should_stop();
}

absl::Status StoppedError() {
  return absl::CancelledError("scoring stopped (deadline or cancellation)");
}

absl::Status Validate(const Model& model, absl::Span<const HistoryEntry> history,
                      const RecommendOptions& options) {
  if (model.kind() != ModelKind::kDense && model.kind() != ModelKind::kLowRank) {
    return absl::UnimplementedError("unsupported model kind");
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

// The items that may not be returned, sorted and unique (core/exclusions.h):
// a list rather than an n-bit map, so a short history on a large catalog
// costs O(history), not O(n), to exclude.
std::vector<uint32_t> ExcludedItems(absl::Span<const HistoryEntry> history,
                                    const RecommendOptions& options) {
  std::vector<uint32_t> items(options.exclude.begin(), options.exclude.end());
  if (options.exclude_history) {
    for (const HistoryEntry& e : history) items.push_back(e.index);
  }
  return SortedUnique(std::move(items));
}

bool Contains(const std::vector<uint32_t>& sorted, uint32_t item) {
  return std::binary_search(sorted.begin(), sorted.end(), item);
}

Recommendation PopularityFallback(const Model& model,
                                  const std::vector<uint32_t>& excluded,
                                  const RecommendOptions& options) {
  Recommendation result;
  result.popularity_fallback = true;
  absl::Span<const float> popularity = model.popularity();
  if (!options.candidates.empty()) {
    TopN top(options.top_n);
    for (uint32_t c : options.candidates) {
      if (!Contains(excluded, c)) top.Push(c, popularity[c]);
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
    if (!Contains(excluded, i)) result.items.push_back({i, popularity[i]});
  }
  return result;
}

// The best `top_n` allowed items under `scorer`: only the candidates when
// there are any, otherwise every item, block by block so that no full score
// vector exists; each block is scored, masked and offered to the selector
// before the next one is touched.
template <typename Scorer>
absl::StatusOr<std::vector<ScoredItem>> SelectTop(
    Scorer&& scorer, size_t n, const std::vector<uint32_t>& excluded,
    const RecommendOptions& options) {
  TopN top(options.top_n);
  if (!options.candidates.empty()) {
    const std::vector<uint32_t> candidates = SortedUnique(
        {options.candidates.begin(), options.candidates.end()});
    for (size_t k = 0; k < candidates.size(); ++k) {
      if (k % kBlockItems == 0 && ShouldStop(options)) return StoppedError();
      const uint32_t c = candidates[k];
      if (!Contains(excluded, c)) top.Push(c, scorer.ScoreOne(c));
    }
    return top.TakeSorted();
  }

  ExclusionCursor cursor(excluded);
  alignas(64) float acc[kBlockItems];
  const float kSkip = std::numeric_limits<float>::quiet_NaN();  // TopN drops NaN
  for (size_t begin = 0; begin < n; begin += kBlockItems) {
    if (ShouldStop(options)) return StoppedError();
    const size_t len = std::min(kBlockItems, n - begin);
    scorer.ScoreBlock(begin, len, acc);
    cursor.Mark(begin, len, acc, kSkip);
    top.PushBlock(static_cast<uint32_t>(begin), acc, len);
  }
  return top.TakeSorted();
}

}  // namespace

std::vector<float> LatentVector(const Model& model,
                                absl::Span<const HistoryEntry> history) {
  const WeightRows u = model.u_rows();
  const size_t stride = u.stride;
  std::vector<float> z(stride, 0.0f);
  std::vector<float> widened;  // a half-precision row of U as float32
  if (u.dtype != DType::kFloat32) widened.resize(stride);
  for (const HistoryEntry& e : history) {
    const float* row = static_cast<const float*>(u.row(e.index));
    if (u.dtype != DType::kFloat32) {
      ReadRow(u, e.index, stride, widened.data());
      row = widened.data();
    }
    const float w = e.weight;
    for (size_t c = 0; c < stride; ++c) z[c] += w * row[c];
  }
  return z;
}

void ComputeScores(const Model& model, absl::Span<const HistoryEntry> history,
                   absl::Span<float> scores) {
  if (model.kind() == ModelKind::kLowRank) {
    LowRankScorer(model, history).ScoreBlock(0, scores.size(), scores.data());
    return;
  }
  DenseScorer(model, history).ScoreBlock(0, scores.size(), scores.data());
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
  const std::vector<uint32_t> excluded = ExcludedItems(raw, options);
  if (history.empty()) return PopularityFallback(model, excluded, options);

  absl::StatusOr<std::vector<ScoredItem>> items =
      model.kind() == ModelKind::kLowRank
          ? SelectTop(LowRankScorer(model, history), n, excluded, options)
          : SelectTop(DenseScorer(model, history), n, excluded, options);
  if (!items.ok()) return items.status();
  Recommendation result;
  result.items = *std::move(items);
  return result;
}

std::vector<absl::StatusOr<Recommendation>> RecommendMany(
    const Model& model, absl::Span<const ScoringRequest> requests,
    size_t max_batch) {
  std::vector<absl::StatusOr<Recommendation>> results(
      requests.size(), absl::UnknownError("not scored"));
  // Requests that share a pass over V: their latent vectors (row_stride floats
  // each, as LowRankScorer builds them) and sorted exclusion lists.
  std::vector<size_t> batched;
  std::vector<float> z;
  std::vector<std::vector<uint32_t>> exclude;
  const size_t stride = model.row_stride();
  for (size_t r = 0; r < requests.size(); ++r) {
    const ScoringRequest& q = requests[r];
    const bool whole_catalog = model.kind() == ModelKind::kLowRank &&
                               q.options.candidates.empty();
    const bool has_signal =
        std::any_of(q.history.begin(), q.history.end(),
                    [](const HistoryEntry& e) { return e.weight != 0.0f; });
    if (!whole_catalog || !has_signal ||
        !Validate(model, q.history, q.options).ok()) {
      results[r] = Recommend(model, q.history, q.options);  // also its errors
      continue;
    }
    if (ShouldStop(q.options)) {
      results[r] = StoppedError();
      continue;
    }
    std::vector<HistoryEntry> history;
    for (const HistoryEntry& e : q.history) {
      if (e.weight != 0.0f) history.push_back(e);
    }
    const std::vector<float> zr = LatentVector(model, history);
    z.insert(z.end(), zr.begin(), zr.end());
    exclude.push_back(ExcludedItems(q.history, q.options));
    batched.push_back(r);
  }
  // Whole padded rows, as LowRankScorer scores them.
  WeightRows v = model.v_rows();
  v.dim = stride;
  for (size_t b0 = 0; b0 < batched.size(); b0 += std::max<size_t>(max_batch, 1)) {
    const size_t count = std::min(std::max<size_t>(max_batch, 1), batched.size() - b0);
    FactorTopNOptions options;
    options.top_n = 0;
    for (size_t i = 0; i < count; ++i) {
      options.top_n = std::max(options.top_n, requests[batched[b0 + i]].options.top_n);
    }
    options.exclude = absl::MakeConstSpan(exclude).subspan(b0, count);
    std::vector<std::vector<ScoredItem>> top =
        FactorTopN(v, z.data() + b0 * stride, stride, count, options);
    for (size_t i = 0; i < count; ++i) {
      // The best top_n of the batch's largest top_n are this request's top_n:
      // RanksBefore is a total order.
      std::vector<ScoredItem>& items = top[i];
      const size_t want = requests[batched[b0 + i]].options.top_n;
      if (items.size() > want) items.resize(want);
      Recommendation rec;
      rec.items = std::move(items);
      results[batched[b0 + i]] = std::move(rec);
    }
  }
  return results;
}

}  // namespace edlae
