// RecommenderClient: generated stubs plus deadline handling and status
// conversion.
#include "client/recommender_client.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/file_io.h"
#include "core/utf8.h"

namespace edlae::client {
namespace {

// InvalidArgument naming the first id of `field` that is not UTF-8: protobuf
// string fields must be, and the server refuses a request that is not.
absl::Status CheckUtf8Ids(
    const google::protobuf::RepeatedPtrField<std::string>& ids,
    const char* field) {
  for (int i = 0; i < ids.size(); ++i) {
    if (!IsValidUtf8(ids[i])) {
      return absl::InvalidArgumentError(absl::StrCat(
          field, "[", i, "] is not valid UTF-8: item ids must be UTF-8 text"));
    }
  }
  return absl::OkStatus();
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
    std::shared_ptr<grpc::ChannelInterface> channel, std::string auth_token)
    : channel_(std::move(channel)),
      auth_token_(std::move(auth_token)),
      recommender_(v1::Recommender::NewStub(channel_)),
      health_(grpc::health::v1::Health::NewStub(channel_)) {}

std::unique_ptr<RecommenderClient> RecommenderClient::Connect(
    const std::string& target) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // responses are bounded by the server
  return std::make_unique<RecommenderClient>(grpc::CreateCustomChannel(
      target, grpc::InsecureChannelCredentials(), args));
}

absl::StatusOr<std::unique_ptr<RecommenderClient>> RecommenderClient::Connect(
    const std::string& target, const ClientOptions& options) {
  if (options.tls_cert_path.empty() != options.tls_key_path.empty()) {
    return absl::InvalidArgumentError(
        "--tls_cert and --tls_key must be given together");
  }
  std::shared_ptr<grpc::ChannelCredentials> credentials =
      grpc::InsecureChannelCredentials();
  if (options.tls || !options.tls_ca_path.empty() ||
      !options.tls_cert_path.empty()) {
    grpc::SslCredentialsOptions ssl;
    if (!options.tls_ca_path.empty()) {
      absl::StatusOr<std::string> ca =
          ReadFileToString(options.tls_ca_path, "--tls_ca");
      if (!ca.ok()) return ca.status();
      ssl.pem_root_certs = *std::move(ca);
    }
    if (!options.tls_cert_path.empty()) {
      absl::StatusOr<std::string> cert =
          ReadFileToString(options.tls_cert_path, "--tls_cert");
      if (!cert.ok()) return cert.status();
      absl::StatusOr<std::string> key =
          ReadFileToString(options.tls_key_path, "--tls_key");
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    credentials = grpc::SslCredentials(ssl);
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(-1);  // responses are bounded by the server
  return std::make_unique<RecommenderClient>(
      grpc::CreateCustomChannel(target, credentials, args), options.auth_token);
}

void RecommenderClient::Prepare(absl::Duration timeout,
                                grpc::ClientContext* context) const {
  context->set_deadline(absl::ToChronoTime(absl::Now() + timeout));
  if (!auth_token_.empty()) {
    context->AddMetadata("authorization", absl::StrCat("Bearer ", auth_token_));
  }
}

absl::StatusOr<v1::RecommendResponse> RecommenderClient::Recommend(
    const v1::RecommendRequest& request, absl::Duration timeout) const {
  for (absl::Status s :
       {CheckUtf8Ids(request.history_item_ids(), "history_item_ids"),
        CheckUtf8Ids(request.exclude_item_ids(), "exclude_item_ids"),
        CheckUtf8Ids(request.candidate_item_ids(), "candidate_item_ids")}) {
    if (!s.ok()) return s;
  }
  grpc::ClientContext context;
  Prepare(timeout, &context);
  v1::RecommendResponse response;
  grpc::Status status = recommender_->Recommend(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::RecommendResponse> RecommenderClient::SimilarItems(
    const v1::SimilarItemsRequest& request, absl::Duration timeout) const {
  for (absl::Status s :
       {CheckUtf8Ids(request.item_ids(), "item_ids"),
        CheckUtf8Ids(request.exclude_item_ids(), "exclude_item_ids"),
        CheckUtf8Ids(request.candidate_item_ids(), "candidate_item_ids")}) {
    if (!s.ok()) return s;
  }
  grpc::ClientContext context;
  Prepare(timeout, &context);
  v1::RecommendResponse response;
  grpc::Status status =
      recommender_->SimilarItems(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response;
}

absl::StatusOr<v1::ModelInfo> RecommenderClient::GetModelInfo(
    absl::Duration timeout, const ModelSelector& model) const {
  grpc::ClientContext context;
  Prepare(timeout, &context);
  v1::GetModelInfoRequest request;
  model.ApplyTo(&request);
  v1::ModelInfo info;
  grpc::Status status = recommender_->GetModelInfo(&context, request, &info);
  if (!status.ok()) return FromGrpcStatus(status);
  return info;
}

absl::StatusOr<ServingStatus> RecommenderClient::CheckHealth(
    const std::string& service, absl::Duration timeout) const {
  grpc::ClientContext context;
  Prepare(timeout, &context);
  grpc::health::v1::HealthCheckRequest request;
  request.set_service(service);
  grpc::health::v1::HealthCheckResponse response;
  grpc::Status status = health_->Check(&context, request, &response);
  if (!status.ok()) return FromGrpcStatus(status);
  return response.status();
}

}  // namespace edlae::client
