// edlae.v1.Recommender over gRPC's callback API (auth, model resolution,
// admission, inline scoring, workers, micro-batching, deadlines, metrics) and
// its scoring entry points over one model version.
#ifndef EDLAE_SERVER_RECOMMENDER_SERVICE_H_
#define EDLAE_SERVER_RECOMMENDER_SERVICE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "edlae/v1/recommender.grpc.pb.h"
#include "edlae/v1/recommender.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/metrics.h"
#include "server/micro_batcher.h"
#include "server/model_registry.h"
#include "server/request_translation.h"
#include "server/servable_model.h"
#include "server/worker_pool.h"

namespace edlae::server {

// Everything the service is configured with besides the model.
struct ServiceOptions {
  ServiceLimits limits;
  // Threads that score Recommend calls (0: one per core).
  int worker_threads = 0;
  // When non-empty, every Recommender call requires the metadata
  // "authorization: Bearer <auth_token>" (compared in constant time) and
  // answer UNAUTHENTICATED otherwise. The health service is not affected.
  std::string auth_token;
  // Largest request metadata a Recommender call may carry, in bytes, counted
  // as HPACK does (name + value + 32 per entry, over the metadata the
  // application sees); a call over it gets RESOURCE_EXHAUSTED, and only that
  // call (other calls on its connection are unaffected; the transport's own
  // limit, ServerOptions::max_header_list_bytes, must stay above this one).
  // 0: no limit beyond the transport's.
  size_t max_metadata_bytes = 8 * 1024;
  // Where calls are counted; null: a private ServerMetrics.
  std::shared_ptr<ServerMetrics> metrics;
  // Micro-batching of concurrent Recommend calls on a low-rank model: up to
  // batch_max_size calls share one pass over V; a free worker waits up to
  // batch_max_wait for more. Answers are identical to unbatched scoring.
  // batch_max_size <= 1 disables it.
  size_t batch_max_size = 64;
  std::chrono::microseconds batch_max_wait{0};
  // Inline scoring: a Recommend call whose EstimatedScoringWork is at most
  // inline_max_work is scored on the gRPC callback thread that received it
  // instead of being handed to a worker, saving the queue, the worker's
  // wake-up and a context switch (tens of µs; the default is about that much
  // scoring time on one core). At most inline_max_concurrent calls are scored
  // inline at once; more go to the workers. On a low-rank model with
  // micro-batching, a call is scored inline only when no call waits for a
  // batch and batch_max_wait is 0 (it would be a batch of one): calls that
  // queue behind busy workers still share passes over V, and a model whose
  // pass over V exceeds the threshold is always batched. Answers are
  // identical either way. (A small low-rank model under load is then mostly
  // scored inline: its V is cache-resident, so batching saves little there.)
  // Trade-off: gRPC's callback threads are a small shared pool that also
  // polls and reads and writes every connection (gRPC 1.51 on Linux: between
  // 2 and 16 "nexting" threads, half the cores), so while one scores, other
  // calls' I/O and handlers may wait that long. The threshold keeps that wait
  // about as short as the hand-off it saves, long calls never run there, and
  // the concurrency bound leaves threads to poll. 0 disables inline scoring.
  uint64_t inline_max_work = 200000;
  // Most calls scored inline at once. 0: one less than gRPC's callback
  // threads (cores / 2, clamped to [2, 16]), so at least one keeps polling.
  int inline_max_concurrent = 0;
  // Idle-core splitting: a Recommend or SimilarItems call scored on its own
  // (not micro-batched) whose EstimatedScoringWork is at least
  // split_min_work, arriving while fewer calls are in flight than there are
  // workers, scans the catalog in shares that the idle workers help with
  // (WorkerPool::Run), so a lone large call (a dense model of 10⁴–10⁵ items)
  // is not bound to one core's memory bandwidth. The answer is the same
  // (core ScanTopN merges the shares exactly). Under load no worker is idle
  // and nothing changes. 0 disables it.
  uint64_t split_min_work = 1000000;
  // With the one-ServableModel constructor: the model's name (requests may
  // leave model_name empty or name it; anything else is NOT_FOUND), reported
  // in ModelInfo.model_name. Ignored with a ModelRegistry.
  std::string model_name = kDefaultModelName;
};

// True when `header` is exactly "Bearer <token>" (scheme case-insensitive).
// The time taken depends only on the lengths, never on where the bytes differ.
bool BearerTokenMatches(std::string_view header, std::string_view token);

// Answers one Recommend request against `handle`'s model, filling `response`
// (PrepareRecommend, core Recommend, FillRecommendResponse).
// Validation happens before the model is looked at:
//   InvalidArgument: top_n outside [1, max_top_n], a list over its limit,
//     history_weights neither empty nor one per history id, a non-finite
//     weight, weights so large that a returned score overflows float.
//   Unavailable: `handle` holds no model.
// Unknown ids in every list are skipped and counted in unknown_item_count.
// Duplicate history ids add their weights. When candidate_item_ids is
// non-empty but none is known, the result is empty (never the whole catalog).
//   Cancelled: `should_stop` (when set; checked once per block of items
//     scored) returned true.
// Thread-safe; `response` is written only by this call.
// `split`: how the whole-catalog scan is split (the answer does not depend on
// it; should_stop must then be thread-safe).
absl::Status RecommendWithModel(
    const ServableHandle& handle, const v1::RecommendRequest& request,
    const ServiceLimits& limits, v1::RecommendResponse* response,
    const std::function<bool()>& should_stop = nullptr,
    const ScanSplit& split = {});

// RecommendWithModel for several requests at once, with the same answers
// (bit-identical scores) and the same per-request errors: requests that can
// share a pass over a low-rank model's V are scored together, up to
// `max_batch` at a time (core RecommendMany). should_stop[r], when present,
// is checked before request r is scored. Returns one status per request;
// responses[r] is filled when statuses[r] is OK.
std::vector<absl::Status> RecommendManyWithModel(
    const ServableHandle& handle,
    absl::Span<const v1::RecommendRequest* const> requests,
    const ServiceLimits& limits,
    absl::Span<v1::RecommendResponse* const> responses,
    absl::Span<const std::function<bool()>> should_stop, size_t max_batch);

// Answers one SimilarItems request against `handle`'s model, served as
// `model_name` (PrepareSimilarItems, core SimilarItems,
// FillRecommendResponse). Errors in this order: InvalidArgument (as
// RecommendWithModel: top_n, list sizes, max_contributions), NotFound (a
// non-empty request.model_name other than `model_name`, naming the one
// available), Unavailable (no model), InvalidArgument (COSINE on a model
// that is not low-rank), Cancelled (should_stop). Unknown ids are skipped and
// counted; no known query item gives the popularity fallback. Thread-safe.
absl::Status SimilarItemsWithModel(
    const ServableHandle& handle, const v1::SimilarItemsRequest& request,
    const ServiceLimits& limits, std::string_view model_name,
    v1::RecommendResponse* response,
    const std::function<bool()>& should_stop = nullptr,
    const ScanSplit& split = {});

// Describes `handle`'s model, served as `model_name`, in `info`. Unavailable
// when there is none.
absl::Status DescribeModel(const ServableHandle& handle, v1::ModelInfo* info,
                           std::string_view model_name = "");

// The gRPC service. Every call resolves its model (ModelRegistry::Resolve;
// a resolution error comes after the request's own validation errors) and
// keeps the resolved version for the whole call. Every method is registered
// raw (its request arrives as
// bytes): a call's metadata size is checked and the call authenticated
// first (AcceptCall), then its request is parsed by
// ParseRequest, so a request that does not parse gets INVALID_ARGUMENT with a
// message saying why (UNAUTHENTICATED first when the token is missing) and
// nothing is logged per call. Recommend: authenticate, parse, admit (or
// shed), then a worker thread — or, for a small call, the gRPC thread itself
// (see ServiceOptions::inline_max_work) — takes one ServableHandle and keeps
// it for the whole call, so a call finishes on the model version it started
// with. A call whose deadline passes or that the client cancels stops
// scoring and gets DEADLINE_EXCEEDED / CANCELLED. SimilarItems goes the same
// way (authentication, admission, inline or a worker, deadlines), never
// micro-batched. GetModelInfo runs inline.
// Every status goes through ToGrpcStatus and is counted in the metrics.
// Thread-safe.
class RecommenderService final
    : public v1::Recommender::WithRawCallbackMethod_Recommend<
          v1::Recommender::WithRawCallbackMethod_RecommendBatch<
              v1::Recommender::WithRawCallbackMethod_SimilarItems<
                  v1::Recommender::WithRawCallbackMethod_GetModelInfo<
                      v1::Recommender::Service>>>> {
 public:
  // One model: `servable` (shared with whoever swaps its versions; must be
  // non-null), named options.model_name and the default.
  RecommenderService(std::shared_ptr<const ServableModel> servable,
                     const ServiceLimits& limits);
  RecommenderService(std::shared_ptr<const ServableModel> servable,
                     ServiceOptions options);
  // The models of `registry` (shared with whoever changes the set; must be
  // non-null).
  RecommenderService(std::shared_ptr<const ModelRegistry> registry,
                     ServiceOptions options);
  // Runs the calls already admitted, then stops the workers. Destroy only
  // after the grpc::Server has shut down.
  ~RecommenderService() override;

  // Raw methods: `request` holds a serialized v1 request message; the
  // serialized response is written to `response` when the call succeeds.
  grpc::ServerUnaryReactor* Recommend(grpc::CallbackServerContext* context,
                                      const grpc::ByteBuffer* request,
                                      grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* RecommendBatch(grpc::CallbackServerContext* context,
                                           const grpc::ByteBuffer* request,
                                           grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* SimilarItems(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;
  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const grpc::ByteBuffer* request,
                                         grpc::ByteBuffer* response) override;

  const ServiceLimits& limits() const { return options_.limits; }
  ServerMetrics& metrics() const { return *options_.metrics; }

 private:
  // A Recommend call waiting for a micro-batch.
  struct BatchedCall {
    ServableHandle handle;  // the version it resolved to
    grpc::CallbackServerContext* context;
    const v1::RecommendRequest* request;
    v1::RecommendResponse* response;
    std::function<void(const absl::Status&)> finish;  // called exactly once
  };

  // What every call passes before its request is parsed: RESOURCE_EXHAUSTED
  // when its metadata is over max_metadata_bytes, then UNAUTHENTICATED unless
  // it carries the configured token.
  absl::Status AcceptCall(const grpc::CallbackServerContext& context) const;
  // UNAUTHENTICATED unless the call carries the configured token.
  absl::Status Authenticate(const grpc::CallbackServerContext& context) const;
  // Admits one more call, or returns RESOURCE_EXHAUSTED (and counts the shed).
  absl::Status Admit(RpcMethod method);
  void Release();  // the inverse of a successful Admit
  // Runs `score` for an admitted call on a worker — or answers with the stop
  // reason when the call expired while queued — then releases the admission
  // and finishes the call with the status.
  void RunAdmitted(grpc::CallbackServerContext* context,
                   std::function<void(const absl::Status&)> finish,
                   std::function<absl::Status()> score);
  // Reserves one inline-scoring slot when `request` may be scored on the
  // calling gRPC thread; the caller returns it with inline_active_.
  // `work`: EstimatedScoringWork of the request on handle's model.
  bool ReserveInline(const ServableHandle& handle, uint64_t work,
                     bool batching);
  // How a call of `work` (its EstimatedScoringWork, 0 without a model)
  // scored now is split: over the idle workers when it scans the whole
  // catalog (ServiceOptions::split_min_work), else not at all.
  ScanSplit SplitFor(uint64_t work, bool whole_catalog);
  // Scores one admitted Recommend call (not batched) on `handle`; `work` is
  // its EstimatedScoringWork, as the handler computed it.
  absl::Status ScoreRecommend(const ServableHandle& handle, uint64_t work,
                              const grpc::CallbackServerContext& context,
                              const v1::RecommendRequest& request,
                              v1::RecommendResponse* response);
  // Scores a micro-batch of Recommend calls and finishes each.
  void ProcessBatch(std::vector<BatchedCall>& calls);

  std::shared_ptr<const ModelRegistry> registry_;  // set by the constructors
  ServiceOptions options_;
  std::atomic<uint32_t> admitted_{0};
  int inline_limit_ = 1;               // resolved inline_max_concurrent
  std::atomic<int> inline_active_{0};  // calls being scored inline
  // Outlives workers_: tasks the pool runs at shutdown may still drain it.
  std::unique_ptr<MicroBatcher<BatchedCall>> batcher_;
  WorkerPool workers_;  // declared last: joined first
};

}  // namespace edlae::server

#endif  // EDLAE_SERVER_RECOMMENDER_SERVICE_H_
