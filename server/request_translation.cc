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

absl::Status CheckTopN(uint32_t top_n, const ServiceLimits& limits) {
  if (top_n < 1 || top_n > limits.max_top_n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "top_n must be in [1, ", limits.max_top_n, "], got ", top_n));
  }
  return absl::OkStatus();
}

absl::Status CheckMaxContributions(uint32_t max_contributions,
                                   const ServiceLimits& limits) {
  if (max_contributions > limits.max_contributions) {
    return absl::InvalidArgumentError(
        absl::StrCat("max_contributions is ", max_contributions, "; at most ",
                     limits.max_contributions,
                     " are allowed (server flag --max_contributions)"));
  }
  return absl::OkStatus();
}

// Contributions per item a request asks for: 0 without explain.
uint32_t ResolveMaxContributions(bool explain, uint32_t requested) {
  if (!explain) return 0;
  return requested == 0 ? kDefaultMaxContributions : requested;
}

// Known exclude and candidate ids of a request into `out` (candidates sorted
// and unique), unknown ones counted.
void MapExclusionsAndCandidates(
    const Model& model,
    const google::protobuf::RepeatedPtrField<std::string>& exclude,
    const google::protobuf::RepeatedPtrField<std::string>& candidates,
    PreparedRequest* out) {
  out->unknown += MapIds(model, exclude, &out->exclude);
  out->unknown += MapIds(model, candidates, &out->candidates);
  // Duplicate candidates would otherwise be scored (and returned) twice.
  std::sort(out->candidates.begin(), out->candidates.end());
  out->candidates.erase(
      std::unique(out->candidates.begin(), out->candidates.end()),
      out->candidates.end());
  // An empty candidate span would mean "every item", not what was asked.
  out->no_known_candidate = candidates.size() > 0 && out->candidates.empty();
}

}  // namespace

absl::Status ValidateRecommendRequest(const v1::RecommendRequest& request,
                                      const ServiceLimits& limits) {
  RETURN_IF_ERROR(CheckTopN(request.top_n(), limits));
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
  return CheckMaxContributions(request.max_contributions(), limits);
}

absl::Status ValidateSimilarItemsRequest(const v1::SimilarItemsRequest& request,
                                         const ServiceLimits& limits) {
  RETURN_IF_ERROR(CheckTopN(request.top_n(), limits));
  RETURN_IF_ERROR(CheckListSize("item_ids", request.item_ids_size(),
                                limits.max_history, "max_history"));
  RETURN_IF_ERROR(CheckListSize("exclude_item_ids",
                                request.exclude_item_ids_size(),
                                limits.max_item_list, "max_item_list"));
  RETURN_IF_ERROR(CheckListSize("candidate_item_ids",
                                request.candidate_item_ids_size(),
                                limits.max_item_list, "max_item_list"));
  return CheckMaxContributions(request.max_contributions(), limits);
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
    const std::function<bool()>& should_stop, const ScanSplit& split) const {
  RecommendOptions options;
  options.top_n = top_n;
  options.exclude_history = exclude_history;
  options.exclude = absl::MakeConstSpan(exclude);
  options.candidates = absl::MakeConstSpan(candidates);
  options.should_stop = should_stop;
  options.max_contributions = max_contributions;
  options.scan_shares = split.shares;
  options.runner = split.runner;
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
  MapExclusionsAndCandidates(model, request.exclude_item_ids(),
                             request.candidate_item_ids(), &out);
  out.top_n = request.top_n();
  out.exclude_history =
      request.has_exclude_history() ? request.exclude_history() : true;
  out.max_contributions =
      ResolveMaxContributions(request.explain(), request.max_contributions());
  return out;
}

absl::StatusOr<PreparedRequest> PrepareSimilarItems(
    const Model& model, const v1::SimilarItemsRequest& request,
    const ServiceLimits& limits) {
  RETURN_IF_ERROR(ValidateSimilarItemsRequest(request, limits));
  PreparedRequest out;
  if (request.similarity() == v1::SimilarItemsRequest::COSINE) {
    if (model.kind() != ModelKind::kLowRank) {
      return absl::InvalidArgumentError(absl::StrCat(
          "similarity COSINE needs a low-rank model (cosine with the rows of "
          "V); the served model is ",
          ModelKindName(model.kind()), ": use similarity MODEL"));
    }
    out.similarity = Similarity::kCosine;
  } else if (request.similarity() != v1::SimilarItemsRequest::MODEL) {
    return absl::InvalidArgumentError(
        absl::StrCat("similarity ", static_cast<int>(request.similarity()),
                     " is not one of MODEL (0) and COSINE (1)"));
  }
  std::vector<uint32_t> query;
  out.unknown += MapIds(model, request.item_ids(), &query);
  out.history.reserve(query.size());
  for (uint32_t i : query) out.history.push_back(HistoryEntry{i, 1.0f});
  out.any_weight = !query.empty();
  MapExclusionsAndCandidates(model, request.exclude_item_ids(),
                             request.candidate_item_ids(), &out);
  out.top_n = request.top_n();
  out.exclude_history = true;
  out.max_contributions =
      ResolveMaxContributions(request.explain(), request.max_contributions());
  return out;
}

std::vector<uint32_t> QueryItems(const PreparedRequest& prepared) {
  std::vector<uint32_t> items;
  items.reserve(prepared.history.size());
  for (const HistoryEntry& e : prepared.history) items.push_back(e.index);
  return items;
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
  for (const std::vector<Contribution>& explained : result->contributions) {
    for (const Contribution& c : explained) {
      // Duplicate history ids' weights are added before the product, which
      // may overflow where the score's separate products did not.
      if (!std::isfinite(c.contribution)) {
        return absl::InvalidArgumentError(
            "history_weights are too large: the contributions overflow float");
      }
    }
  }
  response->set_model_fingerprint(model.fingerprint());
  response->set_model_version(model_version);
  response->set_unknown_item_count(prepared.unknown);
  response->set_popularity_fallback(prepared.no_known_candidate
                                        ? !prepared.any_weight
                                        : result->popularity_fallback);
  response->mutable_items()->Reserve(static_cast<int>(result->items.size()));
  const bool explained = result->contributions.size() == result->items.size();
  for (size_t k = 0; k < result->items.size(); ++k) {
    const ScoredItem& item = result->items[k];
    v1::ScoredItem* out = response->add_items();
    const std::string_view id = model.item_id(item.index);
    out->set_item_id(id.data(), id.size());
    out->set_score(item.score);
    if (!explained) continue;
    out->mutable_contributions()->Reserve(
        static_cast<int>(result->contributions[k].size()));
    for (const Contribution& c : result->contributions[k]) {
      v1::Contribution* to = out->add_contributions();
      const std::string_view from = model.item_id(c.index);
      to->set_item_id(from.data(), from.size());
      to->set_contribution(c.contribution);
    }
  }
  return absl::OkStatus();
}

namespace {

uint64_t ScoringWork(const Model& model, uint64_t history, bool explain,
                     uint64_t top_n) {
  const uint64_t items = model.num_items();
  // Explanations: every history item for every returned item.
  const uint64_t explained =
      explain ? std::min<uint64_t>(top_n, items) * history : 0;
  if (model.kind() == ModelKind::kLowRank) {
    return (history + items + explained) * model.rank() + items;
  }
  if (model.kind() == ModelKind::kSparse) {
    // The scan over every item plus the history rows' stored entries, at the
    // model's mean row length.
    const uint64_t mean_row = model.nnz() / std::max<uint64_t>(items, 1);
    return items + history * mean_row + explained;
  }
  return (history + 1) * items + explained;
}

}  // namespace

uint64_t EstimatedScoringWork(const Model& model,
                              const v1::RecommendRequest& request) {
  return ScoringWork(model,
                     static_cast<uint64_t>(request.history_item_ids_size()),
                     request.explain(), request.top_n());
}

uint64_t EstimatedScoringWork(const Model& model,
                              const v1::SimilarItemsRequest& request) {
  return ScoringWork(model, static_cast<uint64_t>(request.item_ids_size()),
                     request.explain(), request.top_n());
}

void FillModelInfo(const Model& model, uint64_t model_version,
                   v1::ModelInfo* info, std::string_view model_name) {
  info->Clear();
  info->set_model_name(model_name.data(), model_name.size());
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
