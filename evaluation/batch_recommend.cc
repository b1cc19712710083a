// Batch recommendations to a file: histories mapped to the model, scored a
// chunk of users at a time, written user by user.
#include "evaluation/batch_recommend.h"

#include <algorithm>
#include <chrono>
#include <optional>

#include "absl/strings/str_format.h"
#include "core/status_macros.h"

namespace edlae {

ModelHistories ToModelHistories(const Model& model, const Interactions& users) {
  // Each of the file's items looked up once.
  constexpr uint32_t kUnknown = ~uint32_t{0};
  std::vector<uint32_t> index(users.num_items(), kUnknown);
  for (size_t i = 0; i < users.num_items(); ++i) {
    if (std::optional<uint32_t> m = model.FindItem(users.item_ids[i])) {
      index[i] = *m;
    }
  }
  ModelHistories out;
  out.offsets.reserve(users.num_users() + 1);
  out.offsets.push_back(0);
  out.items.reserve(users.num_interactions());
  for (size_t u = 0; u < users.num_users(); ++u) {
    for (uint64_t k = users.row_offsets[u]; k < users.row_offsets[u + 1]; ++k) {
      const uint32_t m = index[users.item_indices[k]];
      if (m == kUnknown) {
        ++out.unknown_items;
      } else {
        out.items.push_back(m);
      }
    }
    out.cold_users += out.items.size() == out.offsets.back();
    out.offsets.push_back(out.items.size());
  }
  return out;
}

absl::StatusOr<BatchRecommendReport> WriteBatchRecommendations(
    const Model& model, const Interactions& users, const std::string& out_path,
    const BatchRecommendOptions& options) {
  if (options.top_n == 0) {
    return absl::InvalidArgumentError("top_n must be >= 1");
  }
  const auto start = std::chrono::steady_clock::now();
  const ModelHistories histories = ToModelHistories(model, users);
  RecsFileWriter writer;
  RETURN_IF_ERROR(writer.Open(out_path, options.format));

  BatchOptions batch;
  batch.top_k = options.top_n;
  batch.method = options.method;
  batch.block_users = std::max<size_t>(1, options.block_users);
  batch.num_threads = options.num_threads;
  batch.exclude_history = options.exclude_history;

  const size_t num_users = users.num_users();
  const size_t chunk = std::max<size_t>(1, options.chunk_users);
  ProgressMeter progress(options.log, "recommend", num_users, options.progress);
  std::vector<uint64_t> offsets;
  std::vector<RecItem> items;
  for (size_t first = 0; first < num_users; first += chunk) {
    const size_t last = std::min(num_users, first + chunk);
    // This chunk's rows, offsets rebased to 0.
    const uint64_t base = histories.offsets[first];
    offsets.clear();
    for (size_t u = first; u <= last; ++u) {
      offsets.push_back(histories.offsets[u] - base);
    }
    SparseRows rows;
    rows.offsets = offsets;
    rows.items = absl::MakeConstSpan(histories.items)
                     .subspan(base, histories.offsets[last] - base);
    ASSIGN_OR_RETURN(std::vector<std::vector<ScoredItem>> ranked,
                     ScoredTopKBatchOfModel(model, rows, batch));
    for (size_t u = first; u < last; ++u) {
      items.clear();
      for (const ScoredItem& s : ranked[u - first]) {
        items.push_back({model.item_id(s.index), s.score});
      }
      RETURN_IF_ERROR(writer.Add(users.user_ids[u], items));
    }
    progress.Add(last - first);
  }
  RETURN_IF_ERROR(writer.Commit());
  progress.Finish();
  BatchRecommendReport report;
  report.users = num_users;
  report.cold_users = histories.cold_users;
  report.unknown_items = histories.unknown_items;
  report.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return report;
}

}  // namespace edlae
