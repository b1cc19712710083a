// RecommenderServer: builds the grpc::Server (health, reflection, keepalive),
// serves, shuts down.
#include "server/server.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "core/status_macros.h"
#include "grpcpp/ext/proto_server_reflection_plugin.h"
#include "grpcpp/health_check_service_interface.h"
#include "server/log.h"

namespace edlae::server {

namespace {

absl::Status ValidateOptions(const ServerOptions& options) {
  if (options.port < 0 || options.port > 65535) {
    return absl::InvalidArgumentError(
        absl::StrCat("port must be in [0, 65535], got ", options.port));
  }
  if (options.limits.max_top_n == 0) {
    return absl::InvalidArgumentError("max_top_n must be at least 1");
  }
  if (options.max_receive_message_bytes <= 0) {
    return absl::InvalidArgumentError(
        "max_receive_message_bytes must be positive");
  }
  return absl::OkStatus();
}

}  // namespace

std::string JoinHostPort(const std::string& host, int port) {
  if (absl::StrContains(host, ':') && !absl::StartsWith(host, "[")) {
    return absl::StrCat("[", host, "]:", port);
  }
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<std::unique_ptr<RecommenderServer>>
RecommenderServer::BuildAndStart(const ServerOptions& options) {
  RETURN_IF_ERROR(ValidateOptions(options));
  const absl::Time start = absl::Now();
  absl::StatusOr<std::unique_ptr<ServableModel>> servable =
      ServableModel::Load(options.model_path);
  if (!servable.ok()) {
    return absl::Status(servable.status().code(),
                        absl::StrCat("cannot load model '", options.model_path,
                                     "': ", servable.status().message()));
  }
  const double load_ms = absl::ToDoubleMilliseconds(absl::Now() - start);
  return Start(options, std::shared_ptr<ServableModel>(std::move(*servable)),
               options.model_path, load_ms);
}

absl::StatusOr<std::unique_ptr<RecommenderServer>>
RecommenderServer::BuildAndStart(const ServerOptions& options,
                                 std::shared_ptr<ServableModel> servable) {
  return Start(options, std::move(servable), "", -1);
}

absl::StatusOr<std::unique_ptr<RecommenderServer>> RecommenderServer::Start(
    const ServerOptions& options, std::shared_ptr<ServableModel> servable,
    const std::string& model_path, double load_ms) {
  if (servable == nullptr) {
    return absl::InvalidArgumentError("servable must not be null");
  }
  RETURN_IF_ERROR(ValidateOptions(options));
  // Global gRPC switches; both must be set before the builder is created.
  grpc::EnableDefaultHealthCheckService(true);
  if (options.enable_reflection) {
    grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  }

  std::unique_ptr<RecommenderServer> server(new RecommenderServer());
  server->servable_ = std::move(servable);
  server->service_ =
      std::make_unique<RecommenderService>(server->servable_, options.limits);

  const std::string listen = JoinHostPort(options.host, options.port);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(),
                           &server->port_);
  builder.RegisterService(server->service_.get());
  builder.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIME_MS,
                             options.keepalive_time_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_TIMEOUT_MS,
                             options.keepalive_timeout_ms);
  builder.AddChannelArgument(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 1);
  // Without this, gRPC sets SO_REUSEPORT and a second server on the same port
  // would start "successfully" and silently share the traffic.
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddChannelArgument(
      GRPC_ARG_HTTP2_MIN_RECV_PING_INTERVAL_WITHOUT_DATA_MS,
      options.min_client_ping_interval_ms);
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    // ~RecommenderServer shuts down a server that started without a port.
    return absl::UnavailableError(
        absl::StrCat("cannot listen on ", listen,
                     " (address in use, or not a local address?)"));
  }
  server->address_ = JoinHostPort(options.host, server->port_);

  const ServableHandle handle = server->servable_->Get();
  server->SetServing(static_cast<bool>(handle));
  // One line with everything an operator needs to know about the start.
  LogEvent(
      LogLevel::kInfo, "server_started",
      {{"address", server->address_},
       {"port", absl::StrCat(server->port_)},
       {"model", model_path},
       {"model_loaded", handle ? "true" : "false"},
       {"items", handle ? absl::StrCat(handle.model->num_items()) : "0"},
       {"fingerprint", handle ? handle.model->fingerprint() : ""},
       {"model_bytes", handle ? absl::StrCat(handle.model->file_size()) : "0"},
       {"load_ms", load_ms >= 0 ? absl::StrFormat("%.1f", load_ms) : ""},
       {"max_top_n", absl::StrCat(options.limits.max_top_n)},
       {"max_history", absl::StrCat(options.limits.max_history)},
       {"max_item_list", absl::StrCat(options.limits.max_item_list)}});
  return server;
}

RecommenderServer::~RecommenderServer() { Shutdown(absl::Now()); }

void RecommenderServer::SetServing(bool serving) {
  grpc::HealthCheckServiceInterface* health =
      server_ == nullptr ? nullptr : server_->GetHealthCheckService();
  if (health == nullptr) return;
  health->SetServingStatus("", serving);
  health->SetServingStatus(kServiceName, serving);
}

void RecommenderServer::Wait() {
  if (server_ != nullptr) server_->Wait();
}

void RecommenderServer::Shutdown(absl::Time deadline) {
  {
    absl::MutexLock lock(&shutdown_mu_);
    if (shut_down_) return;
    shut_down_ = true;
  }
  if (server_ == nullptr) return;
  SetServing(false);
  server_->Shutdown(absl::ToChronoTime(deadline));
}

}  // namespace edlae::server
