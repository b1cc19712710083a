// Top-N queries against a loaded model through the ranking engine: Recommend
// (a user's history: x·B dense and sparse, (x·U)·Vᵀ low-rank), RecommendMany,
// SimilarItems (items related to a set of items).
#ifndef EDLAE_CORE_SCORER_H_
#define EDLAE_CORE_SCORER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/explain.h"
#include "core/item_scorers.h"
#include "core/model.h"
#include "core/ranking_engine.h"
#include "core/topn.h"

namespace edlae {

struct RecommendOptions {
  size_t top_n = 10;
  // Drop the history's own items from the result.
  bool exclude_history = true;
  // Further item indices never returned.
  absl::Span<const uint32_t> exclude;
  // When non-empty, only these item indices are scored and returned.
  absl::Span<const uint32_t> candidates;
  // Cancellation hook (deadlines, cancelled calls): when set, it is called
  // once per block of items scored, and when it returns true Recommend stops
  // and returns Cancelled. Must be thread-compatible with the caller.
  std::function<bool()> should_stop;
  // When > 0, Recommendation::contributions explains each returned item's
  // score with at most this many history items (core/explain.h); computed
  // for the returned items only. 0: no explanations, no cost.
  size_t max_contributions = 0;
  // Whole-catalog scans (no candidate list) are split into this many shares
  // of item blocks, run by `runner` (borrowed; null: threads started per
  // call), and merged exactly: the answer is the same for every value.
  // Values below 1 mean 1. With more than 1, should_stop is called from
  // every share's thread and must be thread-safe.
  int scan_shares = 1;
  ShareRunner* runner = nullptr;
};

struct Recommendation {
  std::vector<ScoredItem> items;  // best first, at most top_n
  // True when the history held no item (after dropping zero weights), so the
  // result is the most popular items, scored by their training counts.
  bool popularity_fallback = false;
  // With options.max_contributions > 0 and a scored (not fallback) result:
  // contributions[k] explains items[k]. Empty otherwise.
  std::vector<std::vector<Contribution>> contributions;
};

// Scores every allowed item and returns the best `top_n`, ties broken by lower
// item index. Dense models: Σ weight_h · B[h, item]; sparse models the same
// over B's stored entries (the rest count 0). Low-rank models:
// V[item, :] · z with z = Σ weight_h · U[h, :] (computed once, rank floats).
// Items are scored block by block by the ranking engine (core/ranking_engine.h)
// with the selection fused in, so no full score vector is materialized.
// Duplicate history entries add up. Indices out of range or non-finite weights
// → InvalidArgument; top_n == 0 → InvalidArgument; options.should_stop
// returning true → Cancelled. Thread-safe: the model is read-only; scratch is
// per call.
absl::StatusOr<Recommendation> Recommend(const Model& model,
                                         absl::Span<const HistoryEntry> history,
                                         const RecommendOptions& options);

// One request of a RecommendMany call. `history` is borrowed.
struct ScoringRequest {
  absl::Span<const HistoryEntry> history;
  RecommendOptions options;
};

struct RecommendManyOptions {
  // Low-rank requests scored together in one pass over V (>= 1).
  size_t max_batch = 64;
  // Threads splitting the items of each pass (ScanOptions::num_threads).
  int num_threads = 1;
};

// Answers several requests against one model, each exactly as Recommend
// would (same items, same scores, same order, same errors). Low-rank requests
// over the whole catalog (no candidate list, a non-zero history) are scored
// together, up to `max_batch` at a time, in one pass over V (FactorTopN): V is
// streamed once per batch instead of once per request. Every other request is
// answered by Recommend on its own. should_stop is consulted once per request
// before scoring starts. Thread-safe like Recommend.
std::vector<absl::StatusOr<Recommendation>> RecommendMany(
    const Model& model, absl::Span<const ScoringRequest> requests,
    const RecommendManyOptions& options);
inline std::vector<absl::StatusOr<Recommendation>> RecommendMany(
    const Model& model, absl::Span<const ScoringRequest> requests,
    size_t max_batch = 64) {
  return RecommendMany(model, requests, RecommendManyOptions{max_batch, 1});
}

// How SimilarItems scores items against the query items.
enum class Similarity {
  // The model's scores for a history of exactly the query items, weight 1
  // each: their rows of B summed (dense, sparse), z = Σ U rows, V·z
  // (low-rank).
  kModel,
  // Low-rank models only: cos(V_j, z), z the mean of the query items'
  // normalized V rows (query items with a zero V row are skipped; items with
  // a zero V row score 0). Contributions: <V_i, V_j> / (‖V_i‖·‖V_j‖·‖Σ_k
  // V_k/‖V_k‖‖), summing to the cosine.
  kCosine,
};

// The best `top_n` items related to `items` (indices; duplicates count
// once), with options' exclusions, candidates, cancellation and
// explanations as Recommend; the query items themselves are never returned
// (options.exclude_history is ignored). No query item (or, for kCosine, none
// with a non-zero V row): the popularity fallback. Errors as Recommend, and
// InvalidArgument for kCosine on a model that is not low-rank. Scored by the
// ranking engine (kModel is Recommend itself; kCosine a CosineBlockScorer).
// Thread-safe.
absl::StatusOr<Recommendation> SimilarItems(const Model& model,
                                            absl::Span<const uint32_t> items,
                                            Similarity similarity,
                                            const RecommendOptions& options);

// Writes the full score vector (num_items floats) for `history` into `scores`,
// without exclusions, for either kind (the same arithmetic as Recommend, so the
// scores agree bit for bit). The reference path for tests and offline
// evaluation.
// REQUIRES: scores.size() == model.num_items(); history indices in range.
void ComputeScores(const Model& model, absl::Span<const HistoryEntry> history,
                   absl::Span<float> scores);

// The latent vector of a low-rank model for `history`: z = Σ weight_h · U[h, :]
// over whole padded rows, so z has row_stride() floats (the padding stays 0)
// and every dot product with a row of V runs over whole 16-float groups.
// The one definition Recommend, ComputeScores and the offline batch scorer
// share, so their scores agree bit for bit.
// REQUIRES: model.kind() == ModelKind::kLowRank; history indices in range.
std::vector<float> LatentVector(const Model& model,
                                absl::Span<const HistoryEntry> history);

}  // namespace edlae

#endif  // EDLAE_CORE_SCORER_H_
