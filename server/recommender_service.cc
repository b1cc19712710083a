// Recommender RPC machinery (raw methods): metadata limit, authentication,
// request parsing, admission and load shedding, inline scoring, hand-off to
// workers, micro-batching, deadlines, metrics.
#include "server/recommender_service.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/seconds_since.h"
#include "common/thread_count.h"
#include "core/model.h"
#include "core/scorer.h"
#include "core/status_macros.h"
#include "server/grpc_status_util.h"
#include "server/request_parsing.h"
#include "server/request_translation.h"

namespace edlae::server {
namespace {

absl::Status NoModelError() {
  return absl::UnavailableError("no model is loaded");
}

// The answer to `request` while no model is loaded: its validation error
// (validation comes before the model is looked at), else Unavailable.
absl::Status StatusWithoutModel(const v1::RecommendRequest& request,
                                const ServiceLimits& limits) {
  RETURN_IF_ERROR(ValidateRecommendRequest(request, limits));
  return NoModelError();
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

absl::Status RecommendWithModel(const ServableHandle& handle,
                                const v1::RecommendRequest& request,
                                const ServiceLimits& limits,
                                v1::RecommendResponse* response,
                                const std::function<bool()>& should_stop,
                                const ScanSplit& split) {
  if (!handle) return StatusWithoutModel(request, limits);
  const Model& model = *handle.model;
  ASSIGN_OR_RETURN(const PreparedRequest prepared,
                   PrepareRecommend(model, request, limits));
  if (prepared.no_known_candidate) {
    return FillRecommendResponse(model, handle.version, prepared,
                                 Recommendation{}, response);
  }
  return FillRecommendResponse(
      model, handle.version, prepared,
      Recommend(model, prepared.history, prepared.Options(should_stop, split)),
      response);
}

absl::Status SimilarItemsWithModel(const ServableHandle& handle,
                                   const v1::SimilarItemsRequest& request,
                                   const ServiceLimits& limits,
                                   std::string_view model_name,
                                   v1::RecommendResponse* response,
                                   const std::function<bool()>& should_stop,
                                   const ScanSplit& split) {
  RETURN_IF_ERROR(ValidateSimilarItemsRequest(request, limits));
  if (!request.model_name().empty() && request.model_name() != model_name) {
    return absl::NotFoundError(absl::StrCat("model '", request.model_name(),
                                            "' is not served; available: '",
                                            std::string(model_name), "'"));
  }
  if (!handle) return NoModelError();
  const Model& model = *handle.model;
  ASSIGN_OR_RETURN(const PreparedRequest prepared,
                   PrepareSimilarItems(model, request, limits));
  if (prepared.no_known_candidate) {
    return FillRecommendResponse(model, handle.version, prepared,
                                 Recommendation{}, response);
  }
  return FillRecommendResponse(
      model, handle.version, prepared,
      SimilarItems(model, QueryItems(prepared), prepared.similarity,
                   prepared.Options(should_stop, split)),
      response);
}

std::vector<absl::Status> RecommendManyWithModel(
    const ServableHandle& handle,
    absl::Span<const v1::RecommendRequest* const> requests,
    const ServiceLimits& limits,
    absl::Span<v1::RecommendResponse* const> responses,
    absl::Span<const std::function<bool()>> should_stop, size_t max_batch) {
  std::vector<absl::Status> statuses(requests.size());
  if (!handle) {
    for (size_t r = 0; r < requests.size(); ++r) {
      statuses[r] = StatusWithoutModel(*requests[r], limits);
    }
    return statuses;
  }
  const Model& model = *handle.model;
  // Never resized below: the scoring options point into its entries.
  std::vector<PreparedRequest> prepared(requests.size());
  std::vector<ScoringRequest> scoring;
  std::vector<size_t> scored;  // request index of each scoring entry
  for (size_t r = 0; r < requests.size(); ++r) {
    absl::StatusOr<PreparedRequest> got =
        PrepareRecommend(model, *requests[r], limits);
    if (!got.ok()) {
      statuses[r] = got.status();
      continue;
    }
    prepared[r] = *std::move(got);
    if (prepared[r].no_known_candidate) {
      statuses[r] = FillRecommendResponse(model, handle.version, prepared[r],
                                          Recommendation{}, responses[r]);
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
      RecommendMany(model, scoring, max_batch);
  for (size_t i = 0; i < scored.size(); ++i) {
    const size_t r = scored[i];
    statuses[r] = FillRecommendResponse(model, handle.version, prepared[r],
                                        std::move(results[i]), responses[r]);
  }
  return statuses;
}

absl::Status DescribeModel(const ServableHandle& handle, v1::ModelInfo* info,
                           std::string_view model_name) {
  if (!handle) return NoModelError();
  FillModelInfo(*handle.model, handle.version, info, model_name);
  return absl::OkStatus();
}

namespace {

using Clock = std::chrono::steady_clock;

// True once `context`'s deadline has passed or the client cancelled the call.
bool ShouldStop(const grpc::CallbackServerContext& context) {
  return context.IsCancelled() ||
         std::chrono::system_clock::now() >= context.deadline();
}

// A raw call's request and response messages, owned by the call until it
// is finished.
template <typename Request, typename Response>
struct CallMessages {
  Request request;
  Response response;
  // The model the call is counted under, once resolved (null: model="").
  ModelMetrics* metrics = nullptr;
};

// `resolved`'s error for `request`, after the request's own validation error
// (validation comes before the model is looked at).
absl::Status ResolutionError(const absl::Status& validation,
                             const absl::Status& resolution) {
  return validation.ok() ? resolution : validation;
}

// `status`, or INTERNAL when it is OK but `response` cannot be serialized
// into `out`.
grpc::Status SerializeOnSuccess(const absl::Status& status,
                                const google::protobuf::MessageLite& response,
                                grpc::ByteBuffer* out) {
  grpc::Status result = ToGrpcStatus(status);
  if (!result.ok()) return result;
  bool own_buffer = false;
  if (!grpc::GenericSerialize<grpc::ProtoBufferWriter,
                              google::protobuf::MessageLite>(response, out,
                                                             &own_buffer)
           .ok()) {
    return grpc::Status(grpc::StatusCode::INTERNAL,
                        "cannot serialize the response");
  }
  return result;
}

// Ends a call: maps the status, writes `response` into `out` when it is OK,
// counts the call under `method` and the model `*model` (read at the end)
// with the time since `start`, and replies. `call` (which owns `response`
// and `*model`) lives as long as the returned function.
std::function<void(const absl::Status&)> Finisher(
    grpc::ServerUnaryReactor* reactor, ServerMetrics* metrics, RpcMethod method,
    Clock::time_point start, std::shared_ptr<const void> call,
    ModelMetrics* const* model, const google::protobuf::MessageLite* response,
    grpc::ByteBuffer* out) {
  return [reactor, metrics, method, start, call = std::move(call), model,
          response, out](const absl::Status& status) {
    const grpc::Status reply = SerializeOnSuccess(status, *response, out);
    metrics->RecordRequest(method, reply.error_code(), SecondsSince(start),
                           *model);
    reactor->Finish(reply);
  };
}

// A registry serving `servable` alone, as `name`, the default model.
std::shared_ptr<const ModelRegistry> OneModelRegistry(
    std::shared_ptr<const ServableModel> servable, const std::string& name,
    ServerMetrics* metrics) {
  auto registry = std::make_shared<ModelRegistry>();
  RegisteredModel model;
  model.name = name;
  model.servable = std::move(servable);
  model.metrics = metrics == nullptr ? nullptr : &metrics->ForModel(name);
  std::vector<RegisteredModel> models;
  models.push_back(std::move(model));
  registry->Set(std::move(models), name);
  return registry;
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
    : RecommenderService(std::shared_ptr<const ModelRegistry>(),
                         std::move(options)) {
  // options_.metrics is set by now.
  registry_ = OneModelRegistry(std::move(servable), options_.model_name,
                               options_.metrics.get());
}

RecommenderService::RecommenderService(
    std::shared_ptr<const ModelRegistry> registry, ServiceOptions options)
    : registry_(std::move(registry)),
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

absl::Status RecommenderService::AcceptCall(
    const grpc::CallbackServerContext& context) const {
  if (options_.max_metadata_bytes > 0) {
    size_t bytes = 0;
    for (const auto& [key, value] : context.client_metadata()) {
      bytes += key.size() + value.size() + 32;  // HPACK's entry size
    }
    if (bytes > options_.max_metadata_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "request metadata is ", bytes, " bytes, over this server's limit of ",
          options_.max_metadata_bytes, " bytes (--max_metadata_bytes)"));
    }
  }
  return Authenticate(context);
}

absl::Status RecommenderService::Authenticate(
    const grpc::CallbackServerContext& context) const {
  if (options_.auth_token.empty()) return absl::OkStatus();
  const auto& metadata = context.client_metadata();
  const auto it = metadata.find("authorization");
  // The header's value is never logged or echoed: it may be a near-miss of
  // the real token.
  if (it == metadata.end() ||
      !BearerTokenMatches(
          std::string_view(it->second.data(), it->second.size()),
          options_.auth_token)) {
    return absl::UnauthenticatedError(
        "missing or wrong bearer token (metadata 'authorization: Bearer "
        "<token>')");
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* RecommenderService::Recommend(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = std::make_shared<
      CallMessages<v1::RecommendRequest, v1::RecommendResponse>>();
  const v1::RecommendRequest* request = &call->request;
  v1::RecommendResponse* response = &call->response;
  const auto finish =
      Finisher(reactor, options_.metrics.get(), RpcMethod::kRecommend,
               Clock::now(), call, &call->metrics, response, response_bytes);
  if (absl::Status auth = AcceptCall(*context); !auth.ok()) {
    finish(auth);
    return reactor;
  }
  if (absl::Status parsed = ParseRequest(*request_bytes, &call->request);
      !parsed.ok()) {
    finish(parsed);
    return reactor;
  }
  absl::StatusOr<ResolvedModel> resolved = registry_->ResolveRequest(*request);
  if (!resolved.ok()) {
    finish(ResolutionError(ValidateRecommendRequest(*request, options_.limits),
                           resolved.status()));
    return reactor;
  }
  call->metrics = resolved->model->metrics;
  if (absl::Status admitted = Admit(RpcMethod::kRecommend); !admitted.ok()) {
    finish(admitted);
    return reactor;
  }
  // The call keeps this version until its response is built.
  const ServableHandle handle = std::move(resolved->handle);
  const bool batching = batcher_ != nullptr && handle &&
                        handle.model->kind() == ModelKind::kLowRank;
  const uint64_t work =
      handle ? EstimatedScoringWork(*handle.model, *request) : 0;
  if (ReserveInline(handle, work, batching)) {
    // Small enough to score here: no hand-off to a worker (see
    // ServiceOptions::inline_max_work for the trade-off).
    const absl::Status status =
        ShouldStop(*context)
            ? StopReason(*context)
            : ScoreRecommend(handle, work, *context, *request, response);
    inline_active_.fetch_sub(1, std::memory_order_relaxed);
    options_.metrics->RecordInline();
    Release();
    finish(status);
    return reactor;
  }
  if (batching) {
    batcher_->Add(BatchedCall{handle, context, request, response, finish});
    return reactor;
  }
  RunAdmitted(
      context, finish, [this, handle, work, context, request, response] {
        return ScoreRecommend(handle, work, *context, *request, response);
      });
  return reactor;
}

bool RecommenderService::ReserveInline(const ServableHandle& handle,
                                       uint64_t work, bool batching) {
  if (options_.inline_max_work == 0) return false;
  // No model: the answer (UNAVAILABLE) costs nothing to compute.
  if (handle && work > options_.inline_max_work) return false;
  // Calls waiting for a batch: join them, so they share one pass over V.
  if (batching &&
      (options_.batch_max_wait.count() > 0 || batcher_->HasPending())) {
    return false;
  }
  // A burst of small calls must not occupy every gRPC thread.
  if (inline_active_.fetch_add(1, std::memory_order_relaxed) >= inline_limit_) {
    inline_active_.fetch_sub(1, std::memory_order_relaxed);
    return false;
  }
  return true;
}

absl::Status RecommenderService::ScoreRecommend(
    const ServableHandle& handle, uint64_t work,
    const grpc::CallbackServerContext& context,
    const v1::RecommendRequest& request, v1::RecommendResponse* response) {
  auto should_stop = [&context] { return ShouldStop(context); };
  absl::Status status = RecommendWithModel(
      handle, request, options_.limits, response, should_stop,
      SplitFor(work, request.candidate_item_ids().empty()));
  if (absl::IsCancelled(status)) status = StopReason(context);
  // Scored on its own (dense model, micro-batching off, or inline): a batch
  // of one.
  options_.metrics->RecordBatchSize(1);
  if (status.ok()) {
    options_.metrics->RecordUnknownItems(response->unknown_item_count());
  }
  return status;
}

ScanSplit RecommenderService::SplitFor(uint64_t work, bool whole_catalog) {
  if (!whole_catalog || options_.split_min_work == 0 ||
      work < options_.split_min_work) {
    return {};
  }
  // Calls in flight, this one included: each holds a worker or a gRPC thread.
  const uint32_t busy = admitted_.load(std::memory_order_relaxed);
  const uint32_t workers = static_cast<uint32_t>(workers_.num_threads());
  if (busy >= workers) return {};
  // Two shares per thread, claimed in turn: a helper that wakes late takes
  // fewer, and the call never waits for one that has not started. (One, two
  // and four per thread measured alike on a 41k-item dense model.)
  ScanSplit split;
  split.shares = static_cast<int>(2 * (1 + workers - busy));
  split.runner = &workers_;
  options_.metrics->RecordSplitScan();
  return split;
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
  std::vector<absl::Status> statuses(calls.size());
  // Calls on the same model version share passes over it; each keeps the
  // version it resolved to until its response is built.
  std::vector<bool> grouped(calls.size(), false);
  for (size_t first = 0; first < calls.size(); ++first) {
    if (grouped[first]) continue;
    const ServableHandle& handle = calls[first].handle;
    std::vector<const v1::RecommendRequest*> requests;
    std::vector<v1::RecommendResponse*> responses;
    std::vector<std::function<bool()>> should_stop;
    std::vector<size_t> live;
    for (size_t i = first; i < calls.size(); ++i) {
      if (grouped[i] || calls[i].handle.model != handle.model) continue;
      grouped[i] = true;
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
    if (live.empty()) continue;
    std::vector<absl::Status> got =
        RecommendManyWithModel(handle, requests, options_.limits, responses,
                               should_stop, options_.batch_max_size);
    for (size_t k = 0; k < live.size(); ++k) {
      const size_t i = live[k];
      statuses[i] =
          absl::IsCancelled(got[k]) ? StopReason(*calls[i].context) : got[k];
      if (statuses[i].ok()) {
        options_.metrics->RecordUnknownItems(
            calls[i].response->unknown_item_count());
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
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = std::make_shared<
      CallMessages<v1::RecommendBatchRequest, v1::RecommendBatchResponse>>();
  const v1::RecommendBatchRequest* request = &call->request;
  v1::RecommendBatchResponse* response = &call->response;
  const auto finish =
      Finisher(reactor, options_.metrics.get(), RpcMethod::kRecommendBatch,
               Clock::now(), call, &call->metrics, response, response_bytes);
  if (absl::Status auth = AcceptCall(*context); !auth.ok()) {
    finish(auth);
    return reactor;
  }
  if (absl::Status parsed = ParseRequest(*request_bytes, &call->request);
      !parsed.ok()) {
    finish(parsed);
    return reactor;
  }
  if (absl::Status size = ValidateBatchRequest(*request, options_.limits);
      !size.ok()) {
    finish(size);
    return reactor;
  }
  if (absl::Status admitted = Admit(RpcMethod::kRecommendBatch);
      !admitted.ok()) {
    finish(admitted);
    return reactor;
  }
  ModelMetrics** label = &call->metrics;
  RunAdmitted(context, finish, [this, context, request, response, label] {
    const grpc::CallbackServerContext& ctx = *context;
    auto stop = [&ctx] { return ShouldStop(ctx); };
    const int n = request->requests_size();
    std::vector<v1::RecommendResponse*> responses(n);
    response->mutable_results()->Reserve(n);
    for (int r = 0; r < n; ++r) {
      responses[r] = response->add_results()->mutable_response();
    }
    // Each entry names its model; entries on the same version are scored
    // together, each version held until its responses are built.
    std::vector<absl::Status> got(n);
    std::vector<ResolvedModel> resolved(n);
    std::vector<bool> pending(n, false);
    std::string one_model;  // the model every entry names, if they agree
    bool agree = true;
    for (int r = 0; r < n; ++r) {
      absl::StatusOr<ResolvedModel> m =
          registry_->ResolveRequest(request->requests(r));
      if (!m.ok()) {
        got[r] = ResolutionError(
            ValidateRecommendRequest(request->requests(r), options_.limits),
            m.status());
        agree = false;
        continue;
      }
      if (r == 0 || one_model == m->model->name) {
        one_model = m->model->name;
        if (r == 0) *label = m->model->metrics;
      } else {
        agree = false;
      }
      resolved[r] = *std::move(m);
      pending[r] = true;
    }
    if (!agree) *label = nullptr;
    for (int first = 0; first < n; ++first) {
      if (!pending[first]) continue;
      const ServableHandle& handle = resolved[first].handle;
      std::vector<int> group;
      std::vector<const v1::RecommendRequest*> requests;
      std::vector<v1::RecommendResponse*> group_responses;
      for (int r = first; r < n; ++r) {
        if (!pending[r] || resolved[r].handle.model != handle.model) continue;
        pending[r] = false;
        group.push_back(r);
        requests.push_back(&request->requests(r));
        group_responses.push_back(responses[r]);
      }
      const std::vector<std::function<bool()>> should_stop(group.size(), stop);
      std::vector<absl::Status> statuses = RecommendManyWithModel(
          handle, requests, options_.limits, group_responses, should_stop,
          options_.batch_max_size);
      for (size_t k = 0; k < group.size(); ++k) got[group[k]] = statuses[k];
    }
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

grpc::ServerUnaryReactor* RecommenderService::SimilarItems(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  auto call = std::make_shared<
      CallMessages<v1::SimilarItemsRequest, v1::RecommendResponse>>();
  const v1::SimilarItemsRequest* request = &call->request;
  v1::RecommendResponse* response = &call->response;
  const auto finish =
      Finisher(reactor, options_.metrics.get(), RpcMethod::kSimilarItems,
               Clock::now(), call, &call->metrics, response, response_bytes);
  if (absl::Status auth = AcceptCall(*context); !auth.ok()) {
    finish(auth);
    return reactor;
  }
  if (absl::Status parsed = ParseRequest(*request_bytes, &call->request);
      !parsed.ok()) {
    finish(parsed);
    return reactor;
  }
  absl::StatusOr<ResolvedModel> resolved = registry_->ResolveRequest(*request);
  if (!resolved.ok()) {
    finish(ResolutionError(
        ValidateSimilarItemsRequest(*request, options_.limits),
        resolved.status()));
    return reactor;
  }
  call->metrics = resolved->model->metrics;
  const std::string model_name = resolved->model->name;
  if (absl::Status admitted = Admit(RpcMethod::kSimilarItems); !admitted.ok()) {
    finish(admitted);
    return reactor;
  }
  // Scores one admitted call on `handle`, as ScoreRecommend does.
  auto score = [this, context, request, response, model_name](
                   const ServableHandle& handle, uint64_t work) {
    const grpc::CallbackServerContext& ctx = *context;
    auto should_stop = [&ctx] { return ShouldStop(ctx); };
    absl::Status status = SimilarItemsWithModel(
        handle, *request, options_.limits, model_name, response, should_stop,
        SplitFor(work, request->candidate_item_ids().empty()));
    if (absl::IsCancelled(status)) status = StopReason(ctx);
    options_.metrics->RecordBatchSize(1);
    if (status.ok()) {
      options_.metrics->RecordUnknownItems(response->unknown_item_count());
    }
    return status;
  };
  const ServableHandle handle = std::move(resolved->handle);
  const uint64_t work =
      handle ? EstimatedScoringWork(*handle.model, *request) : 0;
  if (ReserveInline(handle, work, /*batching=*/false)) {
    const absl::Status status =
        ShouldStop(*context) ? StopReason(*context) : score(handle, work);
    inline_active_.fetch_sub(1, std::memory_order_relaxed);
    options_.metrics->RecordInline();
    Release();
    finish(status);
    return reactor;
  }
  RunAdmitted(context, finish,
              [score, handle, work] { return score(handle, work); });
  return reactor;
}

grpc::ServerUnaryReactor* RecommenderService::GetModelInfo(
    grpc::CallbackServerContext* context, const grpc::ByteBuffer* request_bytes,
    grpc::ByteBuffer* response_bytes) {
  const Clock::time_point start = Clock::now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  v1::GetModelInfoRequest request;
  v1::ModelInfo info;
  ModelMetrics* model_metrics = nullptr;
  absl::Status status = AcceptCall(*context);
  if (status.ok()) status = ParseRequest(*request_bytes, &request);
  if (status.ok()) {
    absl::StatusOr<ResolvedModel> resolved = registry_->ResolveRequest(request);
    if (resolved.ok()) {
      const RegisteredModel& model = *resolved->model;
      model_metrics = model.metrics;
      status = DescribeModel(resolved->handle, &info, model.name);
      for (uint64_t v : model.servable->Versions()) {
        info.add_served_versions(v);
      }
      for (const auto& [label, version] : model.version_labels) {
        (*info.mutable_version_labels())[label] = version;
      }
    } else {
      status = resolved.status();
    }
  }
  const grpc::Status out = SerializeOnSuccess(status, info, response_bytes);
  options_.metrics->RecordRequest(RpcMethod::kGetModelInfo, out.error_code(),
                                  SecondsSince(start), model_metrics);
  reactor->Finish(out);
  return reactor;
}

}  // namespace edlae::server
