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
#include "core/model.h"
#include "core/scorer.h"
#include "core/status_macros.h"
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

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat16:
      return "float16";
    case DType::kBFloat16:
      return "bfloat16";
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

absl::Status RecommendWithModel(const ServableHandle& handle,
                                const v1::RecommendRequest& request,
                                const ServiceLimits& limits,
                                v1::RecommendResponse* response,
                                const std::function<bool()>& should_stop) {
  RETURN_IF_ERROR(ValidateRequest(request, limits));
  if (!handle) return NoModelError();
  const Model& model = *handle.model;

  uint32_t unknown = 0;
  std::vector<HistoryEntry> history;
  history.reserve(request.history_item_ids_size());
  const bool weighted = request.history_weights_size() != 0;
  bool any_weight = false;
  for (int i = 0; i < request.history_item_ids_size(); ++i) {
    std::optional<uint32_t> index = model.FindItem(request.history_item_ids(i));
    if (!index.has_value()) {
      ++unknown;
      continue;
    }
    const float weight = weighted ? request.history_weights(i) : 1.0f;
    any_weight = any_weight || weight != 0.0f;
    history.push_back(HistoryEntry{*index, weight});
  }

  std::vector<uint32_t> exclude;
  unknown += MapIds(model, request.exclude_item_ids(), &exclude);

  std::vector<uint32_t> candidates;
  unknown += MapIds(model, request.candidate_item_ids(), &candidates);
  // Duplicate candidates would otherwise be scored (and returned) twice.
  std::sort(candidates.begin(), candidates.end());
  candidates.erase(std::unique(candidates.begin(), candidates.end()),
                   candidates.end());

  response->Clear();
  response->set_model_fingerprint(model.fingerprint());
  response->set_model_version(handle.version);
  response->set_unknown_item_count(unknown);

  if (request.candidate_item_ids_size() > 0 && candidates.empty()) {
    // Candidates were asked for but none is known: an empty candidate span
    // would mean "every item", which is not what the client asked.
    response->set_popularity_fallback(!any_weight);
    return absl::OkStatus();
  }

  RecommendOptions options;
  options.top_n = request.top_n();
  options.exclude_history =
      request.has_exclude_history() ? request.exclude_history() : true;
  options.exclude = absl::MakeConstSpan(exclude);
  options.candidates = absl::MakeConstSpan(candidates);
  options.should_stop = should_stop;
  ASSIGN_OR_RETURN(Recommendation result,
                   Recommend(model, absl::MakeConstSpan(history), options));

  for (const ScoredItem& item : result.items) {
    // Finite weights can still overflow float when multiplied and summed
    // (found by fuzz/recommend_fuzzer); never answer with inf scores.
    if (!std::isfinite(item.score)) {
      response->Clear();
      return absl::InvalidArgumentError(
          "history_weights are too large: the scores overflow float");
    }
  }
  response->set_popularity_fallback(result.popularity_fallback);
  response->mutable_items()->Reserve(static_cast<int>(result.items.size()));
  for (const ScoredItem& item : result.items) {
    v1::ScoredItem* out = response->add_items();
    const std::string_view id = model.item_id(item.index);
    out->set_item_id(id.data(), id.size());
    out->set_score(item.score);
  }
  return absl::OkStatus();
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
      workers_(options_.worker_threads > 0
                   ? options_.worker_threads
                   : static_cast<int>(std::thread::hardware_concurrency())) {
  if (options_.metrics == nullptr) {
    options_.metrics = std::make_shared<ServerMetrics>();
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
  const Clock::time_point start = Clock::now();
  grpc::ServerUnaryReactor* reactor = context->DefaultReactor();
  ServerMetrics& metrics = *options_.metrics;
  auto finish = [reactor, &metrics, start](const absl::Status& status) {
    const grpc::Status out = ToGrpcStatus(status);
    metrics.RecordRequest(RpcMethod::kRecommend, out.error_code(),
                          SecondsSince(start));
    reactor->Finish(out);
  };
  if (absl::Status auth = Authenticate(*context); !auth.ok()) {
    finish(auth);
    return reactor;
  }
  // Admission: refuse at once rather than queue without bound.
  const uint32_t limit = options_.limits.max_concurrent_requests;
  const uint32_t before = admitted_.fetch_add(1, std::memory_order_relaxed);
  if (limit != 0 && before >= limit) {
    admitted_.fetch_sub(1, std::memory_order_relaxed);
    metrics.RecordShed(RpcMethod::kRecommend);
    finish(absl::ResourceExhaustedError(absl::StrCat(
        "server overloaded: ", limit,
        " requests in flight (--max_concurrent_requests); retry with backoff")));
    return reactor;
  }
  metrics.AddInflight(1);
  auto run = [this, context, request, response, finish] {
    const grpc::CallbackServerContext& ctx = *context;
    auto should_stop = [&ctx] {
      return ctx.IsCancelled() ||
             std::chrono::system_clock::now() >= ctx.deadline();
    };
    absl::Status status;
    if (should_stop()) {
      status = StopReason(ctx);  // expired while queued: do not score at all
    } else {
      // The handle keeps this version alive until the response is built.
      const ServableHandle handle = servable_->Get();
      status = RecommendWithModel(handle, *request, options_.limits, response,
                                  should_stop);
      if (absl::IsCancelled(status)) status = StopReason(ctx);
      // Each call is scored on its own for now: a batch of one.
      options_.metrics->RecordBatchSize(1);
      if (status.ok()) {
        options_.metrics->RecordUnknownItems(response->unknown_item_count());
      }
    }
    options_.metrics->AddInflight(-1);
    admitted_.fetch_sub(1, std::memory_order_relaxed);
    finish(status);
  };
  if (!workers_.Submit(run)) {
    options_.metrics->AddInflight(-1);
    admitted_.fetch_sub(1, std::memory_order_relaxed);
    finish(absl::UnavailableError("server is shutting down"));
  }
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
