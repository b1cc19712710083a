// Weak-generalization evaluation: load and align fold-in/targets files, rank
// with the model, Recall/nDCG at 20/50/100.
#include "evaluation/weak_evaluate.h"

#include <algorithm>
#include <chrono>
#include <vector>

#include "core/status_macros.h"

namespace edlae {
namespace {

absl::Span<const uint32_t> Slice(const std::vector<uint64_t>& offsets,
                                 const std::vector<uint32_t>& items, size_t u) {
  return absl::MakeConstSpan(items).subspan(offsets[u],
                                            offsets[u + 1] - offsets[u]);
}

}  // namespace

WeakHeldOut AlignWeakHeldOut(const Interactions& fold_in,
                             const Interactions& targets,
                             const ItemLookup& lookup) {
  WeakHeldOut out;
  out.users = AlignHeldOutUsers(fold_in, targets, lookup);
  out.fold_in_users = fold_in.num_users();
  out.target_users = targets.num_users();
  const HeldOutUsers& users = out.users;
  // AlignHeldOutUsers appends the target-only users after the fold-in's.
  out.targets_without_fold_in = users.num_users() - fold_in.num_users();
  std::vector<uint32_t> history;
  for (size_t u = 0; u < users.num_users(); ++u) {
    absl::Span<const uint32_t> items =
        Slice(users.fold_in_offsets, users.fold_in_items, u);
    if (items.empty()) {
      ++out.cold_users;
      continue;
    }
    history.assign(items.begin(), items.end());
    std::sort(history.begin(), history.end());
    for (uint32_t t : Slice(users.target_offsets, users.target_items, u)) {
      out.targets_in_fold_in +=
          std::binary_search(history.begin(), history.end(), t);
    }
  }
  return out;
}

absl::StatusOr<WeakHeldOut> ReadWeakHeldOut(const std::string& fold_in_path,
                                            const std::string& targets_path,
                                            const LoadOptions& load,
                                            const ItemLookup& lookup) {
  ASSIGN_OR_RETURN(Interactions fold_in, LoadInteractions(fold_in_path, load));
  ASSIGN_OR_RETURN(Interactions targets, LoadInteractions(targets_path, load));
  return AlignWeakHeldOut(fold_in, targets, lookup);
}

WeakEvalResult ScoreWeak(const HeldOutUsers& held_out,
                         const std::vector<std::vector<uint32_t>>& ranked) {
  const size_t n = held_out.num_users();
  WeakEvalResult result;
  result.num_users = n;
  std::vector<double> recall(n), ndcg(n);
  for (size_t c = 0; c < result.at.size(); ++c) {
    const size_t k = WeakEvalResult::kCutoffs[c];
    for (size_t u = 0; u < n; ++u) {
      absl::Span<const uint32_t> targets =
          Slice(held_out.target_offsets, held_out.target_items, u);
      recall[u] = RecallOfAllAtK(ranked[u], targets, k);
      ndcg[u] = NdcgAtK(ranked[u], targets, k);
    }
    result.at[c] = {k, Summarize(recall), Summarize(ndcg)};
  }
  result.users_with_targets = result.at[0].ndcg.count;
  return result;
}

absl::StatusOr<WeakEvalResult> EvaluateWeak(const Model& model,
                                            const HeldOutUsers& held_out,
                                            const EvalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(
      std::vector<std::vector<uint32_t>> ranked,
      RankHeldOut(model, held_out, options, WeakEvalResult::kCutoffs.back()));
  WeakEvalResult result = ScoreWeak(held_out, ranked);
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return result;
}

}  // namespace edlae
