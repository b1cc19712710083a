// Explanations of returned scores: each history item's contribution to a
// returned item's score, the largest first.
#ifndef EDLAE_CORE_EXPLAIN_H_
#define EDLAE_CORE_EXPLAIN_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/item_scorers.h"
#include "core/model.h"
#include "core/topn.h"
#include "core/weight_rows.h"

namespace edlae {

// What history item `index` adds to one returned item's score.
struct Contribution {
  uint32_t index;  // history item index in the model
  float contribution;
};

// For each of `items` (indices < model.num_items(), typically the few items a
// request returns), the contributions of `history` to its score as Recommend
// computes it: weight_i · B[i, j] (dense; sparse over the stored entries) or
// weight_i · <U_i, V_j> (low-rank), duplicate history entries merged (their
// weights add up, as in the score). Sorted descending by contribution, ties by
// lower item index; exact zeros (no stored entry, zero weight) left out; at
// most `max_contributions` per item. With no limit hit, each item's
// contributions sum to its score up to float rounding (int8 low-rank models:
// the contributions use the stored U and V, the score also z's int8 rounding,
// so they sum to it within s_z/2 · Σ_d |V_j[d]|). Cost: items × history
// (× rank for low-rank), nothing else scanned; memory O((history + 64) ×
// rank) for low-rank. `should_stop`, when set, is checked before every 64
// items: Cancelled when it returns true. Thread-safe.
// REQUIRES: history indices in range, weights finite.
absl::StatusOr<std::vector<std::vector<Contribution>>> ExplainScores(
    const Model& model, absl::Span<const HistoryEntry> history,
    absl::Span<const ScoredItem> items, size_t max_contributions,
    const std::function<bool()>& should_stop = nullptr);

// The same for scores of the form <Σ_i weight_i·L_i, R_j> · scale[j]: rows
// L_i of `left` (the history's), rows R_j of `right` (the returned items'),
// `scale` empty (1) or one factor per row of `right`. Low-rank models: left
// U, right V; cosine similarity: left and right V, scale
// Model::v_inverse_norms(). REQUIRES: left.dim == right.dim, indices in
// range.
absl::StatusOr<std::vector<std::vector<Contribution>>> ExplainFactorScores(
    const WeightRows& left, const WeightRows& right,
    absl::Span<const float> scale, absl::Span<const HistoryEntry> history,
    absl::Span<const ScoredItem> items, size_t max_contributions,
    const std::function<bool()>& should_stop = nullptr);

}  // namespace edlae

#endif  // EDLAE_CORE_EXPLAIN_H_
