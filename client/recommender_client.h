// Client library for edlae.v1.Recommender and grpc.health.v1.Health: blocking
// calls with deadlines.
#ifndef EDLAE_CLIENT_RECOMMENDER_CLIENT_H_
#define EDLAE_CLIENT_RECOMMENDER_CLIENT_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "edlae/v1/recommender.grpc.pb.h"
#include "grpc/health/v1/health.grpc.pb.h"
#include "grpcpp/grpcpp.h"

namespace edlae::client {

using ServingStatus = grpc::health::v1::HealthCheckResponse::ServingStatus;

// grpc::Status → absl::Status with the same code (the canonical codes agree)
// and message.
absl::Status FromGrpcStatus(const grpc::Status& status);

// "SERVING", "NOT_SERVING", "UNKNOWN" or "SERVICE_UNKNOWN".
std::string ServingStatusName(ServingStatus status);

// How to reach and authenticate to the server.
struct ClientOptions {
  // TLS when true (implied by any of the paths below). tls_ca_path: PEM CA
  // certificates the server's certificate must chain to (empty: the system
  // roots). tls_cert_path + tls_key_path: the client's own certificate, for
  // servers that require mutual TLS.
  bool tls = false;
  std::string tls_ca_path;
  std::string tls_cert_path;
  std::string tls_key_path;
  // Sent as "authorization: Bearer <auth_token>" on every call when
  // non-empty.
  std::string auth_token;
};

// Which served model (and version) a call asks: RecommendRequest,
// SimilarItemsRequest and GetModelInfoRequest's model_name, model_version and
// version_label (see edlae.v1.Recommender). Empty: the default model, its
// highest version.
struct ModelSelector {
  std::string name;
  std::optional<uint64_t> version;
  std::string label;

  // Sets the three fields of `request` (any of the three request types).
  template <typename Request>
  void ApplyTo(Request* request) const {
    request->set_model_name(name);
    if (version.has_value()) {
      request->set_model_version(*version);
    } else {
      request->clear_model_version();
    }
    request->set_version_label(label);
  }
};

// Blocking client for one server. Each call gets its own deadline
// (now + timeout) and fails fast (no wait-for-ready) when the server cannot be
// reached, with the gRPC status mapped to absl::Status (UNAVAILABLE,
// DEADLINE_EXCEEDED, or the server's error). Thread-safe: calls may be made
// concurrently from several threads over the one channel.
class RecommenderClient {
 public:
  explicit RecommenderClient(std::shared_ptr<grpc::ChannelInterface> channel,
                             std::string auth_token = "");

  // A client over an insecure channel to `target` ("host:port", or any gRPC
  // target URI). Connection happens lazily on the first call.
  static std::unique_ptr<RecommenderClient> Connect(const std::string& target);

  // A client configured by `options`. InvalidArgument when a certificate,
  // key or CA file cannot be read, or only one of cert/key is given.
  static absl::StatusOr<std::unique_ptr<RecommenderClient>> Connect(
      const std::string& target, const ClientOptions& options);

  // InvalidArgument, without calling the server, when an id in any list is
  // not valid UTF-8 (protobuf string fields must be).
  absl::StatusOr<v1::RecommendResponse> Recommend(
      const v1::RecommendRequest& request, absl::Duration timeout) const;

  // SimilarItems; the same UTF-8 check of every id list.
  absl::StatusOr<v1::RecommendResponse> SimilarItems(
      const v1::SimilarItemsRequest& request, absl::Duration timeout) const;

  // The model `model` names (default: the default model).
  absl::StatusOr<v1::ModelInfo> GetModelInfo(
      absl::Duration timeout, const ModelSelector& model = {}) const;

  // grpc.health.v1.Health/Check for `service` ("" is the whole server).
  // A service the server does not know → NotFound.
  absl::StatusOr<ServingStatus> CheckHealth(const std::string& service,
                                            absl::Duration timeout) const;

 private:
  // Deadline and credentials metadata of every call.
  void Prepare(absl::Duration timeout, grpc::ClientContext* context) const;

  std::shared_ptr<grpc::ChannelInterface> channel_;
  std::string auth_token_;
  std::unique_ptr<v1::Recommender::Stub> recommender_;
  std::unique_ptr<grpc::health::v1::Health::Stub> health_;
};

}  // namespace edlae::client

#endif  // EDLAE_CLIENT_RECOMMENDER_CLIENT_H_
