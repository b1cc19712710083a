// Scoring a split's held-out users (fold-in → top-100, fold-in excluded) into Recall@20/50 and nDCG@100.
#ifndef EDLAE_EVALUATION_EVALUATE_H_
#define EDLAE_EVALUATION_EVALUATE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "evaluation/batch_scorer.h"
#include "core/model.h"
#include "trainer/interactions.h"
#include "evaluation/ranking_metrics.h"

namespace edlae {

// The held-out users of one part (validation or test), in item indices of the
// model being evaluated. User k's fold-in items are
// fold_in_items[fold_in_offsets[k] .. fold_in_offsets[k+1]) and its targets
// target_items[target_offsets[k] .. target_offsets[k+1]) (sorted, distinct).
struct HeldOutUsers {
  std::vector<std::string> user_ids;  // the split's uids
  std::vector<uint64_t> fold_in_offsets{0};
  std::vector<uint32_t> fold_in_items;
  std::vector<uint64_t> target_offsets{0};
  std::vector<uint32_t> target_items;
  // Fold-in items the model does not know (skipped) and targets it does not
  // know (kept as unreachable entries ≥ kUnknownItemBase, so they still count
  // in the denominators: the model can never retrieve them). Zero for a split
  // made by edlae and a model trained on its train.csv.
  size_t unknown_fold_in = 0;
  size_t unknown_targets = 0;

  static constexpr uint32_t kUnknownItemBase = 0x80000000u;
  size_t num_users() const { return user_ids.size(); }
};

// Maps a split's sid string to an item index of the model, or nullopt.
using ItemLookup = std::function<std::optional<uint32_t>(std::string_view)>;

// Reads DIR/<part>_tr.csv and DIR/<part>_te.csv (part = "validation" or
// "test") and aligns them by uid: users in order of first appearance in _tr,
// then users found only in _te (empty fold-in). Errors: those of
// ReadSplitFile; InvalidArgument for an unknown part.
absl::StatusOr<HeldOutUsers> ReadHeldOutUsers(const std::string& dir,
                                              const std::string& part,
                                              const ItemLookup& lookup);

// FailedPrecondition when `model` (its description, for the message) knows
// fewer than half of the held-out interactions' items: its ids are not the
// split's sids (e.g. trained on the raw file, which also saw the held-out
// users), and its numbers would be meaningless. evaluate and edlae.evaluate.
absl::Status CheckSplitCoverage(const HeldOutUsers& users,
                                const std::string& model);

// The alignment ReadHeldOutUsers does, on interactions already loaded: `tr`
// holds the fold-in histories and `te` the targets, users matched by id
// string. Fold-in items the model lacks are skipped, target items it lacks
// kept as unreachable entries (both counted).
HeldOutUsers AlignHeldOutUsers(const Interactions& tr, const Interactions& te,
                               const ItemLookup& lookup);

// A split read back for training and evaluation: DIR/train.csv, and the
// validation and test users with their sids mapped onto train's items.
struct LoadedSplit {
  Interactions train;
  HeldOutUsers validation;
  HeldOutUsers test;
};
// Errors: those of ReadSplitFile and ReadHeldOutUsers.
absl::StatusOr<LoadedSplit> ReadSplit(const std::string& dir);

struct EvalOptions {
  BatchMethod method = BatchMethod::kExact;
  size_t block_users = 256;  // kGemm
  int num_threads = 0;       // kExact and low-rank; 0 = all cores
  size_t low_rank_block_users = 64;  // low-rank: users per pass over V
};

struct EvalResult {
  MetricSummary recall20, recall50, ndcg100;
  size_t num_users = 0;           // held-out users scored
  size_t users_with_targets = 0;  // users averaged (≥ 1 target)
  double seconds = 0;             // scoring + metrics
};

// Scores every held-out user with B (server ranking: evaluation/batch_scorer.h),
// excluding the fold-in items, and averages Recall@20, Recall@50 and nDCG@100
// over the users with at least one target. `popularity` (may be empty) serves
// users whose fold-in is empty, as the server's fallback does.
// Errors: those of TopKBatch.
absl::StatusOr<EvalResult> EvaluateHeldOut(const WeightRows& b,
                                           absl::Span<const float> popularity,
                                           const HeldOutUsers& users,
                                           const EvalOptions& options);

// The same for a low-rank model (B = U·Vᵀ, never formed), scored as the
// server does (evaluation/batch_scorer.h's TopKBatchLowRank: z = Σ U rows of the
// fold-in, then V·z top-100 with the fold-in excluded); users with an empty
// fold-in get model.popularity()'s fallback. `options.method` and
// `block_users` are ignored. Errors: those of TopKBatchLowRank.
absl::StatusOr<EvalResult> EvaluateHeldOutLowRank(const Model& model,
                                                  const HeldOutUsers& users,
                                                  const EvalOptions& options);

// The same for any model file, ranked as the server ranks its kind
// (batch_scorer.h's TopKBatchOfModel): dense with options.method, sparse and
// low-rank exactly. Errors: those of TopKBatchOfModel.
absl::StatusOr<EvalResult> EvaluateHeldOutOfModel(const Model& model,
                                                  const HeldOutUsers& users,
                                                  const EvalOptions& options);

// Every held-out user's top_k item indices from `model` (fold-in excluded,
// server ranking), in users' order: what EvaluateHeldOutOfModel and the
// weak-generalization evaluation (weak_evaluate.h) score.
absl::StatusOr<std::vector<std::vector<uint32_t>>> RankHeldOut(
    const Model& model, const HeldOutUsers& users, const EvalOptions& options,
    size_t top_k);

}  // namespace edlae

#endif  // EDLAE_EVALUATION_EVALUATE_H_
