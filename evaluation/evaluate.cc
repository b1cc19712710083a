// Held-out evaluation: read a split part, map ids to the model, batched top-100, per-user metrics, mean ± s.e.
#include "evaluation/evaluate.h"

#include <algorithm>
#include <chrono>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "core/status_macros.h"
#include "evaluation/split.h"

namespace edlae {
namespace {

absl::Span<const uint32_t> Row(const Interactions& x, size_t u) {
  return absl::MakeConstSpan(x.item_indices)
      .subspan(x.row_offsets[u], x.row_offsets[u + 1] - x.row_offsets[u]);
}

}  // namespace

absl::StatusOr<LoadedSplit> ReadSplit(const std::string& dir) {
  LoadedSplit split;
  ASSIGN_OR_RETURN(split.train, ReadSplitFile(dir + "/train.csv"));
  absl::flat_hash_map<std::string_view, uint32_t> index;
  for (size_t i = 0; i < split.train.num_items(); ++i) {
    index.emplace(split.train.item_ids[i], static_cast<uint32_t>(i));
  }
  const ItemLookup lookup = [&index](std::string_view id) -> std::optional<uint32_t> {
    auto it = index.find(id);
    if (it == index.end()) return std::nullopt;
    return it->second;
  };
  ASSIGN_OR_RETURN(split.validation, ReadHeldOutUsers(dir, "validation", lookup));
  ASSIGN_OR_RETURN(split.test, ReadHeldOutUsers(dir, "test", lookup));
  return split;
}

absl::Status CheckSplitCoverage(const HeldOutUsers& users,
                                const std::string& model) {
  const size_t known = users.fold_in_items.size() +
                       (users.target_items.size() - users.unknown_targets);
  const size_t all = known + users.unknown_fold_in + users.unknown_targets;
  if (all > 0 && known * 2 < all) {
    return absl::FailedPreconditionError(absl::StrCat(
        model, " knows only ", known, " of ", all,
        " held-out interactions' items: its item ids must be the split's sids. "
        "Train it on the split's train.csv (edlae-train tune --out, or train "
        "--input DIR/train.csv --format csv --header)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<HeldOutUsers> ReadHeldOutUsers(const std::string& dir,
                                              const std::string& part,
                                              const ItemLookup& lookup) {
  if (part != "validation" && part != "test") {
    return absl::InvalidArgumentError(absl::StrCat(
        "unknown held-out part '", part, "' (validation or test)"));
  }
  ASSIGN_OR_RETURN(Interactions tr,
                   ReadSplitFile(absl::StrCat(dir, "/", part, "_tr.csv")));
  ASSIGN_OR_RETURN(Interactions te,
                   ReadSplitFile(absl::StrCat(dir, "/", part, "_te.csv")));
  return AlignHeldOutUsers(tr, te, lookup);
}

HeldOutUsers AlignHeldOutUsers(const Interactions& tr, const Interactions& te,
                               const ItemLookup& lookup) {
  // Item index in the model for every sid string of either file.
  auto map_items = [&](const Interactions& x) {
    std::vector<std::optional<uint32_t>> out(x.num_items());
    for (size_t i = 0; i < x.num_items(); ++i) out[i] = lookup(x.item_ids[i]);
    return out;
  };
  const std::vector<std::optional<uint32_t>> tr_items = map_items(tr);
  const std::vector<std::optional<uint32_t>> te_items = map_items(te);

  absl::flat_hash_map<std::string_view, size_t> te_user;
  for (size_t u = 0; u < te.num_users(); ++u)
    te_user.emplace(te.user_ids[u], u);
  std::vector<char> te_used(te.num_users(), 0);

  HeldOutUsers out;
  std::vector<uint32_t> items;
  auto add_targets = [&](size_t te_row) {
    items.clear();
    uint32_t unknown = 0;
    for (uint32_t i : Row(te, te_row)) {
      if (te_items[i]) {
        items.push_back(*te_items[i]);
      } else {
        items.push_back(HeldOutUsers::kUnknownItemBase + unknown++);
        ++out.unknown_targets;
      }
    }
    std::sort(items.begin(), items.end());
    items.erase(std::unique(items.begin(), items.end()), items.end());
    out.target_items.insert(out.target_items.end(), items.begin(), items.end());
  };
  for (size_t u = 0; u < tr.num_users(); ++u) {
    out.user_ids.push_back(tr.user_ids[u]);
    for (uint32_t i : Row(tr, u)) {
      if (tr_items[i]) {
        out.fold_in_items.push_back(*tr_items[i]);
      } else {
        ++out.unknown_fold_in;
      }
    }
    out.fold_in_offsets.push_back(out.fold_in_items.size());
    if (auto it = te_user.find(tr.user_ids[u]); it != te_user.end()) {
      te_used[it->second] = 1;
      add_targets(it->second);
    }
    out.target_offsets.push_back(out.target_items.size());
  }
  for (size_t u = 0; u < te.num_users(); ++u) {
    if (te_used[u]) continue;
    out.user_ids.push_back(te.user_ids[u]);
    out.fold_in_offsets.push_back(out.fold_in_items.size());
    add_targets(u);
    out.target_offsets.push_back(out.target_items.size());
  }
  return out;
}

namespace {

// Recall@20/50 and nDCG@100 of each user's ranking, averaged over the users
// with targets.
EvalResult Score(const HeldOutUsers& users,
                 const std::vector<std::vector<uint32_t>>& ranked,
                 std::chrono::steady_clock::time_point start) {
  const size_t n = users.num_users();
  std::vector<double> recall20(n), recall50(n), ndcg100(n);
  for (size_t u = 0; u < n; ++u) {
    absl::Span<const uint32_t> targets =
        absl::MakeConstSpan(users.target_items)
            .subspan(users.target_offsets[u],
                     users.target_offsets[u + 1] - users.target_offsets[u]);
    recall20[u] = RecallAtK(ranked[u], targets, 20);
    recall50[u] = RecallAtK(ranked[u], targets, 50);
    ndcg100[u] = NdcgAtK(ranked[u], targets, 100);
  }
  EvalResult result;
  result.recall20 = Summarize(recall20);
  result.recall50 = Summarize(recall50);
  result.ndcg100 = Summarize(ndcg100);
  result.num_users = n;
  result.users_with_targets = result.ndcg100.count;
  result.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return result;
}

}  // namespace

absl::StatusOr<EvalResult> EvaluateHeldOut(const WeightRows& b,
                                           absl::Span<const float> popularity,
                                           const HeldOutUsers& users,
                                           const EvalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  BatchOptions batch;
  batch.top_k = 100;
  batch.method = options.method;
  batch.block_users = options.block_users;
  batch.num_threads = options.num_threads;
  SparseRows rows{users.fold_in_offsets, users.fold_in_items};
  ASSIGN_OR_RETURN(std::vector<std::vector<uint32_t>> ranked,
                   TopKBatch(b, popularity, rows, batch));
  return Score(users, ranked, start);
}

absl::StatusOr<EvalResult> EvaluateHeldOutLowRank(const Model& model,
                                                  const HeldOutUsers& users,
                                                  const EvalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  BatchOptions batch;
  batch.top_k = 100;
  batch.block_users = options.low_rank_block_users;
  batch.num_threads = options.num_threads;
  SparseRows rows{users.fold_in_offsets, users.fold_in_items};
  ASSIGN_OR_RETURN(std::vector<std::vector<uint32_t>> ranked,
                   TopKBatchLowRank(model, rows, batch));
  return Score(users, ranked, start);
}

absl::StatusOr<EvalResult> EvaluateHeldOutOfModel(const Model& model,
                                                  const HeldOutUsers& users,
                                                  const EvalOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  ASSIGN_OR_RETURN(std::vector<std::vector<uint32_t>> ranked,
                   RankHeldOut(model, users, options, 100));
  return Score(users, ranked, start);
}

absl::StatusOr<std::vector<std::vector<uint32_t>>> RankHeldOut(
    const Model& model, const HeldOutUsers& users, const EvalOptions& options,
    size_t top_k) {
  BatchOptions batch;
  batch.top_k = top_k;
  batch.method = options.method;
  batch.block_users = model.kind() == ModelKind::kLowRank
                          ? options.low_rank_block_users
                          : options.block_users;
  batch.num_threads = options.num_threads;
  SparseRows rows{users.fold_in_offsets, users.fold_in_items};
  return TopKBatchOfModel(model, rows, batch);
}

}  // namespace edlae
