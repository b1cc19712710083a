// Proto ↔ core translation for edlae.v1.Recommender: request limits and
// validation, id → index mapping, core scoring options, responses, model info.
#ifndef EDLAE_SERVER_REQUEST_TRANSLATION_H_
#define EDLAE_SERVER_REQUEST_TRANSLATION_H_

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/model.h"
#include "core/scorer.h"
#include "edlae/v1/recommender.pb.h"

// Everything here is a pure function of its arguments: no threads, no gRPC,
// no model ownership (a Model is only read, and must outlive the call).
// Thread-safe: concurrent calls share nothing but the read-only Model.
namespace edlae::server {

// Request limits (server flags --max_top_n, --max_history, --max_item_list,
// --max_concurrent_requests).
struct ServiceLimits {
  uint32_t max_top_n = 1000;        // top_n must be in [1, max_top_n]
  uint32_t max_history = 10000;     // most history_item_ids per request
  uint32_t max_item_list = 100000;  // most exclude / candidate ids per request
  // Recommend calls admitted at once (queued for a worker or scoring); one
  // more is refused at once with RESOURCE_EXHAUSTED (load shedding), so the
  // admitted ones keep a latency of about max_concurrent_requests /
  // worker_threads service times. 0: no limit.
  uint32_t max_concurrent_requests = 256;
  // Most requests in one RecommendBatch call.
  uint32_t max_batch_requests = 1024;
  // Largest max_contributions an explained request may ask for (server flag
  // --max_contributions).
  uint32_t max_contributions = 100;
};

// Contributions per returned item when an explained request leaves
// max_contributions at 0.
inline constexpr uint32_t kDefaultMaxContributions = 5;

// Checks everything about `request` that does not depend on the model.
// InvalidArgument: top_n outside [1, max_top_n], a list over its limit,
// history_weights neither empty nor one per history id, a non-finite weight,
// max_contributions over limits.max_contributions.
absl::Status ValidateRecommendRequest(const v1::RecommendRequest& request,
                                      const ServiceLimits& limits);

// The same checks for SimilarItems: top_n, item_ids (at most max_history),
// exclude and candidate lists, max_contributions. The model name and the
// similarity's fit to the model kind are checked by the caller and
// PrepareSimilarItems.
absl::Status ValidateSimilarItemsRequest(const v1::SimilarItemsRequest& request,
                                         const ServiceLimits& limits);

// InvalidArgument when `request` holds more than limits.max_batch_requests
// requests (the entries themselves are validated one by one when scored).
absl::Status ValidateBatchRequest(const v1::RecommendBatchRequest& request,
                                  const ServiceLimits& limits);

// How a call's whole-catalog scan is split over threads the server already
// has (RecommendOptions::scan_shares and runner; the answer is the same for
// every split). The runner is borrowed.
struct ScanSplit {
  int shares = 1;
  ShareRunner* runner = nullptr;
};

// A Recommend request mapped onto one model: indices instead of ids. The
// spans of Options() point into this struct, so it must neither move nor
// change while those options are in use.
struct PreparedRequest {
  // Known history items in request order, duplicates kept (the scorer adds
  // their weights); weight 1 when the request has no history_weights.
  std::vector<HistoryEntry> history;
  std::vector<uint32_t> exclude;     // known exclude ids, in request order
  std::vector<uint32_t> candidates;  // known candidate ids, sorted, unique
  // Ids in history, exclude and candidate lists the model does not know.
  uint32_t unknown = 0;
  // Some known history item has a non-zero weight.
  bool any_weight = false;
  // Candidates were asked for but none is known: the answer is empty (an
  // empty candidate span would mean "every item").
  bool no_known_candidate = false;
  uint32_t top_n = 0;
  bool exclude_history = true;  // the request's, true when unset
  // Contributions per returned item; 0 when the request did not ask
  // (explain false), kDefaultMaxContributions when it asked without a limit.
  uint32_t max_contributions = 0;
  // SimilarItems: how the query (history) is scored.
  Similarity similarity = Similarity::kModel;

  // The core scoring options for this request; `should_stop` is copied in,
  // `split` sets RecommendOptions::scan_shares and runner.
  RecommendOptions Options(const std::function<bool()>& should_stop = nullptr,
                           const ScanSplit& split = {}) const;
};

// Validates `request` (ValidateRecommendRequest's errors), then maps its ids
// onto `model`: unknown ids are skipped and counted, never an error.
absl::StatusOr<PreparedRequest> PrepareRecommend(
    const Model& model, const v1::RecommendRequest& request,
    const ServiceLimits& limits);

// Validates `request` (ValidateSimilarItemsRequest's errors, and
// InvalidArgument for COSINE on a model that is not low-rank), then maps its
// ids onto `model` as PrepareRecommend does: the query items become the
// history (weight 1 each, duplicates kept: SimilarItems counts them once),
// always excluded from the result.
absl::StatusOr<PreparedRequest> PrepareSimilarItems(
    const Model& model, const v1::SimilarItemsRequest& request,
    const ServiceLimits& limits);

// The query item indices of a prepared SimilarItems request.
std::vector<uint32_t> QueryItems(const PreparedRequest& prepared);

// Fills `response` (cleared first) from the scorer's `result` for `prepared`
// on `model`, served as `model_version`. Returns result's error when it has
// one, and InvalidArgument when a score or contribution is not finite (finite
// weights whose products overflow float); `response` is then left empty. The
// result's contributions, when it has them, become each item's contributions.
absl::Status FillRecommendResponse(const Model& model, uint64_t model_version,
                                   const PreparedRequest& prepared,
                                   absl::StatusOr<Recommendation> result,
                                   v1::RecommendResponse* response);

// About how many multiply-adds scoring `request` on `model` takes: history
// rows × items for a dense model, (history + items) × rank for a low-rank one,
// plus one per item for the top-N selection. An upper bound (candidate lists
// are not looked at); cheap to compute.
// Explained requests add top_n × history (× rank for low-rank).
uint64_t EstimatedScoringWork(const Model& model,
                              const v1::RecommendRequest& request);
// The same for a SimilarItems request (its item_ids are the history).
uint64_t EstimatedScoringWork(const Model& model,
                              const v1::SimilarItemsRequest& request);

// Describes `model`, served as `model_version` under `model_name`, in `info`
// (cleared first).
void FillModelInfo(const Model& model, uint64_t model_version,
                   v1::ModelInfo* info, std::string_view model_name = "");

}  // namespace edlae::server

#endif  // EDLAE_SERVER_REQUEST_TRANSLATION_H_
