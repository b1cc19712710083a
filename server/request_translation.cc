// Recommender requests → core scoring inputs, core results → responses, and
// model info.
#include "server/request_translation.h"

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "core/status_macros.h"
#include "core/weight_rows.h"

namespace edlae::server {
namespace {

absl::Status CheckListSize(const char* field, int size, uint32_t limit,
                           const char* flag) {
  if (static_cast<int64_t>(size) > static_cast<int64_t>(limit)) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " has ", size, " entries; at most ", limit,
                     " are allowed (server flag --", flag, ")"));
  }
  return absl::OkStatus();
}

// Appends the indices of the known ids in `ids` to `indices`; returns how many
// ids were unknown.
uint32_t MapIds(const Model& model,
                const google::protobuf::RepeatedPtrField<std::string>& ids,
                std::vector<uint32_t>* indices) {
  uint32_t unknown = 0;
  indices->reserve(indices->size() + ids.size());
  for (const std::string& id : ids) {
    std::optional<uint32_t> index = model.FindItem(id);
    if (index.has_value()) {
      indices->push_back(*index);
    } else {
      ++unknown;
    }
  }
  return unknown;
}

}  // namespace

absl::Status ValidateRecommendRequest(const v1::RecommendRequest& request,
                                      const ServiceLimits& limits) {
  if (request.top_n() < 1 || request.top_n() > limits.max_top_n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "top_n must be in [1, ", limits.max_top_n, "], got ", request.top_n()));
  }
  RETURN_IF_ERROR(CheckListSize("history_item_ids",
                                request.history_item_ids_size(),
                                limits.max_history, "max_history"));
  RETURN_IF_ERROR(CheckListSize("exclude_item_ids",
                                request.exclude_item_ids_size(),
                                limits.max_item_list, "max_item_list"));
  RETURN_IF_ERROR(CheckListSize("candidate_item_ids",
                                request.candidate_item_ids_size(),
                                limits.max_item_list, "max_item_list"));
  const int num_weights = request.history_weights_size();
  if (num_weights != 0 && num_weights != request.history_item_ids_size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "history_weights has ", num_weights,
        " entries but history_item_ids has ", request.history_item_ids_size(),
        "; send one weight per history item or none"));
  }
  for (int i = 0; i < num_weights; ++i) {
    if (!std::isfinite(request.history_weights(i))) {
      return absl::InvalidArgumentError(
          absl::StrCat("history_weights[", i, "] is not finite (",
                       request.history_weights(i), ")"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateBatchRequest(const v1::RecommendBatchRequest& request,
                                  const ServiceLimits& limits) {
  const uint32_t limit = limits.max_batch_requests;
  if (static_cast<uint32_t>(request.requests_size()) > limit) {
    return absl::InvalidArgumentError(absl::StrCat(
        "requests has ", request.requests_size(), " entries; at most ", limit,
        " are allowed (server flag --max_batch_requests)"));
  }
  return absl::OkStatus();
}

RecommendOptions PreparedRequest::Options(
    const std::function<bool()>& should_stop) const {
  RecommendOptions options;
  options.top_n = top_n;
  options.exclude_history = exclude_history;
  options.exclude = absl::MakeConstSpan(exclude);
  options.candidates = absl::MakeConstSpan(candidates);
  options.should_stop = should_stop;
  return options;
}

absl::StatusOr<PreparedRequest> PrepareRecommend(
    const Model& model, const v1::RecommendRequest& request,
    const ServiceLimits& limits) {
  RETURN_IF_ERROR(ValidateRecommendRequest(request, limits));
  PreparedRequest out;
  out.history.reserve(request.history_item_ids_size());
  const bool weighted = request.history_weights_size() != 0;
  for (int i = 0; i < request.history_item_ids_size(); ++i) {
    std::optional<uint32_t> index = model.FindItem(request.history_item_ids(i));
    if (!index.has_value()) {
      ++out.unknown;
      continue;
    }
    const float weight = weighted ? request.history_weights(i) : 1.0f;
    out.any_weight = out.any_weight || weight != 0.0f;
    out.history.push_back(HistoryEntry{*index, weight});
  }
  out.unknown += MapIds(model, request.exclude_item_ids(), &out.exclude);
  out.unknown += MapIds(model, request.candidate_item_ids(), &out.candidates);
  // Duplicate candidates would otherwise be scored (and returned) twice.
  std::sort(out.candidates.begin(), out.candidates.end());
  out.candidates.erase(
      std::unique(out.candidates.begin(), out.candidates.end()),
      out.candidates.end());
  // An empty candidate span would mean "every item", not what was asked.
  out.no_known_candidate =
      request.candidate_item_ids_size() > 0 && out.candidates.empty();
  out.top_n = request.top_n();
  out.exclude_history =
      request.has_exclude_history() ? request.exclude_history() : true;
  return out;
}

absl::Status FillRecommendResponse(const Model& model, uint64_t model_version,
                                   const PreparedRequest& prepared,
                                   absl::StatusOr<Recommendation> result,
                                   v1::RecommendResponse* response) {
  response->Clear();
  if (!result.ok()) return result.status();
  for (const ScoredItem& item : result->items) {
    // Finite weights can still overflow float when multiplied and summed
    // (found by fuzz/recommend_fuzzer); never answer with inf scores.
    if (!std::isfinite(item.score)) {
      return absl::InvalidArgumentError(
          "history_weights are too large: the scores overflow float");
    }
  }
  response->set_model_fingerprint(model.fingerprint());
  response->set_model_version(model_version);
  response->set_unknown_item_count(prepared.unknown);
  response->set_popularity_fallback(prepared.no_known_candidate
                                        ? !prepared.any_weight
                                        : result->popularity_fallback);
  response->mutable_items()->Reserve(static_cast<int>(result->items.size()));
  for (const ScoredItem& item : result->items) {
    v1::ScoredItem* out = response->add_items();
    const std::string_view id = model.item_id(item.index);
    out->set_item_id(id.data(), id.size());
    out->set_score(item.score);
  }
  return absl::OkStatus();
}

uint64_t EstimatedScoringWork(const Model& model,
                              const v1::RecommendRequest& request) {
  const uint64_t items = model.num_items();
  const uint64_t history =
      static_cast<uint64_t>(request.history_item_ids_size());
  if (model.kind() == ModelKind::kLowRank) {
    return (history + items) * model.rank() + items;
  }
  if (model.kind() == ModelKind::kSparse) {
    // The scan over every item plus the history rows' stored entries, at the
    // model's mean row length.
    const uint64_t mean_row = model.nnz() / std::max<uint64_t>(items, 1);
    return items + history * mean_row;
  }
  return (history + 1) * items;
}

void FillModelInfo(const Model& model, uint64_t model_version,
                   v1::ModelInfo* info) {
  info->Clear();
  info->set_kind(ModelKindName(model.kind()));
  info->set_dtype(DTypeName(model.dtype()));
  info->set_num_items(model.num_items());
  info->set_rank(model.rank());
  info->set_fingerprint(model.fingerprint());
  info->set_format_version(model.format_version());
  info->set_file_size_bytes(model.file_size());
  info->set_model_version(model_version);
  info->set_nnz(model.nnz());
  const double n = static_cast<double>(model.num_items());
  info->set_density(static_cast<double>(model.nnz()) / (n * n));
  auto& metadata = *info->mutable_metadata();
  for (const auto& [key, value] : model.metadata()) metadata[key] = value;
}

}  // namespace edlae::server
