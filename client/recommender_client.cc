// RecommenderClient: generated stubs plus deadline handling and status
// conversion.
#include "client/recommender_client.h"

#include <utility>

#include "absl/time/clock.h"

namespace edlae::client {
namespace {

void SetDeadline(absl::Duration timeout, grpc::ClientContext* context) {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
}

}  // namespace

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(status.error_code()),
                      status.error_message());
}

std::string ServingStatusName(ServingStatus status) {
  return grpc::health::v1::HealthCheckResponse::ServingStatus_Name(status);
}

RecommenderClient::RecommenderClient(
    std::shared_ptr<grpc::ChannelInterface> channel)
    : channel_(std::move(channel)),
      recommender_(v1::Recommender::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)) {}

std::unique_ptr<RecommenderClient> RecommenderClient::Connect(
    const std::string& target) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // responses are bounded by the server
  return std::make_unique<RecommenderClient>(grpc::CreateCustomChannel(
      target, grpc::InsecureChannelCredentials(), args));
}

absl::StatusOr<v1::RecommendResponse> RecommenderClient::Recommend(
    const v1::RecommendRequest& request, absl::Duration timeout) const {
  grpc::ClientContext context;
  SetDeadline(timeout, &context);
  v1::RecommendResponse response;
  grpc::Status status = recommender_->Recommend(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::ModelInfo> RecommenderClient::GetModelInfo(
    absl::Duration timeout) const {
  grpc::ClientContext context;
  SetDeadline(timeout, &context);
  v1::ModelInfo info;
  grpc::Status status =
      recommender_->GetModelInfo(&context, v1::GetModelInfoRequest(), &info);
  if (!status.ok()) return FromGrpcStatus(status);
  return info;
}

absl::StatusOr<ServingStatus> RecommenderClient::CheckHealth(
    const std::string& service, absl::Duration timeout) const {
  grpc::ClientContext context;
  SetDeadline(timeout, &context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = health_->Check(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response.status();
}

}  // namespace edlae::client
