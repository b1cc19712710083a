// Recommend, RecommendMany and SimilarItems: validation, exclusions,
// candidates, popularity fallback and explanations around the ranking engine.
#include "core/scorer.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "core/exclusions.h"
#include "core/factor_topn.h"
#include "core/model_format.h"
#include "core/ranking_engine.h"
#include "core/weight_rows.h"

namespace edlae {
namespace {

bool ShouldStop(const RecommendOptions& options) {
  return options.should_stop && options.should_stop();
}

absl::Status Validate(const Model& model,
                      absl::Span<const HistoryEntry> history,
                      const RecommendOptions& options) {
  if (model.kind() != ModelKind::kDense &&
      model.kind() != ModelKind::kLowRank &&
      model.kind() != ModelKind::kSparse) {
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
  for (absl::Span<const uint32_t> list :
       {options.exclude, options.candidates}) {
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

Recommendation PopularityFallback(const Model& model,
                                  const std::vector<uint32_t>& excluded,
                                  const RecommendOptions& options) {
  Recommendation result;
  result.popularity_fallback = true;
  result.items = PopularTopN(model.popularity(), model.items_by_popularity(),
                             excluded, options.candidates, options.top_n);
  return result;
}

// The best `top_n` of a candidate list: each scored alone (a handful of
// items; a block scan would gather every history row per candidate).
template <typename Scorer>
absl::StatusOr<std::vector<ScoredItem>> TopCandidates(
    const Scorer& scorer, const std::vector<uint32_t>& excluded,
    const RecommendOptions& options) {
  const std::vector<uint32_t> candidates =
      SortedUnique({options.candidates.begin(), options.candidates.end()});
  TopN top(ClampTopN(options.top_n, candidates.size()));
  for (size_t k = 0; k < candidates.size(); ++k) {
    if (k % DenseBlockScorer::kBlockItems == 0 && ShouldStop(options)) {
      return ScanStoppedError();
    }
    const uint32_t c = candidates[k];
    if (!std::binary_search(excluded.begin(), excluded.end(), c)) {
      top.Push(c, scorer.ScoreOne(c));
    }
  }
  return top.TakeSorted();
}

// A single query's scan over the whole catalog by the ranking engine.
template <typename Scorer>
absl::StatusOr<std::vector<ScoredItem>> TopOfCatalog(
    const Scorer& scorer, size_t n, std::vector<uint32_t> excluded,
    const RecommendOptions& options) {
  ScanOptions scan;
  scan.should_stop = options.should_stop;
  scan.num_threads = options.scan_shares;
  scan.runner = options.runner;
  std::vector<std::vector<uint32_t>> exclude;
  exclude.push_back(std::move(excluded));
  std::vector<std::vector<ScoredItem>> results;
  if (absl::Status s =
          ScanTopN(scorer, n, options.top_n, exclude, scan, &results);
      !s.ok()) {
    return s;
  }
  return std::move(results[0]);
}

// Low-rank single-query scorer state: z (row_stride floats) and the scorer
// over whole padded rows of V, so every dot product runs over whole 16-float
// groups, exactly as a batch in FactorTopN scores it.
struct LowRankQuery {
  LowRankQuery(const Model& model, absl::Span<const HistoryEntry> history)
      : z(LatentVector(model, history)),
        scorer(PaddedV(model), z.data(), z.size(), 1,
               DenseBlockScorer::kBlockItems) {}
  // `scorer` points into `z`: never copied or moved.
  LowRankQuery(const LowRankQuery&) = delete;
  LowRankQuery& operator=(const LowRankQuery&) = delete;
  float ScoreOne(uint32_t item) const {
    auto scratch = scorer.NewScratch();
    scorer.ScoreBlock(item, 1, scratch);
    return scratch.tile()[0];
  }
  static WeightRows PaddedV(const Model& model) {
    WeightRows v = model.v_rows();
    v.dim = v.stride;
    return v;
  }
  std::vector<float> z;
  LowRankBlockScorer scorer;
};

// Σ weight_h · rows[h, :] over whole padded rows (stride floats).
std::vector<float> SumOfRows(const WeightRows& u,
                             absl::Span<const HistoryEntry> history) {
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

// The query of a kCosine SimilarItems call: z = Σ_i weight_i · V_i with
// weight_i = 1 / (‖V_i‖·‖Σ_k V_k/‖V_k‖‖), a unit vector (row_stride floats),
// and those terms, which the explanations decompose. `terms` is empty when
// no query item has a non-zero V row or the normalized rows cancel out.
struct CosineQuery {
  std::vector<HistoryEntry> terms;
  std::vector<float> z;
};

CosineQuery MakeCosineQuery(const Model& model,
                            absl::Span<const uint32_t> query) {
  const absl::Span<const float> inverse = model.v_inverse_norms();
  CosineQuery q;
  for (uint32_t i : query) {
    if (inverse[i] > 0) q.terms.push_back({i, inverse[i]});
  }
  if (q.terms.empty()) return q;
  const std::vector<float> sum = SumOfRows(model.v_rows(), q.terms);
  double norm = 0;
  for (float x : sum) norm += static_cast<double>(x) * x;
  norm = std::sqrt(norm);
  if (!(norm > 0)) {
    q.terms.clear();
    return q;
  }
  for (HistoryEntry& t : q.terms) {
    t.weight = static_cast<float>(t.weight / norm);
  }
  q.z = SumOfRows(model.v_rows(), q.terms);
  return q;
}

}  // namespace

std::vector<float> LatentVector(const Model& model,
                                absl::Span<const HistoryEntry> history) {
  return SumOfRows(model.u_rows(), history);
}

void ComputeScores(const Model& model, absl::Span<const HistoryEntry> history,
                   absl::Span<float> scores) {
  if (model.kind() == ModelKind::kLowRank) {
    const LowRankQuery q(model, history);
    ScoreEveryItem(q.scorer, scores);
  } else if (model.kind() == ModelKind::kSparse) {
    ScoreEveryItem(SparseBlockScorer(model.sparse_rows(), history), scores);
  } else {
    ScoreEveryItem(DenseBlockScorer(model.dense_rows(), history), scores);
  }
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

  absl::StatusOr<std::vector<ScoredItem>> items;
  if (model.kind() == ModelKind::kLowRank) {
    const LowRankQuery q(model, history);
    items = options.candidates.empty()
                ? TopOfCatalog(q.scorer, n, excluded, options)
                : TopCandidates(q, excluded, options);
  } else if (model.kind() == ModelKind::kSparse) {
    const SparseBlockScorer scorer(model.sparse_rows(), history);
    items = options.candidates.empty()
                ? TopOfCatalog(scorer, n, excluded, options)
                : TopCandidates(scorer, excluded, options);
  } else {
    const DenseBlockScorer scorer(model.dense_rows(), history);
    items = options.candidates.empty()
                ? TopOfCatalog(scorer, n, excluded, options)
                : TopCandidates(scorer, excluded, options);
  }
  if (!items.ok()) return items.status();
  Recommendation result;
  result.items = *std::move(items);
  if (options.max_contributions > 0) {
    absl::StatusOr<std::vector<std::vector<Contribution>>> explained =
        ExplainScores(model, history, result.items, options.max_contributions,
                      options.should_stop);
    if (!explained.ok()) return explained.status();
    result.contributions = *std::move(explained);
  }
  return result;
}

absl::StatusOr<Recommendation> SimilarItems(const Model& model,
                                            absl::Span<const uint32_t> items,
                                            Similarity similarity,
                                            const RecommendOptions& options) {
  const std::vector<uint32_t> query =
      SortedUnique({items.begin(), items.end()});
  std::vector<HistoryEntry> history;
  history.reserve(query.size());
  for (uint32_t i : query) history.push_back({i, 1.0f});
  RecommendOptions with_query = options;
  with_query.exclude_history = true;
  if (similarity == Similarity::kModel) {
    return Recommend(model, history, with_query);
  }
  if (model.kind() != ModelKind::kLowRank) {
    return absl::InvalidArgumentError(
        absl::StrCat("similarity COSINE needs a low-rank model; this model is ",
                     ModelKindName(model.kind())));
  }
  if (absl::Status s = Validate(model, history, with_query); !s.ok()) return s;
  const std::vector<uint32_t> excluded = ExcludedItems(history, with_query);
  const CosineQuery q = MakeCosineQuery(model, query);
  if (q.terms.empty()) return PopularityFallback(model, excluded, with_query);
  const CosineBlockScorer scorer(LowRankQuery::PaddedV(model), q.z.data(),
                                 model.v_inverse_norms(),
                                 DenseBlockScorer::kBlockItems);
  absl::StatusOr<std::vector<ScoredItem>> top =
      options.candidates.empty()
          ? TopOfCatalog(scorer, model.num_items(), excluded, with_query)
          : TopCandidates(scorer, excluded, with_query);
  if (!top.ok()) return top.status();
  Recommendation result;
  result.items = *std::move(top);
  if (options.max_contributions > 0) {
    absl::StatusOr<std::vector<std::vector<Contribution>>> explained =
        ExplainFactorScores(model.v_rows(), model.v_rows(),
                            model.v_inverse_norms(), q.terms, result.items,
                            options.max_contributions, options.should_stop);
    if (!explained.ok()) return explained.status();
    result.contributions = *std::move(explained);
  }
  return result;
}

std::vector<absl::StatusOr<Recommendation>> RecommendMany(
    const Model& model, absl::Span<const ScoringRequest> requests,
    const RecommendManyOptions& many) {
  const size_t max_batch = std::max<size_t>(many.max_batch, 1);
  std::vector<absl::StatusOr<Recommendation>> results(
      requests.size(), absl::UnknownError("not scored"));
  // Requests that share a pass over V: their latent vectors (row_stride floats
  // each, as LowRankQuery builds them) and sorted exclusion lists.
  std::vector<size_t> batched;
  std::vector<float> z;
  std::vector<std::vector<uint32_t>> exclude;
  const size_t stride = model.row_stride();
  for (size_t r = 0; r < requests.size(); ++r) {
    const ScoringRequest& q = requests[r];
    const bool whole_catalog =
        model.kind() == ModelKind::kLowRank && q.options.candidates.empty();
    const bool has_signal =
        std::any_of(q.history.begin(), q.history.end(),
                    [](const HistoryEntry& e) { return e.weight != 0.0f; });
    if (!whole_catalog || !has_signal ||
        !Validate(model, q.history, q.options).ok()) {
      results[r] = Recommend(model, q.history, q.options);  // also its errors
      continue;
    }
    if (ShouldStop(q.options)) {
      results[r] = ScanStoppedError();
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
  if (batched.empty()) return results;
  // Whole padded rows, as a single query scores them.
  const WeightRows v = LowRankQuery::PaddedV(model);
  for (size_t b0 = 0; b0 < batched.size(); b0 += max_batch) {
    const size_t count = std::min(max_batch, batched.size() - b0);
    FactorTopNOptions options;
    options.num_threads = many.num_threads;
    options.top_n = 0;
    for (size_t i = 0; i < count; ++i) {
      options.top_n =
          std::max(options.top_n, requests[batched[b0 + i]].options.top_n);
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
      const ScoringRequest& q = requests[batched[b0 + i]];
      if (q.options.max_contributions > 0) {
        absl::StatusOr<std::vector<std::vector<Contribution>>> explained =
            ExplainScores(model, q.history, rec.items,
                          q.options.max_contributions, q.options.should_stop);
        if (!explained.ok()) {
          results[batched[b0 + i]] = explained.status();
          continue;
        }
        rec.contributions = *std::move(explained);
      }
      results[batched[b0 + i]] = std::move(rec);
    }
  }
  return results;
}

}  // namespace edlae
