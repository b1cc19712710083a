// edlae.v1.Recommender over gRPC's callback API: request validation, id
// mapping, scoring, model info.
#ifndef EDLAE_SERVER_RECOMMENDER_SERVICE_H_
#define EDLAE_SERVER_RECOMMENDER_SERVICE_H_

#include <cstdint>
#include <memory>

#include "absl/status/status.h"
#include "edlae/v1/recommender.grpc.pb.h"
#include "edlae/v1/recommender.pb.h"
#include "grpcpp/grpcpp.h"
#include "server/servable_model.h"

namespace edlae::server {

// Request size limits (server flags --max_top_n, --max_history,
// --max_item_list).
struct ServiceLimits {
  uint32_t max_top_n = 1000;        // top_n must be in [1, max_top_n]
  uint32_t max_history = 10000;     // most history_item_ids per request
  uint32_t max_item_list = 100000;  // most exclude / candidate ids per request
};

// Answers one Recommend request against `handle`'s model, filling `response`.
// Validation happens before the model is looked at:
//   InvalidArgument: top_n outside [1, max_top_n], a list over its limit,
//     history_weights neither empty nor one per history id, a non-finite
//     weight.
//   Unavailable: `handle` holds no model.
// Unknown ids in every list are skipped and counted in unknown_item_count.
// Duplicate history ids add their weights. When candidate_item_ids is
// non-empty but none is known, the result is empty (never the whole catalog).
// Thread-safe; `response` is written only by this call.
absl::Status RecommendWithModel(const ServableHandle& handle,
                                const v1::RecommendRequest& request,
                                const ServiceLimits& limits,
                                v1::RecommendResponse* response);

// Describes `handle`'s model in `info`. Unavailable when there is none.
absl::Status DescribeModel(const ServableHandle& handle, v1::ModelInfo* info);

// The gRPC service. Each call takes one ServableHandle and keeps it for the
// whole call, then finishes through ToGrpcStatus. Handlers run inline on
// gRPC's callback threads and never block. Thread-safe.
class RecommenderService final : public v1::Recommender::CallbackService {
 public:
  // `servable` is shared with whoever swaps models (the server); must be
  // non-null.
  RecommenderService(std::shared_ptr<const ServableModel> servable,
                     const ServiceLimits& limits);

  grpc::ServerUnaryReactor* Recommend(grpc::CallbackServerContext* context,
                                      const v1::RecommendRequest* request,
                                      v1::RecommendResponse* response) override;

  grpc::ServerUnaryReactor* GetModelInfo(grpc::CallbackServerContext* context,
                                         const v1::GetModelInfoRequest* request,
                                         v1::ModelInfo* response) override;

  const ServiceLimits& limits() const { return limits_; }

 private:
  const std::shared_ptr<const ServableModel> servable_;
  const ServiceLimits limits_;
};

}  // namespace edlae::server

#endif  // EDLAE_SERVER_RECOMMENDER_SERVICE_H_
