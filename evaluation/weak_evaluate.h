// Weak-generalization evaluation (NGCF, LightGCN, KGAT): each user scored from
// its own fold-in items against its targets.
#ifndef EDLAE_EVALUATION_WEAK_EVALUATE_H_
#define EDLAE_EVALUATION_WEAK_EVALUATE_H_

#include <array>
#include <cstddef>
#include <string>

#include "absl/status/statusor.h"
#include "core/model.h"
#include "evaluation/evaluate.h"
#include "evaluation/ranking_metrics.h"
#include "trainer/interactions.h"

namespace edlae {

// A fold-in file and a targets file aligned by user id, in the item indices
// of the model being evaluated (the protocol's train.txt and test.txt, whose
// users are the model's own training users).
//
// users: the fold-in file's users in file order, then the target users the
// fold-in file lacks (appended with an empty fold-in, so they are scored by
// the model's popularity fallback as the server would score them, and still
// counted in the averages). Fold-in items the model does not know are
// skipped; target items it does not know stay in |targets| as unreachable
// entries (misses), as HeldOutUsers documents.
struct WeakHeldOut {
  HeldOutUsers users;
  size_t fold_in_users = 0;  // users of the fold-in file
  size_t target_users = 0;   // users of the targets file
  // Target users absent from the fold-in file (a line without items counts
  // as absent: the loaders drop empty rows).
  size_t targets_without_fold_in = 0;
  // Users whose fold-in has no item the model knows (including the previous
  // ones): they get the popularity fallback.
  size_t cold_users = 0;
  // Target interactions whose item is also in that user's fold-in: excluded
  // from the ranking, so always misses (0 for a proper train/test split).
  size_t targets_in_fold_in = 0;
};

// Loads both files with `load` (any interaction format; user lines may end in
// CRLF) and aligns them. Errors: those of LoadInteractions for either file.
absl::StatusOr<WeakHeldOut> ReadWeakHeldOut(const std::string& fold_in_path,
                                            const std::string& targets_path,
                                            const LoadOptions& load,
                                            const ItemLookup& lookup);

// Counts WeakHeldOut's fields from interactions already loaded.
WeakHeldOut AlignWeakHeldOut(const Interactions& fold_in,
                             const Interactions& targets,
                             const ItemLookup& lookup);

// Recall@k = hits / |targets| (RecallOfAllAtK) and nDCG@k (binary relevance,
// ideal DCG over min(|targets|, k)) at one cut-off, mean ± standard error
// over the users with at least one target.
struct WeakMetricsAtK {
  size_t k = 0;
  MetricSummary recall, ndcg;
};

struct WeakEvalResult {
  static constexpr std::array<size_t, 3> kCutoffs = {20, 50, 100};
  std::array<WeakMetricsAtK, 3> at;  // k = 20, 50, 100
  size_t num_users = 0;              // users scored
  size_t users_with_targets = 0;     // users averaged
  double seconds = 0;                // scoring + metrics
};

// Ranks every user of `held_out` with `model` (RankHeldOut: the server's
// ranking for the model's kind, fold-in excluded, top 100, options.num_threads)
// and averages the metrics at 20, 50 and 100. Errors: those of RankHeldOut.
absl::StatusOr<WeakEvalResult> EvaluateWeak(const Model& model,
                                            const HeldOutUsers& held_out,
                                            const EvalOptions& options);

// The metrics of rankings already made: ranked[u] (best first) against
// held_out's targets of user u. REQUIRES: ranked.size() == num_users().
WeakEvalResult ScoreWeak(const HeldOutUsers& held_out,
                         const std::vector<std::vector<uint32_t>>& ranked);

}  // namespace edlae

#endif  // EDLAE_EVALUATION_WEAK_EVALUATE_H_
