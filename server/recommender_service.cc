// Recommender RPC handlers: validate, map external ids to model indices, score
// with edlae::Recommend.
#include "server/recommender_service.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/thread_count.h"
#include "core/model.h"
#include "core/scorer.h"
#include "core/status_macros.h"
#include "core/weight_rows.h"
#include "server/grpc_status_util.h"

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

// Checks everything that does not depend on the model.
absl::Status ValidateRequest(const v1::RecommendRequest& request,
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

const char* KindName(ModelKind kind) {
  switch (kind) {
    case ModelKind::kDense:
      return "dense";
    case ModelKind::kLowRank:
      return "low_rank";
  }
  return "unknown";
}

absl::Status NoModelError() {
  return absl::UnavailableError("no model is loaded");
}

}  // namespace

bool BearerTokenMatches(std::string_view header, std::string_view token) {
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() != kScheme.size() + token.size()) return false;
  unsigned diff = 0;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    diff |= static_cast<unsigned char>(absl::ascii_tolower(header[i])) ^
            static_cast<unsigned char>(kScheme[i]);
  }
  // Every byte is compared; no early exit that would time the first mismatch.
  const std::string_view got = header.substr(kScheme.size());
  for (size_t i = 0; i < token.size(); ++i) {
    diff |= static_cast<unsigned char>(got[i]) ^
            static_cast<unsigned char>(token[i]);
  }
  return diff == 0;
}

namespace {

// A Recommend request mapped onto one model: indices instead of ids, and the
// scorer's options pointing into this struct (so it must not move after
// Options() is taken).
struct PreparedRequest {
  std::vector<HistoryEntry> history;
  std::vector<uint32_t> exclude;
  std::vector<uint32_t> candidates;
  uint32_t unknown = 0;
  bool any_weight = false;
  // Candidates were asked for but none is known: the answer is empty.
  bool no_known_candidate = false;
  uint32_t top_n = 0;
  bool exclude_history = true;

  RecommendOptions Options(const std::function<bool()>& should_stop) const {
    RecommendOptions options;
    options.top_n = top_n;
    options.exclude_history = exclude_history;
    options.exclude = absl::MakeConstSpan(exclude);
    options.candidates = absl::MakeConstSpan(candidates);
    options.should_stop = should_stop;
    return options;
  }
};

// Validates `request` (before the model is looked at), then maps its ids.
absl::Status PrepareRecommend(const ServableHandle& handle,
                              const v1::RecommendRequest& request,
                              const ServiceLimits& limits,
                              PreparedRequest* out) {
  RETURN_IF_ERROR(ValidateRequest(request, limits));
  if (!handle) return NoModelError();
  const Model& model = *handle.model;
  out->history.reserve(request.history_item_ids_size());
  const bool weighted = request.history_weights_size() != 0;
  for (int i = 0; i < request.history_item_ids_size(); ++i) {
    std::optional<uint32_t> index = model.FindItem(request.history_item_ids(i));
    if (!index.has_value()) {
      ++out->unknown;
      continue;
    }
    const float weight = weighted ? request.history_weights(i) : 1.0f;
    out->any_weight = out->any_weight || weight != 0.0f;
    out->history.push_back(HistoryEntry{*index, weight});
  }
  out->unknown += MapIds(model, request.exclude_item_ids(), &out->exclude);
  out->unknown += MapIds(model, request.candidate_item_ids(), &out->candidates);
  // Duplicate candidates would otherwise be scored (and returned) twice.
  std::sort(out->candidates.begin(), out->candidates.end());
  out->candidates.erase(
      std::unique(out->candidates.begin(), out->candidates.end()),
      out->candidates.end());
  // An empty candidate span would mean "every item", not what was asked.
  out->no_known_candidate =
      request.candidate_item_ids_size() > 0 && out->candidates.empty();
  out->top_n = request.top_n();
  out->exclude_history =
      request.has_exclude_history() ? request.exclude_history() : true;
  return absl::OkStatus();
}

// Fills `response` from the scorer's answer to `prepared`.
absl::Status CompleteRecommend(const ServableHandle& handle,
                               const PreparedRequest& prepared,
                               absl::StatusOr<Recommendation> result,
                               v1::RecommendResponse* response) {
  const Model& model = *handle.model;
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
  response->set_model_version(handle.version);
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

}  // namespace

absl::Status RecommendWithModel(const ServableHandle& handle,
                                const v1::RecommendRequest& request,
                                const ServiceLimits& limits,
                                v1::RecommendResponse* response,
                                const std::function<bool()>& should_stop) {
  PreparedRequest prepared;
  RETURN_IF_ERROR(PrepareRecommend(handle, request, limits, &prepared));
  if (prepared.no_known_candidate) {
    return CompleteRecommend(handle, prepared, Recommendation{}, response);
  }
  return CompleteRecommend(
      handle, prepared,
      Recommend(*handle.model, prepared.history, prepared.Options(should_stop)),
      response);
}

std::vector<absl::Status> RecommendManyWithModel(
    const ServableHandle& handle,
    absl::Span<const v1::RecommendRequest* const> requests,
    const ServiceLimits& limits, absl::Span<v1::RecommendResponse* const> responses,
    absl::Span<const std::function<bool()>> should_stop, size_t max_batch) {
  std::vector<absl::Status> statuses(requests.size());
  std::vector<PreparedRequest> prepared(requests.size());  // never resized below
  std::vector<ScoringRequest> scoring;
  std::vector<size_t> scored;  // request index of each scoring entry
  for (size_t r = 0; r < requests.size(); ++r) {
    statuses[r] = PrepareRecommend(handle, *requests[r], limits, &prepared[r]);
    if (!statuses[r].ok()) continue;
    if (prepared[r].no_known_candidate) {
      statuses[r] = CompleteRecommend(handle, prepared[r], Recommendation{},
                                      responses[r]);
      continue;
    }
    scoring.push_back({prepared[r].history,
                       prepared[r].Options(r < should_stop.size()
                                               ? should_stop[r]
                                               : std::function<bool()>())});
    scored.push_back(r);
  }
  if (scoring.empty()) return statuses;
  std::vector<absl::StatusOr<Recommendation>> results =
      RecommendMany(*handle.model, scoring, max_batch);
  for (size_t i = 0; i < scored.size(); ++i) {
    const size_t r = scored[i];
    statuses[r] = CompleteRecommend(handle, prepared[r], std::move(results[i]),
                                    responses[r]);
  }
  return statuses;
}

uint64_t EstimatedScoringWork(const Model& model,
                              const v1::RecommendRequest& request) {
  const uint64_t items = model.num_items();
  const uint64_t history =
      static_cast<uint64_t>(request.history_item_ids_size());
  if (model.kind() == ModelKind::kLowRank) {
    return (history + items) * model.rank() + items;
  }
  return (history + 1) * items;
}

absl::Status DescribeModel(const ServableHandle& handle, v1::ModelInfo* info) {
  if (!handle) return NoModelError();
  const Model& model = *handle.model;
  info->Clear();
  info->set_kind(KindName(model.kind()));
  info->set_dtype(DTypeName(model.dtype()));
  info->set_num_items(model.num_items());
  info->set_rank(model.rank());
  info->set_fingerprint(model.fingerprint());
  info->set_format_version(model.format_version());
  info->set_file_size_bytes(model.file_size());
  info->set_model_version(handle.version);
  auto& metadata = *info->mutable_metadata();
  for (const auto& [key, value] : model.metadata()) metadata[key] = value;
  return absl::OkStatus();
}

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// True once `context`'s deadline has passed or the client cancelled the call.
bool ShouldStop(const grpc::CallbackServerContext& context) {
  return context.IsCancelled() ||
         std::chrono::system_clock::now() >= context.deadline();
}

// Ends a call: maps the status, counts it under `method` with the time since
// `start`, and replies.
std::function<void(const absl::Status&)> Finisher(
    grpc::ServerUnaryReactor* reactor, ServerMetrics* metrics, RpcMethod method,
    Clock::time_point start) {
  return [reactor, metrics, method, start](const absl::Status& status) {
    const grpc::Status out = ToGrpcStatus(status);
    metrics->RecordRequest(method, out.error_code(), SecondsSince(start));
    reactor->Finish(out);
  };
}

// Why `context`'s call should stop: its deadline passed, or it was cancelled.
absl::Status StopReason(const grpc::CallbackServerContext& context) {
  if (std::chrono::system_clock::now() >= context.deadline()) {
    return absl::DeadlineExceededError(
        "deadline exceeded before the recommendation was complete");
  }
  return absl::CancelledError("call cancelled by the client");
}

}  // namespace

RecommenderService::RecommenderService(
    std::shared_ptr<const ServableModel> servable, const ServiceLimits& limits)
    : RecommenderService(std::move(servable), [&limits] {
        ServiceOptions options;
        options.limits = limits;
        return options;
      }()) {}

RecommenderService::RecommenderService(
    std::shared_ptr<const ServableModel> servable, ServiceOptions options)
    : servable_(std::move(servable)),
      options_(std::move(options)),
      workers_(ResolveThreadCount(options_.worker_threads)) {
  if (options_.batch_max_size > 1) {
    batcher_ = std::make_unique<MicroBatcher<BatchedCall>>(
        &workers_, options_.batch_max_size, options_.batch_max_wait,
        [this](std::vector<BatchedCall>& calls) { ProcessBatch(calls); });
  }
  if (options_.metrics == nullptr) {
    options_.metrics = std::make_shared<ServerMetrics>();
  }
  if (options_.inline_max_concurrent > 0) {
    inline_limit_ = options_.inline_max_concurrent;
  } else {
    // gRPC 1.51 runs callback handlers on Clamp(cores / 2, 2, 16) threads
    // that also poll (CallbackAlternativeCQ); keep one of them free.
    const int cores = HardwareThreads();
    inline_limit_ = std::clamp(cores / 2, 2, 16) - 1;
  }
}

RecommenderService::~RecommenderService() = default;

absl::Status RecommenderService::Authenticate(
    const grpc::CallbackServerContext& context) const {
  if (options_.auth_token.empty()) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  // The header's value is never logged or echoed: it may be a near-miss of
  // the real token.
  if (it == metadata.end() ||
      !BearerTokenMatches(std::string_view(it->second.data(), it->second.size()),
                          options_.auth_token)) {
    return absl::UnauthenticatedError(
        "missing or wrong bearer token (metadata 'authorization: Bearer "
        "<token>')");
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* RecommenderService::Recommend(
    grpc::CallbackServerContext* context, const v1::RecommendRequest* request,
    v1::RecommendResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const auto finish = Finisher(reactor, options_.metrics.get(),
                               RpcMethod::kRecommend, Clock::now());
  if (absl::Status auth = Authenticate(*context); !auth.ok()) {
    finish(auth);
    return reactor;
  }
  if (absl::Status admitted = Admit(RpcMethod::kRecommend); !admitted.ok()) {
    finish(admitted);
    return reactor;
  }
  const ServableHandle handle = servable_->Get();
  const bool batching = batcher_ != nullptr && handle &&
                        handle.model->kind() == ModelKind::kLowRank;
  if (ReserveInline(handle, *request, batching)) {
    // Small enough to score here: no hand-off to a worker (see
    // ServiceOptions::inline_max_work for the trade-off).
    const absl::Status status =
        ShouldStop(*context) ? StopReason(*context)
                             : ScoreRecommend(handle, *context, *request,
                                              response);
    inline_active_.fetch_sub(1, std::memory_order_relaxed);
    options_.metrics->RecordInline();
    Release();
    finish(status);
    return reactor;
  }
  if (batching) {
    batcher_->Add(BatchedCall{context, request, response, finish});
    return reactor;
  }
  RunAdmitted(context, finish, [this, context, request, response] {
    // The handle keeps this version alive until the response is built.
    return ScoreRecommend(servable_->Get(), *context, *request, response);
  });
  return reactor;
}

bool RecommenderService::ReserveInline(const ServableHandle& handle,
                                       const v1::RecommendRequest& request,
                                       bool batching) {
  if (options_.inline_max_work == 0) return false;
  // No model: the answer (UNAVAILABLE) costs nothing to compute.
  if (handle &&
      EstimatedScoringWork(*handle.model, request) > options_.inline_max_work) {
    return false;
  }
  // Calls waiting for a batch: join them, so they share one pass over V.
  if (batching &&
      (options_.batch_max_wait.count() > 0 || batcher_->HasPending())) {
    return false;
  }
  // A burst of small calls must not occupy every gRPC thread.
  if (inline_active_.fetch_add(1, std::memory_order_relaxed) >=
      inline_limit_) {
    inline_active_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

absl::Status RecommenderService::ScoreRecommend(
    const ServableHandle& handle, const grpc::CallbackServerContext& context,
    const v1::RecommendRequest& request, v1::RecommendResponse* response) {
  auto should_stop = [&context] { return ShouldStop(context); };
  absl::Status status = RecommendWithModel(handle, request, options_.limits,
                                           response, should_stop);
  if (absl::IsCancelled(status)) status = StopReason(context);
  // Scored on its own (dense model, micro-batching off, or inline): a batch
  // of one.
  options_.metrics->RecordBatchSize(1);
  if (status.ok()) {
    options_.metrics->RecordUnknownItems(response->unknown_item_count());
  }
  return status;
}

void RecommenderService::RunAdmitted(
    grpc::CallbackServerContext* context,
    std::function<void(const absl::Status&)> finish,
    std::function<absl::Status()> score) {
  auto run = [this, context, finish, score] {
    // A call that expired while queued is not scored at all.
    const absl::Status status =
        ShouldStop(*context) ? StopReason(*context) : score();
    Release();
    finish(status);
  };
  if (!workers_.Submit(run)) {
    Release();
    finish(absl::UnavailableError("server is shutting down"));
  }
}

absl::Status RecommenderService::Admit(RpcMethod method) {
  // Refuse at once rather than queue without bound.
  const uint32_t limit = options_.limits.max_concurrent_requests;
  const uint32_t before = admitted_.fetch_add(1, std::memory_order_relaxed);
  if (limit != 0 && before >= limit) {
    admitted_.fetch_sub(1, std::memory_order_relaxed);
    options_.metrics->RecordShed(method);
    return absl::ResourceExhaustedError(absl::StrCat(
        "server overloaded: ", limit,
        " requests in flight (--max_concurrent_requests); retry with backoff"));
  }
  options_.metrics->AddInflight(1);
  return absl::OkStatus();
}

void RecommenderService::Release() {
  options_.metrics->AddInflight(-1);
  admitted_.fetch_sub(1, std::memory_order_relaxed);
}

void RecommenderService::ProcessBatch(std::vector<BatchedCall>& calls) {
  // One version for the whole batch, held until every response is built.
  const ServableHandle handle = servable_->Get();
  std::vector<absl::Status> statuses(calls.size());
  std::vector<const v1::RecommendRequest*> requests;
  std::vector<v1::RecommendResponse*> responses;
  std::vector<std::function<bool()>> should_stop;
  std::vector<size_t> live;
  for (size_t i = 0; i < calls.size(); ++i) {
    const grpc::CallbackServerContext* ctx = calls[i].context;
    auto stop = [ctx] { return ShouldStop(*ctx); };
    if (stop()) {
      statuses[i] = StopReason(*ctx);  // expired while queued
      continue;
    }
    live.push_back(i);
    requests.push_back(calls[i].request);
    responses.push_back(calls[i].response);
    should_stop.push_back(stop);
  }
  if (!live.empty()) {
    std::vector<absl::Status> got =
        RecommendManyWithModel(handle, requests, options_.limits, responses,
                               should_stop, options_.batch_max_size);
    for (size_t k = 0; k < live.size(); ++k) {
      const size_t i = live[k];
      statuses[i] = absl::IsCancelled(got[k]) ? StopReason(*calls[i].context)
                                              : got[k];
      if (statuses[i].ok()) {
        options_.metrics->RecordUnknownItems(calls[i].response->unknown_item_count());
      }
    }
    options_.metrics->RecordBatchSize(live.size());
  }
  for (size_t i = 0; i < calls.size(); ++i) {
    Release();
    calls[i].finish(statuses[i]);
  }
}

grpc::ServerUnaryReactor* RecommenderService::RecommendBatch(
    grpc::CallbackServerContext* context,
    const v1::RecommendBatchRequest* request,
    v1::RecommendBatchResponse* response) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  const auto finish = Finisher(reactor, options_.metrics.get(),
                               RpcMethod::kRecommendBatch, Clock::now());
  if (absl::Status auth = Authenticate(*context); !auth.ok()) {
    finish(auth);
    return reactor;
  }
  const uint32_t limit = options_.limits.max_batch_requests;
  if (static_cast<uint32_t>(request->requests_size()) > limit) {
    finish(absl::InvalidArgumentError(absl::StrCat(
        "requests has ", request->requests_size(), " entries; at most ", limit,
        " are allowed (server flag --max_batch_requests)")));
    return reactor;
  }
  if (absl::Status admitted = Admit(RpcMethod::kRecommendBatch); !admitted.ok()) {
    finish(admitted);
    return reactor;
  }
  RunAdmitted(context, finish, [this, context, request, response] {
    const grpc::CallbackServerContext& ctx = *context;
    auto stop = [&ctx] { return ShouldStop(ctx); };
    const ServableHandle handle = servable_->Get();
    const int n = request->requests_size();
    std::vector<const v1::RecommendRequest*> requests(n);
    std::vector<v1::RecommendResponse*> responses(n);
    response->mutable_results()->Reserve(n);
    for (int r = 0; r < n; ++r) {
      requests[r] = &request->requests(r);
      responses[r] = response->add_results()->mutable_response();
    }
    const std::vector<std::function<bool()>> should_stop(n, stop);
    std::vector<absl::Status> got =
        RecommendManyWithModel(handle, requests, options_.limits, responses,
                               should_stop, options_.batch_max_size);
    for (int r = 0; r < n; ++r) {
      // A deadline or cancellation ends the whole call, as for Recommend.
      if (absl::IsCancelled(got[r])) return StopReason(ctx);
    }
    for (int r = 0; r < n; ++r) {
      v1::RecommendBatchResult* result = response->mutable_results(r);
      if (got[r].ok()) {
        options_.metrics->RecordUnknownItems(
            result->response().unknown_item_count());
        continue;
      }
      result->clear_response();
      const grpc::Status entry = ToGrpcStatus(got[r]);
      result->set_code(entry.error_code());
      result->set_message(entry.error_message());
    }
    if (n > 0) options_.metrics->RecordBatchSize(n);
    return absl::OkStatus();
  });
  return reactor;
}

grpc::ServerUnaryReactor* RecommenderService::GetModelInfo(
    grpc::CallbackServerContext* context,
    const v1::GetModelInfoRequest* /*request*/, v1::ModelInfo* response) {
  const Clock::time_point start = Clock::now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  absl::Status status = Authenticate(*context);
  if (status.ok()) status = DescribeModel(servable_->Get(), response);
  const grpc::Status out = ToGrpcStatus(status);
  options_.metrics->RecordRequest(RpcMethod::kGetModelInfo, out.error_code(),
                                  SecondsSince(start));
  reactor->Finish(out);
  return reactor;
}

}  // namespace edlae::server
